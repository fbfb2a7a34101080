# -*- coding: utf-8 -*-
"""k8s/scale_up.py: an emergency scale-up never lowers HPA min/max, the CPU target's capacity or the
Deployment's replicas (issue 15); allow_scale_down lowers and names what. The HPA semantics follow
kubernetes pkg/controller/podautoscaler/horizontal.go (reconcileAutoscaler: the controller clamps
spec.replicas to [minReplicas, maxReplicas]) and replica_calculator.go (a higher target, fewer pods)."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.halobuzz.ops.plugins.filter import scale_up as scale_up_filter
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s import scale_up as s

RUNBOOK = dict(min_replicas=3, max_replicas=20, cpu_percent=70, replicas=10)


def deployment(replicas=3, name="backend"):
    return {"metadata": {"name": name, "namespace": "halobuzz"}, "spec": {"replicas": replicas}}


def hpa(lo, hi, cpu=70, name="backend", target="backend", extra_metrics=(), behavior=None):
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": lo, "maxReplicas": hi,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": cpu}}}] + list(extra_metrics)}
    if behavior:
        spec["behavior"] = behavior
    return {"metadata": {"name": name, "namespace": "halobuzz"}, "spec": spec}


def plan(dep, hpas, allow=False, **requested):
    return s.plan_scale_up(dep, hpas, allow_scale_down=allow, **dict(RUNBOOK, **requested))


@pytest.mark.parametrize("replicas", [12, 14, 50])
def test_issue_15_incident_state_lowers_nothing(replicas):
    """HPA 12-50 and the backend at >= 12 replicas, the runbook's 3/20/70/10: nothing goes down."""
    p = plan(deployment(replicas), [hpa(12, 50)])
    assert p["hpa"]["after"] == dict(minReplicas=12, maxReplicas=50, cpu=70)
    assert p["hpa"]["changed"] is False
    assert p["replicas"]["after"] == replicas and p["replicas"]["changed"] is False
    assert p["lowered"] == []
    kept = ["HPA minReplicas kept at 12 (asked 3)", "HPA maxReplicas kept at 50 (asked 20)"]
    if replicas > 12:
        kept.append("Deployment replicas kept at %d (asked 12)" % replicas)
    assert p["kept"] == kept
    assert p["summary"].startswith("nothing lowered; kept")


def test_issue_15_allow_scale_down_names_what_is_lowered():
    p = plan(deployment(14), [hpa(12, 50)], allow=True)
    assert p["hpa"]["after"] == dict(minReplicas=3, maxReplicas=20, cpu=70)
    assert p["replicas"]["after"] == 10
    assert p["lowered"] == ["HPA minReplicas 12 -> 3", "HPA maxReplicas 50 -> 20", "Deployment replicas 14 -> 10"]
    assert p["summary"] == ("LOWERED (allow_scale_down: true): HPA minReplicas 12 -> 3, HPA maxReplicas 50 -> 20, "
                            "Deployment replicas 14 -> 10")


@pytest.mark.parametrize("dep, hpas, allow, hpa_after, replicas_after, lowered", [
    # no HPA yet: created with the request; replicas raised to 10
    (deployment(3), [], False, dict(minReplicas=3, maxReplicas=20, cpu=70), 10, []),
    # the runbook's own HPA: raised nothing, replicas floor 10
    (deployment(3), [hpa(3, 20)], False, dict(minReplicas=3, maxReplicas=20, cpu=70), 10, []),
    # replicas below the kept HPA min: at least minReplicas (the controller raises it there anyway)
    (deployment(5), [hpa(12, 50)], False, dict(minReplicas=12, maxReplicas=50, cpu=70), 12, []),
    # asked more than the current: raised
    (deployment(3), [hpa(2, 8)], False, dict(minReplicas=3, maxReplicas=20, cpu=70), 10, []),
    # a lower CPU target (more pods) is kept; a higher one would cut pods
    (deployment(3), [hpa(3, 20, cpu=50)], False, dict(minReplicas=3, maxReplicas=20, cpu=50), 10, []),
    (deployment(3), [hpa(3, 20, cpu=90)], False, dict(minReplicas=3, maxReplicas=20, cpu=70), 10, []),
    (deployment(3), [hpa(3, 20, cpu=50)], True, dict(minReplicas=3, maxReplicas=20, cpu=70), 10,
     ["HPA cpu averageUtilization 50 -> 70"]),
    # above the HPA max: not touched (the controller brings it down), only reported
    (deployment(60), [hpa(12, 50)], False, dict(minReplicas=12, maxReplicas=50, cpu=70), 60, []),
    # an HPA with another name that targets the Deployment is the one planned
    (deployment(3), [hpa(1, 5, name="other", target="streaming"), hpa(4, 30, name="backend-hpa")], False,
     dict(minReplicas=4, maxReplicas=30, cpu=70), 10, []),
    # replicas 0 (HPA disabled): raised to the floor
    (deployment(0), [hpa(3, 20)], False, dict(minReplicas=3, maxReplicas=20, cpu=70), 10, []),
])
def test_plan_table(dep, hpas, allow, hpa_after, replicas_after, lowered):
    p = plan(dep, hpas, allow)
    assert p["hpa"]["after"] == hpa_after
    assert p["replicas"]["after"] == replicas_after
    assert p["lowered"] == lowered
    if not allow:
        before = p["hpa"]["before"]
        if before:
            assert p["hpa"]["after"]["minReplicas"] >= before["minReplicas"]
            assert p["hpa"]["after"]["maxReplicas"] >= before["maxReplicas"]
            assert p["hpa"]["after"]["cpu"] <= before["cpu"]
        assert p["replicas"]["after"] >= p["replicas"]["before"]


def test_above_hpa_max_is_reported_not_cut():
    p = plan(deployment(60), [hpa(12, 50)])
    assert "above the HPA's maxReplicas 50" in " ".join(p["notes"])
    assert p["replicas"]["changed"] is False


def test_existing_hpa_keeps_its_name_other_metrics_and_behavior():
    memory = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization",
                                                                            "averageUtilization": 80}}}
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 600}}
    p = plan(deployment(3), [hpa(3, 20, cpu=90, name="backend-hpa", extra_metrics=[memory], behavior=behavior)])
    spec = p["hpa"]["spec"]
    assert p["hpa"]["name"] == "backend-hpa" and p["hpa"]["exists"] is True and p["hpa"]["changed"] is True
    assert spec["behavior"] == behavior
    assert spec["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 70}}}, memory]
    assert spec["scaleTargetRef"]["name"] == "backend"


def test_new_hpa_spec():
    p = plan(deployment(3), [])
    assert p["hpa"]["exists"] is False and p["hpa"]["changed"] is True and p["hpa"]["name"] == "backend"
    assert p["hpa"]["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "backend"},
        "minReplicas": 3, "maxReplicas": 20,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 70}}}]}


def test_cpu_average_value_target_is_kept():
    h = hpa(3, 20)
    h["spec"]["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "AverageValue", "averageValue": "300m"}}}]
    p = plan(deployment(3), [h])
    assert p["hpa"]["spec"]["metrics"] == h["spec"]["metrics"]
    assert "not a Utilization" in p["notes"][0]


def test_min_replicas_default_is_one():
    h = hpa(3, 20)
    del h["spec"]["minReplicas"]
    p = plan(deployment(3), [h])
    assert p["hpa"]["before"]["minReplicas"] == 1 and p["hpa"]["after"]["minReplicas"] == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_replicas=0), "hpa_min_replicas must be >= 1"),
    (dict(replicas=30), "inputs out of range"),
    (dict(min_replicas=12), "inputs out of range"),
    (dict(cpu_percent=101), "inputs out of range"),
    (dict(replicas="ten"), "scale_replicas must be a whole number"),
    (dict(replicas=10.5), "scale_replicas must be a whole number"),
    (dict(replicas=True), "scale_replicas must be a whole number"),
])
def test_bad_inputs(kwargs, message):
    with pytest.raises(s.ScaleUpError, match=message):
        plan(deployment(3), [], **kwargs)


def test_two_hpas_on_one_deployment_refused():
    with pytest.raises(s.ScaleUpError, match="2 HPAs target Deployment backend .*AmbiguousSelector"):
        plan(deployment(3), [hpa(3, 20, name="a"), hpa(3, 20, name="b")])


def test_no_deployment_refused():
    with pytest.raises(s.ScaleUpError, match="no Deployment"):
        plan({}, [])


def test_string_numbers_from_jinja_are_accepted():
    p = s.plan_scale_up(deployment(3), [], "3", "20", "70", "10")
    assert p["hpa"]["after"] == dict(minReplicas=3, maxReplicas=20, cpu=70)


def test_filter_is_the_plan():
    f = scale_up_filter.FilterModule().filters()["scale_up_plan"]
    assert f(deployment(14), [hpa(12, 50)], 3, 20, 70, 10) == plan(deployment(14), [hpa(12, 50)])
    with pytest.raises(AnsibleFilterError, match="scale_up_plan: inputs out of range"):
        f(deployment(3), [], 3, 20, 70, 30)
    with pytest.raises(AnsibleFilterError, match="allow_scale_down must be true or false"):
        f(deployment(3), [], 3, 20, 70, 10, "yes")
