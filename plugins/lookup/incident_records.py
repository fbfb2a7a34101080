# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: incident_records
author:
  - HaloBuzz DevOps Team (@halobuzz)
version_added: 0.1.0
short_description: The run records of one incident, and the chart window around them
description:
  - Reads every run record (C(.jsonl), written by the P(halobuzz.ops.incident_timeline#callback) callback) stamped
    with the given C(incident_id), oldest first, from the folder that callback writes to (C(HALOBUZZ_RECORDS_DIR),
    C(ansible.cfg)'s C([callback_incident_timeline] records_dir), else C(records/)).
  - Returns one dictionary; use it with C(query(...) | first). Fails, naming the input, on an invalid
    C(incident_id) or C(alert_started_at), and when no record carries the id.
options:
  _terms:
    description: The incident_id (1-64 letters, digits, C(.), C(_) or C(-)).
    required: true
  records_dir:
    description: Read this folder instead of the one the callback is configured with; empty means that one.
    type: str
    default: ''
  alert_started_at:
    description: When the alert started (RFC 3339 or epoch seconds); widens the chart window to include it.
    type: str
    default: ''
  exclude_playbooks:
    description: Records of these playbooks are left out (the report's own runs).
    type: list
    elements: str
    default: [incident_report.yml]
  exclude_roles:
    description:
      - Records in which a task of one of these roles ran are left out (the report's own runs, whatever playbook
        imported the role). Roles are named as the run record names them, by FQCN for a collection's role.
    type: list
    elements: str
    default: [halobuzz.ops.incident_report]
"""

EXAMPLES = r"""
- name: Read the records of the incident
  ansible.builtin.set_fact:
    incident_report_records: "{{ query('halobuzz.ops.incident_records', incident_id) | first }}"
"""

RETURN = r"""
_raw:
  description:
    - C(records_dir) (absolute), C(runs) (each C({path, run, entries, stats}) as recorded), C(start) and C(end)
      (RFC 3339; the runs, and the alert start when given, with 10 minutes either side), C(name) (the end as
      C(20260126T032505Z)) and C(markers) (C({at, label}), one per run, for M(halobuzz.ops.prometheus_snapshot)).
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.halobuzz.ops.plugins.plugin_utils.incident_report import ReportError, chart_window
from ansible_collections.halobuzz.ops.plugins.plugin_utils.run_record import (
    configured_records_dir,
    incident_problem,
    incident_runs,
)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1 or not terms[0]:
            raise AnsibleLookupError('incident_records: give one incident_id (-e incident_id=...)')
        incident_id = terms[0]
        problem = incident_problem(incident_id=incident_id)
        if problem:
            raise AnsibleLookupError('incident_records: %s' % problem)
        records_dir = os.path.abspath(os.path.expanduser(self.get_option('records_dir') or configured_records_dir()))
        runs = incident_runs(records_dir, incident_id, tuple(self.get_option('exclude_playbooks') or ()),
                             tuple(self.get_option('exclude_roles') or ()))
        if not runs:
            raise AnsibleLookupError('incident_records: no run record in %s carries incident_id %s (runs stamp it when '
                                     'launched with -e incident_id=...; HALOBUZZ_RECORDS_DIR names another folder)'
                                     % (records_dir, incident_id))
        try:
            window = chart_window(runs, self.get_option('alert_started_at') or None)
        except ReportError as exc:
            raise AnsibleLookupError('incident_records: %s' % exc)
        return [dict(window, records_dir=records_dir, runs=runs)]
