"""playbooks/rollback.yml and the k8s_rollout / k8s_rollout_info modules against Kubernetes.

Every endpoint comes from `sandbox_env` (KUBECONFIG, HEALTHZ_URL): the private sandbox by
default, real services with HALOBUZZ_USE_ENV=1 (then the tests that need the `bad-release`
world are skipped by `scenario`, and the read-only/error ones still run).

The `bad-release` scenario: backend revisions 1 (v1.4.0), 2 (v1.5.0), 3 (v1.5.1, live,
never Ready); healthz answers 503 until backend runs a good release.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sandbox_support import healthz_status

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"

NS, NAME = "halobuzz", "backend"
IMAGE = "registry.halobuzz.com/backend:%s"


def deployment_state(env):
    """(revision, image, generation, annotations) of backend, read with kubectl."""
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", env["KUBECONFIG"], "-n", NS, "get", "deployment", NAME, "-o", "json"],
        capture_output=True, text=True, check=True, timeout=60)
    dep = json.loads(proc.stdout)
    annotations = dep["metadata"].get("annotations") or {}
    return (int(annotations["deployment.kubernetes.io/revision"]),
            dep["spec"]["template"]["spec"]["containers"][0]["image"],
            dep["metadata"]["generation"], annotations)


def run_module(env, module, check_mode=False, **args):
    """Run halobuzz.ops.<module> ad hoc; returns (rc, result dict)."""
    full_env = dict(os.environ)
    full_env.update(env)
    full_env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                    ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1")
    argv = [str(VENV_BIN / "ansible"), "localhost", "-i", str(REPO / "inventories" / "sandbox"),
            "-m", "halobuzz.ops.%s" % module, "-a", json.dumps(args)]
    if check_mode:
        argv.append("--check")
    proc = subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=REPO, timeout=300, check=False)
    try:  # the run-record callback prints a line after the JSON
        output = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])[0]
    except ValueError:
        pytest.fail("ansible -m %s printed no JSON (rc=%d)\n%s\n%s" % (module, proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, output["plays"][0]["tasks"][0]["hosts"]["localhost"]


def summary_lines(stdout):
    """The lines of the Summary task's debug output."""
    return stdout[stdout.index("rollout_rollback : Summary"):]


# -- the playbook ----------------------------------------------------------------------

def test_rollback_to_previous_is_verified_and_never_flips_back(sandbox_env, scenario, run_playbook):
    scenario("bad-release")
    assert deployment_state(sandbox_env)[:2] == (3, IMAGE % "v1.5.1")
    assert healthz_status(sandbox_env) != 200

    first = run_playbook("playbooks/rollback.yml")
    assert first.recap["localhost"]["changed"] == 1
    revision, image, dummy, annotations = deployment_state(sandbox_env)
    assert (revision, image) == (4, IMAGE % "v1.5.0")
    assert annotations["halobuzz.com/rolled-back-from-revision"] == "3"
    assert healthz_status(sandbox_env) == 200
    summary = summary_lines(first.stdout)
    assert "Did: roll back halobuzz/backend to revision 2 (ReplicaSet" in summary and "revision (3 -> 4)" in summary
    assert "%s -> %s" % (IMAGE % "v1.5.1", IMAGE % "v1.5.0") in summary
    assert "returned 200" in summary and "duration" in summary

    # kubectl rollout undo would now go back to revision 3 (v1.5.1); this playbook does not.
    second = run_playbook("playbooks/rollback.yml")
    assert second.recap["localhost"]["changed"] == 0
    assert "would re-deploy the release that was rolled back" in second.stdout
    assert deployment_state(sandbox_env)[:2] == (4, IMAGE % "v1.5.0")


def test_rollback_of_an_image_pull_failure_with_controller_lag(sandbox_env, scenario, run_playbook):
    # issue 13: a bad tag leaves Pending ErrImagePull/ImagePullBackOff pods, and the controllers lag, so
    # observedGeneration trails generation after the undo (the module waits as kubectl rollout status does).
    scenario("bad-release-image-pull")
    assert deployment_state(sandbox_env)[:2] == (3, IMAGE % "v1.5.1")
    preview = run_playbook("playbooks/rollback.yml", "--check", "--diff")
    assert "Would do: roll back halobuzz/backend to revision 2" in summary_lines(preview.stdout)
    assert deployment_state(sandbox_env)[:2] == (3, IMAGE % "v1.5.1")

    first = run_playbook("playbooks/rollback.yml")
    assert first.recap["localhost"]["changed"] == 1
    assert deployment_state(sandbox_env)[:2] == (4, IMAGE % "v1.5.0")
    assert healthz_status(sandbox_env) == 200
    assert "3/3 pods Ready" in summary_lines(first.stdout)
    second = run_playbook("playbooks/rollback.yml")
    assert second.recap["localhost"]["changed"] == 0
    check = run_playbook("playbooks/rollback.yml", "--check", "--diff")
    assert check.recap["localhost"]["changed"] == 0
    assert deployment_state(sandbox_env)[:2] == (4, IMAGE % "v1.5.0")


def test_pods_of_an_overlapping_canary_deployment_do_not_count(sandbox_env, scenario, run_playbook):
    """issue 13 bug 3: the rollback's "every pod Ready" check counted every pod the Deployment's selector
    matches. A canary Deployment whose pods carry app=backend too (its own selector adds track=canary, so the
    backend ReplicaSets never adopt them: kubernetes pkg/controller/controller_ref_manager.go claims only
    orphans) made a successful rollback fail after its retries (4 pods for 3 replicas). Only the pods the
    restored ReplicaSet controls count (kubectl rollout status judges the Deployment's own status)."""
    scenario("bad-release")
    labels = {"app": NAME, "track": "canary"}
    canary = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "backend-canary", "namespace": NS, "labels": labels},
              "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                       "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                           {"name": NAME, "image": IMAGE % "v1.6.0-rc1", "ports": [{"containerPort": 8080}]}]}}}}
    subprocess.run(["kubectl", "--kubeconfig", sandbox_env["KUBECONFIG"], "apply", "-f", "-"], input=json.dumps(canary),
                   capture_output=True, text=True, check=True, timeout=60)
    subprocess.run(["kubectl", "--kubeconfig", sandbox_env["KUBECONFIG"], "-n", NS, "rollout", "status",
                    "deployment/backend-canary", "--timeout=120s"], capture_output=True, text=True, check=True,
                   timeout=180)
    # the old check retried rollout_timeout // 2 times: fail within a minute on the old code, not five
    first = run_playbook("playbooks/rollback.yml", "-e", "rollout_timeout=60")
    assert first.recap["localhost"]["changed"] == 1
    assert deployment_state(sandbox_env)[:2] == (4, IMAGE % "v1.5.0")
    assert "3/3 pods Ready" in summary_lines(first.stdout)


def test_rollback_to_named_revision_is_idempotent(sandbox_env, scenario, run_playbook):
    scenario("bad-release")
    first = run_playbook("playbooks/rollback.yml", "-e", "to_revision=1")
    assert first.recap["localhost"]["changed"] == 1
    assert deployment_state(sandbox_env)[:2] == (4, IMAGE % "v1.4.0")
    assert healthz_status(sandbox_env) == 200

    # Revision 1 was renumbered 4; the same command recognises it as done.
    again = run_playbook("playbooks/rollback.yml", "-e", "to_revision=1")
    assert again.recap["localhost"]["changed"] == 0
    assert deployment_state(sandbox_env)[:2] == (4, IMAGE % "v1.4.0")


def test_unknown_revision_fails_listing_revisions_and_changes_nothing(sandbox_env, scenario, run_playbook):
    scenario("bad-release", read_only=True)  # asserts that it changes nothing
    before = deployment_state(sandbox_env)
    result = run_playbook("playbooks/rollback.yml", "-e", "to_revision=99", check=False)
    assert result.rc != 0
    assert result.recap["localhost"]["changed"] == 0
    assert "revision 99 is not in the rollout history of Deployment halobuzz/backend" in result.stdout
    assert "available revisions: 1, 2, 3" in result.stdout
    assert "revisionHistoryLimit" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert deployment_state(sandbox_env) == before


def test_check_diff_shows_images_and_changes_nothing(sandbox_env, scenario, run_playbook):
    scenario("bad-release", read_only=True)  # asserts that it changes nothing
    before = deployment_state(sandbox_env)
    result = run_playbook("playbooks/rollback.yml", "--check", "--diff", "-e", "to_revision=2")
    assert '-        "backend": "%s"' % (IMAGE % "v1.5.1") in result.stdout
    assert '+        "backend": "%s"' % (IMAGE % "v1.5.0") in result.stdout
    assert "Would do: roll back halobuzz/backend to revision 2" in summary_lines(result.stdout)
    assert "image backend: %s -> %s" % (IMAGE % "v1.5.1", IMAGE % "v1.5.0") in summary_lines(result.stdout)
    assert deployment_state(sandbox_env) == before
    assert healthz_status(sandbox_env) != 200


def test_health_still_failing_fails_clearly_without_flipping(sandbox_env, scenario, run_playbook):
    scenario("bad-release", read_only=True)  # asserts that it changes nothing
    before = deployment_state(sandbox_env)
    # to_revision=3 is the live (bad) release: nothing to roll back, and health fails.
    result = run_playbook("playbooks/rollback.yml", "-e", "to_revision=3", "-e", "healthz_retries=2",
                          "-e", "healthz_delay=1", check=False)
    assert result.rc != 0
    assert "still does not return 200 after 2 tries" in result.stdout
    assert "does not roll back again" in result.stdout
    assert deployment_state(sandbox_env) == before


# -- the modules ---------------------------------------------------------------------

def test_info_reports_history_images_and_live_revision(sandbox_env, scenario):
    scenario("bad-release", read_only=True)  # asserts that it changes nothing
    rc, result = run_module(sandbox_env, "k8s_rollout_info", name=NAME, namespace=NS)
    assert rc == 0 and result["changed"] is False
    assert [(e["revision"], e["images"]["backend"], e["live"]) for e in result["history"]] == [
        (1, IMAGE % "v1.4.0", False), (2, IMAGE % "v1.5.0", False), (3, IMAGE % "v1.5.1", True)]
    assert result["history"][0]["change_cause"] == "release v1.4.0: gifts leaderboard"
    assert all(e["replicaset"].startswith("backend-") and e["created"] for e in result["history"])
    assert result["live_revision"] == 3
    assert result["deployment"]["rollout_complete"] is False


@pytest.mark.parametrize("args, message", [
    ({"name": "no-such-app", "namespace": NS}, "Deployment 'no-such-app' not found in namespace 'halobuzz'; "
                                               "Deployments there: "),
    ({"name": NAME, "namespace": "no-such-ns"}, "namespace 'no-such-ns' does not exist"),
    # issue 13 bug 8: this name used to reach halobuzz/streaming through the unquoted API path
    ({"name": "x/../../../halobuzz/deployments/streaming", "namespace": "default"},
     "name (deployment) 'x/../../../halobuzz/deployments/streaming' is not a valid Deployment name"),
    ({"name": NAME, "namespace": "halobuzz/deployments/streaming#"}, "is not a valid Kubernetes namespace name"),
])
def test_unknown_deployment_or_namespace_is_named(sandbox_env, args, message):
    for module in ("k8s_rollout_info", "k8s_rollout"):
        rc, result = run_module(sandbox_env, module, **args)
        assert rc != 0 and message in result["msg"], result
        assert "Traceback" not in json.dumps(result)


def test_wait_timeout_reports_ready_replicas_and_pod_reasons(sandbox_env, scenario):
    scenario("bad-release")
    rc, result = run_module(sandbox_env, "k8s_rollout", name=NAME, namespace=NS, to_revision=2)
    assert rc == 0 and result["changed"] is True and result["rollout"]["complete"] is True
    # after also carries what else differs (issue 19, template_diff): here the change-cause of the release
    assert result["after"] == {"revision": 4, "images": {"backend": IMAGE % "v1.5.0"},
                               "change_cause": "release v1.5.0: Khalti wallet payments"}
    # Back to the broken release on purpose: the wait must time out and say why.
    rc, result = run_module(sandbox_env, "k8s_rollout", name=NAME, namespace=NS, to_revision=3,
                            wait_timeout=4)
    assert rc != 0
    assert "timed out after 4s waiting for Deployment halobuzz/backend to roll out" in result["msg"]
    assert "replicas ready" in result["msg"] and "/3 replicas ready" in result["msg"]
    assert "CrashLoopBackOff" in result["msg"] or "Error" in result["msg"], result["msg"]


def test_restart_check_mode_then_for_real(sandbox_env, scenario):
    scenario("healthy")
    rc, result = run_module(sandbox_env, "k8s_rollout", check_mode=True, name="streaming", namespace=NS,
                            action="restart")
    assert rc == 0 and result["changed"] is True and result["msg"].startswith("would restart")
    rc, info = run_module(sandbox_env, "k8s_rollout_info", name="streaming", namespace=NS)
    assert info["deployment"]["revision"] == 1
    rc, result = run_module(sandbox_env, "k8s_rollout", name="streaming", namespace=NS, action="restart")
    assert rc == 0 and result["changed"] is True and result["rollout"]["complete"] is True
    assert result["after"]["revision"] == 2 and result["after"]["restarted_at"]
