"""One judgement of pods for the modules and the pod_problems filter (plugins/module_utils/k8s/pods.py).

Reasons as kubectl's pod printer shows them (kubernetes pkg/printers/internalversion/printers.go printPod).
"""
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pods import (
    controller_of,
    describe_problem,
    is_ready,
    is_terminating,
    pod_problems,
)


def _pod(name, ready, container_state=None, conditions=None, phase="Running", restarts=0, init=None):
    status = {"phase": phase, "conditions": conditions or [{"type": "Ready", "status": "True" if ready else "False"}]}
    if container_state:
        status["containerStatuses"] = [{"name": "api", "state": container_state, "restartCount": restarts}]
    if init:
        status["initContainerStatuses"] = [{"name": "migrate", "state": init, "restartCount": 0}]
    return {"metadata": {"name": name}, "status": status}


@pytest.mark.parametrize("pod, expected", [
    (_pod("p1", True), None),
    (_pod("p2", False, {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}, restarts=4),
     "p2: CrashLoopBackOff (back-off 40s), 4 restarts"),
    (_pod("p3", False, {"waiting": {"reason": "ImagePullBackOff"}}), "p3: ImagePullBackOff"),
    (_pod("p4", False, conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
          phase="Pending"), "p4: PodScheduled: Unschedulable"),
    (_pod("p5", False, {"running": {}}), "p5: not ready"),
    (_pod("p6", False, {"terminated": {"reason": "OOMKilled"}}), "p6: OOMKilled"),
    (_pod("p7", False, {"waiting": {"reason": "PodInitializing"}}, phase="Pending",
          init={"waiting": {"reason": "CrashLoopBackOff"}}), "p7: Init:CrashLoopBackOff; PodInitializing"),
    (_pod("p8", False, {"running": {}}, init={"terminated": {"reason": "Completed", "exitCode": 0}}), "p8: not ready"),
])
def test_pod_problems_described(pod, expected):
    problems = [describe_problem(p) for p in pod_problems([pod])]
    assert problems == ([] if expected is None else [expected])


def test_terminating_pods_are_problems_unless_left_out():
    pod = _pod("old", True)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert is_terminating(pod) and is_ready(pod)
    assert [p["reasons"] for p in pod_problems([pod])] == [["terminating"]]
    assert pod_problems([pod], include_terminating=False) == []


def test_problems_are_in_name_order():
    assert [p["name"] for p in pod_problems([_pod("b", False), _pod("a", False)])] == ["a", "b"]


@pytest.mark.parametrize("refs, expected", [
    ([], None),
    ([{"kind": "ReplicaSet", "name": "rs", "controller": False}], None),
    ([{"kind": "Node", "name": "n"}, {"kind": "ReplicaSet", "name": "rs", "controller": True}], "rs"),
])
def test_controller_of(refs, expected):
    owner = controller_of({"metadata": {"ownerReferences": refs}})
    assert (owner or {}).get("name") == expected


def test_no_ready_condition_is_not_ready():
    assert not is_ready({"status": {"phase": "Pending"}})
