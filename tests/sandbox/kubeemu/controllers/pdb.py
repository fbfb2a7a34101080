"""The disruption controller: a PodDisruptionBudget's status (currentHealthy, desiredHealthy,
expectedPods, disruptionsAllowed and the DisruptionAllowed condition), as kubernetes
`pkg/controller/disruption/disruption.go` computes it; the eviction that reads it is ../policy.py."""

import copy

from ..defaults import resolve_int_or_percent
from ..policy import pod_healthy
from ..selectors import selector_matches
from ..timefmt import now_iso
from .base import DEPLOY, PDB, PODS, RS, STS, Controller


def pdb_pods(cluster, pdb):
    ns = pdb["metadata"]["namespace"]
    sel = pdb["spec"].get("selector")
    if sel is None:
        return []
    return [p for p in cluster.items(PODS, ns) if selector_matches(sel, p["metadata"].get("labels"))]


def _expected_scale(cluster, pods):
    seen, total = set(), 0
    for pod in pods:
        ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
        if ref is None or ref["uid"] in seen:
            continue
        seen.add(ref["uid"])
        ns = pod["metadata"]["namespace"]
        if ref["kind"] == "ReplicaSet":
            rs = cluster.find(RS, ns, ref["name"])
            if rs is None:
                continue
            dref = next((r for r in rs["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
            dep = cluster.find(DEPLOY, ns, dref["name"]) if dref and dref["kind"] == "Deployment" else None
            if dep is not None:
                if dep["metadata"]["uid"] in seen:
                    continue
                seen.add(dep["metadata"]["uid"])
                total += dep["spec"].get("replicas", 1)
            else:
                total += rs["spec"].get("replicas", 1)
        elif ref["kind"] == "StatefulSet":
            sts = cluster.find(STS, ns, ref["name"])
            total += sts["spec"].get("replicas", 1) if sts else 0
    return total


def pdb_status(cluster, pdb):
    spec = pdb.get("spec") or {}
    pods = [p for p in pdb_pods(cluster, pdb) if not p["metadata"].get("deletionTimestamp")]
    old = pdb.get("status") or {}
    if spec.get("maxUnavailable") is not None:
        expected = _expected_scale(cluster, pods)
        desired = max(0, expected - resolve_int_or_percent(spec["maxUnavailable"], expected, True))
    elif isinstance(spec.get("minAvailable"), str):
        expected = _expected_scale(cluster, pods)
        desired = resolve_int_or_percent(spec["minAvailable"], expected, True)
    else:
        expected = len(pods)
        desired = spec.get("minAvailable", 0) if spec.get("minAvailable") is not None else 0
    healthy = len([p for p in pods if pod_healthy(p)])
    allowed = max(0, healthy - desired)
    cond_status = "True" if allowed > 0 else "False"
    prev = next((c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
    cond = {"type": "DisruptionAllowed", "status": cond_status,
            "reason": "SufficientPods" if allowed > 0 else "InsufficientPods", "message": "",
            "observedGeneration": pdb["metadata"].get("generation", 1),
            "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == cond_status else now_iso()}
    status = {"observedGeneration": pdb["metadata"].get("generation", 1), "disruptionsAllowed": allowed,
              "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
              "conditions": [cond]}
    return status


class DisruptionController(Controller):
    resource = PDB

    def sync(self, pdb):
        new = copy.deepcopy(pdb)
        new["status"] = pdb_status(self.cluster, pdb)
        self.cluster.write_status(PDB, new)
