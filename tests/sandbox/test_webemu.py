"""The web emulators: Prometheus API, HaloBuzz healthz, provider status pages, Slack webhook.

Pure functions are table-driven; the HTTP behaviour is checked on the real servers, started
in-process on port 0 (no sandbox needed).
"""
from __future__ import annotations

import json

import pytest
import requests

from webemu import api, prometheus, providers, slack
from webemu.common import State

# ------------------------------------------------------------------ prometheus: pure parts


@pytest.mark.parametrize("query, expected", [
    ('rate(http_requests_total{status=~"5.."}[5m])', 'rate(http_requests_total{status=~"5.."}[5m])'),
    (' sum ( rate( x [5m] ) ) ', "sum(rate(x[5m]))"),
    ('x{a="b c"}', 'x{a="b c"}'),
])
def test_canonical_drops_whitespace_outside_strings(query, expected):
    assert prometheus.canonical(query) == expected


@pytest.mark.parametrize("query, message", [
    ("", "1:1: parse error: no expression found in input"),
    ("   ", "no expression found in input"),
    ("sum(rate(x[5m])", "1:4: parse error: unclosed left parenthesis"),
    ("rate(x[5m]))", "1:12: parse error: unexpected right parenthesis ')'"),
    ('x{a="b}', "unterminated quoted string"),
    ("x{a=\"b\"", "unclosed left brace"),
    ("x[5m", "unclosed left bracket"),
    ("up; drop", "unexpected character: ';'"),
])
def test_check_syntax_rejects_malformed(query, message):
    with pytest.raises(prometheus.BadData) as err:
        prometheus.check_syntax(query)
    assert message in str(err.value)
    assert str(err.value).startswith('invalid parameter "query": ')


@pytest.mark.parametrize("query", ["up", 'rate(http_requests_total{status=~"5.."}[5m])',
                                   'x{a="(unbalanced inside a string"}', "a / on(job) b"])
def test_check_syntax_accepts_well_formed(query):
    prometheus.check_syntax(query)


@pytest.mark.parametrize("value, text", [
    (240, "240"), (0.0017, "0.0017"), (639631360, "639631360"), (0.5, "0.5"),
    (float("nan"), "NaN"), (float("inf"), "+Inf"), (1e-05, "0.00001"),
])
def test_fmt_writes_values_like_prometheus(value, text):
    assert prometheus.fmt(value) == text


@pytest.mark.parametrize("raw, seconds", [("15", 15.0), ("0.5", 0.5), ("1m", 60), ("1h30m", 5400), ("250ms", 0.25)])
def test_parse_step(raw, seconds):
    assert prometheus.parse_step(raw) == seconds


@pytest.mark.parametrize("raw", ["", "abc", "1x", "m5"])
def test_parse_step_rejects(raw):
    with pytest.raises(prometheus.BadData, match='invalid parameter "step"'):
        prometheus.parse_step(raw)


@pytest.mark.parametrize("raw, seconds", [("1700000000", 1700000000.0), ("2023-11-14T22:13:20Z", 1700000000.0),
                                          ("2023-11-14T22:13:20.5+00:00", 1700000000.5)])
def test_parse_time(raw, seconds):
    assert prometheus.parse_time("time", raw) == seconds


@pytest.mark.parametrize("spec, fraction, value", [(3, 0.3, 3.0), ({"ramp": [10, 20]}, 0.0, 10.0),
                                                   ({"ramp": [10, 20]}, 0.5, 15.0), ({"ramp": [10, 20]}, 1.0, 20.0)])
def test_value_at(spec, fraction, value):
    assert prometheus.value_at(spec, fraction) == value


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
    "prometheus": {
        "values": {"error_ratio": 0.08, "mem": {"ramp": [100, 200]}},
        "queries": [
            {"query": "sum(rate(x[5m]))", "series": [{"labels": {}, "value": "error_ratio"}]},
            {"query": "mem_bytes", "series": [{"labels": {"container": "backend"}, "value": "mem"}]},
        ],
    },
    "providers": {"stripe": "degraded", "cdn": "down"},
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    state = State()
    state.set_scenario(SCENARIO)
    kubeconfig = tmp_path_factory.mktemp("kube") / "kubeconfig"  # never written: the API is unreachable
    running = {
        "prom": prometheus.make_app(state).serve(),
        "api": api.make_app(state, str(kubeconfig)).serve(),
        "prov": providers.make_app(state).serve(),
        "slack": slack.make_app(state, "/services/T1/B1/secret").serve(),
    }
    urls = {name: f"http://127.0.0.1:{srv.server_address[1]}" for name, srv in running.items()}
    yield urls
    for srv in running.values():
        srv.shutdown()
        srv.server_close()


def test_prometheus_instant_known_unknown_and_malformed(servers):
    url = servers["prom"] + "/api/v1/query"
    body = requests.get(url, params={"query": " sum( rate(x[5m]) ) ", "time": "1700000000"}, timeout=5).json()
    assert body == {"status": "success", "data": {"resultType": "vector",
                                                  "result": [{"metric": {}, "value": [1700000000.0, "0.08"]}]}}
    posted = requests.post(url, data={"query": "mem_bytes"}, timeout=5).json()
    assert posted["data"]["result"][0]["value"][1] == "200"
    unknown = requests.get(url, params={"query": "nothing_here"}, timeout=5).json()
    assert unknown["data"] == {"resultType": "vector", "result": []}
    bad = requests.get(url, params={"query": "sum(rate(x[5m])"}, timeout=5)
    assert bad.status_code == 400
    assert bad.json()["status"] == "error" and bad.json()["errorType"] == "bad_data"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 400 and "no expression found" in missing.json()["error"]


def test_prometheus_range_matrix_and_errors(servers):
    url = servers["prom"] + "/api/v1/query_range"
    body = requests.get(url, params={"query": "mem_bytes", "start": "1000", "end": "1100", "step": "50"},
                        timeout=5).json()
    assert body["data"]["resultType"] == "matrix"
    assert body["data"]["result"][0]["values"] == [[1000.0, "100"], [1050.0, "150"], [1100.0, "200"]]
    for params, needle in [
        ({"query": "mem_bytes", "end": "1", "step": "1"}, 'invalid parameter "start"'),
        ({"query": "mem_bytes", "start": "10", "end": "1", "step": "1"}, "end timestamp must not be before start"),
        ({"query": "mem_bytes", "start": "0", "end": "1", "step": "0"}, "zero or negative"),
        ({"query": "mem_bytes", "start": "0", "end": "100000", "step": "1"}, "exceeded maximum resolution"),
        ({"query": "mem_bytes", "start": "0", "end": "1"}, 'invalid parameter "step"'),
    ]:
        resp = requests.get(url, params=params, timeout=5)
        assert resp.status_code == 400, params
        assert needle in resp.json()["error"]


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
