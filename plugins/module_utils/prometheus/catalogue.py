# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's key metrics ("Key Metrics to Monitor"), their queries, units and thresholds (pure).

Each metric's instant query reads a recording rule of extensions/prometheus/halobuzz-rules.yml (issue 17;
roles/alerting renders it), aggregated to the one figure an on-call compares: the worst service for latency
and errors, the sum for volumes. Thresholds are the runbook's, with the alerting role's defaults
(roles/alerting/defaults/main.yml) and the same strict comparison the alerts use ("> 5 %"):
  error rate > 0.05 ("High Error Rate (>5%)"), payment success < 0.90 ("Payment Failures > 10%"),
  stream latency p95 > 0.5 s ("Stream Latency > 500ms"), container memory > 0.9 of its limit ("Memory Leak"),
  pod restarts > 3 in an hour (HaloBuzzPodRestarting).
The runbook gives no threshold for the volumes, API latency, database connections or Redis memory: those
have none (``threshold`` None) and are reported, never judged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

NAMESPACE_SELECTOR = 'namespace="halobuzz"'

_MEMORY_RATIO = (
    'sum by (namespace, pod, container) (container_memory_working_set_bytes{namespace="halobuzz", container!="", '
    'container!="POD"}) / sum by (namespace, pod, container) '
    '(kube_pod_container_resource_limits{namespace="halobuzz", resource="memory"})')


def _metric(name, title, group, query, unit, threshold=None, comparison=None, chart_query=None, legend=None,
            description=''):
    return dict(name=name, title=title, group=group, query=query, unit=unit, threshold=threshold,
                comparison=comparison, chart_query=chart_query or query, legend=legend or title,
                description=description)


# The order is the runbook's: business metrics, then system metrics.
METRICS = [
    _metric('active_streams', 'Active streams', 'business', 'sum(halobuzz:active_streams:sum)', 'streams'),
    _metric('concurrent_users', 'Concurrent users', 'business', 'sum(halobuzz:concurrent_users:sum)', 'users'),
    _metric('payment_success_rate', 'Payment success rate', 'business',
            'min(halobuzz:payments:success_ratio_rate5m)', 'ratio', 0.9, '<',
            description='successful / all payment attempts over 5m (runbook: failures > 10 % is critical)'),
    _metric('gift_volume', 'Gift transaction volume', 'business', 'sum(halobuzz:gift_transactions:rate5m)',
            'per_second'),
    _metric('api_latency_p50', 'API latency p50', 'system',
            'max(halobuzz:http_request_duration_seconds:p50_rate5m)', 'seconds', legend='p50'),
    _metric('api_latency_p95', 'API latency p95', 'system',
            'max(halobuzz:http_request_duration_seconds:p95_rate5m)', 'seconds', legend='p95'),
    _metric('api_latency_p99', 'API latency p99', 'system',
            'max(halobuzz:http_request_duration_seconds:p99_rate5m)', 'seconds', legend='p99'),
    _metric('error_rate', 'Error rate (5xx)', 'system', 'max(halobuzz:http_requests:error_ratio_rate5m)', 'ratio',
            0.05, '>', chart_query='halobuzz:http_requests:error_ratio_rate5m', legend='{service}',
            description='5xx / all requests over 5m, worst service (runbook: > 5 % is critical)'),
    _metric('db_connections', 'Database connections', 'system', 'sum(halobuzz:mongodb_connections:current)',
            'connections'),
    _metric('redis_memory', 'Redis memory used', 'system', 'sum(halobuzz:redis_memory_used_bytes:sum)', 'bytes',
            chart_query='halobuzz:redis_memory_used_bytes:sum', legend='{instance}'),
    _metric('pod_restarts', 'Pod restarts (last hour)', 'system',
            'max(halobuzz:kube_pod_container_status_restarts:increase1h)', 'restarts', 3, '>',
            chart_query='halobuzz:kube_pod_container_status_restarts:increase1h', legend='{container}',
            description='restarts of the most restarting container over 1h (HaloBuzzPodRestarting: > 3)'),
    _metric('stream_latency_p95', 'Stream latency p95', 'system', 'max(halobuzz:stream_latency_seconds:p95_rate5m)',
            'seconds', 0.5, '>', legend='streams p95',
            description='glass-to-glass p95 over 5m (runbook: > 500 ms is a common issue)'),
    _metric('memory_limit_ratio', 'Container memory / limit (highest)', 'system', 'max(%s)' % _MEMORY_RATIO, 'ratio',
            0.9, '>', chart_query='max by (container) (%s)' % _MEMORY_RATIO, legend='{container}',
            description='working set / memory limit, worst container (runbook memory leak: > 90 % and growing)'),
]
METRIC_NAMES = [m['name'] for m in METRICS]
BY_NAME = dict((m['name'], m) for m in METRICS)

# The charts of the last hour the issue asks for; each plots the chart queries of its metrics.
CHARTS = [
    dict(name='latency', title='API latency percentiles',
         metrics=['api_latency_p50', 'api_latency_p95', 'api_latency_p99', 'stream_latency_p95']),
    dict(name='error_rate', title='Error rate (5xx / all requests)', metrics=['error_rate']),
    dict(name='payment_success', title='Payment success rate', metrics=['payment_success_rate']),
    dict(name='active_streams', title='Active streams', metrics=['active_streams']),
    dict(name='memory', title='Container memory / limit', metrics=['memory_limit_ratio']),
    dict(name='redis_memory', title='Redis memory used', metrics=['redis_memory']),
    dict(name='restarts', title='Pod restarts (increase over 1h)', metrics=['pod_restarts']),
]
CHART_NAMES = [c['name'] for c in CHARTS]

UNIT_LABELS = dict(ratio='%', seconds='ms', bytes='MiB', per_second='per second', streams='streams', users='users',
                   connections='connections', restarts='restarts')


def select(names):
    """The catalogue entries named (all when ``names`` is empty), in catalogue order; ValueError on an unknown one."""
    if not names:
        return list(METRICS)
    unknown = sorted(set(names) - set(METRIC_NAMES))
    if unknown:
        raise ValueError('metrics: unknown %s; the key metrics are %s'
                         % (', '.join(unknown), ', '.join(METRIC_NAMES)))
    return [m for m in METRICS if m['name'] in names]


def charts_for(metrics):
    """The charts that plot at least one of ``metrics`` (entries), each with only those metrics."""
    chosen = set(m['name'] for m in metrics)
    charts = []
    for chart in CHARTS:
        names = [n for n in chart['metrics'] if n in chosen]
        if names:
            charts.append(dict(chart, metrics=names))
    return charts


def breached(value, threshold, comparison):
    """Whether ``value`` is past ``threshold`` (strict, as the runbook's "> 5 %"); False without data or threshold."""
    if value is None or threshold is None or comparison is None:
        return False
    if comparison == '>':
        return value > threshold
    if comparison == '<':
        return value < threshold
    raise ValueError('comparison must be > or <, not %r' % (comparison,))


def display_scale(unit):
    """Factor from the metric's unit to the unit it is shown in (ratio -> %, seconds -> ms, bytes -> MiB)."""
    return {'ratio': 100.0, 'seconds': 1000.0, 'bytes': 1.0 / (1024 * 1024)}.get(unit, 1.0)


def format_value(value, unit):
    """``8.0 %``, ``180 ms``, ``12.5 MiB``, ``25 streams``; ``no data`` for None."""
    if value is None:
        return 'no data'
    shown = value * display_scale(unit)
    label = UNIT_LABELS.get(unit, unit)
    if unit == 'ratio':
        return '%.2f %%' % shown
    if unit == 'seconds':
        return '%.0f ms' % shown if shown >= 10 else '%.1f ms' % shown
    if unit == 'bytes':
        return '%.1f MiB' % shown
    if unit == 'per_second':
        return '%.2f/s' % shown
    if float(shown).is_integer():
        return '%d %s' % (shown, label)
    return '%.2f %s' % (shown, label)


def format_threshold(metric):
    """``> 5.00 %`` or ``none in the runbook``."""
    if metric.get('threshold') is None:
        return 'none in the runbook'
    return '%s %s' % (metric['comparison'], format_value(metric['threshold'], metric['unit']))


def series_label(template, labels):
    """A legend label from a template such as ``{service}`` and a series' labels (missing ones left blank)."""
    class _Missing(dict):
        def __missing__(self, key):
            return '?'
    try:
        return template.format_map(_Missing(labels or {}))
    except (ValueError, IndexError):
        return template
