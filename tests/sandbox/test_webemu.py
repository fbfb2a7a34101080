"""The web emulators: exporter endpoints, HaloBuzz healthz, provider status pages, Slack webhook, PagerDuty.

Pure functions are table-driven; the HTTP behaviour is checked on the real servers, started
in-process on port 0 (no sandbox needed).
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

from sandboxlib import world
from webemu import api, metrics, pagerduty, providers, slack
from webemu.common import State

# ------------------------------------------------------------------ exporters: pure parts

@pytest.mark.parametrize("value, text", [(3, "3"), (0.5, "0.5"), (float("inf"), "+Inf"), (1e20, "1e+20")])
def test_fmt_writes_sample_values(value, text):
    assert metrics.fmt(value) == text


@pytest.mark.parametrize("quantity, value", [("512Mi", 512 * 2**20), ("2Gi", 2 * 2**30), ("1", 1.0),
                                             ("250m", 0.25), ("1.5G", 1.5e9)])
def test_parse_quantity(quantity, value):
    assert metrics.parse_quantity(quantity) == pytest.approx(value)


def test_latency_cdf_passes_through_the_quantiles():
    points = metrics.quantile_cdf({"p50": 0.1, "p95": 0.5, "p99": 1.0})
    assert [metrics.cdf_at(points, x) for x in (0.1, 0.5, 1.0, 2.0, 5.0)] == [0.5, 0.95, 0.99, 1.0, 1.0]


def test_counters_integrate_their_rate_and_never_go_down():
    c = metrics.Counters()
    assert c.add("x", {}, 10.0, 100.0) == 0.0
    assert c.add("x", {}, 10.0, 102.0) == 20.0
    assert c.add("x", {}, 1.0, 104.0) == 22.0          # a new scenario changes the slope, not the total
    assert c.at_least("r", {}, 3, 1.0) == 3.0
    assert c.at_least("r", {}, 1, 2.0) == 3.0


def _snap(backend_available, engine_available=2):
    return {"deployments": [
        {"metadata": {"name": "backend"}, "spec": {"replicas": 3}, "status": {"availableReplicas": backend_available}},
        {"metadata": {"name": "ai-engine"}, "spec": {"replicas": 2},
         "status": {"availableReplicas": engine_available}}],
        "pods": [], "pod_metrics": []}


def _rates(text_before: str, text_after: str, seconds: float) -> dict:
    def parse(text):
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out
    before, after = parse(text_before), parse(text_after)
    return {name: (after[name] - before.get(name, 0.0)) / seconds for name in after}


def _ratio(rates: dict, name: str, match: str) -> float:
    total = sum(v for k, v in rates.items() if k.startswith(name + "{"))
    return sum(v for k, v in rates.items() if k.startswith(name + "{") and match in k) / total


@pytest.mark.parametrize("scenario, available, low, high", [
    ("healthy", 3, 0.0, 0.005),
    ("high-error-rate", 3, 0.0799, 0.0801),    # 221.2 of 240 requests/s served: 7.84 % shed + 0.17 %
    ("high-error-rate", 5, 0.0, 0.005),        # after the scale-up to 5 replicas
    ("bad-release", 3, 0.035, 0.045),
])
def test_api_error_share_follows_the_ready_backend_pods(scenario, available, low, high):
    spec = world.resolve(scenario)["metrics"]
    c = metrics.Counters()
    first = metrics.api_metrics(spec, "halobuzz", _snap(available), c, 1000.0)
    rates = _rates(first, metrics.api_metrics(spec, "halobuzz", _snap(available), c, 1010.0), 10.0)
    assert low <= _ratio(rates, "http_requests_total", 'status="5') <= high


def _restarted(snap, at: str, rolled_out: bool = True):
    """`snap` with the backend restarted at `at` (kubectl rollout restart's annotation), rolled out or still rolling."""
    backend = snap["deployments"][0]
    backend["metadata"].update(generation=2)
    backend["spec"]["template"] = {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": at}}}
    backend["status"] = {"observedGeneration": 2, "replicas": 3, "availableReplicas": 3,
                         "updatedReplicas": 3 if rolled_out else 1}
    return snap


SWITCH = 1764400000.0                  # 2025-11-29T07:06:40Z, the scenario switch
AFTER, BEFORE = "2025-11-29T07:07:30Z", "2025-11-29T07:05:00Z"


@pytest.mark.parametrize("scenario, patch, snap, share", [
    ("healthy", {}, _snap(3), 0.0004),
    ("db-corruption", {}, _snap(3), 0.85),                                      # stale pools, MongoDB answers
    ("db-corruption", {}, _restarted(_snap(3), AFTER), 0.0004),                 # db_connection_lost.yml's restart
    ("db-corruption", {}, _restarted(_snap(3), AFTER, rolled_out=False), 0.85),  # old pods still serve
    ("db-corruption", {}, _restarted(_snap(3), BEFORE), 0.85),                  # a restart before the incident
    ("db-corruption", {"mongodb": {"up": 0}}, _restarted(_snap(3), AFTER), 1.0),  # MongoDB down: no restart helps
    ("healthy", {"mongodb": {"up": 0}}, _snap(3), 1.0),
])
def test_backend_mongodb_commands_fail_until_a_restart_renews_the_pools(scenario, patch, snap, share):
    spec = world.deep_merge(world.resolve(scenario)["metrics"], patch)
    ratio = metrics.driver_error_ratio(spec, snap, SWITCH)
    assert ratio == share
    c = metrics.Counters()
    first = metrics.api_metrics(spec, "halobuzz", snap, c, 1000.0, db_error_ratio=ratio)
    rates = _rates(first, metrics.api_metrics(spec, "halobuzz", snap, c, 1010.0, db_error_ratio=ratio), 10.0)
    counts = {k: v for k, v in rates.items() if k.startswith("mongodb_driver_commands_seconds_count{")}
    assert sum(counts.values()) == pytest.approx(440.0)
    assert _ratio(counts, "mongodb_driver_commands_seconds_count", 'status="ERROR"') == pytest.approx(share)


def test_payment_failures_and_moderation_follow_the_scenario():
    spec = world.resolve("payment-failures")["metrics"]
    c = metrics.Counters()
    first = metrics.api_metrics(spec, "halobuzz", _snap(3, engine_available=0), c, 0.0)
    text = metrics.api_metrics(spec, "halobuzz", _snap(3, engine_available=0), c, 10.0)
    rates = _rates(first, text, 10.0)
    assert 0.1 < _ratio(rates, "payments_total", 'status="failed"') < 0.2
    assert 'moderation_queue_depth{namespace="halobuzz"} 4810' in text
    assert rates['moderation_model_errors_total{namespace="halobuzz",model="halobuzz-moderation"}'] == 20.0
    # the runbook's fallback (AI_MODERATION=false on the backend) stops the calls to the model
    fallback = _snap(3, engine_available=0)
    fallback["deployments"][0]["spec"]["template"] = {"spec": {"containers": [
        {"name": "backend", "env": [{"name": "AI_MODERATION", "value": "false"}]}]}}
    later = metrics.api_metrics(spec, "halobuzz", fallback, c, 20.0)
    rates = _rates(text, later, 10.0)
    assert rates['moderation_model_errors_total{namespace="halobuzz",model="halobuzz-moderation"}'] == 0.0
    assert 'moderation_queue_depth{namespace="halobuzz"} 12' in later


def test_memory_ramp_and_kube_state_series():
    pod = {"metadata": {"name": "backend-1", "uid": "u1", "creationTimestamp": "1970-01-01T00:00:00Z"},
           "spec": {"nodeName": "node-1", "containers": [
               {"name": "backend", "image": "b:1", "resources": {"limits": {"memory": "2Gi", "cpu": "1"}}}]},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                      "containerStatuses": [{"name": "backend", "restartCount": 4,
                                             "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    snap = dict(_snap(3), pods=[pod], pod_metrics=[
        {"metadata": {"name": "backend-1"}, "containers": [{"name": "backend", "usage": {"memory": "600Mi"}}]}])
    spec = {"memory_ramp": {"backend": {"from": "1Gi", "to": "2Gi", "seconds": 100}}}
    half = metrics.cadvisor_metrics(spec, snap, "halobuzz", started=0.0, now=50.0)
    assert f'container="backend",image="b:1"}} {1.5 * 2**30:.0f}' in half
    assert f"{600 * 2**20}" in metrics.cadvisor_metrics({}, snap, "halobuzz", started=0.0, now=50.0)
    # a pod started 25 s after the switch (a restart) is a quarter of the way up at 50 s
    pod["metadata"]["creationTimestamp"] = "1970-01-01T00:00:25Z"
    restarted = metrics.cadvisor_metrics(spec, snap, "halobuzz", started=0.0, now=50.0)
    assert f'container="backend",image="b:1"}} {1.25 * 2**30:.0f}' in restarted
    ksm = metrics.kube_state_metrics(snap, "halobuzz", metrics.Counters(), 1.0)
    assert 'kube_pod_container_status_restarts_total{namespace="halobuzz",pod="backend-1",uid="u1",' \
           'container="backend"} 4' in ksm
    assert 'reason="CrashLoopBackOff"} 1' in ksm
    assert 'resource="memory",unit="byte"} 2147483648' in ksm
    assert 'kube_deployment_status_replicas_available{namespace="halobuzz",deployment="backend"} 3' in ksm


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian package prometheus) is not installed")
@pytest.mark.parametrize("scenario", ["healthy", "memory-leak"])
def test_every_exposition_passes_promtool_check_metrics(scenario):
    """The text the real Prometheus parses, checked by Prometheus' own linter."""
    spec = world.resolve(scenario)["metrics"]
    pod = {"metadata": {"name": "backend-1", "uid": "u1"},
           "spec": {"containers": [{"name": "backend", "resources": {"limits": {"memory": "2Gi"}}}]},
           "status": {"phase": "Running", "containerStatuses": [{"name": "backend", "restartCount": 1}]}}
    snap = dict(_snap(3), pods=[pod])
    for text in (metrics.api_metrics(spec, "halobuzz", snap, metrics.Counters(), 1.0),
                 metrics.kube_state_metrics(snap, "halobuzz", metrics.Counters(), 1.0),
                 metrics.cadvisor_metrics(spec, snap, "halobuzz", 0.0, 1.0), metrics.mongodb_metrics(spec, "halobuzz")):
        result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                                timeout=30, check=False)
        # exit 1 for a parse error, 3 for a lint problem (a counter without _total, no HELP, ...)
        assert (result.returncode, result.stdout + result.stderr) == (0, ""), text


# ------------------------------------------------------------------ pagerduty: validation

KEY = "k" * 32


@pytest.mark.parametrize("event, error", [
    ({"routing_key": KEY, "event_action": "trigger",
      "payload": {"summary": "s", "source": "x", "severity": "critical"}}, None),
    ({"routing_key": KEY, "event_action": "resolve", "dedup_key": "d"}, None),
    ({"routing_key": "short", "event_action": "resolve", "dedup_key": "d"}, "Length of 'routing_key' is incorrect"),
    ({"event_action": "resolve", "dedup_key": "d"}, "'routing_key' is missing"),
    ({"routing_key": KEY, "event_action": "page", "dedup_key": "d"}, "'event_action' is invalid"),
    ({"routing_key": KEY, "event_action": "acknowledge"}, "'dedup_key' is missing"),
    ({"routing_key": KEY, "event_action": "resolve", "dedup_key": "d" * 256}, "at most 255"),
    ({"routing_key": KEY, "event_action": "trigger"}, "'payload' is missing"),
    ({"routing_key": KEY, "event_action": "trigger",
      "payload": {"summary": "s", "source": "x", "severity": "P0"}}, "'payload.severity' is invalid"),
    ({"routing_key": KEY, "event_action": "trigger",
      "payload": {"summary": "", "source": "x", "severity": "info"}}, "'payload.summary' is missing"),
    ([1], "must be a JSON object"),
])
def test_pagerduty_validate(event, error):
    errors = pagerduty.validate(event)
    assert (errors == []) if error is None else any(error in e for e in errors), errors


# ------------------------------------------------------------------ healthz: pure decision

def _dep(image="registry.halobuzz.com/backend:v1.5.0", env=None, replicas=3):
    return {"spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "backend"}},
                     "template": {"spec": {"containers": [
                         {"name": "backend", "image": image,
                          "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}]}}}}


def _pod(image="registry.halobuzz.com/backend:v1.5.0", ready=True):
    return {"spec": {"containers": [{"name": "backend", "image": image}]},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


V150, V151 = "registry.halobuzz.com/backend:v1.5.0", "registry.halobuzz.com/backend:v1.5.1"


@pytest.mark.parametrize("dep, pods, status, body_status, needle", [
    (_dep(), [_pod(), _pod()], 200, "ok", "v1.5.0"),
    (_dep(V151), [_pod(V150), _pod(V150), _pod(V151, ready=False)], 503, "unhealthy", "v1.5.1 has 0/3 ready pods"),
    (_dep(env={"MAINTENANCE_MODE": "true"}), [_pod()], 503, "maintenance", "planned maintenance"),
    (_dep(env={"MAINTENANCE_MODE": "TRUE"}), [_pod()], 503, "maintenance", "maintenance"),
    (_dep(env={"MAINTENANCE_MODE": "false"}), [_pod()], 200, "ok", "v1.5.0"),
    (_dep(replicas=0), [], 503, "unhealthy", "scaled to 0"),
    (None, [], 503, "unhealthy", "not found"),
    (_dep(), [], 503, "unhealthy", "0/3 ready pods"),
])
def test_health_decision(dep, pods, status, body_status, needle):
    got_status, body = api.health(dep, pods)
    assert (got_status, body["status"]) == (status, body_status)
    assert needle in json.dumps(body)


# ------------------------------------------------------------------ slack: pure parsing

@pytest.mark.parametrize("body, ctype, status, text", [
    (b'{"text": "hi"}', "application/json", 200, "ok"),
    (b'{"text":"AI moderation disabled"}', "application/x-www-form-urlencoded", 200, "ok"),  # curl -d
    (b"payload=%7B%22text%22%3A%22hi%22%7D", "application/x-www-form-urlencoded", 200, "ok"),
    (b'{"blocks": [{"type": "section"}]}', "application/json", 200, "ok"),
    (b"not json", "application/json", 400, "invalid_payload"),
    (b"[1, 2]", "application/json", 400, "invalid_payload"),
    (b'{"username": "bot"}', "application/json", 400, "no_text"),
])
def test_slack_parse_message(body, ctype, status, text):
    got_status, got_text, _ = slack.parse_message(body, ctype)
    assert (got_status, got_text) == (status, text)


# ------------------------------------------------------------------ over HTTP

SCENARIO = {
    "metrics": world.resolve("high-error-rate")["metrics"],
    "providers": {"stripe": "degraded", "cdn": "down"},
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    state = State()
    state.set_scenario(SCENARIO)
    kubeconfig = tmp_path_factory.mktemp("kube") / "kubeconfig"  # never written: the API is unreachable
    running = {
        "metrics": metrics.make_app(state, str(kubeconfig)).serve(),
        "pagerduty": pagerduty.make_app(state).serve(),
        "api": api.make_app(state, str(kubeconfig)).serve(),
        "prov": providers.make_app(state).serve(),
        "slack": slack.make_app(state, "/services/T1/B1/secret", "/services/T1/B2/alerts").serve(),
    }
    urls = {name: f"http://127.0.0.1:{srv.server_address[1]}" for name, srv in running.items()}
    yield urls
    for srv in running.values():
        srv.shutdown()
        srv.server_close()


def test_exporters_serve_the_text_format_without_a_cluster(servers):
    resp = requests.get(servers["metrics"] + "/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'http_requests_total{namespace="halobuzz",service="backend",route="/api/v1/feed"' in resp.text
    # no cluster: kube-state-metrics and cAdvisor have nothing to say, as when theirs cannot list pods
    ksm = requests.get(servers["metrics"] + "/metrics/kube-state-metrics", timeout=10)
    assert ksm.status_code == 200 and "kube_" not in ksm.text
    assert 'mongodb_up{namespace="halobuzz"} 1' in requests.get(servers["metrics"] + "/metrics/mongodb",
                                                              timeout=10).text


def test_pagerduty_trigger_ack_resolve_and_errors(servers):
    base = servers["pagerduty"]
    requests.delete(base + "/_sandbox/events", timeout=5)
    trigger = {"routing_key": KEY, "event_action": "trigger", "dedup_key": "grp-1",
               "payload": {"summary": "HighErrorRate", "source": "prometheus", "severity": "critical"}}
    resp = requests.post(base + "/v2/enqueue", json=trigger, timeout=5)
    assert resp.status_code == 202
    assert resp.json() == {"status": "success", "message": "Event processed", "dedup_key": "grp-1"}
    generated = requests.post(base + "/v2/enqueue", json=dict(trigger, dedup_key=None), timeout=5).json()["dedup_key"]
    assert generated and generated != "grp-1"
    for action in ("acknowledge", "resolve"):
        assert requests.post(base + "/v2/enqueue", timeout=5, json={
            "routing_key": KEY, "event_action": action, "dedup_key": "grp-1"}).status_code == 202
    # another routing key's resolve of the same dedup_key is dropped, as PagerDuty does
    requests.post(base + "/v2/enqueue", json={"routing_key": "x" * 32, "event_action": "resolve",
                                              "dedup_key": "grp-1"}, timeout=5)
    bad = requests.post(base + "/v2/enqueue", data="not json", timeout=5)
    assert bad.status_code == 400 and bad.json()["status"] == "invalid event"
    events = requests.get(base + "/_sandbox/events", timeout=5).json()["events"]
    assert [e["outcome"] for e in events] == ["triggered", "triggered", "acknowledged", "resolved", "dropped"]
    alerts = {a["dedup_key"]: a["status"] for a in requests.get(base + "/_sandbox/alerts", timeout=5).json()["alerts"]}
    assert alerts == {"grp-1": "resolved", generated: "triggered"}


def test_providers_follow_the_scenario(servers):
    stripe = requests.get(servers["prov"] + "/stripe/v1/status", timeout=5)
    assert stripe.status_code == 200 and stripe.json()["status"] == "degraded"
    assert requests.get(servers["prov"] + "/khalti/api/status", timeout=5).json()["status"] == "up"
    assert requests.get(servers["prov"] + "/agora/v1/status", timeout=5).json()["indicator"] == "none"
    cdn = requests.head(servers["prov"] + "/cdn/health", timeout=5)
    assert cdn.status_code == 503 and cdn.headers["X-Cdn-Status"] == "down"


def test_healthz_without_a_cluster_is_503_not_a_crash(servers):
    resp = requests.get(servers["api"] + "/healthz", timeout=10)
    assert resp.status_code == 503
    assert resp.json()["status"] == "unhealthy" and "cluster API unreachable" in resp.json()["error"]


def test_slack_keeps_accepted_messages_only(servers):
    base = servers["slack"]
    requests.delete(base + "/_sandbox/messages", timeout=5)
    ok = requests.post(base + "/services/T1/B1/secret", data='{"text":"AI moderation disabled"}', timeout=5)
    assert (ok.status_code, ok.text) == (200, "ok")
    wrong = requests.post(base + "/services/T1/B1/other", json={"text": "x"}, timeout=5)
    assert (wrong.status_code, wrong.text) == (403, "invalid_token")
    assert requests.post(base + "/nowhere", json={"text": "x"}, timeout=5).text == "no_service"
    assert requests.post(base + "/services/T1/B1/secret", json={}, timeout=5).text == "no_text"
    messages = requests.get(base + "/_sandbox/messages", timeout=5).json()["messages"]
    assert [m["payload"] for m in messages] == [{"text": "AI moderation disabled"}]


def test_slack_keeps_alertmanager_messages_apart(servers):
    base = servers["slack"]
    requests.delete(base + "/_sandbox/messages", timeout=5)
    assert requests.post(base + "/services/T1/B2/alerts", json={"attachments": [{"title": "[FIRING]"}]},
                         timeout=5).text == "ok"
    assert requests.post(base + "/services/T1/B1/secret", json={"text": "runbook"}, timeout=5).text == "ok"
    runbook = requests.get(base + "/_sandbox/messages", timeout=5).json()["messages"]
    alerts = requests.get(base + "/_sandbox/messages", params={"webhook": "alertmanager"}, timeout=5).json()
    assert [m["payload"] for m in runbook] == [{"text": "runbook"}]
    assert [m["payload"] for m in alerts["messages"]] == [{"attachments": [{"title": "[FIRING]"}]}]
