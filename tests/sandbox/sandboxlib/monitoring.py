"""The sandbox's monitoring: the real Prometheus, Alertmanager, blackbox and Redis exporters.

Their configuration files live in DIR/monitoring/. Prometheus reads its scrape targets from
file_sd files (DIR/monitoring/targets/*.json; it watches them and re-reads a file replaced by a
rename), so it starts before the web emulators have their ports; Alertmanager starts with a
receiver-less route and gets the rendered routing by POST /-/reload once the PagerDuty stand-in
and the Slack receiver answer; the rules (extensions/render_alerting.py, rendered with sandbox
values: short `for:`, the stand-ins' URLs) go to DIR/monitoring/rules/ and Prometheus reloads.

Intervals are seconds, not minutes, so that an alert fires within a minute of its scenario:
scrape and rule evaluation every second.

A scenario switch deletes every series (TSDB admin API, POST /api/v1/admin/tsdb/delete_series)
so that rate()/increase() over 5m windows see the new scenario only, then waits until every
target has been scraped twice since (rate() needs two samples), asking Prometheus itself.
"""
from __future__ import annotations

import importlib.util
import json
import os
import secrets as _secrets
import time
from pathlib import Path

import requests
import yaml

from .procs import SandboxError

REPO = Path(__file__).resolve().parents[3]
RENDERER = REPO / "extensions" / "render_alerting.py"
INTERVAL = "1s"
FRESH_TIMEOUT = 30.0
# job -> (metrics path, file_sd file): the exporters the web emulator process serves
WEB_JOBS = {
    "halobuzz-api": "/metrics",
    "kube-state-metrics": "/metrics/kube-state-metrics",
    "kubelet-cadvisor": "/metrics/cadvisor",
    "mongodb": "/metrics/mongodb",
}
BLACKBOX_JOB = "blackbox-healthz"
PAGERDUTY_SERVICES = ("oncall", "team-lead", "cto")
SANDBOX_FOR = "10s"
SANDBOX_RESPONSE_TIMES = {"P0": 30, "P1": 60, "P2": 120, "P3": 240}


def mon_dir(sandbox_dir: Path) -> Path:
    return sandbox_dir / "monitoring"


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def prometheus_config(sandbox_dir: Path, alertmanager_port: int | None, redis_exporter_port: int | None,
                      blackbox_port: int | None) -> dict:
    mon = mon_dir(sandbox_dir)
    targets = mon / "targets"
    scrape = [{"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:{prometheus_port}"]}]}]
    for job, path in WEB_JOBS.items():
        scrape.append({"job_name": job, "metrics_path": path, "honor_labels": True,
                       "file_sd_configs": [{"files": [str(targets / f"{job}.json")]}]})
    if redis_exporter_port:
        scrape.append({"job_name": "redis", "static_configs": [{"targets": [f"127.0.0.1:{redis_exporter_port}"]}]})
    if blackbox_port:
        # The blackbox exporter's documented pattern: the probed URL becomes ?target=, the
        # exporter's own address the scrape address.
        scrape.append({
            "job_name": BLACKBOX_JOB, "metrics_path": "/probe", "params": {"module": ["http_2xx"]},
            "file_sd_configs": [{"files": [str(targets / f"{BLACKBOX_JOB}.json")]}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": f"127.0.0.1:{blackbox_port}"},
            ]})
    config = {
        "global": {"scrape_interval": INTERVAL, "scrape_timeout": INTERVAL, "evaluation_interval": INTERVAL},
        "rule_files": [str(mon / "rules" / "*.yml")],
        "scrape_configs": scrape,
    }
    if alertmanager_port:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]}
    return config


def blackbox_config() -> dict:
    return {"modules": {"http_2xx": {"prober": "http", "timeout": "1s",
                                     "http": {"preferred_ip_protocol": "ip4", "valid_status_codes": []}}}}


def idle_alertmanager_config() -> dict:
    """What Alertmanager starts with, before the routing is rendered: every alert to a receiver without
    integrations (a blackhole, as Alertmanager's documentation describes a receiver with none)."""
    return {"route": {"receiver": "sandbox-idle"}, "receivers": [{"name": "sandbox-idle"}]}


def argv(name: str, sandbox_dir: Path, port: int, ports: dict, tool) -> list[str]:
    """The command line of one monitoring service; writes its configuration first."""
    mon = mon_dir(sandbox_dir)
    data = sandbox_dir / "data" / name
    data.mkdir(parents=True, exist_ok=True)
    if name == "prometheus":
        config = prometheus_config(sandbox_dir, ports.get("alertmanager"), ports.get("redis_exporter"),
                                   ports.get("blackbox"))
        text = yaml.safe_dump(config, sort_keys=False).replace("{prometheus_port}", str(port))
        (mon / "rules").mkdir(parents=True, exist_ok=True)
        (mon / "targets").mkdir(parents=True, exist_ok=True)
        write_atomic(mon / "prometheus.yml", text)
        return [tool("prometheus", "prometheus"), f"--config.file={mon / 'prometheus.yml'}",
                f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle", "--web.enable-admin-api", "--storage.tsdb.retention.time=6h",
                f"--web.external-url=http://127.0.0.1:{port}/", "--log.level=warn"]
    if name == "alertmanager":
        config = mon / "alertmanager.yml"
        if not config.exists():
            write_atomic(config, yaml.safe_dump(idle_alertmanager_config()))
        return [tool("prometheus-alertmanager", "prometheus-alertmanager"), f"--config.file={config}",
                f"--storage.path={data}", f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=", f"--web.external-url=http://127.0.0.1:{port}/", "--log.level=warn"]
    if name == "blackbox":
        write_atomic(mon / "blackbox.yml", yaml.safe_dump(blackbox_config()))
        return [tool("prometheus-blackbox-exporter", "prometheus-blackbox-exporter"),
                f"--config.file={mon / 'blackbox.yml'}", f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn"]
    if name == "redis_exporter":
        redis_port = ports.get("redis")
        addr = f"redis://127.0.0.1:{redis_port}" if redis_port else "redis://redis.invalid:6379"
        return [tool("prometheus-redis-exporter", "prometheus-redis-exporter"), "-redis.addr", addr,
                "-web.listen-address", f"127.0.0.1:{port}"]
    raise AssertionError(name)


def probe_path(name: str) -> str:
    # Prometheus and Alertmanager say ready on /-/ready; the exporters serve /metrics once they listen.
    return "/-/ready" if name in ("prometheus", "alertmanager") else "/metrics"


# --------------------------------------------------------------------------- after the start

def write_targets(sandbox_dir: Path, env: dict, web_ports: dict | None, namespace: str) -> None:
    targets = mon_dir(sandbox_dir) / "targets"
    for job in WEB_JOBS:
        groups = [{"targets": [f"127.0.0.1:{web_ports['metrics']}"], "labels": {}}] if web_ports else []
        write_atomic(targets / f"{job}.json", json.dumps(groups))
    probe = [{"targets": [env["HEALTHZ_URL"]], "labels": {"namespace": namespace, "service": "backend"}}] \
        if "HEALTHZ_URL" in env else []
    write_atomic(targets / f"{BLACKBOX_JOB}.json", json.dumps(probe))


def routing_keys(secrets: dict) -> dict:
    """The sandbox's PagerDuty integration keys (32 characters, as PagerDuty's are), one per service."""
    return secrets.get("pagerduty_routing_keys") or {s: _secrets.token_hex(16) for s in PAGERDUTY_SERVICES}


def load_renderer():
    if not RENDERER.exists():
        return None
    spec = importlib.util.spec_from_file_location("render_alerting", RENDERER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sandbox_overrides(sandbox_dir: Path, env: dict, secrets: dict, namespace: str,
                      web_ports: dict | None = None) -> dict:
    """The alerting role's variables as the sandbox sets them (docs/ALERTING.md, "The renderer")."""
    secrets_dir = mon_dir(sandbox_dir) / "secrets"
    for service, key in routing_keys(secrets).items():
        write_atomic(secrets_dir / f"pagerduty-{service}", key, 0o600)
    # Alertmanager's own incoming webhook (webemu/slack.py keeps its messages apart from the runbooks').
    slack = (f"http://127.0.0.1:{web_ports['slack']}{web_ports['slack_alerts_path']}" if web_ports
             else "http://slack.invalid/services/T/B/none")
    write_atomic(secrets_dir / "slack-webhook-url", slack, 0o600)
    renderer_defaults = yaml.safe_load((REPO / "roles" / "alerting" / "defaults" / "main.yml").read_text())
    return {
        "k8s_namespace": namespace,
        "alerting_pagerduty_url": env.get("PAGERDUTY_EVENTS_URL", "http://pagerduty.invalid/v2/enqueue"),
        "alerting_secrets_dir": str(secrets_dir),
        # An alert fires within seconds of its condition, not minutes (issue 17: "within a minute").
        "alerting_for": dict.fromkeys(renderer_defaults["alerting_for"], SANDBOX_FOR),
        # Response times in seconds (group_wait 1/10, group_interval 1/5, repeat and escalation 1/1).
        "alerting_response_time_seconds": dict(SANDBOX_RESPONSE_TIMES),
    }


def render_alerting(sandbox_dir: Path, env: dict, secrets: dict, namespace: str,
                    web_ports: dict | None = None) -> dict | None:
    module = load_renderer()
    if module is None:
        return None
    try:
        return module.render(sandbox_overrides(sandbox_dir, env, secrets, namespace, web_ports))
    except Exception as exc:  # noqa: BLE001 - reported as one line naming the renderer
        raise SandboxError(f"rendering the alert rules and routing with {RENDERER} failed: "
                           f"{type(exc).__name__}: {exc}") from exc


def reload(url: str, what: str) -> None:
    resp = requests.post(url.rstrip("/") + "/-/reload", timeout=30)
    if resp.status_code != 200:
        raise SandboxError(f"{what} refused its new configuration (POST /-/reload answered {resp.status_code}: "
                           f"{resp.text.strip()[:400]}); see the files in the sandbox's monitoring/")


def configure(sandbox_dir: Path, env: dict, web_ports: dict | None, secrets: dict, namespace: str) -> bool:
    """Targets, rules and routing once every service answers; True when rules and routing were loaded."""
    mon = mon_dir(sandbox_dir)
    write_targets(sandbox_dir, env, web_ports, namespace)
    rendered = render_alerting(sandbox_dir, env, secrets, namespace, web_ports)
    if rendered is None:
        return False
    write_atomic(mon / "rules" / "halobuzz-rules.yml", rendered["rules"])
    write_atomic(mon / "alertmanager.yml", rendered["alertmanager"])
    if env.get("PROMETHEUS_URL"):
        reload(env["PROMETHEUS_URL"], "Prometheus")
    if env.get("ALERTMANAGER_URL"):
        reload(env["ALERTMANAGER_URL"], "Alertmanager")
    return True


def query(prom_url: str, expr: str) -> list[dict]:
    resp = requests.get(prom_url.rstrip("/") + "/api/v1/query", params={"query": expr}, timeout=10)
    body = resp.json()
    if resp.status_code != 200 or body.get("status") != "success":
        raise SandboxError(f"Prometheus refused {expr!r}: {body.get('error', resp.text[:200])}")
    return body["data"]["result"]


def expected_jobs(prom_url: str) -> set[str]:
    resp = requests.get(prom_url.rstrip("/") + "/api/v1/targets", params={"state": "active"}, timeout=10)
    resp.raise_for_status()
    return {t["labels"]["job"] for t in resp.json()["data"]["activeTargets"]}


def reset(prom_url: str, timeout: float = FRESH_TIMEOUT) -> float:
    """Forget every series, then wait until each active target has two scrapes since (seconds taken)."""
    began = time.monotonic()
    base = prom_url.rstrip("/")
    cut = time.time()
    resp = requests.post(base + "/api/v1/admin/tsdb/delete_series",
                         params={"match[]": '{__name__=~".+"}', "end": f"{cut:.3f}"}, timeout=30)
    if resp.status_code != 204:
        raise SandboxError(f"Prometheus did not delete the previous scenario's series "
                           f"(HTTP {resp.status_code}: {resp.text[:200]})")
    deadline = time.monotonic() + timeout
    while True:
        jobs = expected_jobs(base)
        # up is written by every scrape (0 when it failed); two samples since the cut per target.
        fresh = {r["metric"]["job"] for r in query(base, "min by (job) (count_over_time(up[1m])) >= 2")}
        missing = jobs - fresh
        if jobs and not missing:
            return time.monotonic() - began
        if time.monotonic() > deadline:
            raise SandboxError(f"Prometheus did not scrape {', '.join(sorted(missing)) or 'any target'} twice "
                               f"within {timeout:.0f}s of the scenario switch; see its targets page {base}/targets")
        time.sleep(0.2)
