# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus HTTP API client for halobuzz.ops: options -> requests, every failure -> PrometheusError.

The lowest layer of the Prometheus package: the connection options (``PROMETHEUS_CONNECTION``, documented
once in doc_fragments/prometheus.py), the two reads the collection needs - an instant query
(``GET /api/v1/query``) and a range query (``GET /api/v1/query_range``) - and the translation of transport
and API errors into one message naming the query and what to check.

The API as Prometheus documents it (https://prometheus.io/docs/prometheus/latest/querying/api/): answers are
``{"status": "success"|"error", "data": {"resultType": "vector"|"matrix"|"scalar", "result": [...]},
"errorType": ..., "error": ...}``; an instant vector sample is ``{"metric": {...}, "value": [<unix time>,
"<value as string>"]}``, a range series ``{"metric": {...}, "values": [[<unix time>, "<value>"], ...]}``;
values are strings because they may be ``NaN``, ``+Inf`` or ``-Inf``. A bad query answers 400 (bad_data),
one that cannot run 422 (execution), a timeout 503. A range query is refused beyond 11,000 points per series
(web/api/v1/api.go: "exceeded maximum resolution of 11,000 points per timeseries").
Plain ``urllib`` through ansible's ``module_utils.urls.open_url`` (the house uses no extra HTTP library
where ansible-core's is enough).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import socket
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import open_url

from ansible_collections.halobuzz.ops.plugins.module_utils.common.connection import Connection
from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.common.redact import redact_url

# Prometheus refuses a range query of more points per series than this (web/api/v1/api.go).
MAX_POINTS = 11000


class PrometheusError(HaloBuzzError):
    """A Prometheus query failed, or was refused before it was sent; the message is ready for the user."""


PROMETHEUS_CONNECTION = Connection(
    argument_spec=dict(
        prometheus_url=dict(type='str', required=True, fallback=(env_fallback, ['PROMETHEUS_URL'])),
        validate_certs=dict(type='bool', default=True),
        ca_cert=dict(type='path'),
        timeout=dict(type='int', default=30),
    ),
)


def check_url(url):
    """The base URL without a trailing slash; PrometheusError when it is not one to request.

    Credentials in the URL are refused: the URL is a module argument (shown with -vvv) and would be echoed.
    """
    shown = redact_url(url)
    if not isinstance(url, str) or not url.strip():
        raise PrometheusError('prometheus_url is empty: give the http(s) base URL of Prometheus '
                              '(the inventories read it from PROMETHEUS_URL)')
    try:
        parts = urlsplit(url.strip())
        parts.port  # pylint: disable=pointless-statement
    except ValueError:
        raise PrometheusError('prometheus_url %r cannot be parsed (a port between 0 and 65535; an IPv6 host is '
                              'written [::1])' % shown)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise PrometheusError('prometheus_url %r must be http(s)://host[:port][/path], the base URL of Prometheus'
                              % shown)
    if '@' in parts.netloc:
        raise PrometheusError('prometheus_url %r carries credentials (user:password@): they would be echoed in '
                              'task arguments; remove them' % shown)
    if parts.query or parts.fragment:
        raise PrometheusError('prometheus_url %r has a query or fragment: give the base URL only' % shown)
    return url.strip().rstrip('/')


def parse_value(text):
    """A sample value string (``"0.5"``, ``"NaN"``, ``"+Inf"``) as a float, or None when it is not a number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


class PrometheusClient(object):
    """Instant and range queries against one Prometheus."""

    def __init__(self, params, opener=None):
        self.base = check_url(params.get('prometheus_url'))
        self.shown = redact_url(self.base)
        self.timeout = params.get('timeout') or 30
        self.validate_certs = params.get('validate_certs', True)
        self.ca_cert = params.get('ca_cert')
        self._open = opener or open_url

    def _get(self, path, args, doing):
        url = '%s%s?%s' % (self.base, path, urlencode(args))
        body = None
        try:
            response = self._open(url, method='GET', timeout=self.timeout, validate_certs=self.validate_certs,
                                  ca_path=self.ca_cert, headers={'Accept': 'application/json'})
            body = response.read()
        except HTTPError as exc:
            try:
                answer = json.loads(exc.read() or b'{}')
            except (ValueError, OSError):
                answer = {}
            raise PrometheusError(
                'Prometheus at %s refused %s (HTTP %s %s: %s): %s'
                % (self.shown, doing, exc.code, answer.get('errorType', 'error'),
                   answer.get('error', exc.reason), _hint(exc.code)))
        except (URLError, socket.timeout, OSError) as exc:
            reason = getattr(exc, 'reason', None) or exc
            raise PrometheusError(
                'cannot reach Prometheus at %s while %s (%s): check prometheus_url (the inventories read it from '
                'PROMETHEUS_URL), that Prometheus is up, and validate_certs / ca_cert for https'
                % (self.shown, doing, reason))
        try:
            answer = json.loads(body)
        except ValueError:
            raise PrometheusError('Prometheus at %s answered %s with something that is not JSON: is prometheus_url '
                                  'the base URL of Prometheus (not of Grafana or a login page)?' % (self.shown, doing))
        if not isinstance(answer, dict) or answer.get('status') != 'success' or not isinstance(answer.get('data'), dict):
            raise PrometheusError('Prometheus at %s did not succeed %s: %s'
                                  % (self.shown, doing, (answer or {}).get('error', 'no data in the answer')))
        return answer['data']

    def instant(self, query, at=None, doing=None):
        """``[(labels, value or None)]`` of an instant query evaluated at unix time ``at`` (now when None)."""
        args = {'query': query}
        if at is not None:
            args['time'] = '%.3f' % at
        data = self._get('/api/v1/query', args, doing or 'the query %s' % query)
        kind, result = data.get('resultType'), data.get('result')
        if kind == 'scalar':
            return [({}, parse_value(result[1]))]
        if kind != 'vector':
            raise PrometheusError('Prometheus at %s answered the query %s with a %s, not an instant vector'
                                  % (self.shown, query, kind))
        return [(sample.get('metric') or {}, parse_value(sample['value'][1])) for sample in result]

    def range(self, query, start, end, step, doing=None):
        """``[(labels, [(unix time, value or None)])]`` of a range query (step in seconds)."""
        if step <= 0 or end <= start:
            raise PrometheusError('the range of %s is empty: end must be after start and step positive' % query)
        if (end - start) / step > MAX_POINTS:
            raise PrometheusError('%s over %.0f s at a step of %s s would be more than %d points per series, which '
                                  'Prometheus refuses: give a larger step' % (query, end - start, step, MAX_POINTS))
        data = self._get('/api/v1/query_range',
                         {'query': query, 'start': '%.3f' % start, 'end': '%.3f' % end, 'step': '%g' % step},
                         doing or 'the range query %s' % query)
        if data.get('resultType') != 'matrix':
            raise PrometheusError('Prometheus at %s answered the range query %s with a %s, not a matrix'
                                  % (self.shown, query, data.get('resultType')))
        return [(series.get('metric') or {}, [(float(t), parse_value(v)) for t, v in series.get('values') or []])
                for series in data.get('result') or []]


def _hint(code):
    if code == 400:
        return 'the query is not valid PromQL or a parameter is malformed'
    if code in (401, 403):
        return 'Prometheus (or a proxy in front of it) wants authentication this module does not send'
    if code == 404:
        return 'prometheus_url is not the base URL of Prometheus (no /api/v1 there)'
    if code == 422:
        return 'the query could not be executed (too many series, or a type error)'
    if code == 503:
        return 'the query timed out or Prometheus is overloaded; try again or a shorter range'
    return 'check prometheus_url and that Prometheus is healthy'
