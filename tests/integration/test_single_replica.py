"""Issue 13, "Done when": rollback.yml, service_down.yml and scale_up.yml in a scenario with replicas 1.

ONE scenario switch (`bad-release-single-replica`, tests/sandbox/world.yml): backend runs a single replica
whose live revision 3 (v1.5.1) crashes. The playbooks run in the order an on-call engineer would: triage,
rollback, triage again, emergency scale-up; each is previewed with --check --diff (nothing changes), run,
and run again (changed=0).

The stale ProgressDeadlineExceeded case (issue 13 bug 4): the Deployment controller keeps a Progressing
condition it sees neither progress nor completion for (kubernetes pkg/controller/deployment/progress.go,
syncRolloutStatus: "newCond == nil" keeps the current one), so right after `rollout undo` it may write the
new observedGeneration next to the OLD timed-out condition; kubectl's rollout status would fail on it
(kubectl pkg/polymorphichelpers/rollout_status.go). With one replica and maxUnavailable 0 the undo's first
sync sees the new ReplicaSet at 0 of 1 (no progress), so the stale condition is there on every run. The
test shortens progressDeadlineSeconds (as `kubectl patch` would) instead of waiting the default 600 s for
the condition, and waits for the controller to set it.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from sandbox_support import healthz_status, wait_for

NS, NAME = "halobuzz", "backend"
IMAGE = "registry.halobuzz.com/backend:%s"
# Long enough for the controller to show progress after the undo (a pod created and Ready within
# ready_delay_seconds 1 + the controllers' lag), short enough for the test: the rollback must not count
# a condition that predates its change, and must still see a current one after this long.
PROGRESS_DEADLINE_SECONDS = 8

pytestmark = pytest.mark.skipif(os.environ.get("HALOBUZZ_USE_ENV") == "1",
                                reason="puts the backend at one replica: sandbox only")


def kubectl(env, *args):
    return subprocess.run(["kubectl", "--kubeconfig", env["KUBECONFIG"], "-n", NS, *args],
                          capture_output=True, text=True, check=True, timeout=60).stdout


def backend(env):
    return json.loads(kubectl(env, "get", "deployment", NAME, "-o", "json"))


def state(env):
    """What a playbook could change: revision, image, replicas, generation, and the HPAs."""
    dep = backend(env)
    hpas = [h["metadata"]["name"] for h in json.loads(kubectl(env, "get", "hpa", "-o", "json"))["items"]]
    return (dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            dep["spec"]["template"]["spec"]["containers"][0]["image"],
            dep["spec"]["replicas"], dep["metadata"]["generation"], hpas)


def progressing(dep):
    return next((c for c in dep.get("status", {}).get("conditions") or [] if c["type"] == "Progressing"), {})


def changed(result):
    return result.recap["localhost"]["changed"]


def test_single_replica_rollback_triage_and_scale_up(sandbox_env, scenario, run_playbook):
    scenario("bad-release-single-replica")
    assert state(sandbox_env) == ("3", IMAGE % "v1.5.1", 1, state(sandbox_env)[3], [])
    assert healthz_status(sandbox_env) == 503

    kubectl(sandbox_env, "patch", "deployment", NAME, "--type=merge",
            "-p", json.dumps({"spec": {"progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS}}))
    wait_for(lambda: progressing(backend(sandbox_env)).get("reason") == "ProgressDeadlineExceeded",
             "the controller to mark revision 3 ProgressDeadlineExceeded",
             timeout=PROGRESS_DEADLINE_SECONDS + 60)
    stuck = state(sandbox_env)

    # -- triage: a restart cannot fix a release that does not start ------------------------------------
    preview = run_playbook("service_down.yml", "--check", "--diff")
    assert changed(preview) == 0 and state(sandbox_env) == stuck
    down = run_playbook("service_down.yml", check=False)
    assert down.rc != 0 and changed(down) == 0
    assert "a restart would not help" in down.stdout and "playbooks/rollback.yml" in down.stdout
    assert "CrashLoopBackOff" in down.stdout
    assert state(sandbox_env) == stuck

    # -- rollback past the stale ProgressDeadlineExceeded ------------------------------------------------
    preview = run_playbook("rollback.yml", "--check", "--diff")
    assert "Would do: roll back halobuzz/backend to revision 2" in preview.stdout  # the closing summary (issue 19)
    assert state(sandbox_env) == stuck
    first = run_playbook("rollback.yml")
    assert changed(first) == 1
    assert state(sandbox_env)[:3] == ("4", IMAGE % "v1.5.0", 1)
    assert healthz_status(sandbox_env) == 200
    assert "1/1 pods Ready" in first.stdout[first.stdout.index("rollout_rollback : Summary"):]
    assert progressing(backend(sandbox_env)).get("reason") == "NewReplicaSetAvailable"
    again = run_playbook("rollback.yml")
    assert changed(again) == 0
    assert state(sandbox_env)[:3] == ("4", IMAGE % "v1.5.0", 1)

    # -- triage again: up, nothing to do --------------------------------------------------------------
    rolled_back = state(sandbox_env)
    up = run_playbook("service_down.yml")
    assert changed(up) == 0 and state(sandbox_env) == rolled_back

    # -- emergency scale-up from one replica ------------------------------------------------------------
    preview = run_playbook("scale_up.yml", "--check", "--diff")
    assert changed(preview) >= 1 and state(sandbox_env) == rolled_back
    run_playbook("scale_up.yml")
    dep = backend(sandbox_env)
    assert dep["spec"]["replicas"] == 10 and dep["status"].get("readyReplicas") == 10
    assert state(sandbox_env)[4] == [NAME]
    # The seeded 420m over 10 pods is ~8 % of the request: the HPA's first sync records the 10 it sees
    # and its 300 s scale-down stabilization keeps them (horizontal.go), as on a cluster.
    again = run_playbook("scale_up.yml")
    assert changed(again) == 0, again.stdout[-4000:]
    assert backend(sandbox_env)["spec"]["replicas"] == 10
