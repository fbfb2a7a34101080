# -*- coding: utf-8 -*-
"""k8s_pod_logs' logic against a scripted fake of the API: what the Pod log API answers
(PodLogOptions; kubelet_pods.go validateContainerLogStatus: 400 "previous terminated container ... not found",
400 "... is waiting to start", 404 for a pod deleted between the list and the read)."""

import datetime
import json
import re
import threading

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pod_logs import (
    POD_LOGS_OPTIONS,
    PodLogsError,
    PodLogsService,
    check_params,
    collapse,
    event_facts,
    log_reads,
    parse_time,
    split_stamp,
)

NS = "halobuzz"
NOW = datetime.datetime(2026, 11, 29, 5, 0, 0, tzinfo=datetime.timezone.utc)


class ApiError(Exception):
    def __init__(self, status, reason, message=None):
        super().__init__(status)
        self.status, self.reason = status, reason
        self.body = json.dumps({"kind": "Status", "message": message}) if message else None


class Text:
    def __init__(self, text):
        self.data = text.encode()


class FakeDynamic:
    """GET answers by path; log answers by (pod, container, previous)."""

    def __init__(self, objects, logs):
        self.objects, self.logs = objects, logs
        self.calls, self.lock = [], threading.Lock()
        self.in_flight = self.peak = 0

    def request(self, method, path, **params):
        with self.lock:
            self.calls.append((method, path, params))
        if path.endswith("/log"):
            with self.lock:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            try:
                query = dict(params["query_params"])
                assert query["timestamps"] == "true" and "sinceSeconds" in query
                key = (path.split("/")[-2], query["container"], query.get("previous") == "true")
                answer = self.logs.get(key)
                if answer is None:
                    raise ApiError(400, "Bad Request", 'previous terminated container "%s" in pod "%s" not found'
                                   % (key[1], key[0]))
                if isinstance(answer, Exception):
                    raise answer
                return Text(answer)
            finally:
                with self.lock:
                    self.in_flight -= 1
        if path not in self.objects:
            raise ApiError(404, "Not Found", "not found")
        return self.objects[path]


def pod(name, ready=True, restarts=0, state=None, last=None, deleting=False):
    status = {"name": "backend", "ready": ready, "restartCount": restarts,
              "state": state or {"running": {"startedAt": "2026-11-29T04:00:00Z"}}}
    if last:
        status["lastState"] = {"terminated": last}
    meta = {"name": name, "namespace": NS, "labels": {"app": "backend"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-29T04:59:00Z"
    return {"metadata": meta, "spec": {"nodeName": "node-a", "containers": [{"name": "backend"}]},
            "status": {"phase": "Running", "startTime": "2026-11-29T04:00:00Z",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [status]}}


def params(**overrides):
    base = dict((key, spec.get("default")) for key, spec in POD_LOGS_OPTIONS.items())
    base.update(k8s_namespace=NS, deployment="backend")
    base.update(overrides)
    return base


def run(pod_list, logs, events=(), **overrides):
    objects = {
        "/apis/apps/v1/namespaces/halobuzz/deployments/backend": {
            "spec": {"selector": {"matchLabels": {"app": "backend"}}}},
        "/api/v1/namespaces/halobuzz/pods": {"items": pod_list},
        "/api/v1/namespaces/halobuzz/events": {"items": list(events)},
    }
    fake = FakeDynamic(objects, logs)
    p = params(**overrides)
    result = PodLogsService(KubeClient(fake), NS, now=lambda: NOW).collect(p, check_params(p))
    return result, fake


CRASHED = {"exitCode": 1, "reason": "Error", "containerID": "containerd://abc",
           "startedAt": "2026-11-29T04:40:00Z", "finishedAt": "2026-11-29T04:41:00Z"}


def test_identical_lines_of_three_pods_collapse_with_count_and_times():
    logs = dict((("backend-%d" % i, "backend", False),
                 "2026-11-29T04:4%d:00.5Z 2026-11-26T22:03:11.400Z ERROR MongoNetworkError: closed\n"
                 "2026-11-29T04:4%d:01Z INFO ok %d\n" % (i, i, i)) for i in range(3))
    result, fake = run([pod("backend-%d" % i) for i in range(3)], logs, pattern="MongoNetworkError")
    assert result["matches"] == [{
        "message": "ERROR MongoNetworkError: closed", "count": 3,
        "first_seen": "2026-11-29T04:40:00.5Z", "last_seen": "2026-11-29T04:42:00.5Z",
        "pods": ["backend-0", "backend-1", "backend-2"], "containers": ["backend"]}]
    assert result["window"] == {"since": "2026-11-29T04:00:00Z", "until": "2026-11-29T05:00:00Z"}
    assert result["label_selector"] == "app=backend"
    # one list call for the pods, no events (all Ready), one log read per container
    gets = [call[1] for call in fake.calls]
    assert gets.count("/api/v1/namespaces/halobuzz/pods") == 1
    assert "/api/v1/namespaces/halobuzz/events" not in gets
    assert result["pods"][0]["containers"][0]["log"].startswith("2026-11-29T04:40:00.5Z")


def test_restarted_container_gets_its_previous_log_and_a_missing_previous_is_null():
    running_again = pod("backend-0", restarts=3, last=CRASHED)
    never_restarted = pod("backend-1")
    logs = {("backend-0", "backend", False): "2026-11-29T04:50:00Z INFO up\n",
            ("backend-0", "backend", True): "2026-11-29T04:41:00Z ERROR FATAL heap out of memory\n",
            ("backend-1", "backend", False): ""}
    result, fake = run([running_again, never_restarted], logs)
    first = result["pods"][0]["containers"][0]
    assert first["previous_log"].endswith("heap out of memory\n") and first["restart_count"] == 3
    assert result["pods"][1]["containers"][0]["previous_log"] is None
    previous_reads = [p for dummy_method, path, p in fake.calls if path.endswith("/log") and
                      dict(p["query_params"]).get("previous") == "true"]
    assert len(previous_reads) == 1          # restartCount 0: no previous read at all


def test_crashloop_container_is_read_once_and_a_stale_previous_answers_400():
    crashloop = pod("backend-0", ready=False, restarts=3, last=CRASHED,
                    state={"waiting": {"reason": "CrashLoopBackOff"}})
    result, dummy_fake = run([crashloop], {})   # the fake answers 400 previous terminated container not found
    container = result["pods"][0]["containers"][0]
    assert container["log"] is None and container["previous_log"] is None
    assert result["matches"] == []


def test_waiting_to_start_is_not_read():
    creating = pod("backend-0", ready=False, state={"waiting": {"reason": "ContainerCreating"}})
    assert log_reads(creating, True) == []


def test_pod_deleted_mid_read_keeps_its_facts_and_warns():
    logs = {("backend-0", "backend", False): ApiError(404, "Not Found", 'pods "backend-0" not found'),
            ("backend-1", "backend", False): "2026-11-29T04:50:00Z ERROR x\n"}
    result, dummy_fake = run([pod("backend-0", deleting=True), pod("backend-1")], logs)
    assert [p["name"] for p in result["pods"]] == ["backend-0", "backend-1"]
    assert result["warnings"] == ["pod halobuzz/backend-0 was deleted while its logs were read"]
    assert result["matches"][0]["pods"] == ["backend-1"]


def test_events_only_for_pods_not_ready_in_one_call():
    events = [
        {"involvedObject": {"kind": "Pod", "name": "backend-0"}, "type": "Warning", "reason": "BackOff",
         "message": "Back-off restarting failed container", "count": 4,
         "firstTimestamp": "2026-11-29T04:41:00Z", "lastTimestamp": "2026-11-29T04:55:00Z"},
        {"involvedObject": {"kind": "Pod", "name": "backend-1"}, "type": "Normal", "reason": "Pulled",
         "message": "pulled", "count": 1, "firstTimestamp": "2026-11-29T04:00:00Z",
         "lastTimestamp": "2026-11-29T04:00:00Z"}]
    crashloop = pod("backend-0", ready=False, restarts=3, last=CRASHED,
                    state={"waiting": {"reason": "CrashLoopBackOff"}})
    logs = {("backend-0", "backend", True): "2026-11-29T04:41:00Z ERROR boom\n",
            ("backend-1", "backend", False): ""}
    result, fake = run([crashloop, pod("backend-1")], logs, events=events)
    assert result["pods"][0]["events"] == [{
        "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container", "count": 4,
        "first_seen": "2026-11-29T04:41:00Z", "last_seen": "2026-11-29T04:55:00Z"}]
    assert result["pods"][1]["events"] == []
    event_calls = [p for dummy_method, path, p in fake.calls if path.endswith("/events")]
    assert event_calls == [{"field_selector": "involvedObject.kind=Pod"}]


def test_include_logs_false_returns_no_text_but_matches():
    logs = {("backend-0", "backend", False): "2026-11-29T04:50:00Z ERROR secret-free line\n"}
    result, dummy_fake = run([pod("backend-0")], logs, include_logs=False)
    assert result["pods"][0]["containers"][0]["log"] is None
    assert result["matches"][0]["count"] == 1


def test_concurrency_is_bounded():
    count = 20
    logs = dict((("backend-%02d" % i, "backend", False), "2026-11-29T04:50:00Z INFO %d\n" % i) for i in range(count))
    result, fake = run([pod("backend-%02d" % i) for i in range(count)], logs, max_concurrency=3)
    assert fake.peak <= 3
    assert len(result["matches"]) == count


def test_pods_by_name_warns_for_a_missing_one():
    logs = {("backend-0", "backend", False): ""}
    result, fake = run([pod("backend-0"), pod("backend-1")], logs, deployment=None, pods=["backend-0", "gone-1"])
    assert [p["name"] for p in result["pods"]] == ["backend-0"]
    assert result["warnings"] == ["pod halobuzz/gone-1 not found"]


def test_tail_and_since_are_sent_as_the_api_names_them():
    logs = {("backend-0", "backend", False): ""}
    dummy_result, fake = run([pod("backend-0")], logs, since_seconds=600, tail_lines=50)
    query = [dict(p["query_params"]) for dummy_method, path, p in fake.calls if path.endswith("/log")][0]
    assert query == {"container": "backend", "sinceSeconds": "600", "timestamps": "true", "tailLines": "50"}


@pytest.mark.parametrize("overrides, names", [
    (dict(k8s_namespace="Bad_NS"), "k8s_namespace"),
    (dict(deployment="../secrets"), "deployment"),
    (dict(deployment=None, pods=[]), "pods"),
    (dict(since_seconds=0), "since_seconds"),
    (dict(tail_lines=-1), "tail_lines"),
    (dict(max_concurrency=0), "max_concurrency"),
    (dict(pattern="(unclosed"), "pattern"),
])
def test_bad_input_names_the_option(overrides, names):
    with pytest.raises(Exception) as error:
        check_params(params(**overrides))
    assert names in str(error.value) and "Nothing was called" in str(error.value)


def test_missing_deployment_is_a_clear_error():
    fake = FakeDynamic({}, {})
    with pytest.raises(PodLogsError, match="Deployment 'backend' not found in namespace 'halobuzz'"):
        PodLogsService(KubeClient(fake), NS).collect(params(), None)


def test_a_log_that_is_json_stays_text():
    logs = {("backend-0", "backend", False): '2026-11-29T04:50:00Z {"level":"error","msg":"x"}\n'}
    result, dummy_fake = run([pod("backend-0")], logs)
    assert result["matches"][0]["message"] == '{"level":"error","msg":"x"}'


@pytest.mark.parametrize("text, expected", [
    ("2026-11-29T04:51:26.123456789Z",
     datetime.datetime(2026, 11, 29, 4, 51, 26, 123456, tzinfo=datetime.timezone.utc)),
    ("2026-11-29T04:51:26Z", datetime.datetime(2026, 11, 29, 4, 51, 26, tzinfo=datetime.timezone.utc)),
    ("2026-11-29T10:36:26+05:45", datetime.datetime(2026, 11, 29, 4, 51, 26, tzinfo=datetime.timezone.utc)),
    ("not a time", None),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_collapse_orders_by_time_not_by_text():
    # RFC3339Nano trims zeros: "26Z" sorts after "26.5Z" as text but is earlier in time
    entries = [("p", "c", "2026-11-29T04:51:26.5Z B"), ("p", "c", "2026-11-29T04:51:26Z A")]
    assert [m["message"] for m in collapse(entries)] == ["A", "B"]
    assert collapse(entries, re.compile("B"))[0]["first_seen"] == "2026-11-29T04:51:26.5Z"
    assert split_stamp("no stamp here") == (None, "no stamp here")


def test_event_series_counts():
    event = {"type": "Warning", "reason": "BackOff", "message": "m", "eventTime": "2026-11-29T04:00:00.000000Z",
             "series": {"count": 7, "lastObservedTime": "2026-11-29T04:30:00.000000Z"}}
    assert event_facts(event)["count"] == 7
    assert event_facts(event)["last_seen"] == "2026-11-29T04:30:00.000000Z"
