"""The pods/eviction subresource, as kube-apiserver's pkg/registry/core/pod/storage/eviction.go answers it.

It reads the PodDisruptionBudget status the disruption controller (controllers/pdb.py) keeps.
"""

import copy

from . import errors
from .errors import ApiError
from .resources import BY_KEY
from .selectors import selector_matches
from .timefmt import now_iso

PODS, PDB = BY_KEY["pods"], BY_KEY["policy/poddisruptionbudgets"]


def pod_healthy(pod):
    """Ready and not being deleted: what a budget counts as healthy."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or []) and \
        not pod["metadata"].get("deletionTimestamp")


def evict(cluster, ns, name, body, dry_run=False):
    """POST pods/{name}/eviction, as pkg/registry/core/pod/storage/eviction.go answers it."""
    if isinstance(body, dict) and body.get("kind") not in (None, "Eviction"):
        raise errors.bad_request("the body of the request was not an Eviction")
    with cluster.lock:
        pod = cluster.find(PODS, ns, name)
        if pod is None:
            raise errors.not_found(PODS, name)
        phase = (pod.get("status") or {}).get("phase")
        # canIgnorePDB: Succeeded, Failed, Pending and terminating pods are evicted without a budget check
        ignore = phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))
        pdbs = [] if ignore else [
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
            unhealthy_ok = not pod_healthy(pod) and (
                policy == "AlwaysAllow" or
                (st.get("currentHealthy", 0) >= st.get("desiredHealthy", 0) and st.get("desiredHealthy", 0) > 0))
            if not unhealthy_ok:
                _check_and_decrement(cluster, pdb, pod, dry_run)
        if not dry_run:
            # the eviction deletes with its own DeleteOptions: graceful, as a plain DELETE would be
            grace = ((body or {}).get("deleteOptions") or {}).get("gracePeriodSeconds") \
                if isinstance(body, dict) else None
            cluster.delete_object(PODS, pod, grace=grace)
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
