#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: k8s_pod_evict
short_description: Replace one pod by eviction, within its PodDisruptionBudget, and wait for its replacement
version_added: 0.1.0
description:
  - Evicts one pod through the C(pods/eviction) subresource, as C(kubectl drain) does for each pod, so the
    PodDisruptionBudget that covers it is honoured; a plain C(DELETE) (M(kubernetes.core.k8s) with
    C(state=absent)) bypasses every budget.
  - An eviction answered 429 TooManyRequests (a budget says "not now") is retried every O(retry_delay)
    seconds; then the module waits for the pod to go within its grace period, and for its controller
    (ReplicaSet, StatefulSet, ReplicationController) to have as many Ready pods as before, or as its
    current C(spec.replicas) asks for if that is fewer. All of it within O(timeout) seconds.
  - A pod that no controller would replace is refused before anything is changed. A pod that no longer
    exists is reported unchanged, so a second run changes nothing.
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_k8s
attributes:
  check_mode:
    support: full
    details: Reads the pod and reports whether it would be evicted; evicts nothing.
  diff_mode:
    support: full
    details: Before names the pod and its node; after has no pod.
options:
  name:
    description: Name of the pod (RFC 1123 subdomain; checked before any call).
    type: str
    required: true
  namespace:
    description: Namespace of the pod (RFC 1123 label; checked before any call).
    type: str
    required: true
  timeout:
    description: Seconds for the eviction, its retries and the wait for the replacement.
    type: int
    default: 300
  retry_delay:
    description: Seconds between two eviction attempts that a budget refused with 429 (kubectl uses 5).
    type: int
    default: 5
  poll_interval:
    description: Seconds between two looks at the pod and its controller while waiting.
    type: int
    default: 2
  grace_period:
    description: Termination grace period in seconds for the evicted pod; the pod's own when omitted.
    type: int
requirements:
  - kubernetes >= 24.2.0
notes:
  - Needs RBAC to get pods, create pods/eviction and get the pod's controller.
seealso:
  - module: halobuzz.ops.k8s_node_drain
"""

EXAMPLES = r"""
- name: Replace a leaking pod within its PodDisruptionBudget
  halobuzz.ops.k8s_pod_evict:
    name: backend-7d9c-abcde
    namespace: halobuzz
    timeout: 300
"""

RETURN = r"""
pod:
  description: The pod (namespace/name).
  returned: success
  type: str
  sample: halobuzz/backend-7d9c-abcde
evicted:
  description: The pods evicted (or that would be, in check mode); empty when the pod was already gone.
  returned: success
  type: list
  elements: str
  sample: [halobuzz/backend-7d9c-abcde]
controller:
  description: The controller that replaces the pod.
  returned: when the pod exists
  type: str
  sample: ReplicaSet halobuzz/backend-7d9c
eviction_retries:
  description: Eviction attempts a budget refused (429) before one went through.
  returned: success
  type: list
  elements: str
before:
  description: The pod, its node and uid before the eviction.
  returned: success
  type: dict
after:
  description: After the eviction (no pod).
  returned: success
  type: dict
msg:
  description: What was done.
  returned: success
  type: str
"""

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import K8S_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.drain_service import EVICTION_OPTIONS, evict

OPTIONS = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    **EVICTION_OPTIONS
)


def main():
    module = HaloBuzzModule(K8S_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: evict(module.params, module.check_mode))


if __name__ == "__main__":
    main()
