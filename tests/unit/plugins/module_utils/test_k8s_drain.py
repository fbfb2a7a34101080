# -*- coding: utf-8 -*-
"""Table-driven tests of the PDB-aware drain: filters, selectors, pre-check, drain flow."""

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s import drain as d

NODE = "node-1"


def pod(name, ns="halobuzz", node=NODE, labels=None, owner="ReplicaSet", owner_uid=None,
        ready=True, phase="Running", volumes=None, annotations=None, uid=None):
    meta = dict(name=name, namespace=ns, labels=labels or {"app": "backend"},
                uid=uid or "uid-" + name, annotations=annotations or {})
    if owner:
        meta["ownerReferences"] = [dict(kind=owner, name=owner.lower() + "-x",
                                        uid=owner_uid or "ctrl-" + owner.lower(), controller=True)]
    return dict(metadata=meta, spec=dict(nodeName=node, volumes=volumes or []),
                status=dict(phase=phase, conditions=[dict(type="Ready",
                                                          status="True" if ready else "False")]))


def pdb(name, allowed, selector=None, ns="halobuzz", healthy=(3, 2), policy=None):
    spec = dict(selector={"matchLabels": {"app": "backend"}} if selector is None else selector)
    if policy:
        spec["unhealthyPodEvictionPolicy"] = policy
    return dict(metadata=dict(name=name, namespace=ns), spec=spec,
                status=dict(disruptionsAllowed=allowed, currentHealthy=healthy[0],
                            desiredHealthy=healthy[1]))


@pytest.mark.parametrize("p, opts, verdict, reason_part", [
    (pod("a"), {}, "evict", "evictable"),
    (pod("ds", owner="DaemonSet"), {}, "skip", "DaemonSet"),
    (pod("ds-done", owner="DaemonSet", phase="Succeeded"), {}, "evict", "finished"),
    (pod("m", owner=None, annotations={d.MIRROR_ANNOTATION: "x"}), {}, "skip", "mirror"),
    (pod("e", volumes=[{"name": "tmp", "emptyDir": {}}]), {}, "error", "delete_emptydir_data"),
    (pod("e", volumes=[{"name": "tmp", "emptyDir": {}}]), {"delete_emptydir_data": True}, "evict", ""),
    (pod("e", volumes=[{"name": "cfg", "configMap": {}}]), {}, "evict", ""),
    (pod("bare", owner=None), {}, "error", "force: true"),
    (pod("bare", owner=None), {"force": True}, "evict", ""),
    (pod("bare-done", owner=None, phase="Failed"), {}, "evict", "finished"),
])
def test_classify_pod(p, opts, verdict, reason_part):
    got, reason = d.classify_pod(p, **opts)
    assert got == verdict
    assert reason_part in reason


@pytest.mark.parametrize("selector, labels, expected", [
    (None, {"app": "x"}, False),
    ({}, {"app": "x"}, True),
    ({"matchLabels": {"app": "x"}}, {"app": "x", "tier": "y"}, True),
    ({"matchLabels": {"app": "x"}}, {"app": "z"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x", "y"]}]}, {"app": "y"}, True),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]}, {"app": "x"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]}, {}, True),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {}, True),
])
def test_selector_matches(selector, labels, expected):
    assert d.selector_matches(selector, labels) is expected


@pytest.mark.parametrize("pods, pdbs, problem_parts", [
    ([pod("a")], [pdb("backend", 1)], []),
    ([pod("a")], [pdb("backend", 0)], ["halobuzz/backend allows no disruption", "halobuzz/a"]),
    # a budget in another namespace or with a non-matching selector does not cover the pod
    ([pod("a")], [pdb("backend", 0, ns="other")], []),
    ([pod("a")], [pdb("backend", 0, selector={"matchLabels": {"app": "web"}})], []),
    # replaced pods go one at a time: two pods under a budget allowing 1 is fine
    ([pod("a"), pod("b")], [pdb("backend", 1)], []),
    # pods nothing replaces cannot exceed the budget
    ([pod("a", owner="Job"), pod("b", owner="Job")], [pdb("backend", 1)],
     ["allows 1 disruption(s)", "holds 2 of its pods that nothing would replace"]),
    ([pod("a")], [pdb("one", 1), pdb("two", 1)], ["more than one PodDisruptionBudget", "halobuzz/one"]),
    # a not-Ready pod may go when the budget is healthy (IfHealthyBudget) or AlwaysAllow
    ([pod("a", ready=False)], [pdb("backend", 0, healthy=(2, 2))], []),
    ([pod("a", ready=False)], [pdb("backend", 0, healthy=(1, 2))], ["allows no disruption"]),
    ([pod("a", ready=False)], [pdb("backend", 0, healthy=(1, 2), policy="AlwaysAllow")], []),
    ([pod("done", phase="Succeeded")], [pdb("backend", 0)], []),
    # bug 1: the eviction API lets a Pending pod go without any budget check (eviction.go canIgnorePDB),
    # e.g. one stuck in ImagePullBackOff under an exhausted budget
    ([pod("pull", phase="Pending", ready=False)], [pdb("backend", 0, healthy=(1, 2))], []),
    ([pod("evicted", phase="Failed", ready=False)], [pdb("backend", 0, healthy=(1, 2))], []),
])
def test_precheck(pods, pdbs, problem_parts):
    problems = d.precheck(NODE, pods, pdbs)
    text = " | ".join(problems)
    if not problem_parts:
        assert problems == []
    for part in problem_parts:
        assert part in text


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


class FakeApi:
    """A tiny cluster: eviction honours one budget and a ReplicaSet recreates pods on node-2."""

    def __init__(self, pods, pdbs=(), unschedulable=False, refuse_evictions=0, replace=True,
                 fail_evict=None, nodes=(NODE,), replicas=None):
        self.pods = list(pods)
        self.pdbs = list(pdbs)
        self.unschedulable = unschedulable
        self.refuse_evictions = refuse_evictions
        self.replace = replace
        self.fail_evict = fail_evict
        self.calls = []
        self.cordoned = dict((node, unschedulable) for node in nodes)
        self.replicas = replicas
        self.spec_replicas = {}
        for p in self.pods:
            owner = p["metadata"].get("ownerReferences", [{}])[0].get("name")
            self.spec_replicas[owner] = self.spec_replicas.get(owner, 0) + 1

    def read_node(self, name):
        if name not in self.cordoned:
            raise d.KubeApiError(404, "Not Found", 'nodes "%s" not found' % name)
        return dict(metadata=dict(name=name), spec=dict(unschedulable=self.cordoned[name]))

    def set_unschedulable(self, name, value):
        self.calls.append(("unschedulable", value) if name == NODE else ("unschedulable", name, value))
        self.cordoned[name] = value
        if name == NODE:
            self.unschedulable = value

    def read_controller(self, namespace, kind, name):
        return dict(metadata=dict(name=name), spec=dict(
            replicas=self.spec_replicas.get(name, 0) if self.replicas is None else self.replicas))

    def list_pods_on_node(self, name):
        return [p for p in self.pods if p["spec"]["nodeName"] == name]

    def list_namespaced_pods(self, namespace):
        return [p for p in self.pods if p["metadata"]["namespace"] == namespace]

    def read_pod(self, namespace, name):
        for p in self.pods:
            if p["metadata"]["name"] == name and p["metadata"]["namespace"] == namespace:
                return p
        raise d.KubeApiError(404, "Not Found", "pod gone")

    def list_pdbs(self, namespace):
        return [b for b in self.pdbs if b["metadata"]["namespace"] == namespace]

    def evict(self, namespace, name, grace_period=None):
        self.calls.append(("evict", name))
        if self.fail_evict == name:
            raise d.KubeApiError(403, "Forbidden", "no")
        if self.refuse_evictions:
            self.refuse_evictions -= 1
            raise d.KubeApiError(429, "Too Many Requests",
                                 "Cannot evict pod as it would violate the pod's disruption budget.")
        victim = self.read_pod(namespace, name)
        self.pods.remove(victim)
        if self.replace:
            # the scheduler never picks a cordoned node
            target = [n for n, cordoned in sorted(self.cordoned.items()) if not cordoned] or ["node-9"]
            self.pods.append(pod(name + "-new", node=target[0],
                                 owner=victim["metadata"]["ownerReferences"][0]["kind"]))


def run(api, **kw):
    return d.drain_node(api, NODE, clock=FakeClock(), **kw)


def test_drain_evicts_and_waits_for_replacements():
    api = FakeApi([pod("a"), pod("b"), pod("ds", owner="DaemonSet"), pod("c", node="node-2")],
                  [pdb("backend", 1)])
    res = run(api)
    assert res["changed"] is True
    assert res["evicted"] == ["halobuzz/a", "halobuzz/b"]
    assert res["left_on_node"][0]["pod"] == "halobuzz/ds"
    assert res["before"] == dict(unschedulable=False, unschedulable_nodes={NODE: False},
                                 evictable_pods=["halobuzz/a", "halobuzz/b"])
    assert api.unschedulable is True
    assert [p["metadata"]["name"] for p in api.list_pods_on_node(NODE)] == ["ds"]


def test_drain_retries_429_within_the_timeout():
    api = FakeApi([pod("a")], [pdb("backend", 1)], refuse_evictions=2)
    res = run(api, retry_delay=5)
    assert len(res["eviction_retries"]) == 2
    assert api.calls.count(("evict", "a")) == 3


def test_drain_gives_up_on_429_and_uncordons():
    api = FakeApi([pod("a")], [pdb("backend", 1)], refuse_evictions=1000)
    with pytest.raises(d.DrainError) as err:
        run(api, timeout=30, retry_delay=5)
    assert "still refused" in str(err.value)
    assert "uncordoned again" in str(err.value)
    assert api.unschedulable is False


def test_drain_refused_by_pdb_changes_nothing():
    api = FakeApi([pod("a")], [pdb("backend", 0)])
    with pytest.raises(d.DrainError) as err:
        run(api)
    assert "halobuzz/backend" in str(err.value)
    assert "Nothing was cordoned or evicted" in str(err.value)
    assert api.calls == []


def test_drain_times_out_waiting_for_replacement_and_uncordons():
    api = FakeApi([pod("a")], [pdb("backend", 1)], replace=False)
    with pytest.raises(d.DrainError) as err:
        run(api, timeout=20, poll=2)
    assert "ReplicaSet halobuzz/replicaset-x has 0 of 1 pods Ready" in str(err.value)
    assert api.unschedulable is False


def test_failure_on_already_cordoned_node_leaves_it_cordoned():
    api = FakeApi([pod("a")], unschedulable=True, fail_evict="a")
    with pytest.raises(d.DrainError) as err:
        run(api)
    assert "already cordoned before this run" in str(err.value)
    assert api.unschedulable is True
    assert ("unschedulable", False) not in api.calls


@pytest.mark.parametrize("api, changed", [
    (FakeApi([pod("ds", owner="DaemonSet")], unschedulable=True), False),
    (FakeApi([pod("ds", owner="DaemonSet")], unschedulable=False), True),
    (FakeApi([pod("a")], unschedulable=True), True),
])
def test_check_mode_reports_and_touches_nothing(api, changed):
    res = run(api, check_mode=True)
    assert res["changed"] is changed
    assert list(api.calls) == []


def test_idempotent_second_drain():
    api = FakeApi([pod("a")], [pdb("backend", 1)])
    run(api)
    calls = len(api.calls)
    res = run(api)
    assert res["changed"] is False
    assert len(api.calls) == calls


@pytest.mark.parametrize("pods, message", [
    ([pod("bare", owner=None)], "declares no controller"),
    ([pod("e", volumes=[{"name": "t", "emptyDir": {}}])], "emptyDir"),
])
def test_unevictable_pods_refused_before_cordon(pods, message):
    api = FakeApi(pods)
    with pytest.raises(d.DrainError) as err:
        run(api)
    assert message in str(err.value)
    assert api.calls == []


def test_unknown_node():
    with pytest.raises(d.DrainError, match="node node-9 not found"):
        d.drain_node(FakeApi([]), "node-9", clock=FakeClock())


# -- issue 13: several nodes, parallel evictions, readiness against the controller's spec.replicas ----

def test_two_nodes_are_both_cordoned_before_the_first_eviction():
    # kubectl drain n1 n2 cordons every node first, so no evicted pod lands on the next node to drain.
    api = FakeApi([pod("a"), pod("b", node="node-2")], [pdb("backend", 1)], nodes=(NODE, "node-2", "node-3"))
    res = d.drain_nodes(api, [NODE, "node-2"], clock=FakeClock())
    first_eviction = [i for i, call in enumerate(api.calls) if call[0] == "evict"][0]
    cordons = [i for i, call in enumerate(api.calls) if call[0] == "unschedulable"]
    assert len(cordons) == 2 and max(cordons) < first_eviction
    assert res["evicted"] == ["halobuzz/a", "halobuzz/b"] and res["nodes"] == [NODE, "node-2"]
    assert sorted(p["spec"]["nodeName"] for p in api.pods) == ["node-3", "node-3"]


def test_a_failed_multi_node_drain_uncordons_every_node_it_cordoned():
    api = FakeApi([pod("a"), pod("b", node="node-2")], nodes=(NODE, "node-2"), fail_evict="b")
    with pytest.raises(d.DrainError) as err:
        d.drain_nodes(api, [NODE, "node-2"], clock=FakeClock())
    assert "Node node-1 was uncordoned again" in str(err.value)
    assert "Node node-2 was uncordoned again" in str(err.value)
    assert api.cordoned == {NODE: False, "node-2": False}


def test_evictions_run_in_parallel_bounded():
    import threading

    class Parallel(FakeApi):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.lock = threading.Lock()
            self.inside = self.most = 0
            self.gate = threading.Barrier(3, timeout=10)

        def evict(self, namespace, name, grace_period=None):
            with self.lock:
                self.inside += 1
                self.most = max(self.most, self.inside)
            self.gate.wait()  # three evictions must be in flight together, or this breaks
            with self.lock:
                self.inside -= 1
                super().evict(namespace, name, grace_period)

    api = Parallel([pod(n) for n in "abcdef"], nodes=(NODE, "node-2"))
    d.drain_nodes(api, [NODE], clock=FakeClock(), max_parallel=3)
    assert api.most == 3


def test_readiness_is_measured_against_the_current_spec_replicas():
    # bug 6: an HPA scaled the workload from 2 to 1 while draining; "as many Ready as before" (2) would
    # never come.
    api = FakeApi([pod("a"), pod("b", node="node-2")], replace=False, nodes=(NODE, "node-2"), replicas=1)
    res = run(api, timeout=20, poll=2)
    assert res["evicted"] == ["halobuzz/a"]


def test_an_evicted_pod_that_does_not_go_within_its_grace_period_fails_the_drain():
    class Stuck(FakeApi):
        def evict(self, namespace, name, grace_period=None):
            self.calls.append(("evict", name))  # accepted, but the kubelet never stops the pod

    p = pod("a")
    p["spec"]["terminationGracePeriodSeconds"] = 10
    api = Stuck([p], nodes=(NODE, "node-2"))
    clock = FakeClock()
    with pytest.raises(d.DrainError, match=r"pod halobuzz/a is still on node node-1 \d+s after its "
                                           r"eviction \(grace period 10s\)"):
        d.drain_node(api, NODE, clock=clock, timeout=300, poll=2)
    assert clock.t < 60 and api.unschedulable is False


# -- issue 13 bug 7: memory_leak replaces a pod by eviction (the budget kept), not DELETE -------------

def test_evict_pod_retries_the_budget_and_waits_for_the_replacement():
    api = FakeApi([pod("a"), pod("b", node="node-2")], [pdb("backend", 1)], refuse_evictions=2,
                  nodes=(NODE, "node-2"))
    res = d.evict_pod(api, "halobuzz", "a", clock=FakeClock())
    assert res["changed"] is True and res["evicted"] == ["halobuzz/a"]
    assert api.calls.count(("evict", "a")) == 3 and len(res["eviction_retries"]) == 2
    assert "delete" not in [call[0] for call in api.calls]


def test_evict_pod_is_idempotent_and_honest_in_check_mode():
    api = FakeApi([pod("a")])
    assert d.evict_pod(api, "halobuzz", "a", check_mode=True, clock=FakeClock())["changed"] is True
    assert api.calls == []
    res = d.evict_pod(api, "halobuzz", "gone", clock=FakeClock())
    assert res["changed"] is False and api.calls == []


def test_evict_pod_refuses_a_pod_nothing_replaces():
    api = FakeApi([pod("bare", owner=None)])
    with pytest.raises(d.DrainError, match="declares no controller, so nothing would replace it"):
        d.evict_pod(api, "halobuzz", "bare", clock=FakeClock())
    assert api.calls == []
