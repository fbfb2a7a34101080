"""The HaloBuzz API stand-in: /healthz, derived from the backend Deployment on each call.

healthz asks the Kubernetes API every time (the kubeconfig the launcher passes):
  200 {"status": "ok", ...}            the Deployment's current image has a Ready pod
  503 {"status": "maintenance", ...}   MAINTENANCE_MODE=true in the backend container's env
  503 {"status": "unhealthy", ...}     no Ready pod runs the current image (a bad release),
                                       replicas scaled to 0, the Deployment is missing or
                                       the cluster API cannot be reached
The admin path PUT /_sandbox/scenario takes the scenario state of every emulator of this
process (the exporters' metrics, provider statuses) and clears the Slack and PagerDuty receivers;
PATCH /_sandbox/scenario changes the running one in place ({"metrics": ..., "providers": ...} deep-merged: a
provider recovering, an exporter losing MongoDB) and keeps what the receivers got.
"""
from __future__ import annotations

import os
import threading

from .common import App, Response, State


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []) or [])


def _version(image: str) -> str:
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"


def health(deployment: dict | None, pods: list[dict]) -> tuple[int, dict]:
    """(HTTP status, body) of /healthz for a Deployment and the pods it selects."""
    if deployment is None:
        return 503, {"status": "unhealthy", "error": "backend Deployment not found"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    image = container.get("image", "")
    env = {e.get("name"): e.get("value") for e in container.get("env", []) or []}
    if str(env.get("MAINTENANCE_MODE", "")).strip().lower() == "true":
        return 503, {"status": "maintenance",
                     "message": "HaloBuzz is down for planned maintenance; we will be back shortly.",
                     "version": _version(image)}
    replicas = deployment["spec"].get("replicas", 1)
    if replicas == 0:
        return 503, {"status": "unhealthy", "error": "backend is scaled to 0 replicas", "version": _version(image)}
    serving = [p for p in pods if _ready(p) and any(
        c.get("name") == container["name"] and c.get("image") == image for c in p["spec"].get("containers", []))]
    if not serving:
        return 503, {"status": "unhealthy", "version": _version(image), "image": image,
                     "error": f"backend {_version(image)} has 0/{replicas} ready pods"}
    return 200, {"status": "ok", "version": _version(image), "image": image,
                 "ready_pods": len(serving), "replicas": replicas}


def make_app(state: State, kubeconfig: str) -> App:
    app = App("halobuzz-api")
    lock = threading.Lock()
    cache: dict = {}

    def kube():
        with lock:
            mtime = os.stat(kubeconfig).st_mtime
            if cache.get("mtime") != mtime:
                from sandboxlib.kube import KubeAPI

                cache["api"], cache["mtime"] = KubeAPI(kubeconfig, timeout=5), mtime
            return cache["api"]

    @app.route("GET", r"/healthz")
    def healthz(req):
        with state.lock:
            ns, name = state.namespace, state.deployment
        try:
            api = kube()
            resp = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
            if resp.status_code == 404:
                status, body = health(None, [])
            else:
                resp.raise_for_status()
                dep = resp.json()
                selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())
                pods = api.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": selector})
                pods.raise_for_status()
                status, body = health(dep, pods.json().get("items", []))
        except Exception as exc:  # noqa: BLE001 - the health endpoint reports, never crashes
            status, body = 503, {"status": "unhealthy", "error": f"cluster API unreachable: {type(exc).__name__}"}
        headers = {"Retry-After": "300"} if body["status"] == "maintenance" else {}
        return Response(status, body, headers=headers)

    @app.route("PUT", r"/_sandbox/scenario")
    def scenario(req):
        try:
            body = req.json()
        except ValueError:
            return Response(400, {"error": "body must be JSON"})
        if not isinstance(body, dict):
            return Response(400, {"error": "body must be a JSON object"})
        state.set_scenario(body)
        return Response(200, {"ok": True})

    @app.route("PATCH", r"/_sandbox/scenario")
    def scenario_patch(req):
        try:
            body = req.json()
        except ValueError:
            return Response(400, {"error": "body must be JSON"})
        if not isinstance(body, dict) or not all(isinstance(body.get(k, {}), dict) for k in ("metrics", "providers")):
            return Response(400, {"error": "body must be a JSON object of objects metrics and providers"})
        state.patch_scenario(body)
        return Response(200, {"ok": True})

    @app.route("GET", r"/_sandbox/scenario")
    def scenario_get(req):
        with state.lock:
            return Response(200, {"providers": state.providers, "metrics": state.metrics})

    return app
