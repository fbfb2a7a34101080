# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API calls a drain needs, and the entry point of halobuzz.ops.k8s_node_drain.

``DrainApi`` answers the plain dictionaries ``drain.drain_node`` works on; the calls are kubectl drain's
(``k8s.io/kubectl/pkg/drain``): the node, its pods (field selector ``spec.nodeName``), the
PodDisruptionBudgets of their namespaces, and the ``pods/eviction`` subresource.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import (
    STRATEGIC_MERGE_PATCH,
    connect,
)
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.drain import DrainError, drain_nodes, evict_pod
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.names import api_path, check_name, check_namespace

# The controllers whose spec.replicas a drain waits for, by kind (drain.REPLACING_KINDS).
# The eviction options k8s_node_drain and k8s_pod_evict share (each documents them for its own scope).
EVICTION_OPTIONS = dict(
    timeout=dict(type="int", default=300),
    retry_delay=dict(type="int", default=5),
    poll_interval=dict(type="int", default=2),
    grace_period=dict(type="int"),
)

CONTROLLER_PATHS = {
    "ReplicaSet": "/apis/apps/v1/namespaces/%s/replicasets/%s",
    "StatefulSet": "/apis/apps/v1/namespaces/%s/statefulsets/%s",
    "ReplicationController": "/api/v1/namespaces/%s/replicationcontrollers/%s",
}


class DrainApi:
    """The few calls a drain needs, answering plain API dictionaries (errors: KubeApiError)."""

    def __init__(self, client):
        self.client = client

    def read_node(self, name):
        return self.client.request("get", api_path("/api/v1/nodes/%s", name))

    def set_unschedulable(self, name, value):
        return self.client.request("patch", api_path("/api/v1/nodes/%s", name),
                                   body={"spec": {"unschedulable": value}},
                                   content_type=STRATEGIC_MERGE_PATCH)

    def list_pods_on_node(self, name):
        return self.client.request("get", "/api/v1/pods", field_selector="spec.nodeName=" + name)["items"]

    def list_namespaced_pods(self, namespace):
        return self.client.request("get", api_path("/api/v1/namespaces/%s/pods", namespace))["items"]

    def read_pod(self, namespace, name):
        return self.client.request("get", api_path("/api/v1/namespaces/%s/pods/%s", namespace, name))

    def read_controller(self, namespace, kind, name):
        return self.client.request("get", api_path(CONTROLLER_PATHS[kind], namespace, name))

    def list_pdbs(self, namespace):
        return self.client.request(
            "get", api_path("/apis/policy/v1/namespaces/%s/poddisruptionbudgets", namespace))["items"]

    def evict(self, namespace, name, grace_period=None):
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace}}
        if grace_period is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_period}
        return self.client.request("post", api_path("/api/v1/namespaces/%s/pods/%s/eviction", namespace, name),
                                   body=body)


def drain(params, check_mode):
    """k8s_node_drain: drain the nodes ``params['name']`` (a list); the result dict, or DrainError."""
    names = params["name"]
    if not names:
        raise DrainError("name must name at least one node; nothing was changed")
    for name in names:
        check_name(name, "Node", "name")
    return drain_nodes(
        DrainApi(connect(params)), names, check_mode=check_mode, max_parallel=params.get("max_parallel") or 5,
        delete_emptydir_data=params["delete_emptydir_data"], force=params["force"],
        timeout=params["timeout"], retry_delay=params["retry_delay"],
        poll=params["poll_interval"], grace_period=params["grace_period"])


def evict(params, check_mode):
    """k8s_pod_evict: replace the pod ``params['name']`` in ``params['namespace']`` by eviction."""
    check_namespace(params["namespace"], "namespace (k8s_namespace)")
    check_name(params["name"], "Pod", "name")
    return evict_pod(DrainApi(connect(params)), params["namespace"], params["name"], check_mode=check_mode,
                     timeout=params["timeout"], retry_delay=params["retry_delay"], poll=params["poll_interval"],
                     grace_period=params["grace_period"])
