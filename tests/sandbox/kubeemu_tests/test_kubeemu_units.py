"""Table-driven tests of kubeemu's pure parts: selectors, patches, pod-template-hash, int-or-percent."""

import pytest

from kubeemu.defaults import pod_template_hash, resolve_int_or_percent, templates_equal
from kubeemu.patch import PatchError, json_merge_patch, json_patch, strategic_merge_patch
from kubeemu.selectors import (SelectorError, fields_match, labels_match, parse_field_selector,
                               parse_label_selector, selector_matches, selector_string)

LABELS = {"app": "backend", "tier": "api", "release": "v1"}


@pytest.mark.parametrize("selector,expected", [
    ("", True),
    ("app=backend", True),
    ("app==backend", True),
    ("app!=backend", False),
    ("app!=web", True),
    ("missing!=x", True),
    ("app in (web,backend)", True),
    ("app in (web)", False),
    ("app notin (web, streaming)", True),
    ("app notin (backend)", False),
    ("tier", True),
    ("!tier", False),
    ("!missing", True),
    ("app=backend,tier=api,release in (v1,v2)", True),
    ("app=backend,tier=web", False),
    ("missing in (x)", False),
    ("missing notin (x)", True),
])
def test_label_selector(selector, expected):
    assert labels_match(LABELS, parse_label_selector(selector)) is expected


@pytest.mark.parametrize("selector", ["app in web", "app in (a,b", "=x", "app=a b"])
def test_label_selector_rejects_malformed(selector):
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


POD = {"metadata": {"name": "p1", "namespace": "halobuzz"}, "spec": {"nodeName": "node-1"},
       "status": {"phase": "Running"}}


@pytest.mark.parametrize("selector,expected", [
    ("metadata.name=p1", True),
    ("metadata.name!=p1", False),
    ("metadata.namespace==halobuzz,spec.nodeName=node-1", True),
    ("spec.nodeName=node-2", False),
    ("status.phase!=Pending", True),
    ("spec.nodeName=", False),
])
def test_field_selector(selector, expected):
    assert fields_match(POD, parse_field_selector(selector)) is expected


@pytest.mark.parametrize("selector,labels,expected,text", [
    ({"matchLabels": {"app": "backend"}}, LABELS, True, "app=backend"),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["api", "web"]}]}, LABELS, True,
     "tier in (api,web)"),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["api"]}]}, LABELS, False,
     "tier notin (api)"),
    ({"matchExpressions": [{"key": "gone", "operator": "DoesNotExist"}]}, LABELS, True, "!gone"),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {}, False, "app"),
])
def test_selector_object(selector, labels, expected, text):
    assert selector_matches(selector, labels) is expected
    assert selector_string(selector) == text


BASE = {"spec": {"containers": [
    {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
     "ports": [{"containerPort": 80}], "volumeMounts": [{"name": "v", "mountPath": "/data"}]},
    {"name": "sidecar", "image": "s:1"}],
    "tolerations": [{"key": "x"}], "volumes": [{"name": "v", "emptyDir": {}}]},
    "metadata": {"finalizers": ["a"], "labels": {"keep": "1", "drop": "2"}}}


@pytest.mark.parametrize("patch,check", [
    # merge keys: list items kept, the named one updated
    ({"spec": {"containers": [{"name": "app", "image": "a:2"}]}},
     lambda r: [c["image"] for c in r["spec"]["containers"]] == ["a:2", "s:1"]
     and len(r["spec"]["containers"][0]["env"]) == 2),
    ({"spec": {"containers": [{"name": "app", "env": [{"name": "C", "value": "3"}]}]}},
     lambda r: [e["name"] for e in r["spec"]["containers"][0]["env"]] == ["A", "B", "C"]),
    ({"spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "9"}]}]}},
     lambda r: r["spec"]["containers"][0]["env"][0] == {"name": "A", "value": "9"}),
    ({"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}},
     lambda r: [c["name"] for c in r["spec"]["containers"]] == ["app"]),
    ({"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 81}]}]}},
     lambda r: [p["containerPort"] for p in r["spec"]["containers"][0]["ports"]] == [80, 81]),
    ({"spec": {"containers": [{"name": "app", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}]}},
     lambda r: r["spec"]["containers"][0]["volumeMounts"] == [{"name": "v", "mountPath": "/data", "readOnly": True}]),
    # no merge key: the list is replaced
    ({"spec": {"tolerations": [{"key": "y"}]}}, lambda r: r["spec"]["tolerations"] == [{"key": "y"}]),
    # $patch: replace on a list and on a map
    ({"spec": {"containers": [{"name": "only", "image": "o:1"}, {"$patch": "replace"}]}},
     lambda r: r["spec"]["containers"] == [{"name": "only", "image": "o:1"}]),
    ({"metadata": {"labels": {"new": "1", "$patch": "replace"}}},
     lambda r: r["metadata"]["labels"] == {"new": "1"}),
    # null deletes a key; $setElementOrder reorders; primitive set lists merge
    ({"metadata": {"labels": {"drop": None}}}, lambda r: r["metadata"]["labels"] == {"keep": "1"}),
    ({"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
               "containers": [{"name": "app", "image": "a:3"}]}},
     lambda r: [c["name"] for c in r["spec"]["containers"]] == ["sidecar", "app"]),
    ({"metadata": {"finalizers": ["b"]}}, lambda r: r["metadata"]["finalizers"] == ["a", "b"]),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, lambda r: r["metadata"]["finalizers"] == []),
    ({"spec": {"volumes": [{"name": "v", "$patch": "delete"}]}}, lambda r: r["spec"]["volumes"] == []),
])
def test_strategic_merge_patch(patch, check):
    result = strategic_merge_patch(BASE, patch)
    assert check(result), result
    assert BASE["spec"]["containers"][0]["image"] == "a:1"  # the original is untouched


def test_strategic_merge_patch_requires_merge_key():
    with pytest.raises(PatchError):
        strategic_merge_patch(BASE, {"spec": {"containers": [{"image": "nameless"}]}})


def test_service_ports_merge_on_port():
    svc = {"spec": {"ports": [{"port": 80, "name": "http"}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 443, "name": "https"}]}})
    assert [p["port"] for p in out["spec"]["ports"]] == [80, 443]


@pytest.mark.parametrize("patch,expected", [
    ({"a": {"b": None}}, {"a": {}, "l": [1]}),
    ({"l": [2]}, {"a": {"b": 1}, "l": [2]}),
    ({"c": 1}, {"a": {"b": 1}, "l": [1], "c": 1}),
])
def test_json_merge_patch(patch, expected):
    assert json_merge_patch({"a": {"b": 1}, "l": [1]}, patch) == expected


def test_json_patch_and_its_errors():
    assert json_patch({"a": [1]}, [{"op": "add", "path": "/a/-", "value": 2}]) == {"a": [1, 2]}
    with pytest.raises(PatchError):
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    with pytest.raises(PatchError):
        json_patch({"a": 1}, {"op": "add"})


TEMPLATE = {"metadata": {"labels": {"app": "backend"}},
            "spec": {"containers": [{"name": "b", "image": "b:1", "resources": {}}]}}


@pytest.mark.parametrize("other,equal", [
    ({"metadata": {"labels": {"app": "backend", "pod-template-hash": "abc"}, "creationTimestamp": None},
      "spec": {"containers": [{"name": "b", "image": "b:1"}]}}, True),
    ({"metadata": {"labels": {"app": "backend"}}, "spec": {"containers": [{"name": "b", "image": "b:2"}]}}, False),
    ({"metadata": {"labels": {"app": "backend"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "t"}},
      "spec": {"containers": [{"name": "b", "image": "b:1"}]}}, False),
])
def test_template_equality_and_hash(other, equal):
    assert templates_equal(TEMPLATE, other) is equal
    assert (pod_template_hash(TEMPLATE) == pod_template_hash(other)) is equal


def test_hash_uses_the_safe_alphabet_and_collision_count():
    h = pod_template_hash(TEMPLATE)
    assert h and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert pod_template_hash(TEMPLATE, 1) != h


@pytest.mark.parametrize("value,total,up,expected", [
    (1, 10, True, 1), ("25%", 3, True, 1), ("25%", 3, False, 0), ("50%", 5, True, 3), ("50%", 5, False, 2),
    ("0%", 4, True, 0), ("100%", 4, False, 4),
])
def test_int_or_percent(value, total, up, expected):
    assert resolve_int_or_percent(value, total, up) == expected


@pytest.mark.parametrize("value", ["5", "abc", True, "x%"])
def test_int_or_percent_rejects(value):
    with pytest.raises(ValueError):
        resolve_int_or_percent(value, 10, True)


# Request bodies captured from kubectl v1.32.4 (`kubectl ... -v=9`, "Request Body" hex dumps):
# `kubectl -n halobuzz autoscale deployment backend --min=3 --max=20 --cpu-percent=70` and
# `kubectl -n default create secret generic sx --from-literal=pw=s3 --type=Opaque`.
AUTOSCALE_BODY = bytes.fromhex(
    "6b387300 0a290a0e 6175746f 7363616c 696e672f 76311217 486f7269 7a6f6e74"
    "616c506f 64417574 6f736361 6c657212 470a170a 07626163 6b656e64 12001a00"
    "22002a00 32003800 42001226 0a1e0a0a 4465706c 6f796d65 6e741207 6261636b"
    "656e641a 07617070 732f7631 10031814 20461a04 18002000 1a002200".replace(" ", ""))
SECRET_BODY = bytes.fromhex(
    "6b387300 0a0c0a02 76311206 53656372 6574122d 0a190a02 73781200 1a076465"
    "6661756c 74220 02a00 32003800 42001208 0a027077 12027333 1a064f70 61717565"
    "1a002200".replace(" ", ""))


def test_protobuf_bodies_kubectl_sends_decode_to_their_json():
    from kubeemu.protobuf import decode
    assert decode(AUTOSCALE_BODY) == {
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "backend"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "backend", "apiVersion": "apps/v1"},
                 "minReplicas": 3, "maxReplicas": 20, "targetCPUUtilizationPercentage": 70}}
    assert decode(SECRET_BODY) == {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                   "metadata": {"name": "sx", "namespace": "default"}, "data": {"pw": "czM="}}


@pytest.mark.parametrize("body,word", [
    (b"not protobuf", "magic"),
    (b"k8s\x00\x0a\x15\x0a\x07apps/v1\x12\x0aDeployment", "apps/v1 Deployment"),
    (b"k8s\x00\x0a\xff", "truncated"),
])
def test_protobuf_refusals_say_why(body, word):
    from kubeemu.protobuf import ProtobufError, decode
    with pytest.raises(ProtobufError, match=word):
        decode(body)
