"""playbooks/maintenance.yml against the sandbox (or a real cluster with HALOBUZZ_USE_ENV=1).

start: MAINTENANCE_MODE set, healthz answers the maintenance body, the node cordoned and
empty of evictable pods, the backend Ready elsewhere; a second start changes nothing.
finish: node schedulable, MAINTENANCE_MODE=false, healthz 200; a second finish changes
nothing. --check --diff changes nothing. A PodDisruptionBudget that allows no disruption
refuses the drain, naming the budget, before anything changes. Unknown node or Deployment:
a clear error, nothing changed.
"""
from __future__ import annotations

import json
import os
import time

import pytest
import requests

kubernetes = pytest.importorskip("kubernetes")

NS = "halobuzz"
BACKEND = "backend"


def clients(sandbox_env, scenario, read_only):
    if not sandbox_env.get("KUBECONFIG"):
        pytest.skip("KUBECONFIG is not set")
    if os.environ.get("HALOBUZZ_USE_ENV") != "1":
        scenario("healthy", read_only=read_only)  # a fresh world; against real services the cluster is as it is
    client = kubernetes.config.new_client_from_config(config_file=sandbox_env["KUBECONFIG"])
    yield kubernetes.client.CoreV1Api(client), kubernetes.client.AppsV1Api(client), \
        kubernetes.client.PolicyV1Api(client)
    client.close()


@pytest.fixture
def kube(sandbox_env, scenario):
    yield from clients(sandbox_env, scenario, read_only=False)


@pytest.fixture
def kube_untouched(sandbox_env, scenario):
    """For a test that asserts it changed nothing: no scenario switch after another such test (sandbox_support)."""
    yield from clients(sandbox_env, scenario, read_only=True)


def maintenance(run_playbook, action, nodes, *extra, check=True):
    return run_playbook("playbooks/maintenance.yml", "-e", "maintenance_action=" + action,
                        "-e", json.dumps({"maintenance_nodes": nodes}), *extra, check=check)


def mode_of(apps):
    dep = apps.read_namespaced_deployment(BACKEND, NS)
    env = {e.name: e.value for e in dep.spec.template.spec.containers[0].env or []}
    return env.get("MAINTENANCE_MODE"), dep


def pods_on(core, node):
    return core.list_pod_for_all_namespaces(field_selector="spec.nodeName=" + node).items


def evictable(pods):
    return [p.metadata.name for p in pods
            if not any(o.kind == "DaemonSet" for o in p.metadata.owner_references or [])
            and "kubernetes.io/config.mirror" not in (p.metadata.annotations or {})]


def node_of(core, app):
    """A node running a Ready pod of app (the drain then has something to prove)."""
    for pod in core.list_namespaced_pod(NS, label_selector="app=" + app).items:
        if pod.spec.node_name and pod.status.phase == "Running":
            return pod.spec.node_name
    pytest.skip("no running %s pod to drain away" % app)


def healthz(env):
    resp = requests.get(env["HEALTHZ_URL"], timeout=10)
    return resp.status_code, resp.text


def changed(result):
    return result.recap["localhost"]["changed"]


def test_start_and_finish(kube, run_playbook, sandbox_env):
    core, apps, _autoscaling = kube
    node = node_of(core, BACKEND)
    mode_before, _container = mode_of(apps)
    pods_before = sorted(p.metadata.name for p in pods_on(core, node))

    preview = maintenance(run_playbook, "start", [node], "--check", "--diff")
    assert changed(preview) >= 2  # MAINTENANCE_MODE and the drain would change
    assert "would evict" in preview.stdout
    assert mode_of(apps)[0] == mode_before
    assert not core.read_node(node).spec.unschedulable
    assert sorted(p.metadata.name for p in pods_on(core, node)) == pods_before

    maintenance(run_playbook, "start", [node])
    mode, dep = mode_of(apps)
    assert mode == "true"
    status, body = healthz(sandbox_env)
    assert status == 503 and "maintenance" in body.lower()
    assert core.read_node(node).spec.unschedulable is True
    assert evictable(pods_on(core, node)) == []
    assert dep.status.ready_replicas == dep.spec.replicas
    backend = core.list_namespaced_pod(NS, label_selector="app=" + BACKEND).items
    ready = [p for p in backend if p.spec.node_name != node and any(
        c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    assert len(ready) >= dep.spec.replicas

    again = maintenance(run_playbook, "start", [node])
    assert changed(again) == 0, again.stdout

    maintenance(run_playbook, "finish", [node])
    assert not core.read_node(node).spec.unschedulable
    assert mode_of(apps)[0] == "false"
    assert healthz(sandbox_env)[0] == 200
    again = maintenance(run_playbook, "finish", [node])
    assert changed(again) == 0, again.stdout


def test_pdb_allowing_no_disruption_refuses(kube_untouched, run_playbook):
    core, apps, policy = kube_untouched
    node = node_of(core, "streaming")
    name = "maintenance-test-block"
    policy.create_namespaced_pod_disruption_budget(NS, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "streaming"}}}},
        _preload_content=False)  # raw JSON: no client-side model validation of a fresh status

    def observed():
        raw = policy.read_namespaced_pod_disruption_budget(name, NS, _preload_content=False)
        return json.loads(raw.data).get("status", {}).get("observedGeneration")

    try:
        deadline = time.monotonic() + 30  # the disruption controller fills in status
        while observed() is None:
            assert time.monotonic() < deadline, "PDB status never observed"
            time.sleep(0.5)
        mode_before, _container = mode_of(apps)
        pods_before = sorted(p.metadata.name for p in pods_on(core, node))

        result = maintenance(run_playbook, "start", [node], check=False)
        assert result.rc != 0
        assert "%s/%s allows no disruption" % (NS, name) in result.stdout
        assert "Nothing was cordoned or evicted" in result.stdout
        assert not core.read_node(node).spec.unschedulable
        assert sorted(p.metadata.name for p in pods_on(core, node)) == pods_before
        assert mode_of(apps)[0] == mode_before
    finally:
        policy.delete_namespaced_pod_disruption_budget(name, NS)


@pytest.mark.parametrize("extra, message", [
    (("-e", json.dumps({"maintenance_nodes": ["no-such-node"]})), "Node(s) no-such-node not found"),
    (("-e", "deployment=no-such-deployment"), "Deployment halobuzz/no-such-deployment not found"),
])
def test_bad_input_changes_nothing(kube_untouched, run_playbook, extra, message):
    core, apps, _autoscaling = kube_untouched
    node = node_of(core, BACKEND)
    mode_before, _container = mode_of(apps)
    args = ("-e", "maintenance_action=start", "-e", json.dumps({"maintenance_nodes": [node]})) + extra
    result = run_playbook("playbooks/maintenance.yml", *args, check=False)
    assert result.rc != 0
    assert message in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert mode_of(apps)[0] == mode_before
    assert not core.read_node(node).spec.unschedulable


def test_failed_drain_uncordons_the_node(kube, run_playbook):
    """Replacements cannot be scheduled (every other node cordoned): the drain times out,
    the node is uncordoned again and the error says so."""
    if os.environ.get("HALOBUZZ_USE_ENV") == "1":
        pytest.skip("cordons every other node of the cluster")
    core, _apps, _autoscaling = kube
    node = node_of(core, BACKEND)
    others = [n.metadata.name for n in core.list_node().items if n.metadata.name != node]
    for other in others:
        core.patch_node(other, {"spec": {"unschedulable": True}})
    try:
        result = maintenance(run_playbook, "start", [node], "-e", "maintenance_window_drain_timeout=8",
                             check=False)
        assert result.rc != 0
        # either the wait for replacements or a budget's 429 (replacements never Ready) ran out
        assert "draining node %s failed" % node in result.stdout, result.stdout[-3000:]
        assert "Node %s was uncordoned again" % node in result.stdout
        assert "MAINTENANCE_MODE stays true" in result.stdout
        assert not core.read_node(node).spec.unschedulable
    finally:
        for other in others:
            core.patch_node(other, {"spec": {"unschedulable": False}})


def replay(list_call, since, **kwargs):
    """Every watch event of `list_call` after resourceVersion `since` (the API server replays them from its
    watch cache; the sandbox keeps the last 5000). The watch ends after a second without a new event."""
    events = list(kubernetes.watch.Watch().stream(list_call, resource_version=since, timeout_seconds=1,
                                                  deserialize=False, **kwargs))
    assert all(ev["type"] != "ERROR" for ev in events), [ev for ev in events if ev["type"] == "ERROR"]
    return [(int(ev["object"]["metadata"]["resourceVersion"]), ev["type"], ev["object"]) for ev in events]


def test_two_nodes_are_drained_together(kube, run_playbook, sandbox_env):
    """issue 13 bug 5: like `kubectl drain n1 n2` (kubectl pkg/cmd/drain/drain.go RunDrain: RunCordonOrUncordon
    for every node, then the evictions), both nodes are cordoned before the first pod is evicted, so no evicted
    pod's replacement lands on a node that is about to be drained. The order is read from the API's own
    sequence: the watch events of the run (nodes and pods), ordered by resourceVersion, which the sandbox's
    API server (one counter, like etcd's revision behind one kube-apiserver) gives every write in order.
    Then the end state: both cordoned and empty, the backend Ready on the other nodes, a second start and
    finish change nothing."""
    core, apps, _policy = kube
    first = node_of(core, BACKEND)
    nodes = [first] + [n.metadata.name for n in core.list_node().items if n.metadata.name != first][:1]
    if len(nodes) < 2 or len(core.list_node().items) < 3:
        pytest.skip("needs three nodes")
    since = core.list_node().metadata.resource_version
    listed = core.list_pod_for_all_namespaces().items
    pods_before = {p.metadata.uid for p in listed}
    going_before = {p.metadata.uid for p in listed if p.metadata.deletion_timestamp}  # Terminating already
    maintenance(run_playbook, "start", nodes)

    cordoned = {}   # node -> resourceVersion of the write that set spec.unschedulable
    for rv, _type, node in replay(core.list_node, since):
        if node["spec"].get("unschedulable") and node["metadata"]["name"] in nodes:
            cordoned.setdefault(node["metadata"]["name"], rv)
    assert sorted(cordoned) == sorted(nodes), cordoned
    first_cordon, last_cordon = min(cordoned.values()), max(cordoned.values())
    # per pod on those nodes: the write that marked it for deletion (an eviction sets deletionTimestamp; the
    # MAINTENANCE_MODE rollout before the drain deletes old pods too, before the first cordon), and for a pod
    # created during the run the write that bound it to one of them
    deleted, bound = {}, {}
    for rv, etype, pod in replay(core.list_pod_for_all_namespaces, since):
        name = pod["metadata"]["namespace"] + "/" + pod["metadata"]["name"]
        if pod["spec"].get("nodeName") not in nodes:
            continue
        if pod["metadata"]["uid"] not in pods_before:
            bound.setdefault(name, rv)
        if (pod["metadata"].get("deletionTimestamp") or etype == "DELETED") and \
                pod["metadata"]["uid"] not in going_before:
            deleted.setdefault(name, rv)
    evicted = {name: rv for name, rv in deleted.items() if rv > first_cordon}
    assert evicted, "the drain evicted nothing from %s" % nodes
    assert min(evicted.values()) > last_cordon, "evicted before every node was cordoned: %s, %s" % (cordoned, evicted)
    landed = sorted(name for name, rv in bound.items() if rv > first_cordon)
    assert landed == [], "pods bound to a node being drained: %s" % landed

    for node in nodes:
        assert core.read_node(node).spec.unschedulable is True
        assert evictable(pods_on(core, node)) == []
    dep = apps.read_namespaced_deployment(BACKEND, NS)
    ready = [p for p in core.list_namespaced_pod(NS, label_selector="app=" + BACKEND).items
             if p.spec.node_name not in nodes and p.metadata.deletion_timestamp is None
             and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    assert len(ready) >= dep.spec.replicas
    again = maintenance(run_playbook, "start", nodes)
    assert changed(again) == 0, again.stdout
    maintenance(run_playbook, "finish", nodes)
    assert not any(core.read_node(node).spec.unschedulable for node in nodes)
    assert healthz(sandbox_env)[0] == 200


def test_invalid_node_name_is_refused_before_any_call(kube_untouched, run_playbook):
    core, apps, _policy = kube_untouched
    mode_before, _container = mode_of(apps)
    result = maintenance(run_playbook, "start", ["../namespaces/halobuzz"], check=False)
    assert result.rc != 0 and "not valid Kubernetes node names" in result.stdout
    assert mode_of(apps)[0] == mode_before
