"""The scheduler: binds each unscheduled pod to a feasible node, fewest pods first (kube-scheduler's
filters `pkg/scheduler/framework/plugins/{nodeunschedulable,tainttoleration,nodeaffinity}`; a pod
that fits nowhere gets PodScheduled=False Unschedulable and a FailedScheduling event)."""

import copy

from ..timefmt import now_iso
from .base import NODES, PODS, Controller, condition, pod_active


def tolerates(pod, taint):
    for tol in pod["spec"].get("tolerations") or []:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and (not tol.get("key") or tol["key"] == taint.get("key")):
            return True
        if tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def feasible(pod, node):
    """Whether the pod may run on the node (also what the DaemonSet controller asks of each node)."""
    if node["spec"].get("unschedulable") and not tolerates(
            pod, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
        return False
    ready = condition(node, "Ready")
    if ready is None or ready.get("status") != "True":
        return False
    for taint in node["spec"].get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return False
    labels = node["metadata"].get("labels") or {}
    for k, v in (pod["spec"].get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and node["metadata"]["name"] not in (f.get("values") or []):
                return False
    return True


class Scheduler(Controller):
    def sync(self):
        c = self.cluster
        nodes = c.items(NODES)
        pods = c.items(PODS)
        load = {}
        for p in pods:
            if p["spec"].get("nodeName"):
                load[p["spec"]["nodeName"]] = load.get(p["spec"]["nodeName"], 0) + 1
        for pod in pods:
            if pod["spec"].get("nodeName") or not pod_active(pod):
                continue
            candidates = [n for n in nodes if feasible(pod, n)]
            new = copy.deepcopy(pod)
            status = new.setdefault("status", {})
            if not candidates:
                msg = "0/%d nodes are available: %d node(s) were unschedulable or had untolerated taints. " \
                      "preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling." % (
                          len(nodes), len(nodes), len(nodes), len(nodes))
                cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                        "lastTransitionTime": now_iso(), "reason": "Unschedulable", "message": msg}
                old = condition(pod, "PodScheduled")
                if old is None or old.get("message") != msg:
                    status["conditions"] = [cond]
                    c.write_status(PODS, new)
                    self.event(pod, "FailedScheduling", msg, "default-scheduler", "Warning")
                continue
            node = min(candidates, key=lambda n: (load.get(n["metadata"]["name"], 0), n["metadata"]["name"]))
            name = node["metadata"]["name"]
            load[name] = load.get(name, 0) + 1
            new["spec"]["nodeName"] = name
            status["conditions"] = [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                     "lastTransitionTime": now_iso()}]
            stored = c.write(PODS, new)
            if stored is not None:
                c.write_status(PODS, new)
                self.event(pod, "Scheduled", "Successfully assigned %s/%s to %s" % (
                    pod["metadata"]["namespace"], pod["metadata"]["name"], name), "default-scheduler")
