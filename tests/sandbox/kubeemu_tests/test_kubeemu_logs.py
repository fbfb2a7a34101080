"""pods/log as a real kubelet behind the API server answers it, in-process (no server):

- which instance and which 400: pkg/kubelet/kubelet_pods.go validateContainerLogStatus
  ("previous terminated container %q in pod %q not found"; a container waiting after a crash answers its last
  terminated instance; one that never ran is "waiting to start");
- tailLines first, then sinceSeconds line by line by the line's own time, then the timestamps=true prefix in
  time.RFC3339Nano (trailing zeros trimmed): pkg/kubelet/kuberuntime/logs/logs.go ReadLogs;
- option validation before the pod is looked up, 422 Invalid: pkg/registry/core/pod/rest/log.go (LogREST.Get,
  ValidatePodLogOptions);
- a pod that is gone: 404 NotFound.
"""

import time

import pytest

from kubeemu.cluster import Cluster
from kubeemu.errors import ApiError
from kubeemu.resources import BY_KEY
from kubeemu.subresources import parse_age, pod_log, rfc3339nano

PODS = BY_KEY["pods"]
RUNNING = {"running": {"startedAt": None}}
TWO_DAYS = 2 * 86400


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def cluster_with(pod_logs, restarts=0, waiting=False, started_ago=60):
    cluster = Cluster({"pod_logs": pod_logs})
    pod = cluster.create(PODS, "default", {"metadata": {"name": "api-0", "labels": {"app": "api"}},
                                           "spec": {"nodeName": "n", "containers": [{"name": "api", "image": "i"}]}})
    now = time.time()
    status = {"name": "api", "ready": not waiting, "restartCount": restarts,
              "state": ({"waiting": {"reason": "CrashLoopBackOff" if restarts else "ContainerCreating"}} if waiting
                        else {"running": {"startedAt": iso(now - started_ago)}})}
    if restarts:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "containerID": "containerd://x",
                                              "startedAt": iso(now - started_ago - 120),
                                              "finishedAt": iso(now - started_ago - 60)}}
    pod["status"] = {"phase": "Running", "containerStatuses": [status]}
    cluster.write_status(PODS, pod)
    return cluster


def read(cluster, **query):
    return pod_log(cluster, "default", "api-0", dict((k, str(v).lower() if isinstance(v, bool) else str(v))
                                                     for k, v in query.items()))


def api_error(cluster, **query):
    with pytest.raises(ApiError) as error:
        read(cluster, **query)
    return error.value


def test_since_seconds_drops_a_two_day_old_line_and_keeps_the_fresh_ones():
    cluster = cluster_with([{"selector": {"app": "api"}, "lines": [
        {"line": "ERROR MongoNetworkError: connection 12 closed", "age": "2d"},
        "INFO started",
        {"line": "ERROR ValidationError: gift amount -499", "age": "30s"}]}])
    assert read(cluster).splitlines() == ["ERROR MongoNetworkError: connection 12 closed", "INFO started",
                                          "ERROR ValidationError: gift amount -499"]
    assert read(cluster, sinceSeconds=3600).splitlines() == ["INFO started", "ERROR ValidationError: gift amount -499"]


def test_timestamps_are_each_lines_own_time_in_rfc3339nano():
    cluster = cluster_with([{"selector": {"app": "api"}, "lines": [{"line": "old", "age": TWO_DAYS}, "new"]}])
    first, second = read(cluster, timestamps=True).splitlines()
    stamp_old, text_old = first.split(" ", 1)
    assert text_old == "old" and second.endswith(" new")
    assert abs(time.mktime(time.strptime(stamp_old[:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(
        time.gmtime(time.time() - TWO_DAYS))) < 5
    assert rfc3339nano(1764391886.5) == "2025-11-29T04:51:26.5Z"      # zeros trimmed, as Go's RFC3339Nano
    assert rfc3339nano(1764391886.0) == "2025-11-29T04:51:26Z"


def test_tail_lines_apply_before_since_seconds():
    cluster = cluster_with([{"selector": {"app": "api"}, "lines": [
        "a", "b", {"line": "c", "age": "2d"}]}])
    # the log file is in time order: c (two days old) first, then a, b; tail 2 = a, b
    assert read(cluster, tailLines=2).splitlines() == ["a", "b"]
    assert read(cluster, tailLines=3, sinceSeconds=3600).splitlines() == ["a", "b"]
    assert read(cluster, tailLines=0) == ""


def test_previous_without_a_terminated_instance_is_a_400():
    cluster = cluster_with([{"selector": {"app": "api"}, "lines": ["x"]}])
    error = api_error(cluster, previous=True)
    assert error.code == 400 and error.message == \
        'previous terminated container "api" in pod "api-0" not found'


def test_previous_instance_has_its_own_lines_and_a_crashloop_answers_the_last_instance():
    config = [{"selector": {"app": "api"}, "lines": ["current"]},
              {"selector": {"app": "api"}, "previous": True, "lines": ["FATAL heap out of memory"]}]
    running = cluster_with(config, restarts=3)
    assert read(running).splitlines() == ["current"]
    assert read(running, previous=True).splitlines() == ["FATAL heap out of memory"]
    crashloop = cluster_with(config, restarts=3, waiting=True)
    assert read(crashloop).splitlines() == ["FATAL heap out of memory"]
    assert read(crashloop, previous=True).splitlines() == ["FATAL heap out of memory"]


def test_waiting_to_start_is_a_400():
    error = api_error(cluster_with([], waiting=True))
    assert error.code == 400 and "is waiting to start: ContainerCreating" in error.message


@pytest.mark.parametrize("query, field", [({"sinceSeconds": 0}, "sinceSeconds"), ({"tailLines": -1}, "tailLines")])
def test_invalid_options_are_422_before_the_pod_is_looked_up(query, field):
    with pytest.raises(ApiError) as error:
        pod_log(Cluster({}), "default", "no-such-pod", dict((k, str(v)) for k, v in query.items()))
    assert error.value.code == 422 and field in error.value.message
    assert 'PodLogOptions "no-such-pod" is invalid' in error.value.message


def test_a_gone_pod_is_a_404():
    with pytest.raises(ApiError) as error:
        pod_log(Cluster({}), "default", "gone-0", {})
    assert error.value.code == 404


@pytest.mark.parametrize("lines", [[{"line": "x", "age": "two days"}], [{"text": "x"}], "x"])
def test_bad_log_lines_in_the_config_are_a_400(lines):
    with pytest.raises(ApiError) as error:
        Cluster({"pod_logs": [{"selector": {"app": "api"}, "lines": lines}]})
    assert error.value.code == 400 and "pod_logs" in error.value.message


@pytest.mark.parametrize("value, seconds", [(90, 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("2d", 172800)])
def test_parse_age(value, seconds):
    assert parse_age(value) == seconds
