"""A plain HTTP session to a Kubernetes API server, built from a kubeconfig.

The kubernetes client's own kubeconfig loader decides server, TLS and credentials (so a real
cluster's kubeconfig works the same way); requests does the HTTP, which keeps the raw JSON.
"""
from __future__ import annotations

import time

import requests


class KubeAPI:
    def __init__(self, kubeconfig: str, timeout: float = 10.0):
        from kubernetes import client, config  # imported lazily: a second or so

        cfg = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
        self.base = cfg.host.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        token = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
        if token:
            prefix = (cfg.api_key_prefix or {}).get("authorization", "")
            self.session.headers["Authorization"] = f"{prefix} {token}".strip() if prefix else (
                token if token.lower().startswith("bearer ") else f"Bearer {token}")
        if cfg.username:
            self.session.auth = (cfg.username, cfg.password)
        if cfg.cert_file:
            self.session.cert = (cfg.cert_file, cfg.key_file)
        self.session.verify = (cfg.ssl_ca_cert or True) if cfg.verify_ssl else False

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
