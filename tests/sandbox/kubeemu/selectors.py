"""Label and field selectors, in their query-string and LabelSelector-object forms."""

import re


class SelectorError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[A-Za-z0-9_./-]+)")


def _tokens(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SelectorError("unable to parse requirement: found '%s'" % text[pos:])
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_label_selector(text):
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h` into a list of (key, op, values)."""
    reqs = []
    toks = _tokens(text or "")
    i = 0

    def expect_word(j):
        if j >= len(toks) or toks[j] in ("=", "==", "!=", "(", ")", ",", "!"):
            raise SelectorError("unable to parse requirement in label selector %r" % text)
        return toks[j]

    while i < len(toks):
        if toks[i] == "!":
            reqs.append((expect_word(i + 1), "!", ()))
            i += 2
        else:
            key = expect_word(i)
            nxt = toks[i + 1] if i + 1 < len(toks) else ","
            if nxt in ("=", "==", "!="):
                value = toks[i + 2] if i + 2 < len(toks) and toks[i + 2] not in (",", ")", "(") else ""
                reqs.append((key, "!=" if nxt == "!=" else "=", (value,)))
                i += 3 if value else 2
            elif nxt in ("in", "notin"):
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    raise SelectorError("found '%s', expected: '('" % (toks[i + 2] if i + 2 < len(toks) else ""))
                j, values = i + 3, []
                while j < len(toks) and toks[j] != ")":
                    if toks[j] != ",":
                        values.append(toks[j])
                    j += 1
                if j >= len(toks):
                    raise SelectorError("found '', expected: ')'")
                reqs.append((key, nxt, tuple(values)))
                i = j + 1
            else:
                reqs.append((key, "exists", ()))
                i += 1
        if i < len(toks):
            if toks[i] != ",":
                raise SelectorError("found '%s', expected: ',' or 'end of string'" % toks[i])
            i += 1
    return reqs


def _match_req(labels, req):
    key, op, values = req
    if op == "=":
        return labels.get(key) == values[0]
    if op == "!=":
        return labels.get(key) != values[0]
    if op == "in":
        return key in labels and labels[key] in values
    if op == "notin":
        return labels.get(key) not in values
    if op == "exists":
        return key in labels
    return key not in labels  # "!"


def labels_match(labels, reqs):
    labels = labels or {}
    return all(_match_req(labels, r) for r in reqs)


def selector_object_reqs(selector):
    """A LabelSelector object (matchLabels/matchExpressions) as requirements."""
    reqs = []
    selector = selector or {}
    for k, v in sorted((selector.get("matchLabels") or {}).items()):
        reqs.append((k, "=", (v,)))
    for expr in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(expr.get("operator"))
        if op is None:
            raise SelectorError("%r is not a valid label selector operator" % expr.get("operator"))
        reqs.append((expr.get("key"), op, tuple(expr.get("values") or ())))
    return reqs


def selector_matches(selector, labels):
    """True when a LabelSelector object selects these labels (an empty selector selects all)."""
    return labels_match(labels, selector_object_reqs(selector))


def selector_string(selector):
    """A LabelSelector object as its query-string form (Scale status.selector)."""
    parts = []
    for key, op, values in selector_object_reqs(selector):
        if op == "=":
            parts.append("%s=%s" % (key, values[0]))
        elif op in ("in", "notin"):
            parts.append("%s %s (%s)" % (key, op, ",".join(values)))
        elif op == "exists":
            parts.append(key)
        else:
            parts.append("!" + key)
    return ",".join(parts)


def parse_field_selector(text):
    reqs = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([A-Za-z0-9_.\[\]/-]+)\s*(!=|==|=)\s*(.*)$", part)
        if not m:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (text, part))
        reqs.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return reqs


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(obj, reqs):
    for path, op, value in reqs:
        actual = field_value(obj, path)
        if (actual == value) != (op == "="):
            return False
    return True
