# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: incident_timeline
type: notification
short_description: Write the run record (incident timeline) of every runbook run
description:
  - Writes one JSON line per task result to C(<records_dir>/<UTC time>-<playbook>.jsonl) - time, play, task,
    role (by FQCN, for a task of a role), host, status (ok, changed, failed, skipped, unreachable), duration and a short result summary - and, when the
    run ends, a Markdown summary beside it (C(.md)) for the incident report.
  - A task whose result carries a C(halobuzz_record) dictionary adds it as a C(record) line, for example
    the access record of a break-glass read. Modules return it as a result key; a role whose module result is
    C(no_log) hands it on with M(ansible.builtin.set_stats) (C(data.halobuzz_record)), which sets no play
    variable and which AWX also shows among the job's artifacts.
  - Results of tasks with C(no_log) are never written; only their status and the word C(censored) are.
  - The extra vars (else the play's vars) C(incident_id) and C(severity) (issue 18; an AWX survey or the alert's
    labels fill them) are stamped into every line of the record; C(incident_id) groups the runs of one incident for
    C(playbooks/incident_report.yml). A value that is not a valid id (1-64 letters, digits, C(.), C(_), C(-)) or
    severity (P0-P3) is not stamped, and the run warns so.
  - For the incident report a changed task also keeps its C(before) and C(after), a C(uri) task the HTTP status it
    got, and a C(debug) task the lines of its message (the closing summary).
  - Enable it with C(callbacks_enabled = halobuzz.ops.incident_timeline) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=halobuzz.ops.incident_timeline); in AWX set that variable in the job template's
    environment (or ship this collection's C(ansible.cfg) in the project) and point O(records_dir) at persistent
    storage, since the job's working directory is discarded.
version_added: 0.1.0
requirements:
  - enabled in configuration (C(callbacks_enabled))
options:
  records_dir:
    description:
      - Directory the run records are written to; created when missing. A relative path is taken from the
        current working directory.
      - Records name break-glass accessors, incident reasons and log lines, so the directory is made mode
        C(0700) (also when it exists already with looser modes; one owned by another user is refused with a
        warning and no record is written) and every record file C(0600); a symlink in place of a record file
        is not followed.
    type: path
    default: records
    env:
      - name: HALOBUZZ_RECORDS_DIR
    ini:
      - section: callback_incident_timeline
        key: records_dir
  summary_max_chars:
    description: Longest result summary kept for one task.
    type: int
    default: 300
    env:
      - name: HALOBUZZ_RECORDS_SUMMARY_MAX_CHARS
    ini:
      - section: callback_incident_timeline
        key: summary_max_chars
"""

import datetime
import getpass
import json
import os
import time

from ansible import context as ansible_context
from ansible.plugins.callback import CallbackBase

from ansible_collections.halobuzz.ops.plugins.plugin_utils.run_record import (
    RunRecord,
    incident_problem,
    incident_stamp,
    summarize_result,
)

_EVIDENCE_MAX_CHARS = 500
_EVIDENCE_MAX_LINES = 20


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def _operator(extra_vars):
    # AWX passes the launching user as an extra var; elsewhere the OS account is the best we know.
    for name in ('awx_user_name', 'tower_user_name'):
        if extra_vars.get(name):
            return str(extra_vars[name])
    for name in ('USER', 'LOGNAME'):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return 'unknown'


def _run_context(extra_vars, play_vars=None):
    cli_args = ansible_context.CLIARGS or {}
    context = {
        'user': _operator(extra_vars),
        'pid': os.getpid(),
        'check_mode': bool(cli_args.get('check', False)),
        'diff_mode': bool(cli_args.get('diff', False)),
        'inventory': list(cli_args.get('inventory') or []),
        'tags': list(cli_args.get('tags') or []),
        # Only the names: extra vars may carry secrets.
        'extra_var_names': sorted(str(name) for name in extra_vars),
    }
    # Extra vars (the AWX survey, the alert, -e) first; a play's own vars (a wrapper playbook) otherwise.
    given = dict(play_vars or {})
    given.update((k, v) for k, v in extra_vars.items() if k in ('incident_id', 'severity'))
    context.update(incident_stamp(given))
    return context


def _compact(value):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = ' '.join(text.split())
    return text if len(text) <= _EVIDENCE_MAX_CHARS else text[:_EVIDENCE_MAX_CHARS - 3] + '...'


def _evidence(action, status, result):
    """What the incident report needs beyond the summary: before/after of a change, the HTTP status of a uri
    task, the lines of a debug message (the closing summary). Never called for a censored result."""
    evidence = {}
    if status == 'changed':
        for key in ('before', 'after'):
            if result.get(key) not in (None, '', [], {}):
                evidence[key] = _compact(result[key])
    short = action.rsplit('.', 1)[-1]
    if short == 'uri' and isinstance(result.get('status'), int):
        evidence['http_status'] = result['status']
    if short == 'debug' and isinstance(result.get('msg'), (list, str)):
        lines = result['msg'] if isinstance(result['msg'], list) else [result['msg']]
        evidence['lines'] = [_compact(line) for line in lines[:_EVIDENCE_MAX_LINES]]
    return evidence


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'halobuzz.ops.incident_timeline'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._record = None
        self._record_failed = False
        self._playbook_file = 'adhoc'
        self._play_name = ''
        self._task_started = {}

    def v2_playbook_on_start(self, playbook):
        self._playbook_file = getattr(playbook, '_file_name', None) or 'adhoc'

    # The record starts with the first play: only then are the extra vars (AWX's awx_user_name) known.
    def v2_playbook_on_play_start(self, play):
        self._play_name = play.get_name().strip()
        if self._record is not None or self._record_failed:
            return
        extra_vars = {}
        variable_manager = play.get_variable_manager()
        if variable_manager is not None:
            extra_vars = variable_manager.extra_vars or {}
        play_vars = {k: v for k, v in (play.get_vars() or {}).items() if k in ('incident_id', 'severity')}
        records_dir = self.get_option('records_dir')
        problem = incident_problem(extra_vars.get('incident_id'), extra_vars.get('severity'))
        if problem:
            self._display.warning('incident_timeline: %s; this run record is not stamped with it.' % problem)
        try:
            self._record = RunRecord.start(records_dir, self._playbook_file, _utc_now(), _run_context(extra_vars, play_vars))
        except OSError as exc:
            self._record_failed = True
            self._display.warning('incident_timeline: cannot write the run record to %s: %s' % (records_dir, exc))

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started[task._uuid] = (_utc_now(), time.monotonic())

    def v2_playbook_on_handler_task_start(self, task):
        self._task_started[task._uuid] = (_utc_now(), time.monotonic())

    def _write_result(self, result, status):
        if self._record is None:
            return
        task = result._task
        started_at, started_mono = self._task_started.get(task._uuid, (_utc_now(), time.monotonic()))
        censored = bool(task.no_log) or bool(result._result.get('censored'))
        entry = {
            'type': 'task',
            'time': started_at.isoformat(),
            'play': self._play_name,
            'task': task.get_name().strip(),
            'action': task.action,
            'host': result._host.get_name(),
            'status': status,
            'duration_s': round(time.monotonic() - started_mono, 3),
            'summary': 'censored (no_log)' if censored else summarize_result(
                result._result, self.get_option('summary_max_chars')),
        }
        role = getattr(task, '_role', None)
        if role is not None:
            # Which role ran the task (FQCN): the incident report leaves out the runs of its own role, whatever
            # playbook imported it (a wrapper, molecule's converge.yml).
            entry['role'] = role.get_name()
        item = result._result.get('_ansible_item_label', result._result.get('item'))
        if item is not None and not censored:
            entry['item'] = str(item)[:200]
        if not censored:
            entry.update(_evidence(task.action or '', status, result._result))
        self._record.write(entry)
        if not censored:
            extra = result._result.get('halobuzz_record')
            if extra is None:
                extra = ((result._result.get('ansible_stats') or {}).get('data') or {}).get('halobuzz_record')
            if isinstance(extra, dict):
                self._record.write({'type': 'record', 'time': _utc_now().isoformat(), 'task': entry['task'],
                                    'host': entry['host'], 'record': extra})

    def v2_runner_on_ok(self, result):
        self._write_result(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write_result(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_skipped(self, result):
        self._write_result(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._write_result(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        if self._record is None:
            return
        totals = {}
        for host in sorted(stats.processed.keys()):
            totals[host] = stats.summarize(host)
        self._record.finish(_utc_now(), totals)
        self._display.display('Run record: %s' % self._record.markdown_path)
