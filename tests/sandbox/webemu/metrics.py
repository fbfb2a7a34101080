"""Exporter endpoints the sandbox's real Prometheus scrapes, in the Prometheus text format 0.0.4.

Each path stands in for one production exporter and names its series as that exporter does:

  /metrics                        the HaloBuzz services (prom-client apps): http_requests_total{service,route,
                                  method,status}, http_request_duration_seconds{service,route} (histogram,
                                  prom-client's default buckets), payments_total{provider,status},
                                  stream_latency_seconds{service} (histogram), active_streams, concurrent_users,
                                  gift_transactions_total, moderation_requests_total{model},
                                  moderation_model_errors_total{model}, moderation_queue_depth, and the backend's
                                  MongoDB Node.js driver: mongodb_driver_commands_seconds{command,server_address,
                                  status="SUCCESS"|"ERROR"} (histogram; @christiangalsterer/mongodb-driver-
                                  prometheus-exporter, micrometer's names, its default buckets)
  /metrics/kube-state-metrics     kube_deployment_spec_replicas, kube_deployment_status_replicas_available,
                                  kube_pod_container_status_restarts_total, kube_pod_container_status_waiting_reason,
                                  kube_pod_container_resource_limits{resource,unit}, kube_pod_status_ready
                                  (names and labels of kube-state-metrics v2, docs/metrics/workload/*-metrics.md)
  /metrics/cadvisor               container_memory_working_set_bytes, container_spec_memory_limit_bytes
                                  (cAdvisor as the kubelet serves it: namespace, pod, container, image labels)
  /metrics/mongodb                mongodb_up, mongodb_ss_connections{conn_type} (percona mongodb_exporter v0.30+,
                                  the serverStatus.connections document)

Application and MongoDB series carry `namespace` themselves (in production prometheus-operator adds it
from the ServiceMonitor; the sandbox's Prometheus scrapes them with honor_labels), as docs/ALERTING.md
(the contract with the alert rules) lists them.

Values come from the scenario (world.yml `metrics`) and from the Kubernetes emulator's state, read
over its HTTP API on every scrape (never from its internals): the API's capacity is its Ready
backend pods, so the 5xx share drops once a rollback or a scale-up makes enough pods Ready; the
moderation queue backs up while no ai-engine pod is Ready; restarts are the pods' restartCount;
memory is metrics.k8s.io's working set (what `kubectl top` shows) unless the scenario ramps it.
Stream latency recovers as the runbook's "Stream Latency > 500ms" fix makes it (a scenario's
`streams.recovery`): once Redis holds no stale stream cache entry (read over the Redis protocol with
SCAN, as the application would) AND the streaming Deployment was restarted after the switch and has
rolled out completely (kubectl rollout status' conditions), the histogram follows the recovered
quantiles. The backend's MongoDB commands fail at the scenario's `api.mongodb_driver.error_ratio` (every one
while mongodb_exporter's MongoDB is down) until the runbook's "Database Connection Lost" fix is in (its
`recovery`): the backend restarted after the switch and rolled out completely, each pod with a new pool -
which ends a stale pool, never an outage of MongoDB itself (the restart is the one stream latency needs:
`recovered`).

Counters really count: each scrape adds rate x elapsed seconds to the running total, so rate() and
increase() see the scenario's rates, and a switch of scenario changes the slope, never resets.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import threading
import time

from .common import App, Response, State

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
# prom-client's default buckets (lib/histogram.js), as the Node.js API's http histogram uses them
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
STREAM_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5)
# mongodb-driver-prometheus-exporter's default mongodbDriverCommandsSecondsHistogramBuckets
DRIVER_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
KUBE_CACHE_SECONDS = 0.5


def fmt(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels_text(labels: dict) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def quantile_cdf(quantiles: dict) -> list[tuple[float, float]]:
    """Points (seconds, share of requests at most that slow) of a latency distribution given as
    {p50, p95, p99}: a piecewise-linear CDF through them, ending at twice p99."""
    p50, p95, p99 = (float(quantiles[k]) for k in ("p50", "p95", "p99"))
    return [(0.0, 0.0), (p50, 0.5), (p95, 0.95), (p99, 0.99), (2 * p99, 1.0)]


def cdf_at(points: list[tuple[float, float]], x: float) -> float:
    if x >= points[-1][0]:
        return 1.0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return 1.0


def parse_quantity(value) -> float:
    """A Kubernetes quantity (512Mi, 2Gi, 1.5G, 1000) in base units."""
    text = str(value).strip()
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("Ti", 2**40),
                           ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("m", 1e-3)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


class Counters:
    """Running counter totals: add(rate) integrates each series' rate over the time since its last scrape."""

    def __init__(self):
        self.lock = threading.Lock()
        self.values: dict[tuple, float] = {}
        self.seen: dict[tuple, float] = {}

    def add(self, name: str, labels: dict, rate: float, now: float) -> float:
        key = (name, tuple(labels.items()))
        with self.lock:
            last = self.seen.get(key)
            value = self.values.get(key, 0.0)
            if last is not None and now > last:
                value += max(rate, 0.0) * (now - last)
            self.values[key] = value
            self.seen[key] = now
            return value

    def at_least(self, name: str, labels: dict, total: float, now: float) -> float:
        """A counter that follows an externally kept total (restartCount) and never goes down."""
        key = (name, tuple(labels.items()))
        with self.lock:
            value = max(self.values.get(key, 0.0), float(total))
            self.values[key] = value
            self.seen[key] = now
            return value


class Exposition:
    """Lines of one scrape, with # HELP / # TYPE written once per family."""

    def __init__(self):
        self.lines: list[str] = []
        self.families: set[str] = set()

    def family(self, name: str, kind: str, help_text: str) -> None:
        if name not in self.families:
            self.families.add(name)
            self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, labels: dict, value: float) -> None:
        self.lines.append(f"{name}{labels_text(labels)} {fmt(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class KubeView:
    """The Kubernetes emulator's state as the exporters need it, read over its HTTP API."""

    def __init__(self, kubeconfig: str | None):
        self.kubeconfig = kubeconfig
        self.lock = threading.Lock()
        self.cache: dict = {}

    def _api(self):
        from sandboxlib.kube import KubeAPI

        mtime = os.stat(self.kubeconfig).st_mtime
        if self.cache.get("mtime") != mtime:
            self.cache.update(api=KubeAPI(self.kubeconfig, timeout=2), mtime=mtime, at=0.0)
        return self.cache["api"]

    def snapshot(self, ns: str) -> dict | None:
        """{deployments, pods, pod_metrics} of namespace `ns`, or None when the cluster is not reachable."""
        if not self.kubeconfig:
            return None
        with self.lock:
            now = time.monotonic()
            if self.cache.get("ns") == ns and now - self.cache.get("at", 0.0) < KUBE_CACHE_SECONDS:
                return self.cache["snap"]
            try:
                api = self._api()
                deps = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments")
                pods = api.get(f"/api/v1/namespaces/{ns}/pods")
                deps.raise_for_status()
                pods.raise_for_status()
                usage = api.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods")
                snap = {"deployments": deps.json().get("items", []), "pods": pods.json().get("items", []),
                        "pod_metrics": usage.json().get("items", []) if usage.ok else []}
            except Exception:  # noqa: BLE001 - an unreachable cluster means no kube series, as in production
                snap = None
            self.cache.update(ns=ns, at=now, snap=snap)
            return snap


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _env(snap: dict | None, deployment: str, name: str) -> str | None:
    """An env value of a Deployment's first container (as the backend reads AI_MODERATION)."""
    for dep in (snap or {}).get("deployments", []):
        if dep["metadata"]["name"] == deployment:
            containers = ((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [{}]
            return {e.get("name"): e.get("value") for e in containers[0].get("env") or []}.get(name)
    return None


def _started(pod: dict) -> float | None:
    raw = (pod.get("status") or {}).get("startTime") or pod["metadata"].get("creationTimestamp")
    try:
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() if raw else None
    except ValueError:
        return None


def _restarted_since(snap: dict | None, deployment: str, since: float) -> bool:
    """True once `deployment` carries a kubectl.kubernetes.io/restartedAt (kubectl rollout restart) written after
    `since` and has rolled out completely: observedGeneration caught up, every replica updated and available
    (kubectl's rollout status, staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go)."""
    for dep in (snap or {}).get("deployments", []):
        if dep["metadata"]["name"] != deployment:
            continue
        annotations = (((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {}
        raw = annotations.get("kubectl.kubernetes.io/restartedAt")
        try:
            # RFC 3339 in whatever zone the client wrote (kubectl: time.Now().Format(time.RFC3339), seconds)
            stamp = dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() if raw else None
        except ValueError:
            stamp = None
        if stamp is None or stamp + 1 < since:
            return False
        status, want = dep.get("status") or {}, int(dep["spec"].get("replicas", 1))
        return (status.get("observedGeneration", 0) >= dep["metadata"].get("generation", 0)
                and status.get("updatedReplicas", 0) == want and status.get("availableReplicas", 0) == want
                and status.get("replicas", 0) == want)
    return False


class CacheView:
    """Whether Redis still holds a stale stream cache entry (a JSON value with "stale": true), cached briefly."""

    def __init__(self):
        self.lock = threading.Lock()
        self.cache: dict = {}

    def stale(self, redis_url: str | None, pattern: str) -> bool:
        if not redis_url:
            return True
        with self.lock:
            now = time.monotonic()
            if self.cache.get("key") == (redis_url, pattern) and now - self.cache.get("at", 0.0) < KUBE_CACHE_SECONDS:
                return self.cache["stale"]
            try:
                stale = _stale_entries(redis_url, pattern)
            except Exception:  # noqa: BLE001 - an unreachable Redis leaves the cache as it was: still stale
                stale = True
            self.cache.update(key=(redis_url, pattern), at=now, stale=stale)
            return stale


def _stale_entries(redis_url: str, pattern: str) -> bool:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        batch: list = []
        for key in client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 200:
                if _any_stale(client.mget(batch)):
                    return True
                batch = []
        return bool(batch) and _any_stale(client.mget(batch))
    finally:
        client.close()


def _any_stale(values) -> bool:
    for raw in values:
        try:
            value = json.loads(raw) if raw is not None else None
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("stale") is True:
            return True
    return False


def recovered(recovery: dict | None, snap: dict | None, started: float, stale_cache=None) -> bool:
    """Whether a scenario's `recovery` (the runbook's fix) is in: its `deployment` restarted after the switch and
    rolled out completely and, when it names a `stale_cache` pattern, no stale entry of it left in Redis."""
    if not recovery or not _restarted_since(snap, recovery["deployment"], started):
        return False
    return "stale_cache" not in recovery or not stale_cache(recovery["stale_cache"])


def stream_quantiles(streams: dict, snap: dict | None, started: float, stale_cache) -> dict:
    """The stream latency quantiles now: the scenario's, or its `recovery` ones once the runbook's fix is in
    (no stale cache entry left and the streaming Deployment restarted since the switch)."""
    recovery = streams.get("recovery")
    if recovered(recovery, snap, started, stale_cache):
        return recovery["latency_seconds"]
    return streams["latency_seconds"]


def driver_error_ratio(spec: dict, snap: dict | None, started: float) -> float:
    """The share of the backend's MongoDB commands that fail now: all of them while MongoDB is down (no restart
    of the backend changes that); else the scenario's, or its `recovery` one once the backend was restarted after
    the switch (new connection pools: db_connection_lost.yml's cure)."""
    driver = spec["api"]["mongodb_driver"]
    if not float(spec["mongodb"]["up"]):
        return 1.0
    if recovered(driver.get("recovery"), snap, started):
        return float(driver["recovery"]["error_ratio"])
    return float(driver["error_ratio"])


def _available(snap: dict | None, deployment: str) -> int | None:
    if snap is None:
        return None
    for dep in snap["deployments"]:
        if dep["metadata"]["name"] == deployment:
            return int((dep.get("status") or {}).get("availableReplicas") or 0)
    return 0


def histogram(out: Exposition, counters: Counters, name: str, help_text: str, labels: dict, rate: float,
              quantiles: dict, buckets, now: float) -> None:
    out.family(name, "histogram", help_text)
    points = quantile_cdf(quantiles)
    for le in buckets:
        value = counters.add(name + "_bucket", dict(labels, le=fmt(le)), rate * cdf_at(points, le), now)
        out.sample(name + "_bucket", dict(labels, le=fmt(le)), value)
    count = counters.add(name + "_bucket", dict(labels, le="+Inf"), rate, now)
    out.sample(name + "_bucket", dict(labels, le="+Inf"), count)
    out.sample(name + "_sum", labels, counters.add(name + "_sum", labels, rate * float(quantiles["p50"]), now))
    out.sample(name + "_count", labels, count)


def api_metrics(spec: dict, ns: str, snap: dict | None, counters: Counters, now: float,
                stream_latency: dict | None = None, db_error_ratio: float | None = None) -> str:
    out = Exposition()
    api = spec["api"]
    rps = float(api["requests_per_second"])
    ready = _available(snap, "backend")
    capacity = float(api["capacity_per_ready_pod"]) * ready if ready is not None else rps
    overflow = max(0.0, rps - capacity) / rps if rps else 0.0      # shed with 503
    failing = min(1.0, float(api["error_ratio"]))                   # application errors, 500
    out.family("http_requests_total", "counter", "Total HTTP requests answered, by route, method and status.")
    for route, share in api["routes"].items():
        method = "POST" if route in api.get("post_routes", []) else "GET"
        base = {"namespace": ns, "service": "backend", "route": route, "method": method}
        route_rps = rps * float(share)
        by_status = {"200": route_rps * (1 - overflow) * (1 - failing),
                     "500": route_rps * (1 - overflow) * failing,
                     "503": route_rps * overflow}
        for status, rate in by_status.items():
            out.sample("http_requests_total", dict(base, status=status),
                       counters.add("http_requests_total", dict(base, status=status), rate, now))
    for route, share in api["routes"].items():
        histogram(out, counters, "http_request_duration_seconds", "HTTP request duration in seconds.",
                  {"namespace": ns, "service": "backend", "route": route}, rps * float(share),
                  api["latency_seconds"], HTTP_BUCKETS, now)

    driver = api["mongodb_driver"]
    failing_db = float(driver["error_ratio"]) if db_error_ratio is None else db_error_ratio
    for command, rate in driver["commands_per_second"].items():
        for status, share in (("SUCCESS", 1 - failing_db), ("ERROR", failing_db)):
            histogram(out, counters, "mongodb_driver_commands_seconds", "Timer of mongodb commands",
                      {"namespace": ns, "service": "backend", "command": command,
                       "server_address": driver["server_address"], "status": status},
                      float(rate) * share, driver["latency_seconds"], DRIVER_BUCKETS, now)

    out.family("payments_total", "counter", "Payment attempts by provider and outcome.")
    for provider, pay in spec["payments"].items():
        attempts, success = float(pay["attempts_per_second"]), float(pay["success_ratio"])
        for status, rate in (("success", attempts * success), ("failed", attempts * (1 - success))):
            labels = {"namespace": ns, "provider": provider, "status": status}
            out.sample("payments_total", labels, counters.add("payments_total", labels, rate, now))

    streams = spec["streams"]
    histogram(out, counters, "stream_latency_seconds", "Glass-to-glass stream latency in seconds.",
              {"namespace": ns, "service": "streaming"}, float(streams["segments_per_second"]),
              stream_latency or streams["latency_seconds"], STREAM_BUCKETS, now)
    out.family("active_streams", "gauge", "Live streams now.")
    out.sample("active_streams", {"namespace": ns}, float(streams["active"]))
    out.family("concurrent_users", "gauge", "Users connected now.")
    out.sample("concurrent_users", {"namespace": ns}, float(streams["users_online"]))
    out.family("gift_transactions_total", "counter", "Gifts sent.")
    out.sample("gift_transactions_total", {"namespace": ns}, counters.add(
        "gift_transactions_total", {"namespace": ns}, float(spec["gifts"]["per_second"]), now))

    mod = spec["moderation"]
    model = {"namespace": ns, "model": mod["model"]}
    # The backend sends messages to the model only while its AI_MODERATION is "true" (the runbook's
    # fallback sets it to false); the model fails every call while no ai-engine pod is Ready.
    moderating = str(_env(snap, "backend", "AI_MODERATION") or "true").strip().lower() == "true"
    sent = float(mod["messages_per_second"]) if moderating else 0.0
    down = _available(snap, "ai-engine") == 0
    out.family("moderation_queue_depth", "gauge", "Messages waiting for the moderation model.")
    out.sample("moderation_queue_depth", {"namespace": ns},
               float(mod["queue_depth_unavailable" if down and moderating else "queue_depth"]))
    out.family("moderation_requests_total", "counter", "Messages sent to the moderation model.")
    out.sample("moderation_requests_total", model, counters.add("moderation_requests_total", model, sent, now))
    out.family("moderation_model_errors_total", "counter", "Moderation model calls that failed.")
    error_rate = sent if down else min(sent, float(mod["model_errors_per_second"]))
    out.sample("moderation_model_errors_total", model, counters.add("moderation_model_errors_total", model,
                                                                    error_rate, now))
    return out.text()


def kube_state_metrics(snap: dict | None, ns: str, counters: Counters, now: float) -> str:
    out = Exposition()
    if snap is None:
        return out.text()
    out.family("kube_deployment_spec_replicas", "gauge", "Number of desired pods for a deployment.")
    out.family("kube_deployment_status_replicas_available", "gauge",
               "The number of available replicas per deployment.")
    for dep in snap["deployments"]:
        labels = {"namespace": ns, "deployment": dep["metadata"]["name"]}
        out.sample("kube_deployment_spec_replicas", labels, float(dep["spec"].get("replicas", 1)))
        out.sample("kube_deployment_status_replicas_available", labels,
                   float((dep.get("status") or {}).get("availableReplicas") or 0))
    out.family("kube_pod_status_ready", "gauge", "Describes whether the pod is ready to serve requests.")
    out.family("kube_pod_container_status_restarts_total", "counter",
               "The number of container restarts per container.")
    out.family("kube_pod_container_status_waiting_reason", "gauge",
               "Describes the reason the container is currently in waiting state.")
    out.family("kube_pod_container_resource_limits", "gauge",
               "The number of requested limit resource by a container.")
    for pod in snap["pods"]:
        for container in pod["spec"].get("containers", []):
            limits = (container.get("resources") or {}).get("limits") or {}
            for resource, unit in (("memory", "byte"), ("cpu", "core")):
                if resource in limits:
                    out.sample("kube_pod_container_resource_limits", {
                        "namespace": ns, "pod": pod["metadata"]["name"], "uid": pod["metadata"].get("uid", ""),
                        "container": container["name"], "node": pod["spec"].get("nodeName", ""),
                        "resource": resource, "unit": unit}, parse_quantity(limits[resource]))
        name = pod["metadata"]["name"]
        ready = _ready(pod)
        for condition in ("true", "false", "unknown"):
            out.sample("kube_pod_status_ready", {"namespace": ns, "pod": name, "uid": pod["metadata"].get("uid", ""),
                                                 "condition": condition},
                       1.0 if (condition == "true") == ready and condition != "unknown" else 0.0)
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            labels = {"namespace": ns, "pod": name, "uid": pod["metadata"].get("uid", ""), "container": cs["name"]}
            out.sample("kube_pod_container_status_restarts_total", labels, counters.at_least(
                "kube_pod_container_status_restarts_total", labels, cs.get("restartCount", 0), now))
            reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
            if reason:
                out.sample("kube_pod_container_status_waiting_reason", dict(labels, reason=reason), 1.0)
    return out.text()


def cadvisor_metrics(spec: dict, snap: dict | None, ns: str, started: float, now: float) -> str:
    out = Exposition()
    if snap is None:
        return out.text()
    usage = {(m["metadata"]["name"], c["name"]): parse_quantity(c["usage"]["memory"])
             for m in snap["pod_metrics"] for c in m.get("containers") or [] if "memory" in (c.get("usage") or {})}
    ramps = spec.get("memory_ramp") or {}
    out.family("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes")
    out.family("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.")
    for pod in snap["pods"]:
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        name = pod["metadata"]["name"]
        for container in pod["spec"].get("containers", []):
            labels = {"namespace": ns, "pod": name, "container": container["name"], "image": container.get("image", "")}
            ramp = ramps.get(container["name"])
            if ramp:
                # A leak starts over in a new pod: the ramp runs from the switch or the pod's start.
                since = max(started, _started(pod) or started)
                done = min(1.0, max(0.0, (now - since) / float(ramp["seconds"])))
                low, high = parse_quantity(ramp["from"]), parse_quantity(ramp["to"])
                value = low + (high - low) * done
            else:
                value = usage.get((name, container["name"]))
            if value is not None:
                out.sample("container_memory_working_set_bytes", labels, value)
            limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
            if limit:
                out.sample("container_spec_memory_limit_bytes", labels, parse_quantity(limit))
    return out.text()


def mongodb_metrics(spec: dict, ns: str) -> str:
    out = Exposition()
    mongo = spec["mongodb"]
    out.family("mongodb_up", "gauge", "Whether MongoDB is up.")
    out.sample("mongodb_up", {"namespace": ns}, float(mongo["up"]))
    out.family("mongodb_ss_connections", "untyped", "serverStatus.connections")
    for conn_type in ("current", "available"):
        out.sample("mongodb_ss_connections", {"namespace": ns, "conn_type": conn_type},
                   float(mongo["connections_" + conn_type]))
    return out.text()


def make_app(state: State, kubeconfig: str | None) -> App:
    app = App("metrics")
    counters = Counters()
    kube = KubeView(kubeconfig)
    cache = CacheView()

    def scenario():
        with state.lock:
            return state.metrics, state.namespace, state.scenario_started

    def api(spec, ns, started, now):
        snap = kube.snapshot(ns)
        with state.lock:
            redis_url = state.redis_url
        latency = stream_quantiles(spec["streams"], snap, started, lambda pattern: cache.stale(redis_url, pattern))
        return api_metrics(spec, ns, snap, counters, now, latency, driver_error_ratio(spec, snap, started))

    def serve(render):
        spec, ns, started = scenario()
        if not spec:
            return Response(503, "no scenario loaded yet\n", "text/plain; charset=utf-8")
        return Response(200, render(spec, ns, started, time.time()), TEXT_FORMAT)

    app.route("GET", r"/metrics")(lambda req: serve(api))
    app.route("GET", r"/metrics/kube-state-metrics")(lambda req: serve(
        lambda spec, ns, started, now: kube_state_metrics(kube.snapshot(ns), ns, counters, now)))
    app.route("GET", r"/metrics/cadvisor")(lambda req: serve(
        lambda spec, ns, started, now: cadvisor_metrics(spec, kube.snapshot(ns), ns, started, now)))
    app.route("GET", r"/metrics/mongodb")(lambda req: serve(lambda spec, ns, started, now: mongodb_metrics(spec, ns)))
    return app
