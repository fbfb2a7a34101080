# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key-metrics snapshot (what halobuzz.ops.prometheus_snapshot calls).

Every input is checked before the first query; every query and every chart is done in memory before the
first file is written, so a failure leaves nothing half-written. Files are the operator's alone, as the run
records are (plugins/plugin_utils/run_record.py): the folder 0700, every file 0600, no symlink followed.
Check mode queries (instant and range) and writes nothing; it returns the paths it would write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import math
import os
import re
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.halobuzz.ops.plugins.module_utils.common.files import private_dir, write_private
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus import catalogue
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.charts import (
    MATPLOTLIB_IMPORT_ERROR,
    render_png,
)
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.client import (
    MAX_POINTS,
    PrometheusClient,
    PrometheusError,
)
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.summary import (
    breach_sentence,
    render_markdown,
)

DEFAULT_WINDOW = 3600
# Points per chart when step is not given: one hour -> 15 s, Prometheus' own default scrape interval.
TARGET_POINTS = 240
SUMMARY_FILE = 'summary.md'
METRICS_FILE = 'metrics.json'
# Prometheus durations (https://prometheus.io/docs/prometheus/latest/querying/basics/#time-durations).
_DURATION = re.compile(r'^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$')
_DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def parse_time(value, name):
    """Unix seconds from an RFC 3339 time (``2026-11-29T03:12:00Z``) or a unix time (number or digits)."""
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        raise PrometheusError('%s must be an RFC 3339 time or a unix time, not a boolean' % name)
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is None:
            iso = text[:-1] + '+00:00' if text[-1:] in ('Z', 'z') else text
            try:
                parsed = datetime.datetime.fromisoformat(iso)
            except ValueError:
                raise PrometheusError('%s %r is neither an RFC 3339 time (2026-11-29T03:12:00Z) nor a unix time'
                                      % (name, text[:64]))
            if parsed.tzinfo is None:
                raise PrometheusError('%s %r has no time zone: write it as UTC with Z (2026-11-29T03:12:00Z) or '
                                      'with an offset (+05:45)' % (name, text[:64]))
            return parsed.timestamp()
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise PrometheusError('%s must be a time after 1970, got %r' % (name, value))
    return number


def parse_step(value, start, end):
    """Seconds between points: a number of seconds or a Prometheus duration (15s, 1m); default span / 240."""
    if value is None or value == '':
        return float(max(1, int(math.ceil((end - start) / TARGET_POINTS))))
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        match = _DURATION.match(text)
        if not text or not match:
            raise PrometheusError('step %r is neither a number of seconds nor a Prometheus duration such as 15s, '
                                  '1m or 1h30m' % text[:32])
        seconds = sum(int(match.group(2 * i + 2) or 0) * unit for i, unit in enumerate(_DURATION_UNITS))
    if math.isnan(seconds) or math.isinf(seconds) or seconds <= 0:
        raise PrometheusError('step must be more than 0 seconds, got %r' % text[:32])
    if (end - start) / seconds > MAX_POINTS:
        raise PrometheusError('step %s s gives more than %d points over the %.0f s window, which Prometheus refuses: '
                              'give a larger step' % (text, MAX_POINTS, end - start))
    return seconds


def parse_markers(markers):
    """``[(unix time, label)]`` from ``[{at, label}]``, sorted by time."""
    parsed = []
    for index, marker in enumerate(markers or []):
        if not isinstance(marker, dict) or marker.get('at') in (None, ''):
            raise PrometheusError('markers[%d] must be a dict with at (RFC 3339 or unix time) and label' % index)
        unknown = sorted(set(marker) - {'at', 'label'})
        if unknown:
            raise PrometheusError('markers[%d] has unknown keys %s: give at and label' % (index, ', '.join(unknown)))
        label = ' '.join(str(marker.get('label') or '').split())[:80]
        parsed.append((parse_time(marker['at'], 'markers[%d].at' % index), label))
    return sorted(parsed)


def plan(params, now=None):
    """Everything decided from the parameters, before any query: window, step, metrics, charts, paths."""
    now = time.time() if now is None else now
    end = parse_time(params.get('end'), 'end')
    start = parse_time(params.get('start'), 'start')
    end = now if end is None else end
    start = end - DEFAULT_WINDOW if start is None else start
    if end <= start:
        raise PrometheusError('start must be before end (the window is %s to %s)'
                              % (_iso(start), _iso(end)))
    step = parse_step(params.get('step'), start, end)
    try:
        metrics = catalogue.select(params.get('metrics') or [])
    except ValueError as exc:
        raise PrometheusError(str(exc))
    dest = params.get('dest')
    charts_on = params.get('charts')
    if charts_on is None:
        charts_on = bool(dest)
    if charts_on and not dest:
        raise PrometheusError('charts: true needs dest, the folder to write the PNG files to')
    folder = os.path.abspath(os.path.expanduser(dest)) if dest else None
    if folder and os.path.lexists(folder) and not os.path.isdir(folder):
        raise PrometheusError('dest %s exists and is not a folder: give a folder (created when missing)' % folder)
    charts = catalogue.charts_for(metrics) if charts_on else []
    if charts and MATPLOTLIB_IMPORT_ERROR is not None:
        raise PrometheusError(missing_required_lib('matplotlib') + ' (needed to draw the charts; charts: false '
                              'takes the snapshot without them)', exception=MATPLOTLIB_IMPORT_ERROR)
    return dict(start=start, end=end, step=step, metrics=metrics, charts=charts, folder=folder,
                markers=parse_markers(params.get('markers')))


def _iso(unix_time):
    return datetime.datetime.fromtimestamp(unix_time, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def measure(client, metrics, at):
    """Result entries: the catalogue fields with the instant value at ``at`` and whether it is breached."""
    results = []
    for metric in metrics:
        samples = client.instant(metric['query'], at=at, doing='querying %s (%s)' % (metric['title'], metric['query']))
        values = [v for labels, v in samples if v is not None]
        value = values[0] if values else None
        results.append(dict(
            name=metric['name'], title=metric['title'], group=metric['group'], query=metric['query'],
            value=value, unit=metric['unit'], threshold=metric['threshold'], comparison=metric['comparison'],
            breached=catalogue.breached(value, metric['threshold'], metric['comparison']),
            display=catalogue.format_value(value, metric['unit'])))
    return results


def chart_lines(client, chart, window):
    """``(lines, thresholds)`` of one chart: a line per series of each metric's chart query."""
    lines, thresholds = [], []
    for name in chart['metrics']:
        metric = catalogue.BY_NAME[name]
        series = client.range(metric['chart_query'], window['start'], window['end'], window['step'],
                              doing='reading the window of %s for the %s chart' % (metric['title'], chart['name']))
        for labels, points in sorted(series, key=lambda s: sorted(s[0].items())):
            lines.append((catalogue.series_label(metric['legend'], labels), points))
        if metric['threshold'] is not None:
            owner = metric['legend'] + ' ' if len(chart['metrics']) > 1 else ''
            thresholds.append(('%sthreshold %s %s' % (owner, metric['comparison'],
                                                      catalogue.format_value(metric['threshold'], metric['unit'])),
                               metric['threshold']))
    return lines, thresholds


def run_snapshot(params, check_mode, client=None, now=None):
    """The module's result: metrics, charts, summary_path, folder, window (and changed when files are written)."""
    decided = plan(params, now=now)
    client = client or PrometheusClient(params)
    window = dict(start=decided['start'], end=decided['end'], step=decided['step'])
    metrics = measure(client, decided['metrics'], decided['end'])
    folder = decided['folder']
    charts, pngs = [], []
    for chart in decided['charts']:
        lines, thresholds = chart_lines(client, chart, window)
        path = os.path.join(folder, '%s.png' % chart['name'])
        charts.append(dict(name=chart['name'], title=chart['title'], path=path))
        if not check_mode:
            pngs.append((path, render_png(chart['title'], catalogue.BY_NAME[chart['metrics'][0]]['unit'], lines,
                                          window['start'], window['end'], thresholds, decided['markers'])))
    breaches = [m for m in metrics if m['breached']]
    msg = '%d key metrics, %d past the runbook threshold%s' % (
        len(metrics), len(breaches), (': ' + ' '.join(breach_sentence(m) for m in breaches)) if breaches else '')
    result = dict(changed=False, metrics=metrics, charts=charts, summary_path=None, folder=folder,
                  window=dict(since=_iso(window['start']), until=_iso(window['end']), step=window['step']),
                  breached=[m['name'] for m in breaches], msg=msg)
    if folder is None:
        return result
    summary_path = os.path.join(folder, SUMMARY_FILE)
    result.update(changed=True, summary_path=summary_path)
    if check_mode:
        result['msg'] = 'would write %d charts and %s to %s; %s' % (len(charts), SUMMARY_FILE, folder, msg)
        return result
    markdown = render_markdown(metrics, [dict(title=c['title'], file=os.path.basename(c['path'])) for c in charts],
                               dict(since=window['start'], until=window['end']), client.shown,
                               decided['markers'])
    record = dict(window=result['window'], prometheus=client.shown, metrics=metrics,
                  markers=[dict(at=_iso(at), label=label) for at, label in decided['markers']],
                  charts=[dict(name=c['name'], file=os.path.basename(c['path'])) for c in charts])
    try:
        private_dir(folder)
        for path, png in pngs:
            write_private(path, png)
        write_private(os.path.join(folder, METRICS_FILE),
                      (json.dumps(record, indent=2, sort_keys=True) + '\n').encode('utf-8'))
        write_private(summary_path, markdown.encode('utf-8'))
    except OSError as exc:
        raise PrometheusError('cannot write the snapshot to %s (%s): give a dest folder of your own that can be '
                              'written' % (folder, exc.strerror or exc))
    result['msg'] = 'wrote %d charts and %s to %s; %s' % (len(charts), SUMMARY_FILE, folder, msg)
    return result
