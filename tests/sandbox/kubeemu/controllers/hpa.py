"""The HorizontalPodAutoscaler controller (kubernetes `pkg/controller/podautoscaler/horizontal.go`,
`replica_calculator.go`), for CPU utilisation of the target's pods against their container requests:

- each HPA is reconciled every `controllers.hpa_sync_period_seconds` (kube-controller-manager's
  --horizontal-pod-autoscaler-sync-period, 15 s), the first time one period after it is seen: enqueueHPA
  uses `queue.AddRateLimited` with a fixed-interval limiter, so "HPAs are processed every resync interval";
- GetResourceReplicas: pods being deleted or Failed are ignored, Pending / not Ready pods are "unready"
  and pods without metrics "missing"; utilization = int(100 * usage / requests) of the others;
  usageRatio = utilization / target; within the 10 % tolerance (|1 - ratio| <= 0.1) the count stays,
  else desired = ceil(ratio * readyPods), re-checked with missing pods at 100 % (scale down) or 0 %
  (scale up) and unready pods at 0 % when scaling up;
- normalizeDesiredReplicas: the scale-down stabilization window (--horizontal-pod-autoscaler-downscale-
  stabilization, 5 min, `controllers.hpa_downscale_stabilization_seconds`) takes the highest
  recommendation of the window, seeded by recordInitialRecommendation with the replicas the HPA first
  sees; then convertDesiredReplicasWithRules: at most max(2 * current, 4) in one step (ScaleUpLimit),
  within [minReplicas, maxReplicas] (TooManyReplicas / TooFewReplicas);
- the AbleToScale / ScalingActive / ScalingLimited conditions and SuccessfulRescale events.

The load of a workload comes from the sandbox `metrics` config as metrics.k8s.io serves it (a `cpu_total`
entry is spread over the Ready pods, so per-pod usage falls as replicas rise). The autoscaling/v1 <-> v2
conversion is ../hpa_conversion.py."""

import copy
import math

from ..hpa_conversion import cpu_target
from ..quantity import CPU, parse_quantity
from ..resources import BY_KEY
from ..selectors import selector_matches
from ..subresources import pod_usage
from ..timefmt import now_iso
from .base import HPA, PODS, Controller, pod_ready

TARGETS = {"Deployment": BY_KEY["apps/deployments"], "StatefulSet": BY_KEY["apps/statefulsets"],
           "ReplicaSet": BY_KEY["apps/replicasets"]}
TOLERANCE = 0.1   # --horizontal-pod-autoscaler-tolerance


def _cond(old, ctype, status, reason, message):
    prev = next((c for c in (old or {}).get("conditions") or [] if c["type"] == ctype), None)
    return {"type": ctype, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == status else now_iso()}


def _pod_request(pod):
    total = 0.0
    for c in pod["spec"].get("containers") or []:
        req = ((c.get("resources") or {}).get("requests") or {}).get("cpu")
        if req is None:
            return None   # "missing request for cpu": the HPA cannot compute a utilization
        total += parse_quantity(req, CPU)
    return total


def resource_replicas(cluster, pods, current, target_util):
    """replica_calculator.go GetResourceReplicas: (replicas, utilization, average usage) or None when no pod
    has metrics (or a pod lacks a cpu request)."""
    ready, unready, missing = {}, [], []
    for pod in pods:
        phase = (pod.get("status") or {}).get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase == "Failed":
            continue   # ignored
        usage = pod_usage(cluster, pod)
        if phase == "Pending" or not pod_ready(pod):
            unready.append(pod)
        elif usage is None:
            missing.append(pod)
        else:
            ready[pod["metadata"]["name"]] = (sum(u for _, u, _ in usage), pod)
    if not ready:
        return None
    requests = {name: _pod_request(pod) for name, (_, pod) in ready.items()}
    if any(r is None for r in requests.values()) or not sum(requests.values()):
        return None
    usage_total = sum(u for u, _ in ready.values())
    utilization = int(usage_total * 100 / sum(requests.values()))
    ratio = utilization / float(target_util)
    average = usage_total / len(ready)
    scale_up_unready = bool(unready) and ratio > 1.0
    if not scale_up_unready and not missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current, utilization, average
        return int(math.ceil(ratio * len(ready))), utilization, average
    usages = {name: u for name, (u, _) in ready.items()}
    reqs = dict(requests)
    for pod in missing:
        name = pod["metadata"]["name"]
        reqs[name] = _pod_request(pod) or 0.0
        usages[name] = reqs[name] if ratio < 1.0 else 0.0
    if scale_up_unready:
        for pod in unready:
            name = pod["metadata"]["name"]
            reqs[name] = _pod_request(pod) or 0.0
            usages[name] = 0.0
    new_ratio = int(sum(usages.values()) * 100 / sum(reqs.values())) / float(target_util)
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, utilization, average
    replicas = int(math.ceil(new_ratio * len(usages)))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, utilization, average
    return replicas, utilization, average


class HorizontalPodAutoscalerController(Controller):
    resource = HPA

    def __init__(self, manager):
        super().__init__(manager)
        self.next_sync = {}         # HPA uid -> time of its next reconcile
        self.recommendations = {}   # HPA uid -> [(time, replicas)] (the stabilization window)

    def sync(self, hpa):
        uid = hpa["metadata"]["uid"]
        cfg = self.cluster.config["controllers"]
        period = cfg["hpa_sync_period_seconds"]
        known = {h["metadata"]["uid"] for h in self.cluster.items(HPA)}
        for gone in set(self.next_sync) - known:
            self.next_sync.pop(gone, None)
            self.recommendations.pop(gone, None)
        due = self.next_sync.setdefault(uid, self.now + period)
        if self.now < due:
            self.manager.wake_at(due)
            return
        self.next_sync[uid] = self.now + period
        self.manager.wake_at(self.now + period)
        self.reconcile(hpa, cfg["hpa_downscale_stabilization_seconds"])

    def stabilize(self, uid, recommendation, window):
        """stabilizeRecommendation: the highest recommendation within the window (this one included)."""
        recs = [(t, r) for t, r in self.recommendations.get(uid, []) if t >= self.now - window]
        best = max([recommendation] + [r for _, r in recs])
        self.recommendations[uid] = recs + [(self.now, recommendation)]
        return best

    def reconcile(self, hpa, window):
        cluster, now = self.cluster, self.now
        spec, ns, uid = hpa["spec"], hpa["metadata"]["namespace"], hpa["metadata"]["uid"]
        ref = spec.get("scaleTargetRef") or {}
        r = TARGETS.get(ref.get("kind"))
        target = cluster.find(r, ns, ref.get("name")) if r else None
        old = hpa.get("status") or {}
        status = {"currentReplicas": 0, "desiredReplicas": 0}
        if target is None:
            status["conditions"] = [_cond(old, "AbleToScale", "False", "FailedGetScale",
                                          "the HPA controller was unable to get the target's current scale")]
            self.write(hpa, status)
            return
        current = target["spec"].get("replicas", 1)
        self.recommendations.setdefault(uid, [(now, current)])   # recordInitialRecommendation
        lo, hi = spec.get("minReplicas", 1), spec["maxReplicas"]
        able = _cond(old, "AbleToScale", "True", "SucceededGetScale",
                     "the HPA controller was able to get the target's current scale")
        conds = []
        desired = current
        if current == 0 and lo != 0:
            conds.append(_cond(old, "ScalingActive", "False", "ScalingDisabled",
                               "scaling is disabled since the replica count of the target is zero"))
        elif current > hi or current < lo:
            desired = hi if current > hi else lo
            conds.append(_cond(old, "ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully "
                               "calculate a replica count from cpu resource utilization (percentage of request)"))
            conds.append(_cond(old, "ScalingLimited", "True", "TooManyReplicas" if current > hi else "TooFewReplicas",
                               "the desired replica count is %s" % ("more than the maximum replica count"
                                                                    if current > hi else
                                                                    "less than the minimum replica count")))
        else:
            pods = [p for p in cluster.items(PODS, ns) if selector_matches(target["spec"].get("selector"),
                                                                           p["metadata"].get("labels"))]
            goal = cpu_target(spec.get("metrics"))
            computed = resource_replicas(cluster, pods, current, goal) if goal else None
            if computed is None:
                conds.append(_cond(old, "ScalingActive", "False", "FailedGetResourceMetric",
                                   "the HPA was unable to compute the replica count: failed to get cpu utilization: "
                                   "unable to get metrics for resource cpu: no metrics returned from resource "
                                   "metrics API"))
            else:
                proposal, util, average = computed
                status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
                    "averageUtilization": util, "averageValue": "%dm" % round(1000 * average)}}}]
                conds.append(_cond(old, "ScalingActive", "True", "ValidMetricFound",
                                   "the HPA was able to successfully calculate a replica count from cpu resource "
                                   "utilization (percentage of request)"))
                stabilized = self.stabilize(uid, proposal, window)
                if stabilized != proposal:
                    able = _cond(old, "AbleToScale", "True", "ScaleDownStabilized",
                                 "recent recommendations were higher than current one, applying the highest recent "
                                 "recommendation")
                else:
                    able = _cond(old, "AbleToScale", "True", "ReadyForNewScale",
                                 "recommended size matches current size")
                up_limit = max(2 * current, 4)
                ceiling, reason, why = (up_limit, "ScaleUpLimit", "the desired replica count is increasing faster "
                                        "than the maximum scale rate") if hi > up_limit else (
                    hi, "TooManyReplicas", "the desired replica count is more than the maximum replica count")
                if stabilized < lo:
                    desired, limited = lo, ("TooFewReplicas", "the desired replica count is less than the "
                                                              "minimum replica count")
                elif stabilized > ceiling:
                    desired, limited = ceiling, (reason, why)
                else:
                    desired, limited = stabilized, None
                conds.append(_cond(old, "ScalingLimited", "True" if limited else "False",
                                   limited[0] if limited else "DesiredWithinRange",
                                   limited[1] if limited else "the desired count is within the acceptable range"))
        status.update(currentReplicas=current, desiredReplicas=desired, conditions=[able] + conds)
        if old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if desired != current and not (current == 0 and lo != 0):
            new_target = copy.deepcopy(target)
            new_target["spec"]["replicas"] = desired
            cluster.write(r, new_target)
            status["lastScaleTime"] = now_iso(now)
            cluster.record_event(hpa, "SuccessfulRescale", "New size: %d; reason: %s" % (
                desired, "cpu resource utilization (percentage of request) above target" if desired > current
                else "All metrics below target"), "horizontal-pod-autoscaler")
        self.write(hpa, status)

    def write(self, hpa, status):
        status["observedGeneration"] = hpa["metadata"].get("generation", 1)
        new = copy.deepcopy(hpa)
        new["status"] = status
        self.cluster.write_status(HPA, new)
