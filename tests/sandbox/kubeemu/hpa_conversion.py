"""HorizontalPodAutoscaler conversion between autoscaling/v2 (stored) and autoscaling/v1 (served).

As kube-apiserver's `pkg/apis/autoscaling/v1/conversion.go` does it for the CPU-utilisation target;
v1 has no `metrics`, `behavior` or `conditions`. (The HPA *controller* is controllers/hpa.py.)
"""

import copy


def cpu_target(metrics):
    """The averageUtilization of a v2 `Resource cpu Utilization` metric, or None."""
    for m in metrics or []:
        res = m.get("resource") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu" and \
                (res.get("target") or {}).get("type") == "Utilization":
            return res["target"].get("averageUtilization")
    return None


def to_v1(obj):
    obj = copy.deepcopy(obj)
    spec = obj.get("spec") or {}
    metrics = spec.pop("metrics", None)
    spec.pop("behavior", None)
    target = cpu_target(metrics)
    if target is not None:
        spec["targetCPUUtilizationPercentage"] = target
    status = obj.get("status") or {}
    current = status.pop("currentMetrics", None)
    status.pop("conditions", None)
    for m in current or []:
        if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu":
            util = m["resource"].get("current", {}).get("averageUtilization")
            if util is not None:
                status["currentCPUUtilizationPercentage"] = util
    return obj


def from_v1(obj):
    obj = copy.deepcopy(obj)
    spec = obj.setdefault("spec", {})
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}]
    status = obj.get("status") or {}
    status.pop("currentCPUUtilizationPercentage", None)
    obj["apiVersion"] = "autoscaling/v2"
    return obj
