"""An audit device in the shape of Vault's file audit device.

One JSON line per request and one per response. Every string value in request and
response data, and every token and accessor, is replaced by "hmac-sha256:<hex>" keyed
with a per-server salt, exactly as Vault's audit hashing does; non-string values
(numbers, booleans, null) stay as they are, as in Vault. The salt never leaves the
process; `sys/audit-hash/<device>` (sudo) computes the same HMAC for a given input.
"""

import hashlib
import hmac
import json
import os
import secrets
import threading

from .tokens import rfc3339


class AuditDevice:
    def __init__(self, path, clock):
        self.path = path
        self.clock = clock
        self.salt = secrets.token_bytes(32)
        self.lock = threading.Lock()
        if path:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self.file = os.fdopen(fd, "a", encoding="utf-8")
        else:
            self.file = None

    def hash(self, value):
        return "hmac-sha256:" + hmac.new(self.salt, str(value).encode(), hashlib.sha256).hexdigest()

    def hash_structure(self, value):
        if isinstance(value, str):
            return self.hash(value)
        if isinstance(value, dict):
            return {k: self.hash_structure(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.hash_structure(v) for v in value]
        return value

    def auth_entry(self, tok):
        """The `auth` object of an entry, for the token that made the request (or none)."""
        if tok is None:
            return {"token_type": "default"}
        entry = {"client_token": self.hash(tok.id), "accessor": self.hash(tok.accessor),
                 "display_name": tok.display_name, "policies": list(tok.policies),
                 "token_policies": list(tok.policies), "token_type": "service",
                 "token_issue_time": rfc3339(tok.creation_time)}
        if tok.meta:
            entry["metadata"] = dict(tok.meta)
        if tok.ttl:
            entry["token_ttl"] = tok.ttl
        return entry

    def request_entry(self, req, tok_for_auth):
        request = {"id": req.id, "operation": req.operation, "mount_point": req.mount_point,
                   "mount_type": req.mount_type, "namespace": {"id": "root"}, "path": req.path,
                   "remote_address": req.remote_address, "remote_port": req.remote_port}
        if req.token:
            request["client_token"] = self.hash(req.token)
            if tok_for_auth is not None:
                request["client_token_accessor"] = self.hash(tok_for_auth.accessor)
        if req.data:
            request["data"] = self.hash_structure(req.data)
        return request

    def log(self, kind, req, tok_for_auth, error=None, response=None):
        if self.file is None:
            return
        entry = {"auth": self.auth_entry(tok_for_auth), "request": self.request_entry(req, tok_for_auth),
                 "time": rfc3339(self.clock()), "type": kind}
        if kind == "response":
            entry["response"] = response or {}
        if error:
            entry["error"] = error
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()

    def response_entry(self, req, resp_auth, data, warnings):
        """The `response` object: auth tokens and every data string HMAC'd."""
        out = {"mount_point": req.mount_point, "mount_type": req.mount_type}
        if resp_auth:
            auth = dict(resp_auth)
            auth["client_token"] = self.hash(auth["client_token"])
            auth["accessor"] = self.hash(auth["accessor"])
            out["auth"] = auth
        if data is not None:
            out["data"] = self.hash_structure(data)
        if warnings:
            out["warnings"] = list(warnings)
        return out

    def close(self):
        with self.lock:
            if self.file:
                self.file.close()
                self.file = None
