# -*- coding: utf-8 -*-
"""RolloutService flows against a scripted fake of kubernetes' DynamicClient.request."""

import copy
import json

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import (
    JSON_PATCH,
    STRATEGIC_MERGE_PATCH,
    KubeClient,
)
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.rollout import RolloutError
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.rollout_service import RolloutService
from k8s_rollout_objects import bad_release, pods_of, replicaset

DEP_PATH = "/apis/apps/v1/namespaces/halobuzz/deployments/backend"
RS_PATH = "/apis/apps/v1/namespaces/halobuzz/replicasets"
POD_PATH = "/api/v1/namespaces/halobuzz/pods"


class ApiError(Exception):
    def __init__(self, status, reason, message=None):
        super().__init__(status)
        self.status, self.reason = status, reason
        self.body = json.dumps({"kind": "Status", "message": message}) if message else None


class FakeClient:
    """Answers GETs from a table of path -> list of responses (the last one repeats)."""

    def __init__(self, answers):
        self.answers = {path: list(values) for path, values in answers.items()}
        self.calls = []

    def request(self, method, path, **params):
        self.calls.append((method, path, params))
        if method == "patch":
            return {}
        values = self.answers.get(path)
        if values is None:
            raise ApiError(404, "Not Found", "%s not found" % path)
        value = values.pop(0) if len(values) > 1 else values[0]
        if isinstance(value, Exception):
            raise value
        return copy.deepcopy(value)

    def patches(self):
        return [(path, params) for method, path, params in self.calls if method == "patch"]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def service(answers):
    clock = Clock()
    client = FakeClient(answers)
    return RolloutService(KubeClient(client), "halobuzz", "backend", sleep=clock.sleep, clock=clock), client


def world(deployments=None):
    dep, rss = bad_release()
    return {DEP_PATH: deployments or [dep], RS_PATH: [{"items": rss}]}


def rolled_out(image, revision, generation=5):
    dep = bad_release()[0]
    dep["metadata"]["generation"] = generation
    dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(revision)
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
    dep["status"]["observedGeneration"] = generation
    return dep


def test_missing_namespace_is_named():
    svc, dummy_client = service({})
    with pytest.raises(RolloutError, match="namespace 'halobuzz' does not exist"):
        svc.info()


def test_missing_deployment_lists_the_ones_there():
    listing = {"items": [{"metadata": {"name": "streaming"}}, {"metadata": {"name": "ai-engine"}}]}
    svc, dummy_client = service({"/api/v1/namespaces/halobuzz": [{}],
                                 "/apis/apps/v1/namespaces/halobuzz/deployments": [listing]})
    with pytest.raises(RolloutError, match="Deployment 'backend' not found in namespace 'halobuzz'; "
                                           "Deployments there: ai-engine, streaming"):
        svc.undo()


def test_api_error_names_the_call():
    answers = world()
    answers[RS_PATH] = [ApiError(403, "Forbidden", 'replicasets.apps is forbidden: User "oncall" cannot list')]
    svc, dummy_client = service(answers)
    with pytest.raises(RolloutError) as caught:
        svc.undo()
    assert str(caught.value) == (
        "Kubernetes API call failed while listing the ReplicaSets of Deployment halobuzz/backend "
        "(GET %s): 403 Forbidden: replicasets.apps is forbidden: User \"oncall\" cannot list" % RS_PATH)


def test_info_reports_history_and_status():
    svc, client = service(world())
    info = svc.info()
    assert [entry["revision"] for entry in info["history"]] == [1, 2, 3]
    assert info["live_revision"] == 3 and info["rollback_record"] is None
    assert info["deployment"]["rollout_complete"] is True
    assert client.calls[1][2] == {"label_selector": "app=backend"}
    assert "pods" not in info and [path for _m, path, _p in client.calls] == [DEP_PATH, RS_PATH]


def test_info_with_pods_lists_them_by_the_deployments_selector_in_the_same_call():
    """pods=true: what kubernetes.core.k8s_info kind=Pod label_selectors=[<selector>] returns as resources."""
    dep, rss = bad_release()
    pods = pods_of(rss[-1], 2)
    svc, client = service(dict(world(), **{POD_PATH: [{"items": pods}]}))
    info = svc.info(include_pods=True)
    assert info["pods"] == pods
    assert client.calls[-1] == ("get", POD_PATH, {"label_selector": "app=backend"})


def test_undo_check_mode_sends_nothing():
    svc, client = service(world())
    result = svc.undo(check_mode=True)
    assert client.patches() == []
    assert result["changed"] is True
    assert result["before"] == {"revision": 3, "images": {"api": "registry/backend:v1.5.1"}}
    assert result["after"] == {"revision": 4, "images": {"api": "registry/backend:v1.5.0"}}
    assert result["msg"].startswith("would roll back halobuzz/backend from revision 3 to revision 2")


def test_undo_patches_and_waits_for_the_rollout():
    dep = bad_release()[0]
    pending = rolled_out("registry/backend:v1.5.0", 3)
    pending["status"]["observedGeneration"] = 4
    answers = world([dep, pending, rolled_out("registry/backend:v1.5.0", 4)])
    answers[POD_PATH] = [{"items": pods_of(bad_release()[1][1], 3)}]
    svc, client = service(answers)
    result = svc.undo(wait=True, timeout=30, interval=1)
    [(path, params)] = client.patches()
    assert path == DEP_PATH and params["content_type"] == JSON_PATCH
    assert params["body"][0]["value"]["spec"]["containers"][0]["image"] == "registry/backend:v1.5.0"
    assert result["after"] == {"revision": 4, "images": {"api": "registry/backend:v1.5.0"}}
    assert result["rollout"]["complete"] is True and result["rollout"]["ready"] == 3


def test_undo_already_live_is_not_a_change():
    answers = world()
    answers[POD_PATH] = [{"items": pods_of(bad_release()[1][2], 3)}]
    svc, client = service(answers)
    result = svc.undo(to_revision=3)
    assert result["changed"] is False and client.patches() == []
    assert "already matches revision 3" in result["msg"]


def test_wait_timeout_reports_replicas_and_pod_reasons():
    dep = bad_release()[0]
    stuck = rolled_out("registry/backend:v1.5.0", 4)
    stuck["status"].update(readyReplicas=1, availableReplicas=1, updatedReplicas=3)
    crash = {"metadata": {"name": "backend-v150-abcde"}, "status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "api", "restartCount": 5,
                               "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    answers = world([dep, stuck])
    answers[POD_PATH] = [{"items": [crash]}]
    svc, dummy_client = service(answers)
    with pytest.raises(RolloutError) as caught:
        svc.undo(wait=True, timeout=5, interval=1)
    message = str(caught.value)
    assert "timed out after 5s waiting for Deployment halobuzz/backend to roll out" in message
    assert "1/3 replicas ready, 3 updated, 1 available" in message
    assert "backend-v150-abcde: CrashLoopBackOff, 5 restarts" in message


def test_restart_uses_strategic_merge_patch():
    svc, client = service(world())
    checked = svc.restart("2026-11-26T22:00:00Z", check_mode=True)
    assert client.patches() == [] and checked["changed"] is True
    result = svc.restart("2026-11-26T22:00:00Z", wait=False)
    [(path, params)] = client.patches()
    assert params["content_type"] == STRATEGIC_MERGE_PATCH
    assert result["after"]["restarted_at"] == "2026-11-26T22:00:00Z"
    assert result["before"]["restarted_at"] is None


def test_predicted_revision_ignores_replicasets_of_other_owners():
    answers = world()
    stranger = replicaset(9, "registry/other:v9", name="other-9", owner_uid="another-deployment")
    answers[RS_PATH] = [{"items": answers[RS_PATH][0]["items"] + [stranger]}]
    svc, dummy_client = service(answers)
    assert svc.undo(check_mode=True)["after"]["revision"] == 4


# -- issue 13 regressions ------------------------------------------------------------------------

def _with_stale_deadline(dep, generation, observed):
    # progress.go syncRolloutStatus keeps a ProgressDeadlineExceeded condition while it sees neither
    # progress nor completion, and still writes the new observedGeneration (kubernetes
    # pkg/controller/deployment/progress.go, sync.go).
    dep["metadata"]["generation"] = generation
    dep["status"].update(observedGeneration=observed, updatedReplicas=0, availableReplicas=0, readyReplicas=0)
    dep["status"]["conditions"] = [{"type": "Progressing", "status": "False",
                                    "reason": "ProgressDeadlineExceeded",
                                    "message": 'ReplicaSet "backend-v151" has timed out progressing.'}]
    return dep


def test_stale_progress_deadline_right_after_the_undo_is_not_a_failure_replicas_1():
    dep = bad_release()[0]
    stale = _with_stale_deadline(rolled_out("registry/backend:v1.5.0", 4, generation=5), 5, 5)
    answers = world([dep, stale, rolled_out("registry/backend:v1.5.0", 4, generation=5)])
    answers[POD_PATH] = [{"items": pods_of(bad_release()[1][1], 3)}]
    svc, dummy_client = service(answers)
    result = svc.undo(wait=True, timeout=30, interval=1)
    assert result["rollout"]["complete"] is True


def test_progress_deadline_counts_once_observed_and_the_deadline_passed_again():
    dep = bad_release()[0]
    stale = _with_stale_deadline(rolled_out("registry/backend:v1.5.0", 4, generation=5), 5, 5)
    stale["spec"]["progressDeadlineSeconds"] = 5
    svc, dummy_client = service(world([dep, stale]))
    with pytest.raises(RolloutError, match="exceeded its progress deadline"):
        svc.undo(wait=True, timeout=100, interval=1)
    assert svc.clock() == 5


def test_every_pod_ready_counts_only_the_new_replicaset_of_this_deployment():
    # Failed/Evicted pods keep no deletionTimestamp until pod GC, and another Deployment's pods can match
    # the selector: neither may keep a finished rollback waiting.
    dep = bad_release()[0]
    good_rs = bad_release()[1][1]
    other = replicaset(1, "registry/other:v1", name="canary-1", owner_uid="another-deployment")
    pods = (pods_of(good_rs, 3) + pods_of(good_rs, 2, ready=False, phase="Failed", prefix="evicted")
            + pods_of(other, 2, ready=False) + pods_of(good_rs, 1, ready=False, prefix="t", terminating=True))
    answers = world([dep, rolled_out("registry/backend:v1.5.0", 4)])
    answers[POD_PATH] = [{"items": pods}]
    svc, dummy_client = service(answers)
    assert svc.undo(wait=True, timeout=30, interval=1)["rollout"]["complete"] is True


def test_wait_holds_until_the_new_pods_are_ready():
    dep = bad_release()[0]
    good_rs = bad_release()[1][1]
    answers = world([dep, rolled_out("registry/backend:v1.5.0", 4)])
    answers[POD_PATH] = [{"items": pods_of(good_rs, 3, ready=False)}, {"items": pods_of(good_rs, 3)}]
    svc, dummy_client = service(answers)
    assert svc.undo(wait=True, timeout=30, interval=1)["rollout"]["complete"] is True
    assert svc.clock() == 1


def test_undo_patch_carries_a_resource_version_precondition():
    answers = world()
    answers[DEP_PATH][0]["metadata"]["resourceVersion"] = "4711"
    svc, client = service(answers)
    svc.undo(wait=False)
    [(dummy_path, params)] = client.patches()
    assert params["body"][0] == {"op": "replace", "path": "/metadata/resourceVersion", "value": "4711"}


def test_concurrent_deploy_gives_changed_underneath_error():
    class Conflicting(FakeClient):
        def request(self, method, path, **params):
            if method == "patch":
                self.calls.append((method, path, params))
                raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on deployments.apps "backend": '
                                                "the object has been modified")
            return super().request(method, path, **params)

    dep, rss = bad_release()
    dep["metadata"]["resourceVersion"] = "4711"
    clock = Clock()
    client = Conflicting({DEP_PATH: [dep], RS_PATH: [{"items": rss}]})
    svc = RolloutService(KubeClient(client), "halobuzz", "backend", sleep=clock.sleep, clock=clock)
    with pytest.raises(RolloutError, match="changed underneath this rollback .*resourceVersion 4711.*rerun"):
        svc.undo(wait=True)
