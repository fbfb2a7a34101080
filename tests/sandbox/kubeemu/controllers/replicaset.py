"""The ReplicaSet controller: keeps `spec.replicas` active pods, deleting the least valuable first, and
writes the status counts (kubernetes `pkg/controller/replicaset/replica_set.go`, `replica_set_utils.go`;
the deletion order of `controller.ActivePods`)."""

import copy

from ..selectors import selector_matches
from .base import RS, Controller, omit_zero, pod_available, pod_ready


def deletion_rank(pod):
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get((pod.get("status") or {}).get("phase"), 0)
    restarts = sum(cs.get("restartCount", 0) for cs in (pod.get("status") or {}).get("containerStatuses") or [])
    return (bool(pod["spec"].get("nodeName")), phase, pod_ready(pod), -restarts,
            [-ord(ch) for ch in pod["metadata"]["creationTimestamp"]])


class ReplicaSetController(Controller):
    resource = RS

    def sync(self, rs):
        spec = rs["spec"]
        pods = self.owned_pods(rs)
        want = spec.get("replicas", 1)
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self.new_pod(rs, spec["template"]))
        elif len(pods) > want:
            victims = sorted(pods, key=deletion_rank)[:len(pods) - want]
            for pod in victims:
                self.delete_pod(rs, pod)
            pods = [p for p in pods if p not in victims]
        min_ready = spec.get("minReadySeconds", 0)
        status = {"replicas": len(pods),
                  "fullyLabeledReplicas": len([p for p in pods if selector_matches(
                      {"matchLabels": (spec["template"].get("metadata") or {}).get("labels") or {}},
                      p["metadata"].get("labels"))]),
                  "readyReplicas": len([p for p in pods if pod_ready(p)]),
                  "availableReplicas": len([p for p in pods if pod_available(p, min_ready, self.now)]),
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        omit_zero(status, ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
        new = copy.deepcopy(rs)
        new["status"] = status
        self.cluster.write_status(RS, new)
