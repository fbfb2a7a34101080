"""Prometheus HTTP API emulator: /api/v1/query and /api/v1/query_range.

It does not evaluate PromQL. It answers the runbooks' queries (world.yml
`prometheus_queries`, compared with whitespace removed outside string literals) from the
active scenario's values, in Prometheus' response format. A well-formed query that is not
in the table answers an empty result (as Prometheus does for series that do not exist); a
malformed one (unbalanced brackets or quotes, empty) answers 400 with Prometheus' error
body (status=error, errorType=bad_data, error naming the parameter and the position).
"""
from __future__ import annotations

import datetime as dt
import math
import re
import time
from decimal import Decimal

from .common import App, Response, State

MAX_POINTS = 11000
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PAIRS = {"(": ")", "{": "}", "[": "]"}
_NAMES = {"(": "parenthesis", "{": "brace", "[": "bracket"}


class BadData(Exception):
    pass


def canonical(query: str) -> str:
    """The query with whitespace removed outside quoted strings."""
    out, quote = [], None
    for ch in query:
        if quote:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
            out.append(ch)
        elif not ch.isspace():
            out.append(ch)
    return "".join(out)


def check_syntax(query: str) -> None:
    """Raise BadData with a Prometheus-style parse error for the structural mistakes."""
    if not query.strip():
        raise BadData('invalid parameter "query": 1:1: parse error: no expression found in input')
    stack: list[tuple[str, int]] = []
    quote, quote_pos, escaped = None, 0, False
    for pos, ch in enumerate(query, start=1):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote != "`":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'`":
            quote, quote_pos = ch, pos
        elif ch in _PAIRS:
            stack.append((ch, pos))
        elif ch in _PAIRS.values():
            if not stack or _PAIRS[stack[-1][0]] != ch:
                name = {")": "parenthesis", "}": "brace", "]": "bracket"}[ch]
                raise BadData(f'invalid parameter "query": 1:{pos}: parse error: unexpected right {name} {ch!r}')
            stack.pop()
        elif ch in ";$#@?":
            raise BadData(f'invalid parameter "query": 1:{pos}: parse error: unexpected character: {ch!r}')
    if quote:
        raise BadData(f'invalid parameter "query": 1:{quote_pos}: parse error: unterminated quoted string')
    if stack:
        ch, pos = stack[-1]
        raise BadData(f'invalid parameter "query": 1:{pos}: parse error: unclosed left {_NAMES[ch]}')


def parse_time(name: str, raw: str | None, default: float | None = None) -> float:
    if raw in (None, ""):
        if default is not None:
            return default
        raise BadData(f'invalid parameter "{name}": cannot parse "" to a valid timestamp')
    try:
        value = float(raw)
        if math.isfinite(value):
            return value
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise BadData(f'invalid parameter "{name}": cannot parse "{raw}" to a valid timestamp') from None


def parse_step(raw: str | None) -> float:
    if raw in (None, ""):
        raise BadData('invalid parameter "step": cannot parse "" to a valid duration')
    try:
        return float(raw)
    except ValueError:
        pass
    parts = _DURATION.findall(raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        raise BadData(f'invalid parameter "step": cannot parse "{raw}" to a valid duration')
    return sum(int(n) * _UNITS[u] for n, u in parts)


def fmt(value: float) -> str:
    """Sample values as Prometheus writes them (Go's shortest 'f' formatting)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(float(value))), "f")
    return text[:-2] if text.endswith(".0") else text


def value_at(spec, fraction: float) -> float:
    """A scenario value: a number, or {ramp: [from, to]} taken at `fraction` of the window."""
    if isinstance(spec, dict) and "ramp" in spec:
        start, end = spec["ramp"]
        return float(start) + (float(end) - float(start)) * fraction
    return float(spec)


def lookup(state: State, query: str):
    """[(labels, value spec)] for a known query, [] for an unknown one."""
    wanted = canonical(query)
    with state.lock:
        queries = state.prometheus.get("queries", [])
        values = state.prometheus.get("values", {})
        for entry in queries:
            if canonical(entry["query"]) == wanted:
                return [(dict(s["labels"]), values[s["value"]]) for s in entry["series"] if s["value"] in values]
    return []


def error(status: int, message: str, error_type: str = "bad_data") -> Response:
    return Response(status, {"status": "error", "errorType": error_type, "error": message})


def make_app(state: State) -> App:
    app = App("prometheus")

    def param(params, name):
        values = params.get(name) or [None]
        return values[-1]

    def instant(req):
        params = req.form()
        query = param(params, "query") or ""
        try:
            at = round(parse_time("time", param(params, "time"), default=time.time()), 3)
            check_syntax(query)
        except BadData as exc:
            return error(400, str(exc))
        result = [{"metric": labels, "value": [at, fmt(value_at(spec, 1.0))]}
                  for labels, spec in lookup(state, query)]
        return Response(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

    def ranged(req):
        params = req.form()
        query = param(params, "query") or ""
        try:
            start = parse_time("start", param(params, "start"))
            end = parse_time("end", param(params, "end"))
            step = parse_step(param(params, "step"))
            if end < start:
                raise BadData('invalid parameter "end": end timestamp must not be before start time')
            if step <= 0:
                raise BadData("zero or negative query resolution step widths are not accepted. "
                              "Try a positive integer")
            if (end - start) / step > MAX_POINTS:
                raise BadData("exceeded maximum resolution of 11,000 points per timeseries. "
                              "Try decreasing the query resolution (?step=XX)")
            check_syntax(query)
        except BadData as exc:
            return error(400, str(exc))
        points = int((end - start) // step) + 1
        result = []
        for labels, spec in lookup(state, query):
            values = []
            for n in range(points):
                t = round(start + n * step, 3)
                fraction = (t - start) / (end - start) if end > start else 1.0
                values.append([t, fmt(value_at(spec, fraction))])
            result.append({"metric": labels, "values": values})
        return Response(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})

    for method in ("GET", "POST"):  # Prometheus takes both (POST with a form body)
        app.route(method, r"/api/v1/query")(instant)
        app.route(method, r"/api/v1/query_range")(ranged)
    for path, word in (("/-/healthy", "Healthy"), ("/-/ready", "Ready")):
        text = f"Prometheus Server is {word}.\n"
        app.route("GET", path)(lambda req, text=text: Response(200, text, "text/plain; charset=utf-8"))
    return app
