"""The HorizontalPodAutoscaler controller: min/max clamping, CPU utilisation of the target's pods (from
the sandbox `metrics` config, as metrics.k8s.io serves it) against their container requests with a 10 %
tolerance, the AbleToScale/ScalingActive/ScalingLimited conditions and SuccessfulRescale events
(kubernetes `pkg/controller/podautoscaler/horizontal.go`, `replica_calculator.go`).
The autoscaling/v1 <-> v2 conversion is ../hpa_conversion.py."""

import copy
import math

from ..hpa_conversion import cpu_target
from ..quantity import CPU, parse_quantity
from ..resources import BY_KEY
from ..selectors import selector_matches
from ..subresources import pod_usage
from ..timefmt import now_iso
from .base import HPA, PODS, Controller

TARGETS = {"Deployment": BY_KEY["apps/deployments"], "StatefulSet": BY_KEY["apps/statefulsets"],
           "ReplicaSet": BY_KEY["apps/replicasets"]}


def _cond(old, ctype, status, reason, message):
    prev = next((c for c in (old or {}).get("conditions") or [] if c["type"] == ctype), None)
    return {"type": ctype, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == status else now_iso()}


class HorizontalPodAutoscalerController(Controller):
    resource = HPA

    def sync(self, hpa):
        cluster, now = self.cluster, self.now
        spec, ns = hpa["spec"], hpa["metadata"]["namespace"]
        ref = spec.get("scaleTargetRef") or {}
        r = TARGETS.get(ref.get("kind"))
        target = cluster.find(r, ns, ref.get("name")) if r else None
        old = hpa.get("status") or {}
        status = {"currentReplicas": 0, "desiredReplicas": 0}
        if target is None:
            status["conditions"] = [_cond(old, "AbleToScale", "False", "FailedGetScale",
                                          "the HPA controller was unable to get the target's current scale")]
            new = copy.deepcopy(hpa)
            new["status"] = status
            cluster.write_status(HPA, new)
            return
        current = target["spec"].get("replicas", 1)
        lo, hi = spec.get("minReplicas", 1), spec["maxReplicas"]
        pods = [p for p in cluster.items(PODS, ns) if selector_matches(target["spec"].get("selector"),
                                                                       p["metadata"].get("labels"))]
        usage = requests = 0.0
        measured = 0
        for pod in pods:
            u = pod_usage(cluster, pod)
            if u is None:
                continue
            measured += 1
            usage += sum(c for _, c, _ in u)
            for c in pod["spec"].get("containers") or []:
                req = ((c.get("resources") or {}).get("requests") or {}).get("cpu")
                requests += parse_quantity(req, CPU) if req else 0
        goal = cpu_target(spec.get("metrics"))
        conds = [_cond(old, "AbleToScale", "True", "SucceededGetScale",
                       "the HPA controller was able to get the target's current scale")]
        desired = current
        if current == 0 and lo != 0:
            conds.append(_cond(old, "ScalingActive", "False", "ScalingDisabled",
                               "scaling is disabled since the replica count of the target is zero"))
        elif measured and requests and goal:
            util = int(round(100.0 * usage / requests))
            status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": util, "averageValue": "%dm" % round(1000 * usage / measured)}}}]
            ratio = util / float(goal)
            if abs(ratio - 1.0) > 0.1:
                desired = int(math.ceil(ratio * measured))
            conds.append(_cond(old, "ScalingActive", "True", "ValidMetricFound",
                               "the HPA was able to successfully calculate a replica count from cpu resource "
                               "utilization (percentage of request)"))
        else:
            conds.append(_cond(old, "ScalingActive", "False", "FailedGetResourceMetric",
                               "the HPA was unable to compute the replica count: failed to get cpu utilization: "
                               "unable to get metrics for resource cpu: no metrics returned from resource metrics API"))
        if current != 0 or lo == 0:
            bounded = min(max(desired, lo), hi)
            conds.append(_cond(old, "ScalingLimited", "True" if bounded != desired else "False",
                               "TooManyReplicas" if desired > hi else "TooFewReplicas" if desired < lo
                               else "DesiredWithinRange",
                               "the desired replica count is %s" % (
                                   "more than the maximum replica count" if desired > hi else
                                   "less than the minimum replica count" if desired < lo else
                                   "within the acceptable range")))
            desired = bounded
        status.update(currentReplicas=current, desiredReplicas=desired, conditions=conds)
        if old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if desired != current and current != 0:
            new_target = copy.deepcopy(target)
            new_target["spec"]["replicas"] = desired
            cluster.write(r, new_target)
            status["lastScaleTime"] = now_iso(now)
            cluster.record_event(hpa, "SuccessfulRescale", "New size: %d; reason: %s" % (
                desired, "cpu resource utilization (percentage of request) above target" if desired > current
                else "All metrics below target"), "horizontal-pod-autoscaler")
        status["observedGeneration"] = hpa["metadata"].get("generation", 1)
        new = copy.deepcopy(hpa)
        new["status"] = status
        cluster.write_status(HPA, new)
