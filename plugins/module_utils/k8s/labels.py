# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Label selectors: matching one (apimachinery ``metav1.LabelSelectorAsSelector``) and writing one as the
``labelSelector`` query string of a list call. Pure functions over the API's JSON."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _match_expression(expr, labels):
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def selector_matches(selector, labels):
    """metav1.LabelSelectorAsSelector semantics: None matches nothing, {} matches everything."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_match_expression(e, labels) for e in selector.get("matchExpressions") or [])


def selector_string(selector):
    """A LabelSelector as the string a list call takes (``app=backend,tier in (a,b)``)."""
    selector = selector or {}
    parts = ["%s=%s" % (key, value) for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(expression.get("values") or [])
        if operator == "In":
            parts.append("%s in (%s)" % (key, values))
        elif operator == "NotIn":
            parts.append("%s notin (%s)" % (key, values))
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append("!%s" % key)
    return ",".join(parts)
