# -*- coding: utf-8 -*-
"""Names and namespaces are checked as the API server checks them (apimachinery
pkg/util/validation/validation.go IsDNS1123Label / IsDNS1123Subdomain) before any call (issue 13 bug 8)."""

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s import drain_service, rollout_service
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.names import (
    InvalidName,
    api_path,
    check_name,
    check_namespace,
    dns1123_label_problem,
    dns1123_subdomain_problem,
)


@pytest.mark.parametrize("value, ok", [
    ("halobuzz", True), ("a", True), ("0-a", True), ("a" * 63, True), ("a" * 64, False),
    ("Halobuzz", False), ("-a", False), ("a-", False), ("a.b", False), ("a/b", False), ("..", False),
    ("", False), (None, False), ("a_b", False),
])
def test_dns1123_label(value, ok):
    assert (dns1123_label_problem(value) is None) is ok


@pytest.mark.parametrize("value, ok", [
    ("backend", True), ("ip-10-0-1-2.ec2.internal", True), ("a" * 253, True), ("a" * 254, False),
    ("a..b", False), (".a", False), ("a.", False), ("x/../../../halobuzz/deployments/streaming", False),
    ("backend%2f..", False), ("Backend", False), ("", False),
])
def test_dns1123_subdomain(value, ok):
    assert (dns1123_subdomain_problem(value) is None) is ok


def test_messages_name_the_input():
    with pytest.raises(InvalidName, match=r"^namespace \(k8s_namespace\) 'Prod' is not a valid Kubernetes "
                                          r"namespace name: .*Nothing was called"):
        check_namespace("Prod", "namespace (k8s_namespace)")
    with pytest.raises(InvalidName, match=r"^name 'x/\.\./y' is not a valid Deployment name"):
        check_name("x/../y", "Deployment")


def test_api_path_quotes_every_segment():
    assert api_path("/api/v1/namespaces/%s/pods/%s", "a/b", "..") == "/api/v1/namespaces/a%2Fb/pods/.."


class NoCalls:
    def __getattr__(self, name):
        raise AssertionError("no API call may be made for an invalid name (%s)" % name)


@pytest.mark.parametrize("params", [
    dict(name="x/../../../halobuzz/deployments/streaming", namespace="default"),
    dict(name="backend", namespace="halobuzz/deployments/streaming?x="),
    dict(name="backend", namespace="x" * 64),
])
def test_traversal_names_are_refused_before_connecting(params, monkeypatch):
    # Bug 8: k8s_rollout_info name=x/../../../halobuzz/deployments/streaming namespace=default answered
    # halobuzz/streaming. Now refused before a client is even built.
    monkeypatch.setattr(rollout_service, "connect", lambda params: NoCalls())
    with pytest.raises(InvalidName):
        rollout_service.rollout_info(params)
    with pytest.raises(InvalidName):
        rollout_service.rollout(dict(params, action="undo", to_revision=None, wait=False,
                                     wait_timeout=1, wait_sleep=1), check_mode=True)


def test_node_names_are_checked_before_connecting(monkeypatch):
    monkeypatch.setattr(drain_service, "connect", lambda params: NoCalls())
    with pytest.raises(InvalidName, match="not a valid Node name"):
        drain_service.drain(dict(name=["node-1", "../namespaces/halobuzz"], delete_emptydir_data=False,
                                 force=False, timeout=1, retry_delay=1, poll_interval=1, grace_period=None),
                            check_mode=True)
