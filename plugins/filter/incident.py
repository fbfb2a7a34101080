# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn Kubernetes and Prometheus answers into the facts an incident triage reports.

Also the URL filters roles use in messages: ``redact_url`` and ``url_problem`` (common/redact.py, the one
redaction helper of the collection: a role never echoes a URL any other way).
"""

from __future__ import annotations

import datetime
import re
import time

from ansible.errors import AnsibleFilterError

# One implementation of "which pods are not Ready, and why" and of label selectors, shared with the k8s modules.
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.labels import selector_string
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pods import pod_problems
# The one URL redaction helper (issue 15): roles echo URLs only through these filters.
from ansible_collections.halobuzz.ops.plugins.module_utils.common.redact import redact_url, url_problem

_MEMORY_UNITS = {'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'k': 10 ** 3, 'M': 10 ** 6,
                 'G': 10 ** 9, 'T': 10 ** 12, '': 1}
_QUANTITY = re.compile(r'^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$')


def memory_bytes(quantity):
    """Bytes in a Kubernetes memory quantity ('512Mi', '2Gi', '1e3' is not accepted)."""
    match = _QUANTITY.match(str(quantity).strip())
    if not match or match.group(2) not in _MEMORY_UNITS:
        raise AnsibleFilterError('memory_bytes: %r is not a Kubernetes memory quantity (e.g. 512Mi)' % (quantity,))
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


# RFC 3339 date-time (section 5.6): fractional seconds optional, offset Z or +hh:mm / -hh:mm. kubectl writes
# kubectl.kubernetes.io/restartedAt with Go's time.Now().Format(time.RFC3339), in the operator's local zone
# (e.g. 2026-11-28T21:00:00+01:00), the API server writes UTC with Z.
_RFC3339 = re.compile(r'^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$')


def rfc3339_datetime(value):
    """An aware datetime (UTC) for an RFC 3339 timestamp with any offset; AnsibleFilterError naming the input."""
    match = _RFC3339.match(str(value).strip())
    if not match:
        raise AnsibleFilterError('seconds_since: %r is not an RFC 3339 timestamp (e.g. 2026-11-28T21:00:00Z '
                                 'or 2026-11-28T21:00:00+01:00)' % (value,))
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    zone = datetime.timezone.utc
    if offset not in ('Z', 'z'):
        sign = -1 if offset[0] == '-' else 1
        zone = datetime.timezone(sign * datetime.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        stamp = datetime.datetime(year, month, day, hour, minute, min(second, 59),
                                  int(float(fraction) * 1e6) if fraction else 0, tzinfo=zone)
    except ValueError as error:
        raise AnsibleFilterError('seconds_since: %r is not a valid date and time: %s' % (value, error))
    return stamp.astimezone(datetime.timezone.utc)


def seconds_since(value, now=None):
    """Seconds from an RFC 3339 timestamp (any offset) until now (or ``now``, epoch seconds)."""
    now = time.time() if now is None else float(now)
    return now - rfc3339_datetime(value).timestamp()


def label_selector(selector):
    """A LabelSelector (matchLabels, matchExpressions) as a label selector string."""
    if not isinstance(selector, dict):
        raise AnsibleFilterError('label_selector: expected a LabelSelector dictionary, got %r' % (selector,))
    return selector_string(selector)


def prometheus_scalar(response, default=None):
    """The single value of a Prometheus instant-query answer (vector of one sample, or scalar)."""
    if not isinstance(response, dict) or response.get('status') != 'success':
        raise AnsibleFilterError('prometheus_scalar: the query did not succeed: %s'
                                 % ((response or {}).get('error') if isinstance(response, dict) else response))
    data = response.get('data') or {}
    result = data.get('result')
    if data.get('resultType') == 'scalar':
        return float(result[1])
    if data.get('resultType') != 'vector':
        raise AnsibleFilterError('prometheus_scalar: expected a vector or scalar, got %s' % data.get('resultType'))
    if not result:
        if default is None:
            raise AnsibleFilterError('prometheus_scalar: the query returned no series (is the metric scraped?)')
        return default
    if len(result) > 1:
        raise AnsibleFilterError('prometheus_scalar: the query returned %d series; aggregate it (sum, max)'
                                 % len(result))
    return float(result[0]['value'][1])


def matching_lines(text_or_lines, pattern, limit=20):
    """The last `limit` log lines matching a regular expression."""
    lines = text_or_lines.splitlines() if isinstance(text_or_lines, str) else list(text_or_lines or [])
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise AnsibleFilterError('matching_lines: %r is not a valid regular expression: %s' % (pattern, error))
    found = [line for line in lines if regex.search(line)]
    return found[-limit:] if limit else found


class FilterModule:
    def filters(self):
        return {
            'label_selector': label_selector,
            'memory_bytes': memory_bytes,
            'pod_problems': pod_problems,
            'prometheus_scalar': prometheus_scalar,
            'matching_lines': matching_lines,
            'redact_url': redact_url,
            'seconds_since': seconds_since,
            'url_problem': url_problem,
        }
