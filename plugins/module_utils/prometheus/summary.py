# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown summary of a key-metrics snapshot: every metric's value against its threshold, the charts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.catalogue import (
    format_threshold,
    format_value,
)


def _iso(unix_time):
    return datetime.datetime.fromtimestamp(unix_time, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


def _cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def status(metric):
    """``BREACHED``, ``ok``, ``no data`` or ``reported`` (no threshold) for one result entry."""
    if metric['value'] is None:
        return 'no data'
    if metric['threshold'] is None:
        return 'reported'
    return 'BREACHED' if metric['breached'] else 'ok'


def breach_sentence(metric):
    """``Error rate (5xx) is 8.00 %, above the runbook's threshold (> 5.00 %).``"""
    side = 'above' if metric['comparison'] == '>' else 'below'
    return ("%s is %s, %s the runbook's threshold (%s)."
            % (metric['title'], format_value(metric['value'], metric['unit']), side, format_threshold(metric)))


def render_markdown(metrics, charts, window, prometheus, markers=(), check_mode=False):
    """The summary: headline, breaches, one table row per metric, the charts embedded by relative path.

    metrics: result entries (catalogue fields + value, breached); charts: ``[{name, title, file}]``;
    window: ``{since, until}`` unix times; prometheus: the redacted URL.
    """
    breaches = [m for m in metrics if m['breached']]
    lines = ['# Key metrics snapshot', '',
             '- Window: %s to %s (values at the end)' % (_iso(window['since']), _iso(window['until'])),
             '- Prometheus: %s' % prometheus, '']
    if breaches:
        lines.append('**%d of %d key metrics are past the runbook\'s threshold:**' % (len(breaches), len(metrics)))
        lines.append('')
        lines.extend('- %s' % breach_sentence(m) for m in breaches)
    else:
        judged = len([m for m in metrics if m['threshold'] is not None and m['value'] is not None])
        lines.append('All %d key metrics with a runbook threshold are within it.' % judged)
    lines.extend(['', '| Metric | Value | Threshold | Status |', '| --- | --- | --- | --- |'])
    for metric in metrics:
        lines.append('| %s | %s | %s | %s |' % (
            _cell(metric['title']), _cell(format_value(metric['value'], metric['unit'])),
            _cell(format_threshold(metric)), status(metric)))
    if markers:
        lines.extend(['', '## Markers', ''])
        lines.extend('- %s: %s' % (_iso(at), _cell(label)) for at, label in markers)
    if charts:
        lines.extend(['', '## Charts', ''])
        for chart in charts:
            lines.extend(['### %s' % chart['title'], '', '![%s](%s)' % (_cell(chart['title']), chart['file']), ''])
    lines.extend(['', '<sub>Queries: the recording rules of extensions/prometheus/halobuzz-rules.yml. %s</sub>'
                  % ('Check mode: nothing was written.' if check_mode else ''), ''])
    return '\n'.join(lines)
