"""A Slack incoming-webhook receiver that keeps what it was sent.

POST /services/<T>/<B>/<token> answers like Slack: 200 `ok`; 400 `invalid_payload` when the
body is not JSON (or a form field `payload` holding JSON); 400 `no_text` when the message
has neither text, blocks nor attachments; 403 `invalid_token` for a wrong token; 404
`no_service` for other paths. Tests read what was accepted from GET /_sandbox/messages and
clear it with DELETE /_sandbox/messages.

A second webhook (another incoming webhook of the same workspace, as Alertmanager gets its own in
production) takes Alertmanager's notifications; its messages are kept apart and read with
GET /_sandbox/messages?webhook=alertmanager, so a runbook's own Slack alert is never mixed up with
the alert that paged for it.
"""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs

from .common import App, Response, State

TEXT = "text/plain; charset=utf-8"


def parse_message(body: bytes, content_type: str) -> tuple[int, str, dict | None]:
    raw = body.decode(errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        # Slack takes a `payload` form field; a bare JSON body sent with curl's default
        # form content type (the runbook's `curl -d '{"text":...}'`) is read as JSON.
        form = parse_qs(raw)
        if "payload" in form:
            raw = form["payload"][0]
    try:
        payload = json.loads(raw)
    except ValueError:
        return 400, "invalid_payload", None
    if not isinstance(payload, dict):
        return 400, "invalid_payload", None
    if not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
        return 400, "no_text", None
    return 200, "ok", payload


def make_app(state: State, token_path: str, alerts_path: str | None = None) -> App:
    app = App("slack")
    webhooks = {token_path: "runbook"}
    if alerts_path:
        webhooks[alerts_path] = "alertmanager"

    @app.route("POST", r"/services/(?P<team>[^/]+)/(?P<bot>[^/]+)/(?P<token>[^/]+)")
    def webhook(req, team, bot, token):
        if req.path not in webhooks:
            return Response(403, "invalid_token", TEXT)
        status, text, payload = parse_message(req.body, req.headers.get("Content-Type") or "")
        if payload is not None:
            with state.lock:
                state.slack_messages.append({"received_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                                             "payload": payload, "webhook": webhooks[req.path]})
        return Response(status, text, TEXT)

    @app.route("GET", r"/_sandbox/messages")
    def messages(req):
        wanted = (req.query.get("webhook") or ["runbook"])[-1]
        with state.lock:
            return Response(200, {"messages": [{k: v for k, v in m.items() if k != "webhook"}
                                               for m in state.slack_messages if m["webhook"] == wanted]})

    @app.route("DELETE", r"/_sandbox/messages")
    def clear(req):
        with state.lock:
            state.slack_messages.clear()
        return Response(200, {"ok": True})

    app.not_found = lambda req: Response(404, "no_service", TEXT)
    return app
