"""The key-metrics snapshot (plugins/module_utils/prometheus/): catalogue, thresholds, HTTP client, charts, files."""
import io
import json
import os
import stat
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qs, urlsplit

import numpy
import pytest
import yaml
from matplotlib.image import imread

from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus import catalogue
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.charts import render_png
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.client import (
    PrometheusClient, PrometheusError, check_url, parse_value)
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.snapshot import (
    parse_markers, parse_step, parse_time, plan, run_snapshot)

REPO = Path(__file__).resolve().parents[4]
RULES = yaml.safe_load((REPO / 'extensions/prometheus/halobuzz-rules.yml').read_text())
RECORDED = {r['record'] for g in RULES['groups'] for r in g['rules'] if 'record' in r}
ALERTING = yaml.safe_load((REPO / 'roles/alerting/defaults/main.yml').read_text())
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
T0 = 1795925520.0  # 2026-11-29T04:12:00Z: a fixed "now"


# --- catalogue ---------------------------------------------------------------------------------------------

def test_every_key_metric_of_the_runbook_is_in_the_catalogue():
    assert catalogue.METRIC_NAMES[:11] == [
        'active_streams', 'concurrent_users', 'payment_success_rate', 'gift_volume', 'api_latency_p50',
        'api_latency_p95', 'api_latency_p99', 'error_rate', 'db_connections', 'redis_memory', 'pod_restarts']
    assert {m['group'] for m in catalogue.METRICS[:4]} == {'business'}


@pytest.mark.parametrize('metric', [m for m in catalogue.METRICS if m['name'] != 'memory_limit_ratio'],
                         ids=lambda m: m['name'])
def test_queries_read_the_recording_rules_of_issue_17(metric):
    used = [name for name in RECORDED if name in metric['query']]
    assert used, '%s reads no recording rule of halobuzz-rules.yml' % metric['query']
    assert any(name in metric['chart_query'] for name in RECORDED)


@pytest.mark.parametrize('name, threshold', [
    ('error_rate', ALERTING['alerting_error_ratio_threshold']),
    ('payment_success_rate', 1 - ALERTING['alerting_payment_failure_ratio_threshold']),
    ('stream_latency_p95', ALERTING['alerting_stream_latency_p95_seconds']),
    ('memory_limit_ratio', ALERTING['alerting_memory_limit_ratio_threshold']),
    ('pod_restarts', ALERTING['alerting_pod_restarts_per_hour']),
])
def test_thresholds_are_the_runbooks_as_the_alerts_use_them(name, threshold):
    assert catalogue.BY_NAME[name]['threshold'] == pytest.approx(threshold)


@pytest.mark.parametrize('value, threshold, comparison, expected', [
    (0.08, 0.05, '>', True), (0.05, 0.05, '>', False), (0.049, 0.05, '>', False),
    (0.82, 0.9, '<', True), (0.9, 0.9, '<', False), (0.995, 0.9, '<', False),
    (None, 0.05, '>', False), (7.0, None, None, False),
])
def test_threshold_comparison_is_strict_as_the_runbook_writes_it(value, threshold, comparison, expected):
    assert catalogue.breached(value, threshold, comparison) is expected


@pytest.mark.parametrize('value, unit, shown', [
    (0.08, 'ratio', '8.00 %'), (0.18, 'seconds', '180 ms'), (0.0045, 'seconds', '4.5 ms'),
    (13107200, 'bytes', '12.5 MiB'), (25.0, 'streams', '25 streams'), (3.2, 'per_second', '3.20/s'),
    (None, 'ratio', 'no data'),
])
def test_format_value(value, unit, shown):
    assert catalogue.format_value(value, unit) == shown


def test_select_and_charts_for_a_subset():
    chosen = catalogue.select(['error_rate', 'api_latency_p95'])
    assert [m['name'] for m in chosen] == ['api_latency_p95', 'error_rate']
    assert [(c['name'], c['metrics']) for c in catalogue.charts_for(chosen)] == [
        ('latency', ['api_latency_p95']), ('error_rate', ['error_rate'])]
    with pytest.raises(ValueError, match='unknown latency.*the key metrics are active_streams'):
        catalogue.select(['latency'])


# --- input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('2026-11-29T03:12:00Z', 1795921920.0), ('2026-11-29T08:57:00+05:45', 1795921920.0),
    ('2026-11-29T03:12:00.250000001Z', 1795921920.25), (1795921920, 1795921920.0), ('1795921920.5', 1795921920.5),
    (None, None),
])
def test_parse_time(value, expected):
    assert parse_time(value, 'end') == expected


@pytest.mark.parametrize('value, message', [
    ('yesterday', "end 'yesterday' is neither an RFC 3339 time"), ('2026-11-29T03:12:00', 'has no time zone'),
    (True, 'not a boolean'), (-5, 'after 1970'),
])
def test_parse_time_refuses(value, message):
    with pytest.raises(PrometheusError, match=message):
        parse_time(value, 'end')


@pytest.mark.parametrize('value, seconds', [(None, 15.0), ('15s', 15.0), ('1m', 60.0), ('1h30m', 5400.0),
                                            ('30', 30.0), ('500ms', 0.5)])
def test_parse_step(value, seconds):
    assert parse_step(value, T0 - 3600, T0) == seconds


@pytest.mark.parametrize('value, message', [('fast', 'neither a number of seconds'), ('0', 'more than 0'),
                                            ('0.1', 'more than 11000 points')])
def test_parse_step_refuses(value, message):
    with pytest.raises(PrometheusError, match=message):
        parse_step(value, T0 - 3600, T0)


def test_markers_sorted_and_checked():
    assert parse_markers([{'at': T0, 'label': 'rollback.yml'}, {'at': '2026-11-29T03:12:00Z', 'label': 'a\nb'}]) == [
        (1795921920.0, 'a b'), (T0, 'rollback.yml')]
    with pytest.raises(PrometheusError, match=r'markers\[0\] must be a dict with at'):
        parse_markers([{'label': 'x'}])
    with pytest.raises(PrometheusError, match=r'markers\[0\].at'):
        parse_markers([{'at': 'soon', 'label': 'x'}])


def test_plan_refuses_bad_combinations_before_any_query(tmp_path):
    with pytest.raises(PrometheusError, match='charts: true needs dest'):
        plan(dict(charts=True), now=T0)
    with pytest.raises(PrometheusError, match='start must be before end'):
        plan(dict(start=T0, end=T0 - 1), now=T0)
    (tmp_path / 'file').write_text('x')
    with pytest.raises(PrometheusError, match='is not a folder'):
        plan(dict(dest=str(tmp_path / 'file')), now=T0)
    decided = plan(dict(dest=str(tmp_path / 'snap')), now=T0)
    assert (decided['start'], decided['end'], decided['step']) == (T0 - 3600, T0, 15.0)
    assert [c['name'] for c in decided['charts']] == catalogue.CHART_NAMES
    assert plan(dict(dest=str(tmp_path / 'snap'), charts=False), now=T0)['charts'] == []


# --- client ------------------------------------------------------------------------------------------------

class FakeResponse(io.BytesIO):
    pass


def opener_answering(handler, calls=None):
    def open_url(url, **kwargs):
        parts = urlsplit(url)
        args = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if calls is not None:
            calls.append((parts.path, args, kwargs))
        return FakeResponse(json.dumps(handler(parts.path, args)).encode())
    return open_url


def success(kind, result):
    return {'status': 'success', 'data': {'resultType': kind, 'result': result}}


@pytest.mark.parametrize('url, message', [
    ('', 'is empty'), ('prometheus:9090', 'must be http'), ('http://admin:S3cret@prom:9090', 'carries credentials'),
    ('http://prom:99999', 'cannot be parsed'), ('http://prom:9090/?x=1', 'query or fragment'),
])
def test_check_url_refuses_without_echoing_the_url(url, message):
    with pytest.raises(PrometheusError, match=message) as error:
        check_url(url)
    assert 'S3cret' not in str(error.value) and 'admin' not in str(error.value)


def test_parse_value():
    assert [parse_value(v) for v in ('0.5', 'NaN', '+Inf', 'x', None)] == [0.5, None, float('inf'), None, None]


def test_instant_and_range_queries_follow_the_http_api():
    calls = []

    def handler(path, args):
        if path == '/prom/api/v1/query':
            return success('vector', [{'metric': {'service': 'backend'}, 'value': [T0, '0.08']}])
        return success('matrix', [{'metric': {'service': 'backend'}, 'values': [[T0 - 15, '0.07'], [T0, 'NaN']]}])

    client = PrometheusClient(dict(prometheus_url='https://prom.example:9090/prom/', timeout=7),
                              opener=opener_answering(handler, calls))
    assert client.instant('up', at=T0) == [({'service': 'backend'}, 0.08)]
    assert client.range('up', T0 - 15, T0, 15) == [({'service': 'backend'}, [(T0 - 15, 0.07), (T0, None)])]
    assert calls[0][1] == {'query': 'up', 'time': '%.3f' % T0}
    assert calls[1][1] == {'query': 'up', 'start': '%.3f' % (T0 - 15), 'end': '%.3f' % T0, 'step': '15'}
    assert calls[0][2]['timeout'] == 7 and calls[0][2]['validate_certs'] is True


def test_api_errors_name_the_query_the_server_and_what_to_do():
    def refuse(url, **kwargs):
        body = io.BytesIO(json.dumps({'status': 'error', 'errorType': 'bad_data',
                                      'error': 'parse error at char 4'}).encode())
        raise HTTPError(url, 400, 'Bad Request', {}, body)

    client = PrometheusClient(dict(prometheus_url='http://127.0.0.1:9090'), opener=refuse)
    with pytest.raises(PrometheusError, match=r'http://127.0.0.1:9090 refused the query sum\(\( \(HTTP 400 '
                                              r'bad_data: parse error at char 4\): the query is not valid PromQL'):
        client.instant('sum((')

    def unreachable(url, **kwargs):
        raise URLError(ConnectionRefusedError(111, 'Connection refused'))

    client = PrometheusClient(dict(prometheus_url='http://127.0.0.1:1'), opener=unreachable)
    with pytest.raises(PrometheusError, match='cannot reach Prometheus at http://127.0.0.1:1 while the query up'):
        client.instant('up')

    client = PrometheusClient(dict(prometheus_url='http://127.0.0.1:9090'),
                              opener=lambda url, **kw: FakeResponse(b'<html>login</html>'))
    with pytest.raises(PrometheusError, match='not JSON'):
        client.instant('up')


# --- charts ------------------------------------------------------------------------------------------------

def _pixels(png):
    assert png.startswith(PNG_SIGNATURE)
    return imread(io.BytesIO(png), format='png')


def _blue_pixels(image):
    """Pixels of matplotlib's first line colour (C0, #1f77b4), within a small tolerance."""
    rgb = image[:, :, :3]
    return int((numpy.abs(rgb - numpy.array([0x1f, 0x77, 0xb4]) / 255.0).max(axis=2) < 0.08).sum())


def test_a_chart_is_a_valid_png_with_the_data_plotted():
    points = [(T0 - 3600 + 15 * i, 0.05 + 0.03 * (i % 20) / 20.0) for i in range(241)]
    png = render_png('Error rate', 'ratio', [('backend', points)], T0 - 3600, T0,
                     thresholds=[('threshold > 5.00 %', 0.05)], markers=[(T0 - 600, 'rollback.yml')])
    image = _pixels(png)
    assert image.shape[:2] == (360, 900)
    assert image[:, :, :3].std() > 0.05  # not blank
    empty = _pixels(render_png('Error rate', 'ratio', [], T0 - 3600, T0))
    assert _blue_pixels(image) > 500 > _blue_pixels(empty)


def test_a_chart_without_data_is_still_a_png():
    image = _pixels(render_png('Restarts', 'restarts', [('backend', [(T0, None)])], T0 - 3600, T0))
    assert image[:, :, :3].std() > 0.01


# --- the snapshot ------------------------------------------------------------------------------------------

VALUES = {'active_streams': '25', 'concurrent_users': '5300', 'payment_success_rate': '0.82', 'gift_volume': '3.2',
          'api_latency_p50': '0.045', 'api_latency_p95': '0.18', 'api_latency_p99': '0.35', 'error_rate': '0.08',
          'db_connections': '148', 'redis_memory': '1048576', 'pod_restarts': '0', 'stream_latency_p95': '0.12'}


def prometheus_like(path, args):
    """Answers each catalogue query with VALUES (memory_limit_ratio: no series, as without limits)."""
    for metric in catalogue.METRICS:
        if path.endswith('/query') and args['query'] == metric['query']:
            value = VALUES.get(metric['name'])
            return success('vector', [{'metric': {}, 'value': [T0, value]}] if value else [])
        if path.endswith('/query_range') and args['query'] == metric['chart_query']:
            start, end, step = float(args['start']), float(args['end']), float(args['step'])
            value = float(VALUES.get(metric['name'], 'nan'))
            count = int((end - start) / step) + 1
            return success('matrix', [{'metric': {'service': 'backend', 'container': 'backend'},
                                       'values': [[start + i * step, str(value * (1 + 0.1 * (i % 7)))]
                                                  for i in range(count)]}])
    raise AssertionError('unexpected query %r' % (args,))


def test_snapshot_writes_charts_summary_and_values_privately(tmp_path):
    calls = []
    client = PrometheusClient(dict(prometheus_url='http://127.0.0.1:9090'),
                              opener=opener_answering(prometheus_like, calls))
    folder = tmp_path / 'records' / 'metrics-20261129T031200Z'
    result = run_snapshot(dict(dest=str(folder), markers=[{'at': T0 - 60, 'label': 'rollback.yml'}]), False,
                          client=client, now=T0)
    assert result['changed'] is True and result['folder'] == str(folder)
    assert result['breached'] == ['payment_success_rate', 'error_rate']
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ['%s.png' % n for n in catalogue.CHART_NAMES] + ['metrics.json', 'summary.md'])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    for chart in result['charts']:
        assert _pixels(Path(chart['path']).read_bytes())[:, :, :3].std() > 0.05
    summary = Path(result['summary_path']).read_text()
    assert "Error rate (5xx) is 8.00 %, above the runbook's threshold (> 5.00 %)." in summary
    assert "Payment success rate is 82.00 %, below the runbook's threshold (< 90.00 %)." in summary
    assert '| API latency p95 | 180 ms | none in the runbook | reported |' in summary
    assert '| Container memory / limit (highest) | no data | > 90.00 % | no data |' in summary
    assert '![API latency percentiles](latency.png)' in summary
    values = json.loads((folder / 'metrics.json').read_text())
    assert {m['name']: m['value'] for m in values['metrics']}['error_rate'] == 0.08
    assert values['markers'] == [{'at': '2026-11-29T04:11:00Z', 'label': 'rollback.yml'}]


def test_check_mode_queries_and_writes_nothing(tmp_path):
    calls = []
    client = PrometheusClient(dict(prometheus_url='http://127.0.0.1:9090'),
                              opener=opener_answering(prometheus_like, calls))
    folder = tmp_path / 'metrics-x'
    result = run_snapshot(dict(dest=str(folder)), True, client=client, now=T0)
    assert result['changed'] is True and result['msg'].startswith('would write 7 charts and summary.md to ')
    assert not folder.exists()
    assert len([c for c in calls if c[0].endswith('/query')]) == len(catalogue.METRICS)
    assert len([c for c in calls if c[0].endswith('/query_range')]) > 0


def test_without_dest_only_values(tmp_path):
    client = PrometheusClient(dict(prometheus_url='http://127.0.0.1:9090'), opener=opener_answering(prometheus_like))
    result = run_snapshot(dict(metrics=['error_rate']), False, client=client, now=T0)
    assert result['changed'] is False and result['charts'] == [] and result['summary_path'] is None
    assert [(m['name'], m['value'], m['breached'], m['display']) for m in result['metrics']] == [
        ('error_rate', 0.08, True, '8.00 %')]


def test_a_failed_query_writes_nothing(tmp_path):
    def failing(path, args):
        if path.endswith('/query_range'):
            raise URLError('boom')
        return prometheus_like(path, args)

    def open_url(url, **kwargs):
        parts = urlsplit(url)
        return FakeResponse(json.dumps(failing(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}))
                            .encode())
    client = PrometheusClient(dict(prometheus_url='http://127.0.0.1:9090'), opener=open_url)
    with pytest.raises(PrometheusError, match='cannot reach Prometheus at http://127.0.0.1:9090 while reading the '
                                              'window of API latency p50 for the latency chart'):
        run_snapshot(dict(dest=str(tmp_path / 'm')), False, client=client, now=T0)
    assert not os.path.exists(tmp_path / 'm')
