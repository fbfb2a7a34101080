# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run record written by the incident_timeline callback: JSON lines plus a Markdown summary."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.halobuzz.ops.plugins.module_utils.common import files

# Run records name break-glass accessors, incident reasons and log lines: the folder is the operator's alone
# (0700) and so is every file in it (0600), through common/files.py's one implementation.
open_private = files.open_private

# Keys that say what a task did, in the order a reader wants them.
_SUMMARY_KEYS = ('msg', 'summary', 'diff_summary', 'before', 'after', 'revision', 'rc')
_UNSAFE_NAME = re.compile(r'[^A-Za-z0-9_.-]+')

# Issue 18: every playbook takes incident_id and severity (AWX survey, the alert's labels); the run record
# stamps them into every line, and incident_id groups the runs of one incident. The id names files
# (incident-<id>.md), hence the strict alphabet; an Alertmanager fingerprint (16 hex digits) or a
# PagerDuty dedup_key fits it.
INCIDENT_ID_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
SEVERITIES = ('P0', 'P1', 'P2', 'P3')
# The runbook's "Alert Response Times" (OPERATIONS_RUNBOOK.md), in seconds.
RESPONSE_TARGETS = {'P0': 5 * 60, 'P1': 15 * 60, 'P2': 60 * 60, 'P3': 4 * 60 * 60}
RECORD_SUFFIX = '.jsonl'


def record_basename(playbook_file, started_at):
    """`20260126T031500Z-rollback` for playbooks/rollback.yml started at that UTC time."""
    name = os.path.splitext(os.path.basename(playbook_file or 'adhoc'))[0] or 'adhoc'
    return '%s-%s' % (started_at.strftime('%Y%m%dT%H%M%SZ'), _UNSAFE_NAME.sub('_', name))


def incident_problem(incident_id=None, severity=None):
    """'' when incident_id and severity are absent or valid, else a message naming the bad input (not echoing it)."""
    problems = []
    if incident_id not in (None, ''):
        if not isinstance(incident_id, str) or not INCIDENT_ID_PATTERN.match(incident_id):
            problems.append('incident_id must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or '
                            'digit (an Alertmanager fingerprint or a PagerDuty dedup_key fits)')
    if severity not in (None, ''):
        if severity not in SEVERITIES:
            problems.append('severity must be one of %s' % ', '.join(SEVERITIES))
    return '; '.join(problems)


def incident_stamp(variables):
    """The {incident_id, severity} a run record stamps, from the extra vars; only valid, non-empty values."""
    stamp = {}
    incident_id = variables.get('incident_id')
    severity = variables.get('severity')
    if incident_id not in (None, '') and not incident_problem(incident_id=incident_id):
        stamp['incident_id'] = incident_id
    if severity not in (None, '') and not incident_problem(severity=severity):
        stamp['severity'] = severity
    return stamp


def summarize_result(result, max_chars=300):
    """A one-line summary of a (never censored) task result, at most max_chars long."""
    parts = []
    for key in _SUMMARY_KEYS:
        if key in result and result[key] not in (None, '', [], {}):
            value = result[key]
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            parts.append(text if key == 'msg' else '%s=%s' % (key, text))
    if not parts and result.get('changed'):
        parts.append('changed')
    summary = '; '.join(' '.join(part.split()) for part in parts)
    if len(summary) > max_chars:
        summary = summary[:max(0, max_chars - 3)] + '...'
    return summary


def private_dir(path):
    """The records folder, 0700 and the operator's own (common/files.py)."""
    return files.private_dir(path, hint='give a records folder of your own')


def _markdown_cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


class RunRecord:
    """Appends JSON lines as a run goes and writes the Markdown summary at the end."""

    def __init__(self, jsonl_path, markdown_path, playbook, started_at, context):
        self.jsonl_path = jsonl_path
        self.markdown_path = markdown_path
        self.playbook = playbook
        self.started_at = started_at
        self.context = context
        self.entries = []
        # incident_id and severity go into every line, so any line (grep, a log shipper) says its incident.
        self.stamp = {key: context[key] for key in ('incident_id', 'severity') if context.get(key)}

    @classmethod
    def start(cls, records_dir, playbook_file, started_at, context):
        records_dir = os.path.abspath(os.path.expanduser(records_dir))
        private_dir(records_dir)
        base = os.path.join(records_dir, record_basename(playbook_file, started_at))
        record = cls(base + '.jsonl', base + '.md', os.path.basename(playbook_file), started_at, context)
        header = {'type': 'run', 'time': started_at.isoformat(), 'playbook': record.playbook}
        header.update(context)
        record.write(header, keep=False)
        return record

    def write(self, entry, keep=True):
        if self.stamp:
            entry = dict(entry, **self.stamp)
        with open_private(self.jsonl_path, 'a') as handle:
            handle.write(json.dumps(entry, sort_keys=True, default=str) + '\n')
        if keep:
            self.entries.append(entry)

    def finish(self, finished_at, totals):
        duration = (finished_at - self.started_at).total_seconds()
        failed = any(t.get('failures') or t.get('unreachable') for t in totals.values())
        self.write({'type': 'stats', 'time': finished_at.isoformat(), 'duration_s': round(duration, 3),
                    'result': 'failed' if failed else 'succeeded', 'hosts': totals}, keep=False)
        with open_private(self.markdown_path, 'w') as handle:
            handle.write(self.render_markdown(finished_at, totals, failed, duration))

    def render_markdown(self, finished_at, totals, failed, duration):
        lines = [
            '# Run record: %s' % self.playbook,
            '',
            '- Started: %s' % self.started_at.isoformat(),
            '- Finished: %s (%.1f s)' % (finished_at.isoformat(), duration),
            '- Result: **%s**' % ('FAILED' if failed else 'succeeded'),
            '- Operator: %s' % (self.context.get('user') or 'unknown'),
            '- Incident: %s' % (self.stamp.get('incident_id') or '(none)'),
            '- Severity: %s' % (self.stamp.get('severity') or '(none)'),
            '- Check mode: %s' % ('yes' if self.context.get('check_mode') else 'no'),
            '',
            '## Timeline',
            '',
            '| time (UTC) | play | task | host | status | s | summary |',
            '| --- | --- | --- | --- | --- | --- | --- |',
        ]
        for entry in self.entries:
            if entry.get('type') != 'task':
                continue
            lines.append('| %s | %s | %s | %s | %s | %s | %s |' % tuple(_markdown_cell(v) for v in (
                entry['time'][11:19], entry['play'], entry['task'], entry['host'], entry['status'],
                '%.2f' % entry['duration_s'], entry['summary'])))
        records = [e for e in self.entries if e.get('type') == 'record']
        if records:
            lines += ['', '## Records', '']
            for entry in records:
                record_json = json.dumps(entry['record'], sort_keys=True, default=str)
                lines.append('- %s (%s): `%s`' % (_markdown_cell(entry['task']), entry['host'], record_json))
        lines += ['', '## Totals', '', '| host | ok | changed | failed | skipped | unreachable |',
                  '| --- | --- | --- | --- | --- | --- |']
        for host, counts in sorted(totals.items()):
            columns = (counts.get(key, 0) for key in ('ok', 'changed', 'failures', 'skipped', 'unreachable'))
            lines.append('| %s | %d | %d | %d | %d | %d |' % ((host,) + tuple(columns)))
        return '\n'.join(lines) + '\n'


def read_run(path):
    """One run record (a .jsonl file) as {path, run, entries, stats}; a torn or foreign line is skipped."""
    run, stats, entries = {}, {}, []
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            kind = entry.get('type')
            if kind == 'run' and not run:
                run = entry
            elif kind == 'stats':
                stats = entry
            elif kind in ('task', 'record'):
                entries.append(entry)
    return {'path': path, 'run': run, 'entries': entries, 'stats': stats}


def incident_runs(records_dir, incident_id, exclude_playbooks=(), exclude_roles=()):
    """Every run record in records_dir stamped with incident_id, oldest first (the one reader of records).

    A run of one of exclude_playbooks, or in which a task of one of exclude_roles ran, is left out: the report's
    own runs are not part of the response, and counting them would move the window at every report."""
    records_dir = os.path.abspath(os.path.expanduser(records_dir))
    if not os.path.isdir(records_dir):
        return []
    runs = []
    for name in sorted(os.listdir(records_dir)):
        path = os.path.join(records_dir, name)
        if not name.endswith(RECORD_SUFFIX) or os.path.islink(path) or not os.path.isfile(path):
            continue
        run = read_run(path)
        if run['run'].get('incident_id') != incident_id or run['run'].get('playbook') in exclude_playbooks:
            continue
        if any(entry.get('role') in exclude_roles for entry in run['entries'] if entry.get('type') == 'task'):
            continue
        runs.append(run)
    runs.sort(key=lambda item: (str(item['run'].get('time', '')), item['path']))
    return runs


def configured_records_dir():
    """Where the incident_timeline callback writes records, as it resolves it (HALOBUZZ_RECORDS_DIR, ansible.cfg's
    [callback_incident_timeline] records_dir, else records/): one answer for writers and readers."""
    from ansible.plugins.loader import callback_loader  # controller only; imported late for the unit tests

    plugin = callback_loader.get('halobuzz.ops.incident_timeline')
    if plugin is None:
        return os.path.abspath(os.environ.get('HALOBUZZ_RECORDS_DIR') or 'records')
    plugin.set_options()
    return os.path.abspath(os.path.expanduser(plugin.get_option('records_dir')))
