"""HTTP front end (standard library only) and the in-process start/stop used by tests."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .config import ConfigError, load_config, parse_config
from .core import Request, VaultCore

_OPERATIONS = {"GET": "read", "HEAD": "read", "LIST": "list", "POST": "update", "PUT": "update",
               "DELETE": "delete", "PATCH": "patch"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "vaultemu"
    sys_version = ""
    timeout = 30  # a stuck client cannot hold stop() forever
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: the audit log is the record
        pass

    def _send(self, status, body=None, text=None):
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
        elif text is not None:
            payload = text.encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "application/json" if text is None else "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD" and status != 204:
            self.wfile.write(payload)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def _dispatch(self):
        url = urlsplit(self.path)
        try:
            body = self._body()
        except (ValueError, UnicodeDecodeError) as exc:
            self._send(400, {"errors": [f"failed to parse JSON input: {exc}"]})
            return
        if url.path.startswith("/_sandbox/"):
            self._admin(url.path, body)
            return
        if not url.path.startswith("/v1/"):
            self._send(404, text="404 page not found\n")
            return
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        operation = _OPERATIONS[self.command]
        if self.command == "GET" and query.pop("list", "").lower() in ("true", "1"):
            operation = "list"
        if self.command in ("GET", "HEAD", "LIST"):
            body = {**query, **body}
        token = self.headers.get("X-Vault-Token") or ""
        auth = self.headers.get("Authorization") or ""
        if not token and auth.startswith("Bearer "):
            token = auth[len("Bearer "):].strip()
        # Go's net/http hands Vault the decoded path (URL.Path): auth/ldap/login/HALOBUZZ%5Calice is
        # the user HALOBUZZ\alice.
        req = Request(id=str(uuid.uuid4()), operation=operation,
                      path=unquote(url.path[len("/v1/"):]).lstrip("/"),
                      data=body, token=token, remote_address=self.client_address[0],
                      remote_port=self.client_address[1], wrap_ttl=self.headers.get("X-Vault-Wrap-TTL") or "")
        status, payload = self.server.core.handle(req)
        self._send(status, payload)

    def _admin(self, path, body):
        if path == "/_sandbox/healthz" and self.command == "GET":
            self._send(200, {"status": "ok"})
        elif path == "/_sandbox/reset" and self.command == "POST":
            try:
                self.server.core.reset(parse_config(body))
            except ConfigError as exc:
                self._send(400, {"errors": [str(exc)]})
                return
            self._send(200, {"status": "reset"})
        else:
            self._send(404, {"errors": [f"no sandbox endpoint {self.command} {path}"]})

    do_GET = do_HEAD = do_LIST = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins every request thread


class VaultEmulator:
    """An in-process Vault emulator on a free loopback port.

    >>> with VaultEmulator({"root_token": "root"}) as vault:
    ...     vault.url  # http://127.0.0.1:<port>
    """

    def __init__(self, config, audit_log=None, host="127.0.0.1", port=0, clock=time.time):
        if isinstance(config, (str, Path)):
            config = load_config(config)
        elif isinstance(config, dict):
            config = parse_config(config)
        self.core = VaultCore(config, clock, str(audit_log) if audit_log else None)
        self.host, self._port = host, port
        self._server = None
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    @property
    def root_token(self):
        return self.core.config.root_token

    def audit_hash(self, value):
        """The HMAC the audit log writes for `value` (what sys/audit-hash/file answers)."""
        return self.core.audit.hash(value)

    def reset(self, config):
        self.core.reset(parse_config(config) if isinstance(config, dict) else config)

    def start(self):
        self._server = _Server((self.host, self._port), _Handler)
        self._server.core = self.core
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"vaultemu-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None
        self.core.audit.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
