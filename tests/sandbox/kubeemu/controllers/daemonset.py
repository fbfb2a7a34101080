"""The DaemonSet controller: one pod per eligible node, pinned with node affinity (matchFields
metadata.name) and given the tolerations real DaemonSet pods get, so cordoned nodes keep theirs; a
RollingUpdate replaces one stale pod at a time once all are Ready (kubernetes
`pkg/controller/daemon/daemon_controller.go`, `update.go`; the tolerations of
`pkg/controller/daemon/util/daemonset_util.go` AddOrUpdateDaemonPodTolerations)."""

import copy

from ..defaults import pod_template_hash
from .base import DS, NODES, Controller, omit_zero, pod_ready
from .placement import feasible

DS_TOLERATIONS = [{"key": k, "operator": "Exists", "effect": e} for k, e in (
    ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"))]


def affinity_node(pod):
    """The node a DaemonSet pod is pinned to (its matchFields metadata.name), before it is bound."""
    terms = ((((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for term in terms:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("values"):
                return f["values"][0]
    return None


class DaemonSetController(Controller):
    resource = DS

    def sync(self, ds):
        spec = ds["spec"]
        rev = pod_template_hash(spec["template"])
        tmpl = copy.deepcopy(spec["template"])
        tols = tmpl["spec"].setdefault("tolerations", [])
        for t in DS_TOLERATIONS:
            if t not in tols:
                tols.append(t)
        probe = {"spec": tmpl["spec"], "metadata": {}}
        eligible = {n["metadata"]["name"] for n in self.cluster.items(NODES) if feasible(probe, n)}
        by_node = {}
        for p in self.owned_pods(ds):
            node = p["spec"].get("nodeName") or affinity_node(p)
            if node not in eligible or node in by_node:
                self.delete_pod(ds, p)
            else:
                by_node[node] = p
        for node in sorted(eligible - set(by_node)):
            by_node[node] = self.new_pod(ds, tmpl, extra_labels={"controller-revision-hash": rev}, node=node)
        stale = [p for p in by_node.values() if p["metadata"]["labels"].get("controller-revision-hash") != rev]
        if stale and (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" and \
                all(pod_ready(p) for p in by_node.values()):
            self.delete_pod(ds, stale[0])
            del by_node[stale[0]["spec"].get("nodeName") or affinity_node(stale[0])]
        pods = list(by_node.values())
        ready = len([p for p in pods if pod_ready(p)])
        status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(eligible),
                  "numberMisscheduled": 0, "numberReady": ready,
                  "numberAvailable": ready, "numberUnavailable": len(eligible) - ready,
                  "updatedNumberScheduled": len([p for p in pods
                                                 if p["metadata"]["labels"].get("controller-revision-hash") == rev]),
                  "observedGeneration": ds["metadata"].get("generation", 1)}
        omit_zero(status, ("numberAvailable", "numberUnavailable", "updatedNumberScheduled"))
        new = copy.deepcopy(ds)
        new["status"] = status
        self.cluster.write_status(DS, new)
