#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: k8s_node_drain
short_description: Drain a Kubernetes node within its PodDisruptionBudgets, or refuse before touching it
version_added: 0.1.0
description:
  - Drains one node the way C(kubectl drain --ignore-daemonsets) does, with a pre-check,
    bounded retries and an undo.
  - Before cordoning, lists the node's pods and the PodDisruptionBudgets that cover them and
    refuses, naming the blocking budgets, when the drain could not finish within them - a
    budget that allows no disruption, a pod under more than one budget, or more pods of one
    budget that nothing would replace than the budget allows to disrupt. Nothing is changed then.
  - Then cordons the node, evicts its pods through the C(pods/eviction) subresource one at a
    time, retrying an eviction answered 429 TooManyRequests (a budget says "not now") every
    O(retry_delay) seconds, and waits until every evicted workload has as many Ready pods on
    other nodes as it had Ready pods before. All of it within O(timeout) seconds.
  - If anything fails after this module cordoned the node, it uncordons the node again and
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
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Runs the pre-check and reports what would be cordoned and evicted.
  diff_mode:
    support: full
    details: Before and after show the node's unschedulable flag and its evictable pods.
  platform:
    platforms: posix
  action_group:
    description: Use C(group/halobuzz.ops.k8s) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - halobuzz.ops.k8s
options:
  name:
    description: Name of the node to drain.
    type: str
    required: true
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
        replacements. When it runs out the drain fails and the node is uncordoned.
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

- name: Preview what a drain would evict (refuses if a budget blocks it)
  halobuzz.ops.k8s_node_drain:
    name: node-1
  check_mode: true
"""

RETURN = r"""
node:
  description: The node drained.
  returned: success
  type: str
  sample: node-1
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
  description: The node before - unschedulable flag and evictable pods.
  returned: success
  type: dict
  sample: {unschedulable: false, evictable_pods: [halobuzz/backend-7d9c-abcde]}
after:
  description: The node after (or as it would be in check mode).
  returned: success
  type: dict
  sample: {unschedulable: true, evictable_pods: []}
"""

import json

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.drain import (
    DrainError,
    KubeApiError,
    drain_node,
)

try:
    from kubernetes.client.api import core_v1_api, policy_v1_api
    from kubernetes.client.exceptions import ApiException
except ImportError:
    pass  # AnsibleK8SModule reports the missing library


class KubeDrainApi:
    """The few calls a drain needs, answering plain API dictionaries."""

    def __init__(self, api_client):
        self.core = core_v1_api.CoreV1Api(api_client)
        self.policy = policy_v1_api.PolicyV1Api(api_client)

    def _call(self, func, *args, **kwargs):
        try:
            resp = func(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            message = exc.body
            try:
                message = json.loads(exc.body).get("message") or exc.body
            except (TypeError, ValueError, AttributeError):
                pass
            raise KubeApiError(exc.status, exc.reason, message)
        except Exception as exc:  # urllib3/socket errors: no answer from the API server
            raise KubeApiError(0, "no answer", str(exc))
        return json.loads(resp.data or b"{}")

    def read_node(self, name):
        return self._call(self.core.read_node, name)

    def set_unschedulable(self, name, value):
        return self._call(self.core.patch_node, name, {"spec": {"unschedulable": value}})

    def list_pods_on_node(self, name):
        return self._call(self.core.list_pod_for_all_namespaces,
                          field_selector="spec.nodeName=" + name)["items"]

    def list_namespaced_pods(self, namespace):
        return self._call(self.core.list_namespaced_pod, namespace)["items"]

    def read_pod(self, namespace, name):
        return self._call(self.core.read_namespaced_pod, name, namespace)

    def list_pdbs(self, namespace):
        return self._call(self.policy.list_namespaced_pod_disruption_budget, namespace)["items"]

    def evict(self, namespace, name, grace_period=None):
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace}}
        if grace_period is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_period}
        return self._call(self.core.create_namespaced_pod_eviction, name, namespace, body)


def main():
    argument_spec = dict(AUTH_ARG_SPEC)
    argument_spec.update(
        name=dict(type="str", required=True),
        delete_emptydir_data=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        timeout=dict(type="int", default=300),
        retry_delay=dict(type="int", default=5),
        poll_interval=dict(type="int", default=2),
        grace_period=dict(type="int"),
    )
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argument_spec,
                              supports_check_mode=True)
    params = module.params
    try:
        client = get_api_client(module=module)
        result = drain_node(
            KubeDrainApi(client.client.client), params["name"], check_mode=module.check_mode,
            delete_emptydir_data=params["delete_emptydir_data"], force=params["force"],
            timeout=params["timeout"], retry_delay=params["retry_delay"],
            poll=params["poll_interval"], grace_period=params["grace_period"])
    except CoreException as exc:
        module.fail_json(msg="connecting to Kubernetes failed: %s" % exc)
    except DrainError as exc:
        module.fail_json(msg=str(exc))
    if module._diff:
        result["diff"] = dict(before=result["before"], after=result["after"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
