"""A plain HTTP session to a Kubernetes API server, built from a kubeconfig.

Only what the sandbox needs: the current context's server, its CA (file or data, or
insecure-skip-tls-verify), and a bearer token, client certificate or basic auth. Exec and
auth-provider plugins (EKS's `aws eks get-token`) are not supported: the launcher and the
HaloBuzz API stand-in only ever talk to the sandbox's Kubernetes emulator. (The kubernetes
client's loader does all of that but takes seconds to import on a loaded machine.)
"""
from __future__ import annotations

import atexit
import base64
import os
import tempfile
import time

import requests
import yaml


def _named(items: list, name: str, kind: str, path: str) -> dict:
    for item in items or []:
        if item.get("name") == name:
            return item.get(kind) or {}
    raise ValueError(f"kubeconfig {path}: no {kind} named {name!r}")


def _data_file(data: str) -> str:
    handle = tempfile.NamedTemporaryFile("wb", prefix="sandbox-kube-", delete=False)
    with handle:
        handle.write(base64.b64decode(data))
    atexit.register(os.unlink, handle.name)
    return handle.name


class KubeAPI:
    def __init__(self, kubeconfig: str, timeout: float = 10.0):
        with open(kubeconfig) as fh:
            cfg = yaml.safe_load(fh) or {}
        ctx_name = cfg.get("current-context") or (cfg.get("contexts") or [{}])[0].get("name")
        ctx = _named(cfg.get("contexts"), ctx_name, "context", kubeconfig)
        cluster = _named(cfg.get("clusters"), ctx.get("cluster"), "cluster", kubeconfig)
        user = _named(cfg.get("users"), ctx["user"], "user", kubeconfig) if ctx.get("user") else {}
        self.base = cluster["server"].rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if cluster.get("insecure-skip-tls-verify"):
            self.session.verify = False
        elif cluster.get("certificate-authority-data"):
            self.session.verify = _data_file(cluster["certificate-authority-data"])
        elif cluster.get("certificate-authority"):
            self.session.verify = cluster["certificate-authority"]
        if user.get("token"):
            self.session.headers["Authorization"] = f"Bearer {user['token']}"
        elif user.get("username"):
            self.session.auth = (user["username"], user.get("password", ""))
        cert = user.get("client-certificate") or (
            _data_file(user["client-certificate-data"]) if user.get("client-certificate-data") else None)
        key = user.get("client-key") or (_data_file(user["client-key-data"]) if user.get("client-key-data") else None)
        if cert:
            self.session.cert = (cert, key)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def must(self, method: str, path: str, ok=(200, 201, 202), **kwargs) -> dict:
        resp = self.request(method, path, **kwargs)
        if resp.status_code not in ok:
            raise RuntimeError(f"{method} {path} answered {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else {}

    def update(self, path: str, mutate, attempts: int = 10) -> dict:
        """GET, mutate, PUT; retries on 409 Conflict (a controller wrote in between)."""
        for _ in range(attempts):
            obj = self.must("GET", path)
            mutate(obj)
            resp = self.request("PUT", path, json=obj)
            if resp.status_code == 409:
                time.sleep(0.05)
                continue
            if resp.status_code not in (200, 201):
                raise RuntimeError(f"PUT {path} answered {resp.status_code}: {resp.text[:300]}")
            return resp.json()
        raise RuntimeError(f"PUT {path} kept conflicting after {attempts} attempts")


def api_path(api_version: str, kind_plural: str, namespace: str | None, name: str | None = None) -> str:
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = prefix + (f"/namespaces/{namespace}" if namespace else "") + f"/{kind_plural}"
    return path + (f"/{name}" if name else "")


PLURALS = {
    "Namespace": "namespaces", "Node": "nodes", "Deployment": "deployments",
    "Service": "services", "PodDisruptionBudget": "poddisruptionbudgets",
    "ConfigMap": "configmaps", "Secret": "secrets", "Pod": "pods",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers", "ReplicaSet": "replicasets",
}
CLUSTER_SCOPED = {"Namespace", "Node"}
