"""The scale and pods/log subresources, and metrics.k8s.io (pods and nodes)."""

import copy
import json
import time

from . import errors
from .patch import PatchError, json_merge_patch, json_patch, strategic_merge_patch
from .quantity import CPU, MEMORY, parse_quantity
from .resources import BY_KEY
from .selectors import labels_match, selector_matches, selector_string
from .timefmt import now_iso, parse_iso

PODS, NODES = BY_KEY["pods"], BY_KEY["nodes"]


class _LogOptionsKind:
    """What errors.invalid needs to name PodLogOptions (core group, no resource of its own)."""
    kind, group, plural = "PodLogOptions", "", "podlogoptions"


LOG_OPTIONS = _LogOptionsKind()


# ---- scale ---------------------------------------------------------------------------------------
def scale_of(r, obj):
    meta = obj["metadata"]
    status = obj.get("status") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                         "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": status.get("replicas", 0),
                       "selector": selector_string(obj["spec"].get("selector"))}}


def get_scale(cluster, r, ns, name):
    with cluster.lock:
        obj = cluster.find(r, ns, name)
        if obj is None:
            raise errors.not_found(r, name)
        return scale_of(r, obj)


def set_scale(cluster, r, ns, name, scale, dry_run=False):
    with cluster.lock:
        obj = cluster.find(r, ns, name)
        if obj is None:
            raise errors.not_found(r, name)
        if not isinstance(scale, dict) or not isinstance((scale.get("spec") or {}).get("replicas", 0), int):
            raise errors.bad_request("the body must be an autoscaling/v1 Scale with an integer spec.replicas")
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != obj["metadata"]["resourceVersion"]:
            raise errors.conflict(r, name)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if replicas < 0:
            raise errors.invalid(r, name, [("spec.replicas", "FieldValueInvalid",
                                            "Invalid value: %d: must be greater than or equal to 0" % replicas)])
        new = copy.deepcopy(obj)
        new["spec"]["replicas"] = replicas
        if not dry_run:
            new = cluster.write(r, new)
        return scale_of(r, new)


def patch_scale(cluster, r, ns, name, content_type, body, dry_run=False):
    ctype = (content_type or "").split(";")[0].strip()
    try:
        patch = json.loads(body or b"null")
    except ValueError as exc:
        raise errors.bad_request("error decoding patch: %s" % exc)
    with cluster.lock:
        current = get_scale(cluster, r, ns, name)
        try:
            if ctype == "application/json-patch+json":
                new = json_patch(current, patch)
            elif ctype == "application/merge-patch+json":
                new = json_merge_patch(current, patch)
            elif ctype == "application/strategic-merge-patch+json":
                new = strategic_merge_patch(current, patch)
            else:
                raise errors.unsupported_patch(ctype)
        except PatchError as exc:
            raise errors.bad_request(str(exc))
        return set_scale(cluster, r, ns, name, new, dry_run)


# ---- pods/log ------------------------------------------------------------------------------------
def _int_param(query, key):
    value = query.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request("invalid %s %r: must be an integer" % (key, value))


def rfc3339nano(t):
    """Go's time.RFC3339Nano, the kubelet's timestamps=true prefix (kuberuntime/logs/logs.go timeFormatOut):
    nanoseconds with the trailing zeros trimmed (and no fraction at all on a whole second)."""
    whole = int(t)
    nanos = int(round((t - whole) * 1e9))
    if nanos >= 1000000000:
        whole, nanos = whole + 1, nanos - 1000000000
    stamp = now_iso(whole)
    if not nanos:
        return stamp
    return stamp[:-1] + ("." + ("%09d" % nanos).rstrip("0")) + "Z"


def parse_age(value):
    """A log line's age: seconds, or a duration such as 90s, 15m, 2h, 2d."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(value)
        return float(value)
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units:
        number = float(text[:-1])
        if number < 0:
            raise ValueError(value)
        return number * units[text[-1]]
    return parse_age(float(text))


def log_lines_problem(lines):
    """Why a pod_logs entry's lines are not a list of strings or {line, age} mappings, or None."""
    if not isinstance(lines, list):
        return "lines must be a list"
    for item in lines:
        if isinstance(item, dict):
            if set(item) - {"line", "age"} or not isinstance(item.get("line"), str):
                return "a line is a string or a mapping {line: <text>, age: <90s|15m|2h|2d>}"
            if "age" in item:
                try:
                    parse_age(item["age"])
                except (TypeError, ValueError):
                    return "invalid age %r (seconds, or a number with s, m, h or d)" % (item["age"],)
    return None


def _instance_lines(cluster, ns, pod, container, previous):
    """The configured lines of one instance of a container: entries marked previous: true are the last
    terminated instance's; without such an entry that instance logged what the current one logs."""
    containers = pod["spec"].get("containers") or []
    image = next((c.get("image") for c in containers if c["name"] == container), None)
    current, before = [], []
    for entry in cluster.config.get("pod_logs") or []:
        if entry.get("namespace", ns) != ns:
            continue
        if entry.get("container") and entry["container"] != container:
            continue
        if entry.get("image") and entry["image"] != image:
            continue
        if not selector_matches({"matchLabels": entry.get("selector") or {}}, pod["metadata"].get("labels")):
            continue
        (before if entry.get("previous") else current).extend(entry.get("lines") or [])
    return (before or current) if previous else current


def _stamped(lines, started, now):
    """(time, text) per line: a line with an age was written that long ago, the others as the instance
    started, in order; the runtime's log is in time order (what CRI log files are)."""
    out = []
    for index, item in enumerate(lines):
        if isinstance(item, dict):
            text = item["line"]
            when = now - parse_age(item["age"]) if "age" in item else started + index * 0.001
        else:
            text, when = str(item), started + index * 0.001
        out.append((min(when, now), text))
    out.sort(key=lambda pair: pair[0])
    return out


def pod_log(cluster, ns, name, query):
    """The log of one container as the kubelet answers it (pkg/kubelet/kubelet_pods.go
    validateContainerLogStatus for which instance, or which 400; pkg/kubelet/kuberuntime/logs/logs.go
    ReadLogs for tailLines first, then sinceSeconds per line by the line's own time, then timestamps)."""
    previous = query.get("previous") in ("true", "1")
    tail, since = _int_param(query, "tailLines"), _int_param(query, "sinceSeconds")
    # registry/core/pod/rest/log.go: ValidatePodLogOptions before the pod is looked up -> 422 Invalid
    causes = []
    if tail is not None and tail < 0:
        causes.append(("tailLines", "FieldValueInvalid",
                       "Invalid value: %d: must be greater than or equal to 0" % tail))
    if since is not None and since < 1:
        causes.append(("sinceSeconds", "FieldValueInvalid", "Invalid value: %d: must be greater than 0" % since))
    if causes:
        raise errors.invalid(LOG_OPTIONS, name, causes)
    with cluster.lock:
        pod = cluster.find(PODS, ns, name)
        if pod is None:
            raise errors.not_found(PODS, name)
        containers = [c["name"] for c in pod["spec"].get("containers") or []]
        container = query.get("container")
        if not container:
            if len(containers) != 1:
                raise errors.bad_request("a container name must be specified for pod %s, choose one of: [%s]"
                                         % (name, " ".join(containers)))
            container = containers[0]
        if container not in containers:
            init = [c["name"] for c in pod["spec"].get("initContainers") or []]
            if container not in init:
                raise errors.bad_request("container %s is not valid for pod %s" % (container, name))
        cstatus = next((cs for cs in (pod.get("status") or {}).get("containerStatuses") or []
                        if cs["name"] == container), None)
        state = (cstatus or {}).get("state") or {}
        last = ((cstatus or {}).get("lastState") or {}).get("terminated") or {}
        if previous:
            if not last.get("containerID"):
                raise errors.bad_request('previous terminated container "%s" in pod "%s" not found'
                                         % (container, name))
            started, from_previous = parse_iso(last.get("startedAt")) or time.time(), True
        elif "running" in state or "terminated" in state:
            started, from_previous = parse_iso(((state.get("running") or state.get("terminated") or {})
                                                .get("startedAt"))) or time.time(), False
        elif last.get("containerID"):
            # waiting after a crash: the kubelet answers the last terminated instance
            started, from_previous = parse_iso(last.get("startedAt")) or time.time(), True
        else:
            reason = (state.get("waiting") or {}).get("reason", "ContainerCreating")
            if reason in ("ErrImagePull", "ImagePullBackOff"):   # kubelet_pods.go validateContainerLogStatus
                reason = "trying and failing to pull image"
            raise errors.bad_request('container "%s" in pod "%s" is waiting to start: %s' % (container, name, reason))
        lines = list(_instance_lines(cluster, ns, pod, container, from_previous))
        if not from_previous:
            # a container the kubelet stand-in ran (the network check pod, netcheck.py) logs what it printed
            lines = list(cluster.container_output.get((pod["metadata"]["uid"], container), [])) + lines
    now = time.time()
    stamped = _stamped(lines, started, now)
    if tail is not None:
        stamped = stamped[-tail:] if tail > 0 else []
    if since is not None:
        stamped = [(when, text) for when, text in stamped if when >= now - since]
    if query.get("timestamps") in ("true", "1"):
        text = "".join("%s %s\n" % (rfc3339nano(when), line) for when, line in stamped)
    else:
        text = "".join(line + "\n" for _, line in stamped)
    limit = _int_param(query, "limitBytes")
    if limit is not None:
        text = text.encode()[:limit].decode(errors="ignore")
    return text


# ---- metrics.k8s.io ------------------------------------------------------------------------------
def _serving(pod):
    """Ready and not terminating: a pod the Service sends traffic (load) to."""
    return not pod["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or [])


def pod_usage(cluster, pod):
    """[(container, cpu cores, memory bytes)] for a running pod the config gives metrics for, else None.

    An entry's `cpu` is the usage of every matching pod; `cpu_total` is a workload's load, spread evenly over
    its Ready pods (so each pod's share falls as replicas rise, as behind a Service); a pod that is not Ready
    gets no share."""
    if (pod.get("status") or {}).get("phase") != "Running":
        return None
    ns = pod["metadata"]["namespace"]
    for entry in cluster.config.get("metrics") or []:
        if entry.get("namespace", ns) != ns:
            continue
        selector = {"matchLabels": entry.get("selector") or {}}
        if not selector_matches(selector, pod["metadata"].get("labels")):
            continue
        containers = pod["spec"].get("containers") or []
        mem = parse_quantity(entry.get("memory", "0"), MEMORY)
        if "cpu_total" in entry:
            serving = [p for p in cluster.items(PODS, ns) if selector_matches(selector, p["metadata"].get("labels"))
                       and (p.get("status") or {}).get("phase") == "Running" and _serving(p)]
            share = parse_quantity(entry["cpu_total"], CPU) / len(serving) if _serving(pod) and serving else 0.0
            return [(c["name"], share / max(len(containers), 1), mem) for c in containers]
        cpu = parse_quantity(entry.get("cpu", "0"), CPU)
        return [(c["name"], cpu, mem) for c in containers]
    return None


def _cpu_str(cores):
    return "%dn" % round(cores * 1e9)


def _mem_str(b):
    return "%dKi" % round(b / 1024.0)


def pod_metrics(cluster, pod):
    usage = pod_usage(cluster, pod)
    if usage is None:
        return None
    meta = pod["metadata"]
    return {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": meta.get("labels", {}),
                         "creationTimestamp": now_iso()},
            "timestamp": now_iso(), "window": "15s",
            "containers": [{"name": n, "usage": {"cpu": _cpu_str(c), "memory": _mem_str(m)}} for n, c, m in usage]}


def node_metrics(cluster, node):
    cpu = mem = 0.0
    for pod in cluster.items(PODS):
        if pod["spec"].get("nodeName") == node["metadata"]["name"]:
            for _, c, m in pod_usage(cluster, pod) or []:
                cpu += c
                mem += m
    return {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": node["metadata"]["name"], "labels": node["metadata"].get("labels", {}),
                         "creationTimestamp": now_iso()},
            "timestamp": now_iso(), "window": "20s", "usage": {"cpu": _cpu_str(cpu), "memory": _mem_str(mem)}}


def metrics(cluster, r, ns, name, lreqs):
    with cluster.lock:
        if r.plural == "pods":
            found = [(p, pod_metrics(cluster, p)) for p in cluster.items(PODS, ns)]
            items = [m for p, m in found if m is not None and (name is None or p["metadata"]["name"] == name)]
        else:
            items = [node_metrics(cluster, n) for n in cluster.items(NODES)
                     if name is None or n["metadata"]["name"] == name]
        if name is not None:
            if not items:
                raise errors.ApiError(404, "NotFound", '%s.metrics.k8s.io "%s" not found' % (r.plural, name),
                                      {"name": name, "group": "metrics.k8s.io", "kind": r.plural})
            return items[0]
        items = [m for m in items if labels_match(m["metadata"].get("labels"), lreqs)]
        return {"kind": r.kind + "List", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
