"""meta.k8s.io/v1 Table answers, so `kubectl get` prints the columns a real server sends."""

import time

from .selectors import selector_string
from .timefmt import parse_iso


def human_age(ts):
    start = parse_iso(ts)
    if start is None:
        return "<unknown>"
    s = max(0, int(time.time() - start))
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return "%ds" % s
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if h < 3:
        return "%dm" % m
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if d < 8:
        return "%dd%dh" % (d, h % 24) if h % 24 else "%dd" % d
    return "%dd" % d


def _pod_row(o):
    st = o.get("status") or {}
    css = st.get("containerStatuses") or []
    total = len(o["spec"].get("containers") or [])
    ready = len([c for c in css if c.get("ready")])
    reason = st.get("reason") or st.get("phase", "Pending")
    for cs in css:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    restarts = sum(c.get("restartCount", 0) for c in css)
    return ["%d/%d" % (ready, total), reason, restarts, human_age(o["metadata"].get("creationTimestamp")),
            st.get("podIP", "<none>"), o["spec"].get("nodeName", "<none>"), "<none>", "<none>"]


def _images(o):
    cs = ((o["spec"].get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _selector(o):
    return selector_string(o["spec"].get("selector"))


def _node_status(o):
    ready = next((c for c in (o.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    text = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if o["spec"].get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_info(o, key):
    return ((o.get("status") or {}).get("nodeInfo") or {}).get(key, "")


def _node_address(o, kind):
    return next((a["address"] for a in (o.get("status") or {}).get("addresses") or [] if a.get("type") == kind),
                "<none>")


def _ports(o):
    return ",".join("%s/%s" % (p.get("port"), p.get("protocol", "TCP")) for p in o["spec"].get("ports") or []) \
        or "<none>"


def _hpa_targets(o):
    cur = (o.get("status") or {}).get("currentMetrics") or []
    util = next((m["resource"]["current"].get("averageUtilization") for m in cur
                 if m.get("type") == "Resource" and m["resource"].get("name") == "cpu"), None)
    goal = next((m["resource"]["target"].get("averageUtilization") for m in o["spec"].get("metrics") or []
                 if m.get("type") == "Resource"), None)
    return "cpu: %s/%s%%" % ("%d%%" % util if util is not None else "<unknown>", goal)


def _age(o):
    return human_age(o["metadata"].get("creationTimestamp"))


# kind -> [(column, type, priority, cell function)]
COLUMNS = {
    "Pod": [(n, t, p, (lambda i: lambda o: _pod_row(o)[i])(idx)) for idx, (n, t, p) in enumerate(
        [("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0), ("Age", "string", 0),
         ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
         ("Readiness Gates", "string", 1)])],
    "Deployment": [
        ("Ready", "string", 0, lambda o: "%d/%d" % ((o.get("status") or {}).get("readyReplicas", 0),
                                                   o["spec"].get("replicas", 1))),
        ("Up-to-date", "integer", 0, lambda o: (o.get("status") or {}).get("updatedReplicas", 0)),
        ("Available", "integer", 0, lambda o: (o.get("status") or {}).get("availableReplicas", 0)),
        ("Age", "string", 0, _age),
        ("Containers", "string", 1, lambda o: _images(o)[0]), ("Images", "string", 1, lambda o: _images(o)[1]),
        ("Selector", "string", 1, _selector)],
    "ReplicaSet": [
        ("Desired", "integer", 0, lambda o: o["spec"].get("replicas", 1)),
        ("Current", "integer", 0, lambda o: (o.get("status") or {}).get("replicas", 0)),
        ("Ready", "integer", 0, lambda o: (o.get("status") or {}).get("readyReplicas", 0)),
        ("Age", "string", 0, _age),
        ("Containers", "string", 1, lambda o: _images(o)[0]), ("Images", "string", 1, lambda o: _images(o)[1]),
        ("Selector", "string", 1, _selector)],
    "StatefulSet": [
        ("Ready", "string", 0, lambda o: "%d/%d" % ((o.get("status") or {}).get("readyReplicas", 0),
                                                   o["spec"].get("replicas", 1))),
        ("Age", "string", 0, _age)],
    "DaemonSet": [
        ("Desired", "integer", 0, lambda o: (o.get("status") or {}).get("desiredNumberScheduled", 0)),
        ("Current", "integer", 0, lambda o: (o.get("status") or {}).get("currentNumberScheduled", 0)),
        ("Ready", "integer", 0, lambda o: (o.get("status") or {}).get("numberReady", 0)),
        ("Up-to-date", "integer", 0, lambda o: (o.get("status") or {}).get("updatedNumberScheduled", 0)),
        ("Available", "integer", 0, lambda o: (o.get("status") or {}).get("numberAvailable", 0)),
        ("Node Selector", "string", 0, lambda o: ",".join(
            "%s=%s" % kv for kv in ((o["spec"].get("template") or {}).get("spec", {}).get("nodeSelector")
                                    or {}).items()) or "<none>"),
        ("Age", "string", 0, _age)],
    "Node": [
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, lambda o: ",".join(sorted(
            k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
            if k.startswith("node-role.kubernetes.io/"))) or "<none>"),
        ("Age", "string", 0, _age),
        ("Version", "string", 0, lambda o: _node_info(o, "kubeletVersion")),
        ("Internal-IP", "string", 1, lambda o: _node_address(o, "InternalIP")),
        ("External-IP", "string", 1, lambda o: _node_address(o, "ExternalIP")),
        ("OS-Image", "string", 1, lambda o: _node_info(o, "osImage")),
        ("Kernel-Version", "string", 1, lambda o: _node_info(o, "kernelVersion")),
        ("Container-Runtime", "string", 1, lambda o: _node_info(o, "containerRuntimeVersion"))],
    "Namespace": [("Status", "string", 0, lambda o: (o.get("status") or {}).get("phase", "")),
                  ("Age", "string", 0, _age)],
    "Service": [("Type", "string", 0, lambda o: o["spec"].get("type", "")),
                ("Cluster-IP", "string", 0, lambda o: o["spec"].get("clusterIP", "<none>")),
                ("External-IP", "string", 0, lambda o: "<none>"),
                ("Port(s)", "string", 0, _ports), ("Age", "string", 0, _age)],
    "PodDisruptionBudget": [
        ("Min Available", "string", 0, lambda o: str(o["spec"].get("minAvailable", "N/A"))),
        ("Max Unavailable", "string", 0, lambda o: str(o["spec"].get("maxUnavailable", "N/A"))),
        ("Allowed Disruptions", "integer", 0, lambda o: (o.get("status") or {}).get("disruptionsAllowed", 0)),
        ("Age", "string", 0, _age)],
    "HorizontalPodAutoscaler": [
        ("Reference", "string", 0, lambda o: "%s/%s" % (o["spec"]["scaleTargetRef"].get("kind"),
                                                         o["spec"]["scaleTargetRef"].get("name"))),
        ("Targets", "string", 0, _hpa_targets),
        ("MinPods", "string", 0, lambda o: o["spec"].get("minReplicas", 1)),
        ("MaxPods", "integer", 0, lambda o: o["spec"].get("maxReplicas")),
        ("Replicas", "integer", 0, lambda o: (o.get("status") or {}).get("currentReplicas", 0)),
        ("Age", "string", 0, _age)],
    "ConfigMap": [("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
                  ("Age", "string", 0, _age)],
    "Secret": [("Type", "string", 0, lambda o: o.get("type", "")),
               ("Data", "integer", 0, lambda o: len(o.get("data") or {})), ("Age", "string", 0, _age)],
    "Event": [("Last Seen", "string", 0, lambda o: human_age(o.get("lastTimestamp"))),
              ("Type", "string", 0, lambda o: o.get("type", "")),
              ("Reason", "string", 0, lambda o: o.get("reason", "")),
              ("Object", "string", 0, lambda o: "%s/%s" % (o["involvedObject"].get("kind", "").lower(),
                                                           o["involvedObject"].get("name"))),
              ("Message", "string", 0, lambda o: o.get("message", ""))],
}


def to_table(obj, include="Metadata", columns=True):
    is_list = obj.get("kind", "").endswith("List") and "items" in obj
    items = obj["items"] if is_list else [obj]
    kind = items[0]["kind"] if items else obj.get("kind", "")[:-4]
    cols = COLUMNS.get(kind, [("Age", "string", 0, _age)])
    defs = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}] + [
        {"name": n, "type": t, "format": "", "description": n, "priority": p} for n, t, p, _ in cols]
    rows = []
    for o in items:
        if include == "None":
            embedded = None
        elif include == "Object":
            embedded = o
        else:
            embedded = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
        rows.append({"cells": [o["metadata"]["name"]] + [fn(o) for _, _, _, fn in cols], "object": embedded})
    table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
             "metadata": {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")},
             "columnDefinitions": defs if columns else [], "rows": rows}
    return table
