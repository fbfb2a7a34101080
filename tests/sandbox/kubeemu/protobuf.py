"""Just enough of the Kubernetes protobuf encoding to read what kubectl's typed commands send.

`kubectl create namespace|configmap|secret` and `kubectl autoscale` POST
`application/vnd.kubernetes.protobuf` bodies: the magic `k8s\\0`, then a runtime.Unknown
{typeMeta{apiVersion, kind}, raw}. The kinds below are decoded with their field numbers from
k8s.io/api generated.proto; any other protobuf body is answered 415 like before.
"""

import base64

# message -> {field number: (json name, type, repeated)}; types: string, int, bool, bytes,
# map (string->string), bmap (string->bytes, base64 in JSON), or another message's name
SCHEMAS = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False)},
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "ObjectMeta": {1: ("name", "string", False), 2: ("generateName", "string", False),
                   3: ("namespace", "string", False), 11: ("labels", "map", False),
                   12: ("annotations", "map", False), 14: ("finalizers", "string", True)},
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    "NamespaceSpec": {1: ("finalizers", "string", True)},
    "ConfigMap": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map", False),
                  3: ("binaryData", "bmap", False), 4: ("immutable", "bool", False)},
    "Secret": {1: ("metadata", "ObjectMeta", False), 2: ("data", "bmap", False), 3: ("type", "string", False),
               4: ("stringData", "map", False), 5: ("immutable", "bool", False)},
    "HorizontalPodAutoscaler": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "HPASpecV1", False)},
    "HPASpecV1": {1: ("scaleTargetRef", "CrossVersionObjectReference", False), 2: ("minReplicas", "int", False),
                  3: ("maxReplicas", "int", False), 4: ("targetCPUUtilizationPercentage", "int", False)},
    "CrossVersionObjectReference": {1: ("kind", "string", False), 2: ("name", "string", False),
                                    3: ("apiVersion", "string", False)},
    "Eviction": {1: ("metadata", "ObjectMeta", False), 2: ("deleteOptions", "DeleteOptions", False)},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int", False), 2: ("preconditions", "Preconditions", False),
                      4: ("propagationPolicy", "string", False), 5: ("dryRun", "string", True)},
    "Preconditions": {1: ("uid", "string", False), 2: ("resourceVersion", "string", False)},
}
# (apiVersion, kind) -> top-level message
SUPPORTED = {("v1", "Namespace"): "Namespace", ("v1", "ConfigMap"): "ConfigMap", ("v1", "Secret"): "Secret",
             ("autoscaling/v1", "HorizontalPodAutoscaler"): "HorizontalPodAutoscaler",
             ("policy/v1", "Eviction"): "Eviction", ("v1", "DeleteOptions"): "DeleteOptions"}
MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(data):
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
            if len(value) != length:
                raise ProtobufError("truncated field %d" % number)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ProtobufError("unsupported wire type %d" % wire)
        yield number, value


def decode_message(data, name):
    schema = SCHEMAS[name]
    out = {}
    for number, value in _fields(data):
        if number not in schema:
            continue   # a field kubectl sends empty (selfLink, uid, timestamps, ...) or one not needed
        key, kind, repeated = schema[number]
        if kind in ("map", "bmap"):
            entry = dict(_fields(value))
            v = entry.get(2, b"")
            out.setdefault(key, {})[entry.get(1, b"").decode()] = (
                v.decode() if kind == "map" else base64.b64encode(v).decode())
            continue
        if kind == "string":
            v = value.decode()
        elif kind == "int":
            v = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "bool":
            v = bool(value)
        elif kind == "bytes":
            v = value
        else:
            v = decode_message(value, kind)
        if repeated:
            out.setdefault(key, []).append(v)
        else:
            out[key] = v
    return out


def decode(body):
    """A protobuf request body as the JSON object it stands for; ProtobufError when not supported."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic number")
    envelope = decode_message(body[len(MAGIC):], "Unknown")
    tm = envelope.get("typeMeta") or {}
    message = SUPPORTED.get((tm.get("apiVersion"), tm.get("kind")))
    if message is None:
        raise ProtobufError("protobuf bodies of %s %s are not supported by kubeemu" % (
            tm.get("apiVersion"), tm.get("kind")))
    obj = decode_message(envelope.get("raw", b""), message)
    obj = {k: v for k, v in obj.items() if v not in ("", {}, [])}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        obj["metadata"] = {k: v for k, v in meta.items() if v not in ("", {}, [])}
    obj["apiVersion"], obj["kind"] = tm["apiVersion"], tm["kind"]
    return obj
