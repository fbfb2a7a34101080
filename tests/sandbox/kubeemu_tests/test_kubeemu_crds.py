"""CustomResourceDefinitions in kubeemu, as kube-apiserver's apiextensions-apiserver serves them
(kubernetes staging/src/k8s.io/apiextensions-apiserver; the rules are cited in kubeemu/crds.py):
404 before the CRD exists, NamesAccepted/Established after, discovery of Established CRDs only, CRUD and
json/merge patches on the custom resources, 415 for a strategic merge patch, pruning of unknown fields,
the custom resources gone with their CRD or their namespace. Runs against a real cluster too
(HALOBUZZ_USE_ENV=1) when the test may create CRDs there.
"""
import copy
import json
import uuid
from pathlib import Path

import pytest
import yaml

from kubeemu import KubeEmulator
from kubeemu_testlib import EMULATOR_CONFIG, USE_ENV, Kube, wait_for

CRD_FILE = Path(__file__).resolve().parents[1] / "kubeemu" / "crds" / "monitoring.coreos.com_prometheusrules.yaml"
NOT_FOUND = "the server could not find the requested resource"


def crd_manifest(group):
    """The PrometheusRule CRD moved to a group of the test's own (CRDs are cluster-wide)."""
    crd = yaml.safe_load(CRD_FILE.read_text())
    crd["spec"]["group"] = group
    crd["metadata"]["name"] = "prometheusrules." + group
    return crd


def rule(ns, name, **extra):
    body = {"apiVersion": None, "kind": "PrometheusRule", "metadata": {"name": name, "namespace": ns},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "1m",
                                                         "labels": {"severity": "P0"}}]}]}}
    body.update(extra)
    return body


def established(kube, name):
    crd = kube.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + name)
    conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
    return crd if conds.get("Established", {}).get("status") == "True" else None


@pytest.fixture
def group(kube):
    """A fresh API group with the PrometheusRule CRD in it, Established; the CRD is deleted afterwards."""
    name = "t%s.monitoring.coreos.com" % uuid.uuid4().hex[:8]
    crd = crd_manifest(name)
    kube.api.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    wait_for(lambda: established(kube, crd["metadata"]["name"]), what="the CRD to be Established")
    yield name
    kube.api.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crd["metadata"]["name"])


def test_custom_resources_are_404_until_the_crd_exists_then_established_and_discovered(kube, ns):
    # crdHandler.ServeHTTP: no CRD -> the delegate's 404; DiscoveryController.sync: Established CRDs only
    group = "t%s.monitoring.coreos.com" % uuid.uuid4().hex[:8]
    path = "/apis/%s/v1/namespaces/%s/prometheusrules" % (group, ns)
    for url in (path, "/apis/%s/v1" % group, "/apis/%s" % group):
        resp = kube.api.get(url)
        assert resp.status_code == 404, url
        assert resp.json()["reason"] == "NotFound" and resp.json()["message"] == NOT_FOUND
    assert group not in [g["name"] for g in kube.get("/apis")["groups"]]

    crd = crd_manifest(group)
    created = kube.api.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    try:
        assert created["spec"]["names"]["listKind"] == "PrometheusRuleList"
        done = wait_for(lambda: established(kube, crd["metadata"]["name"]), what="the CRD to be Established")
        conds = {c["type"]: c for c in done["status"]["conditions"]}
        assert (conds["NamesAccepted"]["status"], conds["NamesAccepted"]["reason"]) == ("True", "NoConflicts")
        assert conds["Established"]["reason"] == "InitialNamesAccepted"
        assert done["status"]["acceptedNames"]["plural"] == "prometheusrules"
        assert done["status"]["storedVersions"] == ["v1"]

        groups = {g["name"]: g for g in kube.get("/apis")["groups"]}
        assert groups[group]["preferredVersion"] == {"groupVersion": group + "/v1", "version": "v1"}
        assert kube.get("/apis/" + group)["versions"] == [{"groupVersion": group + "/v1", "version": "v1"}]
        listing = kube.get("/apis/%s/v1" % group)
        entry = next(r for r in listing["resources"] if r["name"] == "prometheusrules")
        assert (entry["kind"], entry["namespaced"], entry["singularName"], entry["shortNames"]) == (
            "PrometheusRule", True, "prometheusrule", ["promrule"])
        assert sorted(entry["verbs"]) == sorted(["create", "delete", "deletecollection", "get", "list", "patch",
                                                 "update", "watch"])
        assert kube.get(path)["items"] == []
    finally:
        kube.api.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                         + crd["metadata"]["name"])


def test_crud_and_patches_on_a_custom_resource(kube, ns, group):
    base = "/apis/%s/v1/namespaces/%s/prometheusrules" % (group, ns)
    body = rule(ns, "halobuzz", apiVersion=group + "/v1")
    body["spec"]["unknownField"] = "pruned"    # not in the structural schema: pruned, as the real server does
    created = kube.api.must("POST", base, json=body)
    assert created["metadata"]["uid"] and created["metadata"]["generation"] == 1
    assert "unknownField" not in created["spec"]
    assert kube.api.request("POST", base, json=body).status_code == 409

    got = kube.get(base + "/halobuzz")
    assert got["spec"]["groups"][0]["rules"][0]["expr"] == "up == 0"
    assert [i["metadata"]["name"] for i in kube.get(base)["items"]] == ["halobuzz"]
    assert any(i["metadata"]["name"] == "halobuzz" for i in kube.get("/apis/%s/v1/prometheusrules" % group)["items"])

    # PatchResource with the CRD handler's supportedTypes: no strategic merge for custom resources
    smp = kube.api.request("PATCH", base + "/halobuzz", data=json.dumps({"metadata": {"labels": {"a": "b"}}}),
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert smp.status_code == 415 and smp.json()["reason"] == "UnsupportedMediaType"
    merged = kube.api.must("PATCH", base + "/halobuzz", data=json.dumps({"metadata": {"labels": {"a": "b"}}}),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert merged["metadata"]["labels"] == {"a": "b"} and merged["metadata"]["generation"] == 1
    patched = kube.api.must("PATCH", base + "/halobuzz", data=json.dumps(
        [{"op": "replace", "path": "/spec/groups/0/rules/0/for", "value": "5m"}]),
        headers={"Content-Type": "application/json-patch+json"})
    assert patched["spec"]["groups"][0]["rules"][0]["for"] == "5m" and patched["metadata"]["generation"] == 2

    stale = copy.deepcopy(got)
    stale["spec"]["groups"][0]["name"] = "h"
    assert kube.api.request("PUT", base + "/halobuzz", json=stale).status_code == 409   # old resourceVersion
    bad = copy.deepcopy(patched)
    bad["spec"]["groups"] = "not-a-list"
    resp = kube.api.request("PUT", base + "/halobuzz", json=bad)
    assert resp.status_code == 422 and resp.json()["reason"] == "Invalid"
    assert "spec.groups" in resp.json()["message"]

    gone = kube.api.must("DELETE", base + "/halobuzz")
    assert gone["metadata"]["name"] == "halobuzz"
    resp = kube.api.get(base + "/halobuzz")
    assert resp.status_code == 404
    assert resp.json()["message"] == 'prometheusrules.%s "halobuzz" not found' % group


def test_a_custom_resource_needs_the_crd_scope_and_a_served_version(kube, ns, group):
    assert kube.api.get("/apis/%s/v2/namespaces/%s/prometheusrules" % (group, ns)).status_code == 404
    resp = kube.api.get("/apis/%s/v1/namespaces/%s/prometheusrules/x/status" % (group, ns))   # no status subresource
    assert resp.status_code == 404 and resp.json()["reason"] == "NotFound"


@pytest.mark.parametrize("change, field", [
    (lambda c: c["metadata"].update(name="wrong.example.com"), "metadata.name"),
    (lambda c: c["spec"]["versions"][0].update(storage=False), "spec.versions"),
    (lambda c: c["spec"].update(scope="Everywhere"), "spec.scope"),
    (lambda c: c["spec"]["versions"][0].pop("schema"), "spec.versions[0].schema.openAPIV3Schema"),
])
def test_an_invalid_crd_is_refused(kube, change, field):
    crd = crd_manifest("t%s.monitoring.coreos.com" % uuid.uuid4().hex[:8])
    change(crd)
    resp = kube.api.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    assert resp.status_code == 422, resp.text
    assert resp.json()["reason"] == "Invalid"
    assert field in [c["field"] for c in resp.json()["details"]["causes"]]


def test_custom_resources_go_with_their_crd_and_their_namespace(kube, ns, group):
    other = "kubeemu-crd-%s" % uuid.uuid4().hex[:8]
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    for namespace in (ns, other):
        kube.api.must("POST", "/apis/%s/v1/namespaces/%s/prometheusrules" % (group, namespace),
                      json=rule(namespace, "r", apiVersion=group + "/v1"))
    kube.api.must("DELETE", "/api/v1/namespaces/" + other)
    # the namespace controller removes every object of the namespace, custom resources included
    wait_for(lambda: [i["metadata"]["namespace"] for i in kube.get("/apis/%s/v1/prometheusrules" % group)["items"]]
             == [ns], what="the custom resource of the deleted namespace to go")
    kube.api.must("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/prometheusrules." + group)
    wait_for(lambda: kube.api.get("/apis/%s/v1/namespaces/%s/prometheusrules/r" % (group, ns)).status_code == 404,
             what="the custom resources to go with their CRD")
    wait_for(lambda: group not in [g["name"] for g in kube.get("/apis")["groups"]],
             what="discovery to drop the group")


@pytest.mark.skipif(USE_ENV, reason="starts an emulator of its own")
def test_a_crd_is_established_without_any_request_for_custom_resources(tmp_path):
    # apiextensions-apiserver starts its naming and establishing controllers with the API server
    # (apiserver.go: crdController/establishingController run in a post-start hook), so a CRD created by a
    # client that never asks discovery or a custom resource path still becomes Established.
    emu = KubeEmulator(config=EMULATOR_CONFIG).start()
    try:
        fresh = Kube(emu.write_kubeconfig(str(tmp_path / "kubeconfig")), emu)
        crd = crd_manifest("t%s.monitoring.coreos.com" % uuid.uuid4().hex[:8])
        fresh.api.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
        wait_for(lambda: established(fresh, crd["metadata"]["name"]), what="the CRD to be Established")
    finally:
        emu.stop()
