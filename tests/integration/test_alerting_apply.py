"""playbooks/alerting.yml against the sandbox's Kubernetes (or a real cluster with HALOBUZZ_USE_ENV=1).

The playbook renders the rules and the routing, validates them with promtool/amtool and applies the
PrometheusRule (monitoring.coreos.com/v1, served once prometheus-operator's CRD is Established) and the
Alertmanager Secrets: applied as extensions/render_alerting.py renders them, a rerun reports changed=0,
--check --diff changes nothing (and shows the change it would make), a bad input or a cluster without the
CRD is a clear error that changes nothing, and no credential reaches the output.
"""
from __future__ import annotations

import base64
import importlib.util
import json

import pytest
import yaml

from prometheus_operator import CRD_FILE, CRD_PATH, MONITORING, REPO, established, install_operator_crd
from sandbox_support import use_real_env, wait_for
from sandboxlib.kube import KubeAPI

NS = "halobuzz"
RULE_PATH = "/apis/monitoring.coreos.com/v1/namespaces/%s/prometheusrules/halobuzz-rules" % NS
CONFIG_PATH = "/api/v1/namespaces/%s/secrets/alertmanager-main" % MONITORING
RECEIVERS_PATH = "/api/v1/namespaces/%s/secrets/halobuzz-alertmanager-receivers" % MONITORING
# Test credentials only (a real run takes them from Vault / an AWX credential).
KEYS = {"alerting_pagerduty_routing_key_oncall": "R0UTINGKEY0NCALLtest000000000001",
        "alerting_pagerduty_routing_key_team_lead": "R0UTINGKEYLEADtest00000000000002",
        "alerting_pagerduty_routing_key_cto": "R0UTINGKEYCT0test000000000000003"}


def _renderer():
    spec = importlib.util.spec_from_file_location("render_alerting_for_apply", REPO / "extensions" / "render_alerting.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render


@pytest.fixture
def cluster(sandbox_env, tmp_path):
    if not sandbox_env.get("KUBECONFIG"):
        pytest.skip("KUBECONFIG is not set")
    api = KubeAPI(sandbox_env["KUBECONFIG"])
    if not use_real_env():
        for path in (RULE_PATH, CONFIG_PATH, RECEIVERS_PATH):
            api.request("DELETE", path)
    created_crd = install_operator_crd(api)
    keys = tmp_path / "receivers.json"
    keys.write_text(json.dumps(dict(KEYS, slack_webhook_url=sandbox_env.get("SLACK_WEBHOOK_URL")
                                    or "https://hooks.slack.example/services/T0/B0/x")))
    yield api, "@" + str(keys)
    if created_crd:
        api.request("DELETE", CRD_PATH)


def state(api):
    return {path: api.get(path).json() for path in (RULE_PATH, CONFIG_PATH, RECEIVERS_PATH)}


def versions(snapshot):
    return {path: obj["metadata"]["resourceVersion"] for path, obj in snapshot.items()}


def test_alerting_applies_then_reruns_unchanged_and_checks_honestly(cluster, run_playbook, sandbox_env):
    api, keys = cluster
    first = run_playbook("playbooks/alerting.yml", "-e", keys)
    assert first.recap["localhost"]["changed"] == 3, first.stdout[-3000:]
    applied = state(api)
    rendered = _renderer()({})
    assert applied[RULE_PATH]["spec"] == {"groups": yaml.safe_load(rendered["rules"])["groups"]}
    assert applied[RULE_PATH]["metadata"]["labels"] == {"role": "alert-rules", "app.kubernetes.io/part-of": "halobuzz"}
    assert base64.b64decode(applied[CONFIG_PATH]["data"]["alertmanager.yaml"]).decode() == rendered["alertmanager"]
    receivers = {k: base64.b64decode(v).decode() for k, v in applied[RECEIVERS_PATH]["data"].items()}
    assert receivers["pagerduty-oncall"] == KEYS["alerting_pagerduty_routing_key_oncall"]
    assert sorted(receivers) == ["pagerduty-cto", "pagerduty-oncall", "pagerduty-team-lead", "slack-webhook-url"]

    again = run_playbook("playbooks/alerting.yml", "-e", keys)
    assert again.recap["localhost"]["changed"] == 0, again.stdout[-3000:]
    check = run_playbook("playbooks/alerting.yml", "-e", keys, "--check", "--diff")
    assert check.recap["localhost"]["changed"] == 0, check.stdout[-3000:]
    assert versions(state(api)) == versions(applied)

    # a new threshold: --check --diff shows the change and makes none; the real run makes it
    changed = run_playbook("playbooks/alerting.yml", "-e", keys, "-e", "alerting_error_ratio_threshold=0.07",
                           "--check", "--diff")
    assert changed.recap["localhost"]["changed"] == 1, changed.stdout[-3000:]
    assert "> 0.07" in changed.stdout
    assert versions(state(api)) == versions(applied)
    run_playbook("playbooks/alerting.yml", "-e", keys, "-e", "alerting_error_ratio_threshold=0.07")
    assert "> 0.07" in json.dumps(state(api)[RULE_PATH]["spec"])

    for result in (first, again, check, changed):
        for secret in KEYS.values():
            assert secret not in result.stdout + result.stderr


BAD_INPUT = [
    ("alerting_error_ratio_threshold=5", "alerting_error_ratio_threshold"),
    ('{"alerting_for": {"HaloBuzzServiceDown": "soon"}}', "alerting_for"),
    ("alerting_pagerduty_routing_key_cto=", "alerting_pagerduty_routing_key_cto"),
    ("alerting_promtool=/nonexistent/promtool", "promtool"),
]


def test_bad_input_is_a_clear_error_that_changes_nothing(cluster, run_playbook):
    api, keys = cluster
    run_playbook("playbooks/alerting.yml", "-e", keys)
    before = versions(state(api))
    for extra, named in BAD_INPUT:
        result = run_playbook("playbooks/alerting.yml", "-e", keys, "-e", extra, check=False)
        assert result.rc != 0, extra
        assert named in result.stdout and "Nothing was changed" in result.stdout, result.stdout[-3000:]
        assert "Traceback" not in result.stdout + result.stderr
        assert versions(state(api)) == before, extra


def test_a_cluster_without_the_crd_is_refused(cluster, run_playbook, sandbox_env):
    if use_real_env():
        pytest.skip("deletes prometheus-operator's CRD: sandbox only")
    api, keys = cluster
    api.must("DELETE", CRD_PATH)
    wait_for(lambda: api.get("/apis/monitoring.coreos.com/v1").status_code == 404, "the CRD to go", timeout=30.0, poll=0.1)
    try:
        result = run_playbook("playbooks/alerting.yml", "-e", keys, check=False)
        assert result.rc != 0
        assert "does not serve monitoring.coreos.com/v1 PrometheusRule" in result.stdout, result.stdout[-3000:]
        assert api.get(CONFIG_PATH).status_code == 404
    finally:
        api.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                 json=yaml.safe_load(CRD_FILE.read_text()))
        wait_for(lambda: established(api), "the CRD to be Established again", timeout=30.0, poll=0.1)
