"""Issue 17 end to end: the real Prometheus evaluates the collection's rules on the scenario's series, the real
Alertmanager routes what fires to the PagerDuty Events API v2 stand-in and the Slack receiver, and the alert
resolves once the runbook's playbook has acted.

Sandbox only (scenarios, the stand-ins' read-back paths). Every wait is on a condition Prometheus,
Alertmanager or the stand-ins report, polled until a generous deadline; no assertion is on time.

Dedup key: Alertmanager's PagerDuty v2 notifier sends `dedup_key: key.Hash()`, the SHA-256 (hex) of the
alert group's key (prometheus/alertmanager notify/pagerduty/pagerduty.go, notifyV2), and `event_action`
resolve once every alert of the group is resolved: one group is one PagerDuty alert, triggered and
resolved under the same key.

Where the runbook's playbook cannot cure a scenario (it only diagnoses, or the cause is outside the cluster), the
test changes the running scenario in place (webemu's PATCH /_sandbox/scenario: a provider recovering), which keeps
what the stand-ins received, so that the trigger and the resolve are read together.
"""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import requests

POLL = 0.5


def wait_for(what: str, probe, timeout: float):
    """Poll `probe` until it returns something truthy; fail naming `what` (and the last value) at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(POLL)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")


def prom_get(env, path, **params):
    resp = requests.get(env["PROMETHEUS_URL"] + path, params=params, timeout=10)
    resp.raise_for_status()
    return resp.json()["data"]


def prom_query(env, expr):
    return prom_get(env, "/api/v1/query", query=expr)["result"]


def pagerduty_base(env):
    return env["PAGERDUTY_EVENTS_URL"].rsplit("/v2/enqueue", 1)[0]


def pd_events(env):
    return requests.get(pagerduty_base(env) + "/_sandbox/events", timeout=10).json()["events"]


def slack_messages(env):
    """What Alertmanager posted to its Slack webhook (webemu/slack.py keeps the runbooks' apart)."""
    return requests.get(env["SLACK_WEBHOOK_URL"].split("/services/")[0] + "/_sandbox/messages",
                        params={"webhook": "alertmanager"}, timeout=10).json()["messages"]


def pd_with(env, action, alertname, routing_key=None, dedup_key=None):
    """The accepted PagerDuty events of one action whose summary names `alertname`."""
    found = []
    for entry in pd_events(env):
        event = entry["event"]
        if event["event_action"] != action or alertname not in (event.get("payload") or {}).get("summary", ""):
            continue
        if routing_key and event["routing_key"] != routing_key:
            continue
        if dedup_key and event["dedup_key"] != dedup_key:
            continue
        found.append(event)
    return found


def patch_scenario(env, **body):
    """Change the running scenario in place ({"metrics": ..., "providers": ...}, deep-merged)."""
    requests.patch(env["HALOBUZZ_API_URL"].rstrip("/") + "/_sandbox/scenario", json=body, timeout=10).raise_for_status()


def paged(env, alertname, routing_key):
    """Wait for the trigger of `alertname` at the PagerDuty stand-in on `routing_key`; check what every P0 page
    carries (PagerDuty severity critical, the group's SHA-256 dedup key) and return the event."""
    trigger = wait_for(f"{alertname} to reach PagerDuty", lambda: pd_with(
        env, "trigger", alertname, routing_key=routing_key), 120)[0]
    assert trigger["payload"]["severity"] == "critical"
    assert re.fullmatch(r"[0-9a-f]{64}", trigger["dedup_key"])
    return trigger


def firing(env, alertname):
    """The alert as Prometheus fires it (labels, annotations, value)."""
    alert = [a for a in requests.get(env["PROMETHEUS_URL"] + "/api/v1/alerts", timeout=10).json()["data"][
        "alerts"] if a["labels"]["alertname"] == alertname][0]
    assert alert["state"] == "firing"
    return alert


def resolved(env, trigger, alertname, routing_key):
    """Wait for the resolve of the PagerDuty alert `trigger` opened (same routing and dedup key); the stand-in
    then holds it as resolved and Prometheus no longer fires the alert."""
    resolve = wait_for(f"PagerDuty to get the resolve of the same {alertname}", lambda: pd_with(
        env, "resolve", alertname, routing_key=routing_key, dedup_key=trigger["dedup_key"]), 600)[0]
    assert resolve["event_action"] == "resolve" and resolve["payload"]["summary"].startswith("[RESOLVED]")
    alerts = requests.get(pagerduty_base(env) + "/_sandbox/alerts", timeout=10).json()["alerts"]
    assert [a["status"] for a in alerts if a["dedup_key"] == trigger["dedup_key"]] == ["resolved"]
    assert prom_query(env, f'ALERTS{{alertname="{alertname}",alertstate="firing"}}') == []
    return resolve


def rule_groups(env):
    return {g["name"]: g for g in prom_get(env, "/api/v1/rules")["groups"]}


def evaluated_since(env, group: str, since: float, seconds: float) -> bool:
    """True once Prometheus evaluated rule group `group` at least `seconds` after `since` (epoch)."""
    last = rule_groups(env).get(group, {}).get("lastEvaluation", "")
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,6})?\d*(Z|[+-]\d\d:\d\d)", last)
    if not match or last.startswith("0001-"):
        return False
    stamp = dt.datetime.fromisoformat(match.group(1) + (match.group(2) or "") + match.group(3).replace("Z", "+00:00"))
    return stamp.timestamp() >= since + seconds


@pytest.fixture(scope="module")
def keys(sandbox_secrets):
    return sandbox_secrets["pagerduty_routing_keys"]


@pytest.fixture
def quiet(sandbox_env, scenario):
    """Switch to a scenario once Alertmanager holds no active alert of the previous one, and clear the
    stand-ins, so that what the test reads afterwards came from this scenario."""
    def switch(name: str) -> float:
        scenario("healthy")
        wait_for("Alertmanager to hold no active alert", lambda: not requests.get(
            sandbox_env["ALERTMANAGER_URL"] + "/api/v2/alerts", params={"active": "true"}, timeout=10).json(), 120)
        if name != "healthy":
            scenario(name)
        requests.delete(pagerduty_base(sandbox_env) + "/_sandbox/events", timeout=10)
        requests.delete(sandbox_env["SLACK_WEBHOOK_URL"].split("/services/")[0] + "/_sandbox/messages", timeout=10)
        return time.time()
    return switch


def test_rules_are_loaded_and_every_expression_evaluates(sandbox_env, scenario):
    """Every recording and alerting rule of the collection is evaluated by the real Prometheus without error
    (the PromQL of the rules), and every recording rule yields a series from the sandbox's exporters."""
    scenario("healthy")
    groups = wait_for("the halobuzz rule groups", lambda: {
        n: g for n, g in rule_groups(sandbox_env).items() if n.startswith("halobuzz.")}, 60)
    assert {"halobuzz.recording", "halobuzz.alerts", "halobuzz.escalation"} <= set(groups)
    records = [r["name"] for r in groups["halobuzz.recording"]["rules"]]

    def evaluated_without_error():
        rules = [r for name, g in rule_groups(sandbox_env).items() if name.startswith("halobuzz.") for r in g["rules"]]
        failing = [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]
        assert not failing, failing
        return all(r["health"] == "ok" for r in rules)
    wait_for("every rule to have been evaluated", evaluated_without_error, 60)
    wait_for("a series for every recording rule",
             lambda: all(prom_query(sandbox_env, name) for name in records), 60)


def test_healthy_fires_nothing(sandbox_env, quiet):
    switched = quiet("healthy")
    longest_for = 10  # the sandbox renders every `for:` as 10s (sandboxlib/monitoring.py SANDBOX_FOR)
    wait_for("the alert rules to run for longer than their `for:` on healthy data",
             lambda: evaluated_since(sandbox_env, "halobuzz.alerts", switched, longest_for + 2), 60)
    # ALERTS of the previous scenario went with its series: anything here was pending/firing since the switch.
    assert prom_query(sandbox_env, 'count_over_time(ALERTS{alertstate=~"pending|firing"}[5m])') == []
    assert [e for e in pd_events(sandbox_env) if e["event"]["event_action"] == "trigger"] == []


def test_high_error_rate_pages_oncall_and_slack_then_resolves_after_the_playbook(
        sandbox_env, quiet, keys, run_playbook):
    quiet("high-error-rate")
    # P0 -> PagerDuty severity critical, on the on-call service; one group, one SHA-256 dedup key
    trigger = paged(sandbox_env, "HaloBuzzHighErrorRate", keys["oncall"])
    alert = firing(sandbox_env, "HaloBuzzHighErrorRate")
    assert alert["labels"]["severity"] == "P0"
    assert alert["annotations"]["playbook"] == "playbooks/high_error_rate.yml"
    assert 0.05 < float(alert["value"]) < 0.1
    slack = wait_for("the alert in the backend team's Slack channel", lambda: [
        m for m in slack_messages(sandbox_env) if m["payload"].get("channel") == "#halobuzz-backend"
        and "HaloBuzzHighErrorRate" in str(m["payload"])], 60)
    assert "playbooks/high_error_rate.yml" in str(slack[0]["payload"])

    run_playbook("high_error_rate.yml")   # scales backend 3 -> 5: 370 requests/s of capacity for 240

    resolved(sandbox_env, trigger, "HaloBuzzHighErrorRate", keys["oncall"])


def test_bad_release_pages_service_down_and_the_rollback_resolves_it(sandbox_env, quiet, keys, run_playbook):
    quiet("bad-release")
    trigger = paged(sandbox_env, "HaloBuzzServiceDown", keys["oncall"])
    run_playbook("rollback.yml")          # back to v1.5.0: healthz 200, the blackbox probe succeeds
    resolved(sandbox_env, trigger, "HaloBuzzServiceDown", keys["oncall"])


def test_payment_failures_page_the_payments_team_and_resolve_once_stripe_recovers(
        sandbox_env, quiet, keys, run_playbook):
    quiet("payment-failures")
    trigger = paged(sandbox_env, "HaloBuzzPaymentFailures", keys["oncall"])
    wait_for("the alert in the payments team's Slack channel", lambda: [
        m for m in slack_messages(sandbox_env) if m["payload"].get("channel") == "#halobuzz-payments"
        and "HaloBuzzPaymentFailures" in str(m["payload"])], 60)

    # The runbook's procedure diagnoses (provider status, webhook logs, idempotency keys) and changes nothing:
    # the cure is Stripe's. It names the degraded provider while the alert fires.
    result = run_playbook("payment_failures.yml")
    assert result.recap["localhost"]["changed"] == 0
    assert "stripe" in result.stdout.lower() and "degraded" in result.stdout

    # Stripe recovers: its status page says up and its payments succeed as in the world (99.5 %).
    patch_scenario(sandbox_env, providers={"stripe": "up"},
                   metrics={"payments": {"stripe": {"success_ratio": 0.995}}})
    resolved(sandbox_env, trigger, "HaloBuzzPaymentFailures", keys["oncall"])


def test_database_connection_lost_pages_oncall_and_resolves_after_the_reconnect(
        sandbox_env, quiet, keys, run_playbook):
    """Runbook "Critical Alerts 2" in the db-corruption scenario: the backend's pools hold connections MongoDB
    closed (fresh MongoNetworkError in its logs, 85 % of its MongoDB commands fail) while MongoDB itself answers
    (mongodb_up 1, the alert's evidence). playbooks/db_connection_lost.yml pings MongoDB, finds the errors and
    restarts the backend: new pools, the commands succeed, the alert resolves under the same dedup key."""
    quiet("db-corruption")
    trigger = paged(sandbox_env, "HaloBuzzDatabaseConnectionLost", keys["oncall"])
    assert "HaloBuzzDatabaseConnectionLost" in trigger["payload"]["summary"] and "P0" in trigger["payload"]["summary"]
    alert = firing(sandbox_env, "HaloBuzzDatabaseConnectionLost")
    assert alert["labels"]["severity"] == "P0" and alert["labels"]["service"] == "backend"
    assert alert["annotations"]["playbook"] == "playbooks/db_connection_lost.yml"
    assert "mongodb_up = 1 " in alert["annotations"]["description"]
    assert 0.5 < float(alert["value"]) < 0.9        # 85 % of the commands fail
    alerts = requests.get(pagerduty_base(sandbox_env) + "/_sandbox/alerts", timeout=10).json()["alerts"]
    assert {"dedup_key": trigger["dedup_key"], "status": "triggered", "severity": "critical"}.items() <= [
        a for a in alerts if a["dedup_key"] == trigger["dedup_key"]][0].items()

    result = run_playbook("db_connection_lost.yml")   # rolling restart of backend: every pod a new pool
    assert result.recap["localhost"]["changed"] >= 1 and "backend restarted, every pod has a new connection pool" \
        in " ".join(result.stdout.split())

    resolved(sandbox_env, trigger, "HaloBuzzDatabaseConnectionLost", keys["oncall"])
