"""A PagerDuty Events API v2 stand-in that keeps what it accepted.

POST /v2/enqueue follows PagerDuty's documentation (developer-docs, events-API-v2/02-Trigger-Events.md
and 01-Overview.md "Response Codes & Retry Logic"):
  - `routing_key` (the 32-character integration key) and `event_action` (trigger | acknowledge |
    resolve) are required; `dedup_key` is at most 255 characters and is required to acknowledge or
    resolve; a trigger without one gets a generated key;
  - a trigger needs `payload.summary` (at most 1024 characters), `payload.source` and
    `payload.severity` (critical | error | warning | info);
  - 202 {"status": "success", "message": "Event processed", "dedup_key": ...} when accepted;
    400 {"status": "invalid event", "message": "Event object is invalid", "errors": [...]} otherwise
    (and for a body that is not a JSON object); payloads over 512 KB are refused.
Alerts are kept per (routing_key, dedup_key) as PagerDuty does: a trigger opens one (or adds to an
open one), acknowledge/resolve act on an open one and are dropped when none is open.

Tests read GET /_sandbox/events (every accepted event, in order, with the alert state it led to)
and GET /_sandbox/alerts; DELETE /_sandbox/events clears both.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

from .common import App, Response, State

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_BYTES = 512 * 1024


def invalid(*errors: str) -> Response:
    return Response(400, {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)})


def validate(event) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object must be a JSON object"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or blank")
    elif len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if not isinstance(action, str) or not action:
        errors.append("'event_action' is missing or blank")
    elif action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or blank")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                errors.append("'payload.summary' is missing or blank")
            elif len(summary) > 1024:
                errors.append("Length of 'payload.summary' is too long (maximum is 1024 characters)")
            if not isinstance(payload.get("source"), str) or not payload["source"].strip():
                errors.append("'payload.source' is missing or blank")
            severity = payload.get("severity")
            if not isinstance(severity, str) or not severity:
                errors.append("'payload.severity' is missing or blank")
            elif severity not in SEVERITIES:
                errors.append("'payload.severity' is invalid (must be one of the following: "
                              "'critical', 'warning', 'error' or 'info')")
    return errors


def make_app(state: State) -> App:
    app = App("pagerduty")

    @app.route("POST", r"/v2/enqueue")
    def enqueue(req):
        if len(req.body) > MAX_BYTES:
            return invalid("Event object is larger than 512 KB")
        try:
            event = json.loads(req.body.decode() or "null")
        except (ValueError, UnicodeDecodeError):
            return invalid("Event object is not valid JSON")
        errors = validate(event)
        if errors:
            return invalid(*errors)
        action = event["event_action"]
        dedup = event.get("dedup_key") or uuid.uuid4().hex
        with state.lock:
            alerts = state.pagerduty_alerts
            key = (event["routing_key"], dedup)
            alert = alerts.get(key)
            if action == "trigger":
                if alert is None or alert["status"] == "resolved":
                    alert = alerts[key] = {"routing_key": event["routing_key"], "dedup_key": dedup,
                                           "status": "triggered", "severity": event["payload"]["severity"],
                                           "summary": event["payload"]["summary"], "events": 0}
                alert["events"] += 1
                outcome = alert["status"]
            elif alert is None or alert["status"] == "resolved":
                outcome = "dropped"  # no open alert with this dedup_key on this routing_key
            else:
                alert["status"] = "acknowledged" if action == "acknowledge" else "resolved"
                alert["events"] += 1
                outcome = alert["status"]
            state.pagerduty_events.append({
                "received_at": dt.datetime.now(dt.timezone.utc).isoformat(), "event": dict(event, dedup_key=dedup),
                "outcome": outcome})
        return Response(202, {"status": "success", "message": "Event processed", "dedup_key": dedup})

    @app.route("GET", r"/_sandbox/events")
    def events(req):
        with state.lock:
            return Response(200, {"events": list(state.pagerduty_events)})

    @app.route("GET", r"/_sandbox/alerts")
    def alerts(req):
        with state.lock:
            return Response(200, {"alerts": [dict(a) for a in state.pagerduty_alerts.values()]})

    @app.route("DELETE", r"/_sandbox/events")
    def clear(req):
        with state.lock:
            state.pagerduty_events.clear()
            state.pagerduty_alerts.clear()
        return Response(200, {"ok": True})

    return app
