"""PodDisruptionBudget status (the disruption controller) and the pods/eviction subresource."""

import copy

from . import errors
from .cluster import now_iso
from .defaults import resolve_int_or_percent
from .errors import ApiError
from .resources import BY_KEY
from .selectors import selector_matches

PODS, PDB, RS, DEPLOY, STS = (BY_KEY[k] for k in ("pods", "policy/poddisruptionbudgets", "apps/replicasets",
                                                   "apps/deployments", "apps/statefulsets"))


def _ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or []) and \
        not pod["metadata"].get("deletionTimestamp")


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
    healthy = len([p for p in pods if _ready(p)])
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


def evict(cluster, ns, name, body, dry_run=False):
    """POST pods/{name}/eviction, as pkg/registry/core/pod/storage/eviction.go answers it."""
    if isinstance(body, dict) and body.get("kind") not in (None, "Eviction"):
        raise errors.bad_request("the body of the request was not an Eviction")
    with cluster.lock:
        pod = cluster.find(PODS, ns, name)
        if pod is None:
            raise errors.not_found(PODS, name)
        phase = (pod.get("status") or {}).get("phase")
        pdbs = [] if phase in ("Succeeded", "Failed", "Pending") else [
            p for p in cluster.items(PDB, ns)
            if p["spec"].get("selector") is not None and selector_matches(p["spec"]["selector"],
                                                                          pod["metadata"].get("labels"))]
        if len(pdbs) > 1:
            raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the "
                                                 "eviction subresource does not support.")
        if pdbs:
            pdb = pdbs[0]
            st = pdb.get("status") or {}
            policy = pdb["spec"].get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
            unhealthy_ok = not _ready(pod) and (
                policy == "AlwaysAllow" or
                (st.get("currentHealthy", 0) >= st.get("desiredHealthy", 0) and st.get("desiredHealthy", 0) > 0))
            if not unhealthy_ok:
                _check_and_decrement(cluster, pdb, pod, dry_run)
        if not dry_run:
            cluster.delete_object(PODS, pod)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _too_many(message):
    err = ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                   {"causes": [{"reason": "DisruptionBudget", "message": message}]})
    return err


def _check_and_decrement(cluster, pdb, pod, dry_run):
    st = pdb.get("status") or {}
    name = pdb["metadata"]["name"]
    if st.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
        raise _too_many("The disruption budget %s is still being processed by the server." % name)
    allowed = st.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise ApiError(403, "Forbidden", "pdb disruptions allowed is negative")
    if allowed == 0:
        raise _too_many("The disruption budget %s needs %d healthy pods and has %d currently" % (
            name, st.get("desiredHealthy", 0), st.get("currentHealthy", 0)))
    if dry_run:
        return
    new = copy.deepcopy(pdb)
    new["status"]["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:   # pdbhelper.UpdateDisruptionAllowedCondition
        for cond in new["status"].get("conditions") or []:
            if cond.get("type") == "DisruptionAllowed" and cond.get("status") != "False":
                cond.update(status="False", reason="InsufficientPods", lastTransitionTime=now_iso())
    new["status"].setdefault("disruptedPods", {})[pod["metadata"]["name"]] = now_iso()
    cluster.write_status(PDB, new)
