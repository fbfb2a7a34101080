"""playbooks/metrics_snapshot.yml against the sandbox's real Prometheus (issue 18: key metrics with PNG charts).

One scenario, high-error-rate (8 % of requests answer 5xx, world.yml): every key metric is read through the
recording rules that the real Prometheus evaluates (extensions/prometheus/halobuzz-rules.yml), one PNG per
chart is written (a valid PNG with plotted data), and the summary names each metric's value and threshold and
says that the error rate is past the runbook's 5 %. The values the test waits for are asked of Prometheus
through its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/), not through the module.
"""
import io
import json
import stat
from pathlib import Path

import numpy
import pytest
import requests
from matplotlib.image import imread

from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus import catalogue
from sandbox_support import wait_for

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def prometheus_value(env, query):
    answer = requests.get(env['PROMETHEUS_URL'] + '/api/v1/query', params={'query': query}, timeout=10).json()
    result = answer['data']['result']
    return float(result[0]['value'][1]) if result else None


def every_metric_has_data_and_errors_are_high(env):
    values = {m['name']: prometheus_value(env, m['query']) for m in catalogue.METRICS}
    missing = sorted(name for name, value in values.items() if value is None or value != value)
    if missing or values['error_rate'] <= 0.05:
        return None
    return values


def plotted_pixels(png):
    """Pixels of the first line's colour (matplotlib C0, #1f77b4): the data, not the frame or the legend box."""
    assert png.startswith(PNG_SIGNATURE)
    rgb = imread(io.BytesIO(png), format='png')[:, :, :3]
    assert rgb.std() > 0.05, 'a blank image'
    return int((numpy.abs(rgb - numpy.array([0x1f, 0x77, 0xb4]) / 255.0).max(axis=2) < 0.08).sum())


@pytest.fixture(scope='module')
def high_error_rate(sandbox_env, scenario):
    scenario('high-error-rate')
    return wait_for(lambda: every_metric_has_data_and_errors_are_high(sandbox_env),
                    'every key metric in Prometheus and the error rate above 5 %', timeout=180)


def test_snapshot_charts_and_summary_name_every_metric_and_the_breach(high_error_rate, sandbox_env, run_playbook,
                                                                      tmp_path):
    records = tmp_path / 'records'
    result = run_playbook('metrics_snapshot', '-e', 'incident_id=INC-18', '-e', 'severity=P0',
                          env=dict(sandbox_env, HALOBUZZ_RECORDS_DIR=str(records)))
    assert result.recap['localhost']['changed'] == 1  # a new folder every run, by nature
    (folder,) = records.glob('metrics-*')
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ['%s.png' % name for name in catalogue.CHART_NAMES] + ['metrics.json', 'summary.md'])
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    for name in catalogue.CHART_NAMES:
        assert plotted_pixels((folder / ('%s.png' % name)).read_bytes()) > 20, name

    summary = (folder / 'summary.md').read_text()
    values = {m['name']: m for m in json.loads((folder / 'metrics.json').read_text())['metrics']}
    for metric in catalogue.METRICS:
        row = '| %s | %s | %s |' % (metric['title'], values[metric['name']]['display'],
                                    catalogue.format_threshold(metric))
        assert row in summary, row
        assert values[metric['name']]['value'] is not None, metric['name']
    assert values['error_rate']['value'] == pytest.approx(high_error_rate['error_rate'], abs=0.02)
    assert "Error rate (5xx) is %s, above the runbook's threshold (> 5.00 %%)." % values['error_rate']['display'] \
        in summary
    assert '| Payment success rate | %s | < 90.00 %% | ok |' % values['payment_success_rate']['display'] in summary
    for name in catalogue.CHART_NAMES:
        assert '](%s.png)' % name in summary

    # the closing lines name the breach and the playbook to run; the run record keeps the snapshot
    assert 'Found: 13 key metrics; 1 past the runbook threshold: Error rate (5xx)' in result.stdout
    assert 'Next: playbooks/high_error_rate.yml' in result.stdout
    (jsonl,) = records.glob('*-metrics_snapshot.jsonl')
    (record,) = [json.loads(line)['record'] for line in jsonl.read_text().splitlines()
                 if json.loads(line).get('type') == 'record']
    assert (record['kind'], record['folder'], record['breached'], record['incident_id']) == (
        'metrics_snapshot', str(folder), ['error_rate'], 'INC-18')


def test_an_unreachable_prometheus_is_a_clear_error_and_writes_nothing(sandbox_env, run_playbook, tmp_path):
    records = tmp_path / 'records'
    result = run_playbook('metrics_snapshot', check=False, env=dict(
        sandbox_env, HALOBUZZ_RECORDS_DIR=str(records), PROMETHEUS_URL='http://127.0.0.1:1'))
    assert result.rc != 0
    assert 'cannot reach Prometheus at http://127.0.0.1:1 while querying Active streams' in result.stdout
    assert 'Traceback' not in result.stdout + result.stderr
    assert list(records.glob('metrics-*')) == []
