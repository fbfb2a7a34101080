"""The scheduler: binds each unscheduled pod to a feasible node, fewest pods first (kube-scheduler's
filters `pkg/scheduler/framework/plugins/{nodeunschedulable,tainttoleration,nodeaffinity}`; a pod
that fits nowhere gets PodScheduled=False Unschedulable and a FailedScheduling event)."""

import copy

from ..timefmt import now_iso
from .base import NODES, PODS, Controller, condition, pod_active
from .placement import feasible


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
