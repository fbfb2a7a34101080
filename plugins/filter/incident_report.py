# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""incident_report: the post-incident report (issue 18) from query('halobuzz.ops.incident_records', id) | first."""

from __future__ import annotations

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.halobuzz.ops.plugins.plugin_utils.incident_report import (
    ReportError,
    alert_start,
    build_report,
    render_html,
    render_markdown,
)


def incident_report(records, incident_id, severity=None, alert_started_at=None, charts=None, metrics=None,
                    charts_dir=None):
    """{markdown, html, ticked, open, changes, runs} for the incident's records (the incident_records lookup).

    `charts` are prometheus_snapshot's ({name, path}) or its metrics.json's ({name, file} inside charts_dir).
    """
    if not isinstance(records, dict) or not isinstance(records.get('runs'), list):
        raise AnsibleFilterError("incident_report: the input is query('halobuzz.ops.incident_records', "
                                 "incident_id) | first")
    charts = [{'name': chart.get('name'), 'path': chart.get('path') or os.path.join(charts_dir or '', chart['file'])}
              for chart in charts or []]
    try:
        report = build_report(records['runs'], incident_id, severity or None, alert_started_at or None,
                              charts=charts or [], metrics=metrics or [])
        markdown = render_markdown(report, chart_dir=records.get('records_dir'))
        page = render_html(report)
    except (ReportError, OSError) as exc:
        raise AnsibleFilterError('incident_report: %s' % exc)
    response = report['response']
    return {
        'markdown': markdown,
        'html': page,
        'severity': report['severity'],
        'runs': [run['playbook'] for run in report['runs']],
        'changes': len([c for c in report['changes'] if not c['check_mode']]),
        'ticked': [item['item'] for item in report['checklist'] if item['ticked']],
        'open': [item['item'] for item in report['checklist'] if not item['ticked']],
        'response_met': response['met'],
    }


def alertmanager_alert_start(alerts, incident_id):
    """startsAt (RFC 3339 UTC) of the incident's alert in Alertmanager's GET /api/v2/alerts answer, or ''."""
    return alert_start(alerts, incident_id) or ''


class FilterModule:
    def filters(self):
        return {'incident_report': incident_report, 'alertmanager_alert_start': alertmanager_alert_start}
