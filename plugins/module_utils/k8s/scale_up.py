# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Emergency scale-up of a Deployment and its HorizontalPodAutoscaler: what the new values are.

``plan_scale_up`` is a pure function over the API's JSON (the Deployment and the namespace's
autoscaling/v2 HPAs) that the scale_up role applies through kubernetes.core. It never lowers
anything unless ``allow_scale_down``:

- HPA ``minReplicas`` and ``maxReplicas`` each become max(current, requested).
- The CPU ``averageUtilization`` target becomes min(current, requested): a *higher* target makes
  the HPA run *fewer* pods (replica_calculator.go: desired = ceil(current * usage / target)), so
  raising it would be a scale-down. Other metrics of an existing HPA are kept (the v2
  ``metrics`` list is atomic: whatever is sent replaces it).
- Deployment ``spec.replicas`` becomes max(current, requested, HPA minReplicas after).

What "replicas" means while an HPA targets the Deployment (kubernetes
``pkg/controller/podautoscaler/horizontal.go``, ``reconcileAutoscaler``): the HPA controller owns
``spec.replicas`` through the scale subresource. Every sync (15 s) it computes a desired count
from the metrics, clamps it to [minReplicas, maxReplicas] ("Current number of replicas below
Spec.MinReplicas" / "above Spec.MaxReplicas") and writes it when it differs. So the current
``spec.replicas`` is the HPA's latest decision, a manual scale is only a momentary floor that the
HPA keeps while the load justifies it (scale-down waits for the stabilization window, 300 s by
default), and the durable floor is ``minReplicas``. That is why the plan raises replicas to at
least the new minReplicas (the controller would do it at its next sync; the role then waits for
those pods) and why a Deployment above the HPA's maxReplicas is not touched here but reported:
the controller, not this role, brings it down to maxReplicas. With ``spec.replicas: 0`` and
minReplicas > 0 the HPA is disabled (ScalingDisabled) until something scales the target up.

With ``allow_scale_down`` the requested values are set as given and ``lowered`` names each value
that goes down (``"HPA minReplicas 12 -> 3"``), for the diff and the summary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError


class ScaleUpError(HaloBuzzError):
    """Inputs or cluster state the scale-up cannot plan from, worded for the operator."""


def _count(value, name, low=0):
    if isinstance(value, bool):
        raise ScaleUpError("%s must be a whole number, got %r; nothing was changed" % (name, value))
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ScaleUpError("%s must be a whole number, got %r; nothing was changed" % (name, value))
    if number != value and str(number) != str(value).strip():
        raise ScaleUpError("%s must be a whole number, got %r; nothing was changed" % (name, value))
    if number < low:
        raise ScaleUpError("%s must be >= %d, got %d; nothing was changed" % (name, low, number))
    return number


def _is_cpu_resource(metric):
    return (metric or {}).get("type") == "Resource" and ((metric.get("resource") or {}).get("name") == "cpu")


def _cpu_utilization(metrics):
    """averageUtilization of the CPU Resource metric, None when there is none or it is not a Utilization."""
    for metric in metrics or []:
        if _is_cpu_resource(metric):
            target = (metric.get("resource") or {}).get("target") or {}
            if target.get("type") == "Utilization" and target.get("averageUtilization") is not None:
                return target["averageUtilization"]
    return None


def hpas_for(hpas, deployment_name):
    """The HPAs whose scaleTargetRef is the Deployment (by kind and name; any apps group version)."""
    found = []
    for hpa in hpas or []:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == deployment_name:
            found.append(hpa)
    return found


def _floor(name, current, requested, allow_scale_down, lowered, kept, higher_is_more=True):
    """max(current, requested) (min() for a target where lower means more pods), or requested when allowed."""
    if current is None or current == requested:
        return requested
    goes_down = requested < current if higher_is_more else requested > current
    if not goes_down:
        return requested
    if allow_scale_down:
        lowered.append("%s %s -> %s" % (name, current, requested))
        return requested
    kept.append("%s kept at %s (asked %s)" % (name, current, requested))
    return current


def plan_hpa(hpa, deployment_name, min_replicas, max_replicas, cpu_percent, allow_scale_down=False):
    """The HPA's new spec; ``hpa`` is the existing autoscaling/v2 object or None (one is created)."""
    lowered, kept, notes = [], [], []
    spec = (hpa or {}).get("spec") or {}
    name = ((hpa or {}).get("metadata") or {}).get("name") or deployment_name
    cur_min = spec.get("minReplicas", 1) if hpa else None  # minReplicas defaults to 1 (autoscaling/v2)
    cur_max = spec.get("maxReplicas") if hpa else None
    metrics = spec.get("metrics") or []
    cur_cpu = _cpu_utilization(metrics)
    new_min = _floor("HPA minReplicas", cur_min, min_replicas, allow_scale_down, lowered, kept)
    new_max = _floor("HPA maxReplicas", cur_max, max_replicas, allow_scale_down, lowered, kept)
    if new_max < new_min:  # only when min was kept above the asked max: keep the HPA valid
        kept.append("HPA maxReplicas raised to minReplicas %d" % new_min)
        new_max = new_min
    cpu_metrics = [m for m in metrics if _is_cpu_resource(m)]
    if cpu_metrics and cur_cpu is None:
        # A CPU target by AverageValue cannot be compared with a percentage: keep it as it is.
        new_cpu = None
        new_metrics = list(metrics)
        notes.append("HPA cpu target is not a Utilization; kept as it is (hpa_cpu_percent %d not applied)"
                     % cpu_percent)
    else:
        # A higher utilization target means fewer pods: for the target "lower" is the scale-up direction.
        new_cpu = _floor("HPA cpu averageUtilization", cur_cpu, cpu_percent, allow_scale_down, lowered, kept,
                         higher_is_more=False)
        cpu_metric = {"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": new_cpu}}}
        new_metrics, placed = [], False
        for metric in metrics:
            if _is_cpu_resource(metric):
                if not placed:
                    new_metrics.append(cpu_metric)
                    placed = True
            else:
                new_metrics.append(metric)
        if not placed:
            new_metrics.append(cpu_metric)
    new_spec = dict(spec)  # behavior and anything else of an existing HPA stay as they are
    new_spec.update(
        scaleTargetRef=spec.get("scaleTargetRef") or {"apiVersion": "apps/v1", "kind": "Deployment",
                                                      "name": deployment_name},
        minReplicas=new_min, maxReplicas=new_max, metrics=new_metrics)
    before = dict(minReplicas=cur_min, maxReplicas=cur_max, cpu=cur_cpu) if hpa else None
    after = dict(minReplicas=new_min, maxReplicas=new_max, cpu=new_cpu)
    return dict(name=name, exists=bool(hpa), before=before, after=after, spec=new_spec,
                changed=hpa is None or (cur_min, cur_max, metrics) != (new_min, new_max, new_metrics),
                lowered=lowered, kept=kept, notes=notes)


def plan_replicas(deployment, replicas, hpa_after=None, allow_scale_down=False):
    """The Deployment's new spec.replicas (see the module docstring for what it means under an HPA)."""
    lowered, kept, notes = [], [], []
    current = ((deployment or {}).get("spec") or {}).get("replicas", 1)  # apps/v1 default: 1
    wanted = replicas
    if hpa_after is not None and not allow_scale_down and hpa_after["minReplicas"] > wanted:
        notes.append("replicas at least the HPA's minReplicas %d (the HPA controller raises it there anyway)"
                     % hpa_after["minReplicas"])
        wanted = hpa_after["minReplicas"]
    new = _floor("Deployment replicas", current, wanted, allow_scale_down, lowered, kept)
    if hpa_after is not None and new > hpa_after["maxReplicas"]:
        ceiling = hpa_after["maxReplicas"]
        notes.append("replicas %d are above the HPA's maxReplicas %d: the HPA controller, not this run, "
                     "brings them down to %d at its next sync" % (new, ceiling, ceiling))
    return dict(before=current, after=new, changed=new != current, lowered=lowered, kept=kept, notes=notes)


def plan_scale_up(deployment, hpas, min_replicas, max_replicas, cpu_percent, replicas, allow_scale_down=False):
    """The whole Kubernetes side of an emergency scale-up, as data the role applies and reports.

    ``deployment`` is the Deployment object, ``hpas`` the namespace's autoscaling/v2 HPAs. Returns
    ``hpa`` (plan_hpa), ``replicas`` (plan_replicas), ``lowered`` and ``kept`` over both, and a
    one-line ``summary``. Raises ScaleUpError on bad numbers or two HPAs on one Deployment.
    """
    if not isinstance(deployment, dict) or not (deployment.get("metadata") or {}).get("name"):
        raise ScaleUpError("no Deployment to scale: give the Deployment object; nothing was changed")
    allow_scale_down = allow_scale_down is True
    name = deployment["metadata"]["name"]
    min_replicas = _count(min_replicas, "hpa_min_replicas", 1)
    max_replicas = _count(max_replicas, "hpa_max_replicas", 1)
    cpu_percent = _count(cpu_percent, "hpa_cpu_percent", 1)
    replicas = _count(replicas, "scale_replicas", 0)
    if not min_replicas <= replicas <= max_replicas or cpu_percent > 100:
        raise ScaleUpError(
            "inputs out of range: need 1 <= hpa_min_replicas (%d) <= scale_replicas (%d) <= hpa_max_replicas "
            "(%d) and hpa_cpu_percent (%d) in 1..100; nothing was changed"
            % (min_replicas, replicas, max_replicas, cpu_percent))
    targeting = hpas_for(hpas, name)
    if len(targeting) > 1:
        raise ScaleUpError(
            "%d HPAs target Deployment %s (%s): the HPA controller refuses to act on an ambiguous target "
            "(AmbiguousSelector); delete all but one and run again. Nothing was changed"
            % (len(targeting), name, ", ".join(sorted(h["metadata"]["name"] for h in targeting))))
    hpa = plan_hpa(targeting[0] if targeting else None, name, min_replicas, max_replicas, cpu_percent,
                   allow_scale_down)
    reps = plan_replicas(deployment, replicas, hpa["after"], allow_scale_down)
    lowered = hpa["lowered"] + reps["lowered"]
    kept = hpa["kept"] + reps["kept"]
    summary = "LOWERED (allow_scale_down: true): %s" % ", ".join(lowered) if lowered else "nothing lowered"
    if kept:
        summary += "; kept (a scale-up never lowers; allow_scale_down: true to lower): %s" % ", ".join(kept)
    return dict(hpa=hpa, replicas=reps, lowered=lowered, kept=kept,
                notes=hpa["notes"] + reps["notes"], summary=summary)
