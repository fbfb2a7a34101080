#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: eks_nodegroup_scale
short_description: Scale an EKS managed nodegroup up (never down unless asked), changing nothing else
version_added: 0.1.0
description:
  - Sets the desired size of an EKS managed nodegroup through C(UpdateNodegroupConfig) with
    C(scalingConfig) only, as C(eksctl scale nodegroup) does. Labels, taints, instance types,
    launch template and update config are not sent and stay as they are.
  - A scale-up never lowers anything - the desired size becomes the larger of the current
    desiredSize and O(desired_size), and minSize is never lowered - unless O(allow_scale_down=true).
    Then the desired size is set as asked and minSize is lowered to it when it is below, and the
    result's RV(lowered) and the diff's after header name each value that goes down.
  - A desired size above maxSize is refused unless O(raise_max=true), which raises maxSize to the
    desired size. maxSize is never lowered.
  - Waits until the nodegroup is ACTIVE again, within O(wait_timeout) seconds.
  - Warns when the nodegroup carries the cluster-autoscaler auto-discovery tags
    C(k8s.io/cluster-autoscaler/enabled) or C(k8s.io/cluster-autoscaler/<cluster>), because
    the autoscaler may move the desired size again.
  - This module exists because M(community.aws.eks_nodegroup) manages the whole nodegroup -
    options left out are reset (scaling to 1/1/2) and labels and taints are stripped - which
    is the wrong tool for "add nodes now".
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.aws
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_aws
attributes:
  check_mode:
    support: full
    details: Reads the nodegroup and reports the scalingConfig it would set.
  diff_mode:
    support: full
    details: Before and after are the scalingConfig (minSize, maxSize, desiredSize); the after header
      says what is lowered, if anything.
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  nodegroup_name:
    description: Name of the managed nodegroup.
    type: str
    required: true
  desired_size:
    description:
      - Number of nodes wanted at least. A nodegroup already running more keeps its desiredSize,
        unless O(allow_scale_down=true).
    type: int
    required: true
  allow_scale_down:
    description:
      - Set the desired size even when it is below the current desiredSize, lowering minSize to it
        when needed. Off, nothing is ever lowered.
    type: bool
    default: false
  raise_max:
    description: Raise maxSize to O(desired_size) when it is above it, instead of refusing.
    type: bool
    default: false
  wait:
    description: Wait until the nodegroup is ACTIVE after the update.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for ACTIVE.
    type: int
    default: 900
"""

EXAMPLES = r"""
- name: Add nodes to the workers nodegroup
  halobuzz.ops.eks_nodegroup_scale:
    cluster_name: halobuzz
    nodegroup_name: workers
    desired_size: 10
    region: us-east-1

- name: Go beyond the nodegroup's maxSize on purpose
  halobuzz.ops.eks_nodegroup_scale:
    cluster_name: halobuzz
    nodegroup_name: workers
    desired_size: 30
    raise_max: true

- name: Scale down on purpose (without allow_scale_down a smaller desired_size changes nothing)
  halobuzz.ops.eks_nodegroup_scale:
    cluster_name: halobuzz
    nodegroup_name: workers
    desired_size: 3
    allow_scale_down: true
"""

RETURN = r"""
before:
  description: scalingConfig before.
  returned: success
  type: dict
  sample: {minSize: 3, maxSize: 20, desiredSize: 3}
after:
  description: scalingConfig after (as it would be, in check mode).
  returned: success
  type: dict
  sample: {minSize: 3, maxSize: 20, desiredSize: 10}
notes:
  description: What moved besides the desired size (maxSize raised), what was kept (a desired size below
    the current one without O(allow_scale_down)) and what is lowered.
  returned: success
  type: list
  elements: str
lowered:
  description: Each value that goes down, as C(name old -> new); empty unless O(allow_scale_down=true).
  returned: success
  type: list
  elements: str
  sample: ["desiredSize 15 -> 10", "minSize 12 -> 10"]
update_id:
  description: Id of the EKS update started, null when nothing changed.
  returned: success
  type: str
nodegroup:
  description: The nodegroup after the change - status, scaling, instance types, labels, taints.
  returned: success
  type: dict
  sample:
    name: workers
    cluster: halobuzz
    status: ACTIVE
    scaling_config: {minSize: 3, maxSize: 20, desiredSize: 10}
    instance_types: [m5.large]
    labels: {role: workers}
    taints: []
"""

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.aws.client import AWS_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.aws.eks_nodegroup import eks_nodegroup_scale

OPTIONS = dict(
    cluster_name=dict(type="str", required=True),
    nodegroup_name=dict(type="str", required=True),
    desired_size=dict(type="int", required=True),
    raise_max=dict(type="bool", default=False),
    allow_scale_down=dict(type="bool", default=False),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=900),
)


def main():
    module = HaloBuzzModule(AWS_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: eks_nodegroup_scale(module.params, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
