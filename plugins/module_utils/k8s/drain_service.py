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
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.drain import drain_node


class DrainApi:
    """The few calls a drain needs, answering plain API dictionaries (errors: KubeApiError)."""

    def __init__(self, client):
        self.client = client

    def read_node(self, name):
        return self.client.request("get", "/api/v1/nodes/%s" % name)

    def set_unschedulable(self, name, value):
        return self.client.request("patch", "/api/v1/nodes/%s" % name,
                                   body={"spec": {"unschedulable": value}},
                                   content_type=STRATEGIC_MERGE_PATCH)

    def list_pods_on_node(self, name):
        return self.client.request("get", "/api/v1/pods", field_selector="spec.nodeName=" + name)["items"]

    def list_namespaced_pods(self, namespace):
        return self.client.request("get", "/api/v1/namespaces/%s/pods" % namespace)["items"]

    def read_pod(self, namespace, name):
        return self.client.request("get", "/api/v1/namespaces/%s/pods/%s" % (namespace, name))

    def list_pdbs(self, namespace):
        return self.client.request(
            "get", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % namespace)["items"]

    def evict(self, namespace, name, grace_period=None):
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace}}
        if grace_period is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_period}
        return self.client.request("post", "/api/v1/namespaces/%s/pods/%s/eviction" % (namespace, name),
                                   body=body)


def drain(params, check_mode):
    """k8s_node_drain: drain the node ``params['name']``; the result dict, or DrainError."""
    return drain_node(
        DrainApi(connect(params)), params["name"], check_mode=check_mode,
        delete_emptydir_data=params["delete_emptydir_data"], force=params["force"],
        timeout=params["timeout"], retry_delay=params["retry_delay"],
        poll=params["poll_interval"], grace_period=params["grace_period"])
