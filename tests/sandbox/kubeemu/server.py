"""The HTTP front: kube-apiserver paths, discovery, watch streaming and the /_sandbox/ admin endpoints."""

import json
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

from . import crds, errors, policy, protobuf, resources, subresources
from .errors import ApiError
from .tables import to_table

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "kubeemu", "gitTreeState": "clean",
           "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3", "compiler": "gc",
           "platform": "linux/amd64"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubeemu/1.32"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("kubeemu: %s\n" % (fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # ---- plumbing -------------------------------------------------------------------------------
    def send_body(self, code, data, content_type="application/json"):
        raw = data if isinstance(data, bytes) else (
            data.encode() if isinstance(data, str) else json.dumps(data).encode())
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def chunk(self, text):
        raw = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def dispatch(self, method):
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(length) if length else b""
        try:
            self.route(method, url.path.rstrip("/") or "/")
        except ApiError as exc:
            self.send_body(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # pragma: no cover - a bug in the emulator: say so, like a 500 would
            traceback.print_exc()
            self.send_body(500, ApiError(500, "InternalError", "kubeemu: %s" % exc).status())

    def body(self):
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if not self.raw_body:
            return None
        if "protobuf" in ctype:
            try:
                return protobuf.decode(self.raw_body)
            except protobuf.ProtobufError as exc:
                raise errors.unsupported_media(ctype, str(exc))
        try:
            if "yaml" in ctype:
                return yaml.safe_load(self.raw_body.decode())
            return json.loads(self.raw_body)
        except ValueError as exc:
            raise errors.bad_request("the body of the request could not be decoded: %s" % exc)

    def flag(self, key):
        return self.query.get(key, "").lower() in ("1", "true")

    # ---- routing --------------------------------------------------------------------------------
    def route(self, method, path):
        cluster = self.server.cluster
        if path.startswith("/_sandbox/"):
            return self.sandbox(method, path[len("/_sandbox/"):])
        if method == "GET":
            if path == "/version":
                return self.send_body(200, VERSION)
            if path in ("/healthz", "/livez", "/readyz"):
                return self.send_body(200, "ok", "text/plain; charset=utf-8")
            if path == "/api":
                return self.send_body(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%d" % self.server.server_port}]})
            if path == "/apis":
                return self.send_body(200, crds.for_cluster(cluster).extend_group_list(resources.api_group_list()))
            if path == "/openapi/v3":
                return self.send_body(200, resources.openapi_root())
            if path.startswith("/openapi/v3/"):
                doc = resources.openapi_document(path[len("/openapi/v3/"):])
                if doc is not None:
                    return self.send_body(200, doc)
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        elif len(parts) == 2 and parts[0] == "apis" and method == "GET":
            doc = resources.api_group(parts[1]) or crds.for_cluster(cluster).api_group(parts[1])
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.send_body(200, doc)
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            doc = resources.resource_list(group, version) or crds.for_cluster(cluster).resource_list(group, version)
            if doc is None or method != "GET":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.send_body(200, doc)
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            r = self.lookup(group, version, rest[2])
            if r is not None and r.namespaced:
                ns, rest = rest[1], rest[2:]
        r = self.lookup(group, version, rest[0])
        if r is None or len(rest) > 3 or (ns is not None and not r.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if r.group == "metrics.k8s.io":
            if method != "GET" or sub:
                raise errors.method_not_allowed()
            lreqs, _ = cluster.selectors(r, self.query.get("labelSelector"), None)
            return self.send_body(200, subresources.metrics(cluster, r, ns, name, lreqs))
        if r.namespaced and ns is None and (name is not None or method not in ("GET",)):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry_run = self.query.get("dryRun") == "All"
        if sub is not None:
            return self.subresource(method, r, ns, name, sub, dry_run)
        if method == "GET":
            if name is None and self.flag("watch"):
                return self.watch(r, ns)
            obj = cluster.get(r, ns, name) if name else cluster.list(
                r, ns, self.query.get("labelSelector"), self.query.get("fieldSelector"))
            return self.send_obj(200, obj)
        if method == "POST" and name is None:
            if getattr(r, "crd_uid", None):
                crds.for_cluster(cluster).settle(r)
            return self.send_obj(201, cluster.create(r, ns, self.body(), dry_run))
        if method == "PUT" and name:
            return self.send_obj(200, cluster.update(r, ns, name, self.body(), None, dry_run))
        if method == "PATCH" and name:
            return self.send_obj(200, self.patch(r, ns, name, None, dry_run))
        if method == "DELETE":
            options = self.body() or {}
            if not isinstance(options, dict):
                raise errors.bad_request("the body of a DELETE must be DeleteOptions")
            for key in ("propagationPolicy",):
                if key in self.query:
                    options[key] = self.query[key]
            if "gracePeriodSeconds" in self.query:
                try:
                    options["gracePeriodSeconds"] = int(self.query["gracePeriodSeconds"])
                except ValueError:
                    raise errors.bad_request("invalid gracePeriodSeconds %r" % self.query["gracePeriodSeconds"])
            if name:
                return self.send_obj(200, cluster.delete(r, ns, name, options, dry_run))
            return self.send_obj(200, cluster.delete_collection(
                r, ns, self.query.get("labelSelector"), self.query.get("fieldSelector"), options, dry_run))
        raise errors.method_not_allowed()

    def lookup(self, group, version, plural):
        """A built-in resource, or a custom resource an accepted CRD serves (crds.py)."""
        return resources.lookup(group, version, plural) or crds.for_cluster(self.server.cluster).lookup(
            group, version, plural)

    def patch(self, r, ns, name, sub, dry_run):
        ctype = self.headers.get("Content-Type") or ""
        if "protobuf" in ctype:
            raise errors.unsupported_patch(ctype)
        if getattr(r, "crd_uid", None) and "strategic-merge-patch" in ctype:
            raise crds.unsupported_patch(ctype)
        return self.server.cluster.patch(r, ns, name, ctype, self.raw_body, sub, dry_run, self.flag("force"))

    def send_obj(self, code, obj):
        accept = self.headers.get("Accept") or ""
        if "as=Table" in accept and obj.get("kind") != "Status":
            obj = to_table(obj, self.query.get("includeObject", "Metadata"))
        self.send_body(code, obj)

    def subresource(self, method, r, ns, name, sub, dry_run):
        cluster = self.server.cluster
        if getattr(r, "crd_uid", None) and not (sub == "status" and r.status):   # crdHandler: NotFound
            raise errors.not_found(r, name)
        if sub == "status" and r.status:
            if method == "GET":
                return self.send_obj(200, cluster.get(r, ns, name))
            if method == "PUT":
                return self.send_obj(200, cluster.update(r, ns, name, self.body(), "status", dry_run))
            if method == "PATCH":
                return self.send_obj(200, self.patch(r, ns, name, "status", dry_run))
        elif sub == "scale" and r.scale:
            if method == "GET":
                return self.send_body(200, subresources.get_scale(cluster, r, ns, name))
            if method == "PUT":
                return self.send_body(200, subresources.set_scale(cluster, r, ns, name, self.body(), dry_run))
            if method == "PATCH":
                return self.send_body(200, subresources.patch_scale(
                    cluster, r, ns, name, self.headers.get("Content-Type"), self.raw_body, dry_run))
        elif sub == "log" and r.plural == "pods" and method == "GET":
            text = subresources.pod_log(cluster, ns, name, self.query)
            if not self.flag("follow"):
                return self.send_body(200, text, "text/plain")
            return self.follow_log(ns, name, text)
        elif sub == "eviction" and r.plural == "pods" and method == "POST":
            return self.send_body(201, policy.evict(cluster, ns, name, self.body(), dry_run))
        elif sub in ("status", "scale", "log", "eviction"):
            raise errors.method_not_allowed()
        elif r.plural == "pods" and sub in ("exec", "attach", "portforward", "proxy"):
            raise errors.bad_request("kubeemu runs no containers: pods/%s is not available in the sandbox "
                                     "(see tests/sandbox/kubeemu/README.md)" % sub)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def follow_log(self, ns, name, text):
        """follow=true: the configured lines, then the stream stays open until the pod goes."""
        cluster = self.server.cluster
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if text:
            self.chunk(text)
        pods = resources.BY_KEY["pods"]
        with cluster.lock:
            while not cluster.stopping and cluster.find(pods, ns, name) is not None:
                cluster.cond.wait(1.0)
        self.wfile.write(b"0\r\n\r\n")

    def watch(self, r, ns):
        cluster = self.server.cluster
        try:
            timeout = float(self.query.get("timeoutSeconds") or 1800)
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds")
        events = cluster.watch(r, ns, self.query.get("labelSelector"), self.query.get("fieldSelector"),
                               self.query.get("resourceVersion"), timeout)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        table = "as=Table" in (self.headers.get("Accept") or "")
        sent_columns = False
        try:
            for ev in events:
                if ev is None:
                    continue
                if table and ev["object"].get("kind") != "Status":
                    ev = {"type": ev["type"], "object": to_table(ev["object"], self.query.get("includeObject",
                                                                                            "Metadata"),
                                                                 columns=not sent_columns)}
                    sent_columns = True
                self.chunk(json.dumps(ev) + "\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    # ---- /_sandbox/ -----------------------------------------------------------------------------
    def sandbox(self, method, what):
        cluster = self.server.cluster
        if what == "healthz" and method == "GET":
            return self.send_body(200, "ok", "text/plain; charset=utf-8")
        if what == "reset" and method == "POST":
            cluster.reset()
            return self.send_body(200, {"reset": True, "resourceVersion": str(cluster.rv)})
        if what == "config" and method == "PUT":
            cluster.set_config(self.body() or {})
            return self.send_body(200, cluster.config)
        if what == "config" and method == "GET":
            return self.send_body(200, cluster.config)
        raise ApiError(404, "NotFound", "unknown sandbox endpoint /_sandbox/%s (known: GET healthz, POST reset, "
                                        "GET/PUT config)" % what)


class Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, addr, cluster, verbose=False):
        self.cluster = cluster
        # apiextensions-apiserver's controllers (naming, establishing, finalizer) run from the API server's
        # start, not from the first request that looks up a custom resource: a CRD created by a client that
        # never asks discovery must still become Established.
        crds.for_cluster(cluster)
        self.verbose = verbose
        self.connections = set()
        self.conn_lock = threading.Lock()
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = super().get_request()
        with self.conn_lock:
            self.connections.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        with self.conn_lock:
            socks = list(self.connections)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
