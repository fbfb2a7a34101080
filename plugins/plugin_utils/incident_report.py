# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The post-incident report (issue 18), built from the run records of one incident.

Pure: `build_report` takes the runs `run_record.incident_runs` read and returns the report as data; the two
renderers turn it into Markdown and one self-contained HTML page (charts inlined as data: URIs, no external
reference). What a record cannot prove (root cause, permanent fix, post-mortem) is left open for people.
Records never hold no_log results (the callback writes "censored"), so nothing here can reveal a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import html
import os
import re

from ansible_collections.halobuzz.ops.plugins.plugin_utils.run_record import RESPONSE_TARGETS, SEVERITIES

# The runbook's Post-Incident Checklist (OPERATIONS_RUNBOOK.md), in its order.
CHECKLIST = (
    'Service restored and verified',
    'Root cause identified',
    'Temporary fixes removed',
    'Permanent fix deployed',
    'Monitoring adjusted',
    'Documentation updated',
    'Post-mortem scheduled',
    'Stakeholders notified',
)
FOR_PEOPLE = 'left for people: the run records cannot prove it'
CHART_MARGIN = datetime.timedelta(minutes=10)

_VERIFICATION = re.compile(r'\b(verify|verified|healthz|wait for)\b', re.IGNORECASE)
_HEALTHZ = re.compile(r'healthz', re.IGNORECASE)
_PODS_READY = re.compile(r'\b(\d+)/(\d+) pods Ready\b')
_NOTIFY = re.compile(r'\b(notify|slack|pagerduty|alert the [\w -]+ team)\b', re.IGNORECASE)
_NOT_ACTIONS = ('ansible.builtin.validate_argument_spec',)

# Temporary fixes of the runbook and the task names that switch them on and off (roles' task names, which the
# record keeps): (fix, pattern, on(match) -> True when the fix is now in place, False when it is removed).
_TEMPORARY_FIXES = (
    ('maintenance mode', re.compile(r'maintenance mode (on|off)\b|MAINTENANCE_MODE\b.*\bvalue (\S+)', re.I),
     lambda m: (m.group(1) or m.group(2) or '').lower() in ('on', 'true', '1')),
    ('AI moderation fallback', re.compile(r'Set AI_MODERATION on the \S+ to (\S+)', re.I),
     lambda m: m.group(1).lower() not in ('true', '1', 'on')),
    ('manual scale', re.compile(r'\bscale\b.*?\b(up|down|back|revert)\b|\brevert\b.*\bscale\b', re.I),
     lambda m: (m.group(1) or '').lower() == 'up'),
)


class ReportError(ValueError):
    """Input the report cannot be built from; the message names the input."""


def parse_time(value, name='time'):
    """An aware UTC datetime from RFC 3339 text ('Z' or an offset) or epoch seconds; ReportError otherwise."""
    if isinstance(value, datetime.datetime):
        stamp = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        stamp = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    else:
        text = str(value or '').strip()
        if re.match(r'^\d+(\.\d+)?$', text):
            return parse_time(float(text), name)
        try:
            stamp = datetime.datetime.fromisoformat(text.replace('Z', '+00:00').replace('z', '+00:00'))
        except ValueError:
            raise ReportError('%s must be an RFC 3339 time (2026-01-26T03:00:00Z) or epoch seconds' % name)
    if stamp.tzinfo is None:
        raise ReportError('%s must say its time zone (Z or +00:00)' % name)
    return stamp.astimezone(datetime.timezone.utc)


def alert_start(alerts, incident_id):
    """When the incident's alert started, from Alertmanager's GET /api/v2/alerts (a list of GettableAlert:
    labels, fingerprint, startsAt, ... in alertmanager's api/v2/openapi.yaml): the alert whose fingerprint is the
    incident_id (docs/incident_report.md: an alert's fingerprint becomes the incident_id) or whose labels carry
    ``incident_id``; the earliest startsAt when several match, as RFC 3339 UTC; None when none does (Alertmanager
    lists an alert only while it fires or until its resolved notification is sent)."""
    starts = []
    for alert in alerts if isinstance(alerts, list) else []:
        if not isinstance(alert, dict):
            continue
        labels = alert.get('labels') if isinstance(alert.get('labels'), dict) else {}
        if incident_id and incident_id in (alert.get('fingerprint'), labels.get('incident_id')):
            try:
                starts.append(parse_time(alert.get('startsAt'), 'startsAt'))
            except ReportError:
                continue
    return min(starts).strftime('%Y-%m-%dT%H:%M:%S.%fZ') if starts else None


def _hhmm(stamp):
    return stamp.strftime('%H:%M UTC')


def _clock(stamp):
    return stamp.strftime('%Y-%m-%d %H:%M:%S')


def _duration(seconds):
    seconds = int(round(seconds))
    sign = '-' if seconds < 0 else ''
    minutes, secs = divmod(abs(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return sign + ('%dh %02dm %02ds' % (hours, minutes, secs) if hours else '%dm %02ds' % (minutes, secs))


def _run_view(run):
    header, stats = run.get('run') or {}, run.get('stats') or {}
    started = parse_time(header.get('time'), 'the start of %s' % os.path.basename(run.get('path', 'a record')))
    finished = parse_time(stats['time']) if stats.get('time') else None
    return {
        'playbook': header.get('playbook') or 'adhoc',
        'record': os.path.basename(run.get('path') or ''),
        'user': header.get('user') or 'unknown',
        'started': started,
        'finished': finished,
        'result': stats.get('result') or 'unfinished',
        'check_mode': bool(header.get('check_mode')),
        'severity': header.get('severity'),
        'entries': [dict(entry, _time=parse_time(entry.get('time'))) for entry in run.get('entries') or []
                    if entry.get('time')],
    }


def _is_verification(entry):
    # By the task's name (verify, healthz, wait for): a uri task that queries Prometheus measures, it does not verify.
    return entry.get('type') == 'task' and entry.get('status') in ('ok', 'changed', 'failed') and bool(
        _VERIFICATION.search(entry.get('task') or ''))


def _is_health_check(entry):
    return _is_verification(entry) and bool(_HEALTHZ.search(entry.get('task') or ''))


def _evidence_of(run):
    """'healthz 200, 3/3 pods Ready' from a run's verifications and summary lines."""
    parts = []
    for entry in run['entries']:
        if _is_health_check(entry) and entry.get('status') == 'ok' and entry.get('http_status') is not None:
            text = 'healthz %s' % entry['http_status']
            if text not in parts:
                parts.append(text)
    ready = None
    for entry in run['entries']:
        for line in [entry.get('summary') or ''] + list(entry.get('lines') or []):
            for match in _PODS_READY.finditer(line):
                ready = match
    if ready:
        parts.append('%s/%s pods Ready' % (ready.group(1), ready.group(2)))
    return parts, ready


def _service_restored(runs):
    for run in reversed(runs):
        if run['check_mode']:
            continue
        verifications = [e for e in run['entries'] if _is_health_check(e)]
        if not verifications:
            continue
        parts, ready = _evidence_of(run)
        when = _hhmm(run['finished'] or run['started'])
        healthy = any(e.get('http_status') == 200 and e['status'] == 'ok' for e in verifications)
        failed = [e for e in verifications if e['status'] == 'failed']
        all_ready = ready is None or ready.group(1) == ready.group(2)
        if run['result'] == 'succeeded' and healthy and not failed and all_ready:
            return True, '%s %s, %s' % (run['playbook'], when, ', '.join(parts))
        return False, 'last verification not passed: %s %s (%s)' % (
            run['playbook'], when, ', '.join(parts) or '%d check(s) failed' % len(failed))
    return False, 'no run of this incident verified the service (healthz)'


def _temporary_fixes(runs):
    state = {}
    for run in runs:
        if run['check_mode']:
            continue
        for entry in run['entries']:
            if entry.get('type') != 'task' or entry.get('status') != 'changed':
                continue
            for fix, pattern, in_place in _TEMPORARY_FIXES:
                match = pattern.search(entry.get('task') or '')
                if match:
                    state[fix] = (in_place(match), run, entry)
                    break
    if not state:
        return True, 'no temporary fix recorded (maintenance mode, AI moderation fallback, manual scale)'
    open_fixes = ['%s still in place (%s %s: %s)' % (fix, run['playbook'], _hhmm(entry['_time']), entry['task'])
                  for fix, (in_place, run, entry) in sorted(state.items()) if in_place]
    removed = ['%s removed (%s %s)' % (fix, run['playbook'], _hhmm(entry['_time']))
               for fix, (in_place, run, entry) in sorted(state.items()) if not in_place]
    if open_fixes:
        return False, '; '.join(open_fixes + removed)
    return True, '; '.join(removed)


def _first_ok(runs, predicate):
    for run in runs:
        if run['check_mode']:
            continue
        for entry in run['entries']:
            if entry.get('type') == 'task' and entry.get('status') in ('ok', 'changed') and predicate(run, entry):
                return run, entry
    return None, None


def _checklist(runs):
    restored = _service_restored(runs)
    fixes = _temporary_fixes(runs)
    run, entry = _first_ok(runs, lambda r, e: r['playbook'] == 'alerting.yml' and e['status'] == 'changed')
    monitoring = (True, 'alerting.yml %s: %s' % (_hhmm(entry['_time']), entry['task'])) if entry else (
        False, 'no alerting.yml run changed the alerts during the incident; ' + FOR_PEOPLE)
    run, entry = _first_ok(runs, lambda r, e: bool(_NOTIFY.search(e.get('task') or '')))
    notified = (True, '%s %s: %s' % (run['playbook'], _hhmm(entry['_time']), entry['task'])) if entry else (
        False, 'no notification task in the records; ' + FOR_PEOPLE)
    proven = {
        'Service restored and verified': restored,
        'Temporary fixes removed': fixes,
        'Monitoring adjusted': monitoring,
        'Stakeholders notified': notified,
    }
    return [{'item': item, 'ticked': proven.get(item, (False, FOR_PEOPLE))[0],
             'evidence': proven.get(item, (False, FOR_PEOPLE))[1]} for item in CHECKLIST]


def _response(runs, severity, alert_started_at):
    target = RESPONSE_TARGETS.get(severity)
    first = runs[0]
    response = {'severity': severity, 'target_s': target, 'alert_started_at': None, 'first_action_at': first['started'],
                'first_action': '%s by %s' % (first['playbook'], first['user']), 'elapsed_s': None, 'met': None}
    if alert_started_at not in (None, ''):
        start = parse_time(alert_started_at, 'alert_started_at')
        response['alert_started_at'] = start
        response['elapsed_s'] = (first['started'] - start).total_seconds()
        if target is not None:
            response['met'] = response['elapsed_s'] <= target
    return response


def _most_severe(runs):
    stamped = [run['severity'] for run in runs if run['severity'] in SEVERITIES]
    return min(stamped) if stamped else None


def build_report(runs, incident_id, severity=None, alert_started_at=None, charts=None, metrics=None):
    """The report as data from the incident's runs (run_record.incident_runs), oldest first."""
    if not runs:
        raise ReportError('no run record carries incident_id %s' % incident_id)
    if severity not in (None, '') and severity not in SEVERITIES:
        raise ReportError('severity must be one of %s' % ', '.join(SEVERITIES))
    views = sorted((_run_view(run) for run in runs), key=lambda view: view['started'])
    severity = severity or _most_severe(views)
    timeline, changes, verifications = [], [], []
    for view in views:
        mode = ' (check mode)' if view['check_mode'] else ''
        timeline.append({'time': view['started'], 'playbook': view['playbook'], 'user': view['user'],
                         'event': 'started %s%s' % (view['playbook'], mode)})
        for entry in view['entries']:
            if entry.get('type') != 'task' or entry.get('action') in _NOT_ACTIONS:
                continue
            status = entry.get('status')
            if status in ('changed', 'failed', 'unreachable'):
                timeline.append({'time': entry['_time'], 'playbook': view['playbook'], 'user': view['user'],
                                 'event': '%s: %s%s' % (status, entry.get('task'), mode)})
            if status == 'changed':
                changes.append({'time': entry['_time'], 'playbook': view['playbook'], 'user': view['user'],
                                'task': entry.get('task'), 'before': entry.get('before'),
                                'after': entry.get('after'), 'summary': entry.get('summary') or '',
                                'check_mode': view['check_mode']})
            if _is_verification(entry):
                result = 'passed' if status in ('ok', 'changed') else 'failed'
                detail = 'HTTP %s' % entry['http_status'] if entry.get('http_status') is not None else (
                    entry.get('summary') or '')
                verifications.append({'time': entry['_time'], 'playbook': view['playbook'], 'task': entry.get('task'),
                                      'result': result, 'detail': detail})
        end = view['finished']
        if end is not None:
            timeline.append({'time': end, 'playbook': view['playbook'], 'user': view['user'],
                             'event': 'finished %s: %s' % (view['playbook'], view['result'])})
    timeline.sort(key=lambda item: item['time'])
    first = views[0]['started']
    last = max(view['finished'] or view['started'] for view in views)
    response = _response(views, severity, alert_started_at)
    start = min(first, response['alert_started_at'] or first)
    return {
        'incident_id': incident_id,
        'severity': severity,
        'runs': views,
        'timeline': timeline,
        'changes': changes,
        'verifications': verifications,
        'response': response,
        'checklist': _checklist(views),
        'window': {'start': start - CHART_MARGIN, 'end': last + CHART_MARGIN},
        'markers': [{'at': view['started'].isoformat(), 'label': '%s %s' % (_hhmm(view['started']), view['playbook'])}
                    for view in views],
        'charts': list(charts or []),
        'metrics': list(metrics or []),
    }


def chart_window(runs, alert_started_at=None):
    """{start, end, name (end as 20260126T032505Z), markers} for the charts: the incident's runs with a margin, each run's start marked."""
    report = build_report(runs, 'window', alert_started_at=alert_started_at)
    return {'start': report['window']['start'].isoformat(), 'end': report['window']['end'].isoformat(),
            'name': report['window']['end'].strftime('%Y%m%dT%H%M%SZ'), 'markers': report['markers']}


def _cell(value):
    return ' '.join(str('' if value is None else value).split()).replace('|', '\\|')


def _response_lines(response):
    target = response['target_s']
    target_text = _duration(target) if target is not None else 'none'
    lines = ['- Severity: %s (target %s)' % (response['severity'] or 'not given', target_text)]
    if response['alert_started_at'] is None:
        lines.append('- Alert started: unknown (pass -e alert_started_at=... or find the alert in Alertmanager)')
    else:
        lines.append('- Alert started: %s' % _clock(response['alert_started_at']))
    lines.append('- First action: %s, %s' % (_clock(response['first_action_at']), response['first_action']))
    if response['elapsed_s'] is not None:
        verdict = {True: 'within target', False: 'TARGET MISSED', None: 'no target'}[response['met']]
        lines.append('- Response time: %s (%s)' % (_duration(response['elapsed_s']), verdict))
    return lines


def render_markdown(report, chart_dir=None):
    """The report in Markdown; charts linked relative to chart_dir (the report's folder)."""
    out = ['# Post-incident report: %s' % report['incident_id'], '',
           'Written by playbooks/incident_report.yml from %d run record(s). Times are UTC.' % len(report['runs']), '',
           '## Response', ''] + _response_lines(report['response'])
    out += ['', '## Runs', '', '| started | finished | playbook | who | result | record |', '| --- | --- | --- | --- | --- | --- |']
    for run in report['runs']:
        out.append('| %s | %s | %s | %s | %s | %s |' % tuple(_cell(v) for v in (
            _clock(run['started']), _clock(run['finished']) if run['finished'] else '-',
            run['playbook'] + (' (check mode)' if run['check_mode'] else ''), run['user'], run['result'],
            run['record'])))
    out += ['', '## Timeline', '', '| time | who | what |', '| --- | --- | --- |']
    for item in report['timeline']:
        out.append('| %s | %s | %s |' % (_cell(_clock(item['time'])), _cell(item['user']), _cell(item['event'])))
    out += ['', '## What changed', '']
    if not report['changes']:
        out.append('Nothing changed.')
    else:
        out += ['| time | playbook | task | before | after |', '| --- | --- | --- | --- | --- |']
        for change in report['changes']:
            before, after = change['before'], change['after']
            if before is None and after is None:
                before, after = '', change['summary']
            out.append('| %s | %s | %s | %s | %s |' % tuple(_cell(v) for v in (
                _clock(change['time']), change['playbook'] + (' (check mode)' if change['check_mode'] else ''),
                change['task'], before, after)))
    out += ['', '## Verifications', '']
    if not report['verifications']:
        out.append('No verification was recorded.')
    else:
        out += ['| time | playbook | check | result | detail |', '| --- | --- | --- | --- | --- |']
        for check in report['verifications']:
            out.append('| %s | %s | %s | %s | %s |' % tuple(_cell(v) for v in (
                _clock(check['time']), check['playbook'], check['task'], check['result'], check['detail'])))
    if report['metrics']:
        out += ['', '## Key metrics (end of the window)', '', '| metric | value | threshold | breached |',
                '| --- | --- | --- | --- |']
        for metric in report['metrics']:
            out.append('| %s | %s %s | %s %s | %s |' % tuple(_cell(v) for v in (
                metric.get('title') or metric.get('name'), metric.get('value'), metric.get('unit') or '',
                metric.get('comparison') or '', metric.get('threshold'), 'yes' if metric.get('breached') else 'no')))
    if report['charts']:
        window = report['window']
        out += ['', '## Charts', '', 'Window %s to %s; each vertical line is a run of this incident.' % (
            _clock(window['start']), _clock(window['end'])), '']
        for chart in report['charts']:
            path = chart['path']
            if chart_dir:
                path = os.path.relpath(path, chart_dir)
            out.append('![%s](%s)' % (_cell(chart['name']), path.replace(' ', '%20')))
    out += ['', '## Post-incident checklist', '']
    for item in report['checklist']:
        out.append('- [%s] %s: %s' % ('x' if item['ticked'] else ' ', item['item'], item['evidence']))
    out += ['', '## Root cause', '', '_To be written by people._', '', '## Post-mortem', '',
            '_To be scheduled and written by people._']
    return '\n'.join(out) + '\n'


_STYLE = ('body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em;color:#222}'
          'table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.3em .5em;'
          'vertical-align:top;text-align:left;font-size:90%}th{background:#eee}img{max-width:100%}'
          '.ok{color:#165c16}.open{color:#8a1c1c}')


def _table(headers, rows):
    esc = html.escape
    head = ''.join('<th>%s</th>' % esc(h) for h in headers)
    body = ''.join('<tr>%s</tr>' % ''.join('<td>%s</td>' % esc(str('' if c is None else c)) for c in row)
                   for row in rows)
    return '<table><tr>%s</tr>%s</table>' % (head, body)


def _data_uri(path):
    with open(path, 'rb') as handle:
        data = handle.read()
    kind = 'image/svg+xml' if path.endswith('.svg') else 'image/png'
    return 'data:%s;base64,%s' % (kind, base64.b64encode(data).decode('ascii'))


def render_html(report):
    """One self-contained page: styles inline, charts as data: URIs, no script, no external reference."""
    esc = html.escape
    title = 'Post-incident report: %s' % esc(report['incident_id'])
    response_items = ''.join('<li>%s</li>' % esc(line[2:]) for line in _response_lines(report['response']))
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<title>%s</title><style>%s</style></head><body>' % (title, _STYLE),
             '<h1>Post-incident report: %s</h1>' % esc(report['incident_id']),
             '<p>Written by playbooks/incident_report.yml from %d run record(s). Times are UTC.</p>'
             % len(report['runs']),
             '<h2>Response</h2><ul>%s</ul>' % response_items,
             '<h2>Runs</h2>', _table(('started', 'finished', 'playbook', 'who', 'result', 'record'), [
                 (_clock(r['started']), _clock(r['finished']) if r['finished'] else '-',
                  r['playbook'] + (' (check mode)' if r['check_mode'] else ''), r['user'], r['result'], r['record'])
                 for r in report['runs']]),
             '<h2>Timeline</h2>', _table(('time', 'who', 'what'), [
                 (_clock(i['time']), i['user'], i['event']) for i in report['timeline']]),
             '<h2>What changed</h2>']
    if report['changes']:
        parts.append(_table(('time', 'playbook', 'task', 'before', 'after'), [
            (_clock(c['time']), c['playbook'] + (' (check mode)' if c['check_mode'] else ''), c['task'],
             c['before'] if c['before'] is not None or c['after'] is not None else '',
             c['after'] if c['before'] is not None or c['after'] is not None else c['summary'])
            for c in report['changes']]))
    else:
        parts.append('<p>Nothing changed.</p>')
    parts.append('<h2>Verifications</h2>')
    parts.append(_table(('time', 'playbook', 'check', 'result', 'detail'), [
        (_clock(v['time']), v['playbook'], v['task'], v['result'], v['detail']) for v in report['verifications']])
        if report['verifications'] else '<p>No verification was recorded.</p>')
    if report['metrics']:
        parts.append('<h2>Key metrics (end of the window)</h2>')
        parts.append(_table(('metric', 'value', 'threshold', 'breached'), [
            (m.get('title') or m.get('name'), '%s %s' % (m.get('value'), m.get('unit') or ''),
             '%s %s' % (m.get('comparison') or '', m.get('threshold')), 'yes' if m.get('breached') else 'no')
            for m in report['metrics']]))
    if report['charts']:
        parts.append('<h2>Charts</h2><p>Each vertical line is a run of this incident.</p>')
        for chart in report['charts']:
            parts.append('<figure><img alt="%s" src="%s"><figcaption>%s</figcaption></figure>' % (
                esc(chart['name']), _data_uri(chart['path']), esc(chart['name'])))
    parts.append('<h2>Post-incident checklist</h2><ul>')
    for item in report['checklist']:
        parts.append('<li class="%s">%s <strong>%s</strong>: %s</li>' % (
            'ok' if item['ticked'] else 'open', '&#9745;' if item['ticked'] else '&#9744;', esc(item['item']),
            esc(item['evidence'])))
    parts.append('</ul><h2>Root cause</h2><p><em>To be written by people.</em></p>'
                 '<h2>Post-mortem</h2><p><em>To be scheduled and written by people.</em></p></body></html>\n')
    return ''.join(parts)
