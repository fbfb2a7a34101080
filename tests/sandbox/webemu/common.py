"""A tiny JSON-over-HTTP server base on the standard library (no framework to start)."""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler):
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = handler.headers
        length = int(handler.headers.get("Content-Length") or 0)
        self.body = handler.rfile.read(length) if length else b""

    def form(self) -> dict[str, list[str]]:
        """Query parameters, plus a form-encoded body (Prometheus accepts both)."""
        params = {k: list(v) for k, v in self.query.items()}
        if self.body and "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            for key, values in parse_qs(self.body.decode(errors="replace"), keep_blank_values=True).items():
                params.setdefault(key, []).extend(values)
        return params

    def json(self):
        return json.loads(self.body.decode() or "null")


class Response:
    def __init__(self, status: int = 200, body=None, content_type: str = "application/json", headers=None):
        self.status = status
        self.content_type = content_type
        self.headers = headers or {}
        if isinstance(body, (bytes, str)):
            self.payload = body.encode() if isinstance(body, str) else body
        else:
            self.payload = json.dumps(body).encode()


class App:
    """Routes: (method, regex) -> function(request, **groups) -> Response."""

    def __init__(self, name: str):
        self.name = name
        self.routes: list[tuple[str, re.Pattern, object]] = []

    def route(self, method: str, pattern: str):
        def deco(fn):
            self.routes.append((method, re.compile(pattern + "$"), fn))
            return fn
        return deco

    def dispatch(self, req: Request) -> Response:
        allowed = False
        for method, pattern, fn in self.routes:
            match = pattern.match(req.path)
            if not match:
                continue
            allowed = True
            if method == req.method or (method == "GET" and req.method == "HEAD"):
                return fn(req, **match.groupdict())
        if allowed:
            return Response(405, {"error": f"method {req.method} not allowed on {req.path}"})
        return self.not_found(req)

    def not_found(self, req: Request) -> Response:
        return Response(404, {"error": f"no route for {req.path}"})

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = f"halobuzz-sandbox-{app.name}"

            def _handle(self):
                req = Request(self)
                try:
                    resp = app.dispatch(req)
                except Exception as exc:  # noqa: BLE001 - an emulator bug must answer, not hang
                    resp = Response(500, {"error": f"{type(exc).__name__}: {exc}"})
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                self.send_header("Content-Length", str(len(resp.payload)))
                for key, value in resp.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, fmt, *args):  # one line per request, into the service log
                print(f"{app.name}: {self.address_string()} {fmt % args}", flush=True)

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=app.name, daemon=True).start()
        return server


class State:
    """The scenario state shared by the emulators of one process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.metrics: dict = {}
        self.scenario_started = time.time()
        self.providers: dict[str, str] = {}
        self.namespace = "halobuzz"
        self.deployment = "backend"
        self.redis_url: str | None = None  # the stream latency exporter reads the stream cache (metrics.py)
        self.slack_messages: list[dict] = []
        self.pagerduty_events: list[dict] = []
        self.pagerduty_alerts: dict[tuple, dict] = {}

    def set_scenario(self, body: dict) -> None:
        with self.lock:
            self.metrics = dict(body.get("metrics", self.metrics))
            self.scenario_started = time.time()
            self.providers = dict(body.get("providers", self.providers))
            self.namespace = body.get("namespace", self.namespace)
            self.deployment = body.get("deployment", self.deployment)
            self.redis_url = body.get("redis_url", self.redis_url)
            self.slack_messages = []
            self.pagerduty_events = []
            self.pagerduty_alerts = {}

    def patch_scenario(self, body: dict) -> None:
        """Change the running scenario in place (a provider recovers, an exporter loses MongoDB): `metrics` and
        `providers` are deep-merged; the scenario's start and what the receivers got are kept."""
        def merge(base: dict, override: dict) -> dict:
            out = dict(base)
            for key, value in override.items():
                out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
                    else value
            return out

        with self.lock:
            self.metrics = merge(self.metrics, body.get("metrics") or {})
            self.providers = merge(self.providers, body.get("providers") or {})
