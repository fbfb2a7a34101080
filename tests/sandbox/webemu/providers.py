"""Provider status endpoints: Stripe, Khalti, Agora (status pages) and the CDN health check.

Status pages answer 200 with the provider's state in the body (that is how status pages
report a degradation); the CDN health check answers with its HTTP status (`curl -I`):
200 when up, 503 when degraded or down. States come from the scenario: up|degraded|down.
"""
from __future__ import annotations

import datetime as dt

from .common import App, Response, State

DESCRIPTIONS = {
    "up": ("none", "All Systems Operational"),
    "degraded": ("minor", "Partially Degraded Service"),
    "down": ("major", "Major Service Outage"),
}
STATUS_PATHS = {"stripe": r"/stripe/v1/status", "khalti": r"/khalti/api/status", "agora": r"/agora/v1/status"}
URL_PATHS = {"stripe": "/stripe/v1/status", "khalti": "/khalti/api/status",
             "agora": "/agora/v1/status", "cdn": "/cdn/health"}


def status_body(provider: str, state_name: str) -> dict:
    indicator, description = DESCRIPTIONS.get(state_name, DESCRIPTIONS["down"])
    return {"provider": provider, "status": state_name, "indicator": indicator,
            "description": description,
            "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def make_app(state: State) -> App:
    app = App("providers")

    def current(provider: str) -> str:
        with state.lock:
            return state.providers.get(provider, "up")

    for provider, path in STATUS_PATHS.items():
        def page(req, provider=provider):
            return Response(200, status_body(provider, current(provider)))
        app.route("GET", path)(page)

    @app.route("GET", r"/cdn/health")
    def cdn(req):
        now = current("cdn")
        return Response(200 if now == "up" else 503, status_body("cdn", now),
                        headers={"X-Cdn-Status": now, "Cache-Control": "no-store"})

    return app
