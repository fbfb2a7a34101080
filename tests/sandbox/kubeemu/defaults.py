"""Defaulting and validation, per kind, as the API server's strategies do them."""

import base64
import copy
import json
import re
import zlib

from .errors import bad_request, invalid
from .quantity import CPU, MEMORY, parse_quantity
from .selectors import SelectorError, selector_matches, selector_object_reqs

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
HASH_LABEL = "pod-template-hash"
WORKLOADS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")


def _container_defaults(c):
    image = c.get("image") or ""
    c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]
                 else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")


def pod_spec_defaults(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(c, dict):
            _container_defaults(c)


def template_defaults(spec):
    tmpl = spec.setdefault("template", {})
    tmpl.setdefault("metadata", {})
    pod_spec_defaults(tmpl.setdefault("spec", {}))


def _type_error(path, want, value):
    return bad_request("json: cannot unmarshal %s into Go struct field %s of type %s" % (
        type(value).__name__.replace("str", "string").replace("dict", "object").replace("list", "array"),
        path, want))


def check_shapes(obj):
    """What Go's JSON decoding would refuse with a 400 before any validation: wrong types."""
    meta = obj["metadata"]
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and (not isinstance(value, dict) or
                                  not all(isinstance(v, str) for v in value.values())):
            raise _type_error("ObjectMeta.metadata." + key, "map[string]string", value)
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise _type_error("spec", "struct", spec)
    if isinstance(spec, dict):
        for key in ("selector", "template", "strategy"):
            if spec.get(key) is not None and not isinstance(spec[key], dict) and \
                    not (key == "selector" and obj.get("kind") == "Service"):
                raise _type_error("spec." + key, "struct", spec[key])
        pod_spec = spec if obj.get("kind") == "Pod" else (spec.get("template") or {}).get("spec")
        where = "spec" if obj.get("kind") == "Pod" else "spec.template.spec"
        if pod_spec is not None and not isinstance(pod_spec, dict):
            raise _type_error(where, "struct", pod_spec)
        for key in ("containers", "initContainers", "volumes", "tolerations"):
            value = (pod_spec or {}).get(key)
            if value is not None and (not isinstance(value, list) or not all(isinstance(c, dict) for c in value)):
                raise _type_error("%s.%s" % (where, key), "[]struct", value)


def apply_defaults(kind, obj, name):
    meta = obj["metadata"]
    spec = obj.get("spec")
    if kind == "Namespace":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {})["phase"] = "Active"
    elif kind == "Node":
        _node_defaults(obj, name)
    elif kind == "Pod":
        spec = obj.setdefault("spec", {})
        pod_spec_defaults(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        tols = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == key for t in tols):
                tols.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    elif kind in WORKLOADS and isinstance(spec, dict):
        if kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        template_defaults(spec)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                ru = strategy.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
        elif kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
            if us.get("type", "RollingUpdate") == "RollingUpdate":
                us.setdefault("type", "RollingUpdate")
                us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
            spec.setdefault("persistentVolumeClaimRetentionPolicy",
                            {"whenDeleted": "Retain", "whenScaled": "Retain"})
        elif kind == "DaemonSet":
            us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
            if us.get("type", "RollingUpdate") == "RollingUpdate":
                us.setdefault("type", "RollingUpdate")
                ru = us.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", 1)
                ru.setdefault("maxSurge", 0)
    elif kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
        spec.setdefault("minReplicas", 1)
        if not spec.get("metrics"):
            spec["metrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def _node_defaults(node, name):
    labels = node["metadata"].setdefault("labels", {})
    labels.setdefault("kubernetes.io/hostname", name)
    labels.setdefault("kubernetes.io/os", "linux")
    labels.setdefault("kubernetes.io/arch", "amd64")
    node.setdefault("spec", {})
    status = node.setdefault("status", {})
    status.setdefault("capacity", {"cpu": "4", "memory": "16362568Ki", "pods": "110", "ephemeral-storage": "102350Mi"})
    status.setdefault("allocatable", dict(status["capacity"]))
    status.setdefault("nodeInfo", {"kubeletVersion": "v1.32.0", "kubeProxyVersion": "v1.32.0",
                                   "containerRuntimeVersion": "containerd://1.7.22", "operatingSystem": "linux",
                                   "architecture": "amd64", "osImage": "Ubuntu 24.04.1 LTS",
                                   "kernelVersion": "6.8.0-1016", "machineID": "", "systemUUID": "",
                                   "bootID": ""})
    status.setdefault("addresses", [{"type": "InternalIP", "address": node_ip(name)},
                                    {"type": "Hostname", "address": name}])
    status.setdefault("daemonEndpoints", {"kubeletEndpoint": {"Port": 10250}})
    if not status.get("conditions"):
        status["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                 "message": "kubelet is posting ready status"}]


def node_ip(node_name):
    h = zlib.crc32(node_name.encode())
    return "10.0.%d.%d" % ((h >> 8) % 250, h % 250 + 2)


def validate_name(r, name, kind):
    pattern, what = (LABEL, "RFC 1123 label") if kind in ("Namespace", "Service") else (SUBDOMAIN, "RFC 1123 subdomain")
    if not pattern.match(name) or len(name) > 253:
        raise invalid(r, name, [("metadata.name", "FieldValueInvalid",
                                 'Invalid value: "%s": a lowercase %s must consist of lower case alphanumeric '
                                 "characters, '-' or '.', and must start and end with an alphanumeric "
                                 "character" % (name, what))])


def _containers_errors(spec, prefix):
    errs = []
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not containers:
        return [(prefix + "containers", "FieldValueRequired", "Required value")]
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            path = "%s%s[%d]" % (prefix, key, i)
            for field in ("name", "image"):
                if not isinstance(c, dict) or not c.get(field):
                    errs.append(("%s.%s" % (path, field), "FieldValueRequired", "Required value"))
            if isinstance(c, dict):
                errs += _env_errors(c.get("env") or [], path + ".env")
                errs += _resources_errors(c.get("resources") or {}, path + ".resources")
    return errs


ENV_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")


def _env_errors(env, path):
    """pkg/apis/core/validation/validation.go ValidateEnv / validateEnvVarValueFrom."""
    errs = []
    for i, ev in enumerate(env):
        at = "%s[%d]" % (path, i)
        if not isinstance(ev, dict) or not ev.get("name"):
            errs.append((at + ".name", "FieldValueRequired", "Required value"))
            continue
        if "=" in ev["name"]:
            errs.append((at + ".name", "FieldValueInvalid", 'Invalid value: "%s": a valid environment variable name '
                         "must consist of printable ASCII characters other than '='" % ev["name"]))
        source = ev.get("valueFrom")
        if source is None:
            continue
        count = len([k for k in ENV_SOURCES if isinstance(source, dict) and source.get(k) is not None])
        if count == 0:
            errs.append((at + ".valueFrom", "FieldValueInvalid", 'Invalid value: "": must specify one of: `fieldRef`, '
                         "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
        elif ev.get("value"):
            errs.append((at + ".valueFrom", "FieldValueInvalid",
                         'Invalid value: "": may not be specified when `value` is not empty'))
        elif count > 1:
            errs.append((at + ".valueFrom", "FieldValueInvalid",
                         'Invalid value: "": may not have more than one field specified at a time'))
    return errs


def _resources_errors(res, path):
    """validation.go ValidateResourceRequirements: a request may not exceed its limit."""
    errs = []
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    for name, kind in (("cpu", CPU), ("memory", MEMORY)):
        if name in requests and name in limits:
            try:
                over = parse_quantity(requests[name], kind) > parse_quantity(limits[name], kind)
            except ValueError:
                continue
            if over:
                errs.append(("%s.requests" % path, "FieldValueInvalid", 'Invalid value: "%s": must be less than or '
                             "equal to %s limit of %s" % (requests[name], name, limits[name])))
    return errs


def _go_map(m):
    return "map[string]string{%s}" % ", ".join('"%s":"%s"' % kv for kv in sorted((m or {}).items()))


def validate(r, obj, old=None):
    kind, name = r.kind, obj["metadata"]["name"]
    spec = obj.get("spec")
    errs = []
    if kind == "Pod":
        errs += _containers_errors(spec, "spec.")
        if old is not None:
            errs += _pod_update_errors(old, obj)
    elif kind in WORKLOADS:
        if not isinstance(spec, dict):
            raise invalid(r, name, [("spec", "FieldValueRequired", "Required value")])
        sel = spec.get("selector")
        if not sel:
            errs.append(("spec.selector", "FieldValueRequired", "Required value"))
        else:
            try:
                reqs = selector_object_reqs(sel)
            except SelectorError as exc:
                reqs = None
                errs.append(("spec.selector", "FieldValueInvalid", "Invalid value: %s" % exc))
            labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
            if reqs is not None and not reqs:
                errs.append(("spec.selector", "FieldValueInvalid",
                             "Invalid value: v1.LabelSelector{}: empty selector is invalid for deployment"))
            elif reqs and not selector_matches(sel, labels):
                errs.append(("spec.template.metadata.labels", "FieldValueInvalid",
                             "Invalid value: %s: `selector` does not match template `labels`" % _go_map(labels)))
            if old is not None and (old.get("spec") or {}).get("selector") != sel:
                errs.append(("spec.selector", "FieldValueInvalid", "Invalid value: %s: field is immutable"
                             % json.dumps(sel, sort_keys=True)))
        replicas = spec.get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            errs.append(("spec.replicas", "FieldValueInvalid",
                         "Invalid value: %s: must be greater than or equal to 0" % replicas))
        errs += _containers_errors((spec.get("template") or {}).get("spec"), "spec.template.spec.")
        if kind == "Deployment":
            errs += _rolling_errors(spec)
    elif kind == "Service":
        if (spec or {}).get("type") != "ExternalName" and not (spec or {}).get("ports"):
            errs.append(("spec.ports", "FieldValueRequired", "Required value"))
    elif kind == "HorizontalPodAutoscaler":
        spec = spec or {}
        if not spec.get("scaleTargetRef", {}).get("name"):
            errs.append(("spec.scaleTargetRef.name", "FieldValueRequired", "Required value"))
        if not isinstance(spec.get("maxReplicas"), int) or spec["maxReplicas"] < spec.get("minReplicas", 1):
            errs.append(("spec.maxReplicas", "FieldValueInvalid",
                         "Invalid value: %s: must be greater than or equal to `minReplicas`" % spec.get("maxReplicas")))
    elif kind == "PodDisruptionBudget":
        spec = spec or {}
        if "minAvailable" in spec and "maxUnavailable" in spec:
            errs.append(("spec", "FieldValueInvalid",
                         "Invalid value: ...: minAvailable and maxUnavailable cannot be both set"))
    if errs:
        raise invalid(r, name, errs)


def _rolling_errors(spec):
    strategy = spec.get("strategy") or {}
    if strategy.get("type") not in ("RollingUpdate", "Recreate"):
        return [("spec.strategy.type", "FieldValueNotSupported",
                 'Unsupported value: "%s": supported values: "Recreate", "RollingUpdate"' % strategy.get("type"))]
    if strategy["type"] == "Recreate":
        if strategy.get("rollingUpdate"):
            return [("spec.strategy.rollingUpdate", "FieldValueForbidden",
                     "Forbidden: may not be specified when strategy `type` is 'Recreate'")]
        return []
    ru = strategy.get("rollingUpdate") or {}
    try:
        surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), 100, True)
        unavail = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), 100, False)
    except ValueError as exc:
        return [("spec.strategy.rollingUpdate", "FieldValueInvalid", "Invalid value: %s" % exc)]
    if surge == 0 and unavail == 0:
        return [("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
                 "Invalid value: 0: may not be 0 when `maxSurge` is 0")]
    return []


def _pod_update_errors(old, new):
    def strip(spec):
        spec = copy.deepcopy(spec or {})
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            c.pop("image", None)
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
        return spec
    if strip(old.get("spec")) != strip(new.get("spec")):
        return [("spec", "FieldValueForbidden",
                 "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
                 "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` "
                 "(only additions to existing tolerations), `spec.terminationGracePeriodSeconds` "
                 "(allow it to be set to 1 if it was previously negative)")]
    return []


def resolve_int_or_percent(value, total, round_up):
    if isinstance(value, bool):
        raise ValueError("invalid value %r" % value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        pct = int(value[:-1])
        n = pct * total
        return -(-n // 100) if round_up else n // 100
    if isinstance(value, str) and value.isdigit():
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    raise ValueError("%r: must be an integer or percentage (e.g '5%%')" % (value,))


# --- pod-template-hash ----------------------------------------------------------------------------

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def canonical(value):
    """Semantic equality as apiequality.Semantic.DeepEqual sees it: empty and absent are equal."""
    if isinstance(value, dict):
        out = {k: canonical(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def template_without_hash(template):
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return canonical(t)


def templates_equal(a, b):
    return template_without_hash(a) == template_without_hash(b)


def pod_template_hash(template, collision_count=None):
    """FNV-32a of the template (pod-template-hash label ignored), encoded like rand.SafeEncodeString."""
    data = json.dumps(template_without_hash(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(h))


def random_suffix(rng, n=5):
    return "".join(rng.choice(_SAFE) for _ in range(n))
