#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: k8s_node_drain
short_description: Drain Kubernetes nodes within their PodDisruptionBudgets, or refuse before touching them
version_added: 0.1.0
description:
  - Drains one or more nodes the way C(kubectl drain --ignore-daemonsets n1 n2) does, with a
    pre-check, bounded retries and an undo. All the nodes are cordoned before the first eviction,
    so an evicted pod never lands on the next node to be drained.
  - Before cordoning, lists the node's pods and the PodDisruptionBudgets that cover them and
    refuses, naming the blocking budgets, when the drain could not finish within them - a
    budget that allows no disruption, a pod under more than one budget, or more pods of one
    budget that nothing would replace than the budget allows to disrupt. Nothing is changed then.
  - Then cordons the nodes and evicts their pods through the C(pods/eviction) subresource in
    parallel (at most O(max_parallel) at a time), retrying an eviction answered 429 TooManyRequests
    (a budget says "not now") every O(retry_delay) seconds, and waits for each evicted pod to go
    within its grace period. Then it waits until every evicted workload has as many Ready pods on
    other nodes as it had before, or as its controller's current C(spec.replicas) asks for if that
    is fewer (an autoscaler may scale it down meanwhile). All of it within O(timeout) seconds.
  - Pending pods, finished pods and pods already terminating are evicted without looking at any
    budget, as the eviction API does (C(canIgnorePDB) in C(pkg/registry/core/pod/storage/eviction.go)).
  - If anything fails after this module cordoned a node, it uncordons that node again and
    says so in the error.
  - DaemonSet-managed pods are left alone, mirror (static) pods are skipped, pods with
    C(emptyDir) volumes are refused unless O(delete_emptydir_data=true), pods without a
    controller are refused unless O(force=true), as C(kubectl drain) does.
  - This module exists because M(kubernetes.core.k8s_drain) fails at once when a budget
    answers 429 (kubernetes.core issue 797), can wait without bound (issue 711), and leaves
    the node cordoned when it fails. Use M(kubernetes.core.k8s_drain) with C(state=uncordon)
    to make the node schedulable again after the maintenance.
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_k8s
attributes:
  check_mode:
    support: full
    details: Runs the pre-check and reports what would be cordoned and evicted.
  diff_mode:
    support: full
    details: Before and after show the node's unschedulable flag and its evictable pods.
options:
  name:
    description:
      - Names of the nodes to drain (one name is a list of one).
      - Each must be a valid node name (RFC 1123 subdomain); checked before any call.
    type: list
    elements: str
    required: true
  max_parallel:
    description: At most this many evictions (and waits for the evicted pods to go) run at the same time.
    type: int
    default: 5
  delete_emptydir_data:
    description:
      - Evict pods that use C(emptyDir) volumes; their scratch data is lost (C(kubectl drain --delete-emptydir-data)).
    type: bool
    default: false
  force:
    description:
      - Evict pods that declare no controller; nothing recreates them (C(kubectl drain --force)).
    type: bool
    default: false
  timeout:
    description:
      - Seconds for the whole drain after cordoning - evictions, their retries and the wait for
        replacements. When it runs out the drain fails and the nodes cordoned by this run are uncordoned.
    type: int
    default: 300
  retry_delay:
    description: Seconds between two eviction attempts of a pod that a budget refused with 429 (kubectl uses 5).
    type: int
    default: 5
  poll_interval:
    description: Seconds between two looks at the evicted workloads while waiting for their replacements.
    type: int
    default: 2
  grace_period:
    description: Termination grace period in seconds for the evicted pods; the pods' own when omitted.
    type: int
requirements:
  - kubernetes >= 24.2.0
notes:
  - Needs RBAC to get and patch nodes, list pods in all namespaces, list
    poddisruptionbudgets and create pods/eviction.
seealso:
  - module: kubernetes.core.k8s_drain
"""

EXAMPLES = r"""
- name: Drain node-1 for maintenance
  halobuzz.ops.k8s_node_drain:
    name: node-1
    timeout: 600

- name: Drain two nodes (both cordoned before the first eviction)
  halobuzz.ops.k8s_node_drain:
    name: [node-1, node-2]

- name: Preview what a drain would evict (refuses if a budget blocks it)
  halobuzz.ops.k8s_node_drain:
    name: node-1
  check_mode: true
"""

RETURN = r"""
node:
  description: The nodes drained, comma-separated.
  returned: success
  type: str
  sample: node-1, node-2
nodes:
  description: The nodes drained.
  returned: success
  type: list
  elements: str
  sample: [node-1, node-2]
evicted:
  description: Pods (namespace/name) evicted, or that would be evicted in check mode.
  returned: success
  type: list
  elements: str
  sample: [halobuzz/backend-7d9c-abcde]
left_on_node:
  description: Pods left on the node and why (DaemonSet, mirror pod).
  returned: success
  type: list
  elements: dict
  sample: [{pod: kube-system/node-exporter-x1, reason: DaemonSet-managed pod}]
pdbs:
  description: PodDisruptionBudgets (namespace/name) covering the evicted pods.
  returned: success
  type: list
  elements: str
  sample: [halobuzz/backend]
eviction_retries:
  description: Eviction attempts a budget refused (429) before they went through.
  returned: success
  type: list
  elements: str
before:
  description:
    - The nodes before - unschedulable (true when every node was cordoned), unschedulable_nodes
      (each node's flag) and evictable pods.
  returned: success
  type: dict
  sample: {unschedulable: false, unschedulable_nodes: {node-1: false}, evictable_pods: [halobuzz/backend-7d9c-abcde]}
after:
  description: The node after (or as it would be in check mode).
  returned: success
  type: dict
  sample: {unschedulable: true, unschedulable_nodes: {node-1: true}, evictable_pods: []}
"""

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import K8S_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.drain_service import EVICTION_OPTIONS, drain

OPTIONS = dict(
    name=dict(type="list", elements="str", required=True),
    max_parallel=dict(type="int", default=5),
    delete_emptydir_data=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    **EVICTION_OPTIONS
)


def main():
    module = HaloBuzzModule(K8S_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: drain(module.params, module.check_mode))


if __name__ == "__main__":
    main()
