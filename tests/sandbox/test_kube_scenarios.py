"""The Kubernetes scenarios of issue 13 (sandbox only): a bad release whose image does not exist
(ErrImagePull / ImagePullBackOff, lagging controllers) and a node under memory pressure that
left a Failed/Evicted pod. Every wait is on a condition (kubectl rollout status, polling)."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from sandbox_support import wait_for


def kubectl(env, *args):
    result = subprocess.run(["kubectl", *args, "-n", "halobuzz"], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, **env), check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def pods(env, selector="app=backend"):
    return json.loads(kubectl(env, "get", "pods", "-l", selector, "-o", "json"))["items"]


def waiting_reason(pod):
    state = ((pod["status"].get("containerStatuses") or [{}])[0].get("state") or {})
    return (state.get("waiting") or {}).get("reason")


def test_bad_release_image_pull_is_pending_image_pull_back_off_and_rolls_back(sandbox_env, scenario):
    scenario("bad-release-image-pull")
    dep = json.loads(kubectl(sandbox_env, "get", "deployment", "backend", "-o", "json"))
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    new = [p for p in pods(sandbox_env) if p["spec"]["containers"][0]["image"].endswith(":v1.5.1")]
    assert new and all(p["status"]["phase"] == "Pending" for p in new)
    # pkg/kubelet/images/image_manager.go: ErrImagePull, then ImagePullBackOff while backing off
    assert all(waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff") for p in new), new
    old = [p for p in pods(sandbox_env) if p["spec"]["containers"][0]["image"].endswith(":v1.5.0")]
    assert old and all(p["status"]["phase"] == "Running" for p in old)
    kubectl(sandbox_env, "rollout", "undo", "deployment/backend")
    kubectl(sandbox_env, "rollout", "status", "deployment/backend", "--timeout=120s")
    dep = json.loads(kubectl(sandbox_env, "get", "deployment", "backend", "-o", "json"))
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1.5.0")
    # the Pending pods of revision 3 are deleted (gracefully: Terminating for a moment, then gone)
    wait_for(lambda: not [p for p in pods(sandbox_env) if p["status"]["phase"] == "Pending"],
             "the Pending v1.5.1 pods to go", poll=0.2)


def test_node_pressure_leaves_one_failed_evicted_pod(sandbox_env, scenario):
    scenario("node-pressure")
    evicted = [p for p in pods(sandbox_env, "app") if p["status"].get("reason") == "Evicted"]
    assert len(evicted) == 1, evicted
    pod = evicted[0]
    assert pod["status"]["phase"] == "Failed" and pod["spec"]["nodeName"] == "node-2"
    assert not pod["metadata"].get("deletionTimestamp")   # kept until pod GC
    node = json.loads(kubectl(sandbox_env, "get", "node", "node-2", "-o", "json"))
    assert {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"} in [
        {k: t[k] for k in ("key", "effect")} for t in node["spec"].get("taints") or []]
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["MemoryPressure"] == "True"
    # the Deployments replaced the pod elsewhere: every Deployment is rolled out
    for name in ("backend", "streaming", "ai-engine"):
        kubectl(sandbox_env, "rollout", "status", "deployment/" + name, "--timeout=120s")
