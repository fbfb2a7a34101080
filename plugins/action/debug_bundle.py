# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""halobuzz.ops.debug_bundle: write what a run gathered into one private .tar.gz on the controller.

The documentation is plugins/modules/debug_bundle.py; the logic is plugins/plugin_utils/debug_bundle.py.
It runs on the controller (the bundle belongs beside the run records, and the gathered data never travels
to a target as module arguments).
"""

from __future__ import annotations

import datetime
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.halobuzz.ops.plugins.plugin_utils import debug_bundle as bundle

ARGUMENT_SPEC = dict(
    records_dir=dict(type='path', required=True),
    dest=dict(type='path'),
    deployment=dict(type='str', required=True),
    k8s_namespace=dict(type='str', required=True),
    incident_id=dict(type='str'),
    severity=dict(type='str', choices=['P0', 'P1', 'P2', 'P3']),
    pods=dict(type='list', elements='dict', default=[]),
    events=dict(type='list', elements='dict', default=[]),
    pod_logs=dict(type='dict'),
    redis=dict(type='dict'),
    mongodb=dict(type='dict'),
    metrics=dict(type='dict'),
    network=dict(type='dict'),
    records=dict(type='int', default=20),
    omitted=dict(type='dict', default={}),
    secrets=dict(type='list', elements='str', default=[], no_log=True),
)


def _event_facts(event):
    """A core/v1 Event as k8s_pod_logs reports events: {type, reason, message, count, first_seen, last_seen}."""
    return dict(type=event.get('type'), reason=event.get('reason'), message=event.get('message'),
                count=event.get('count') or 1,
                first_seen=event.get('firstTimestamp') or event.get('eventTime'),
                last_seen=event.get('lastTimestamp') or event.get('eventTime'))


def _failed(result, key):
    """The reason a collector's result cannot be used ('' when it can): it failed or lacks its data."""
    if not isinstance(result, dict) or not result:
        return 'not collected'
    if result.get('skipped'):
        return 'skipped: %s' % (result.get('skip_reason') or 'condition false')
    if result.get('failed') or key not in result:
        return 'failed: %s' % (result.get('msg') or 'no %s in the result' % key)
    return ''


def gather_parts(args, records_path):
    """[(part name, content)] and {part: why it is not there}, every text scrubbed of the known secrets."""
    secrets = bundle.secrets_of(args['secrets'])
    omitted = dict((k, bundle.scrub(v, secrets)) for k, v in (args['omitted'] or {}).items())
    parts = []

    def add(name, content):
        data = bundle.as_bytes(content).decode('utf-8', 'replace')
        parts.append((name, bundle.scrub(data, secrets)))

    events_by_pod = {}
    for event in args['events']:
        involved = event.get('involvedObject') or {}
        if involved.get('kind') == 'Pod':
            events_by_pod.setdefault(involved.get('name'), []).append(_event_facts(event))
    for pod in args['pods']:
        name = (pod.get('metadata') or {}).get('name', 'unknown')
        add('pods/%s/describe.txt' % name, bundle.describe_pod(pod, events_by_pod.get(name, [])))
    add('events.json', [_event_facts(e) | {'object': '%s/%s' % ((e.get('involvedObject') or {}).get('kind'),
                                                                (e.get('involvedObject') or {}).get('name'))}
                        for e in args['events']])

    def left_out(key, why):
        omitted.setdefault(key, bundle.scrub(why, secrets))  # the caller's reason (no URL given, ...) comes first

    why = _failed(args['pod_logs'], 'pods')
    if why:
        left_out('logs', why)
    else:
        logs = args['pod_logs']
        for pod in logs['pods']:
            for container in pod.get('containers') or []:
                for which, suffix in (('log', ''), ('previous_log', '.previous')):
                    if container.get(which):
                        add('pods/%s/%s%s.log' % (pod.get('name'), container.get('name'), suffix), container[which])
        facts = [dict((k, v) for k, v in pod.items() if k != 'containers') | {'containers': [
            dict((k, v) for k, v in c.items() if k not in ('log', 'previous_log')) for c in pod.get('containers') or []]}
            for pod in logs['pods']]
        add('pods.json', dict(pods=facts, window=logs.get('window')))
        add('errors.txt', '\n'.join(bundle.error_lines(logs['pods'])) + '\n')
        add('error_matches.json', logs.get('matches') or [])
    for key, part, field in (('redis', 'redis_info.json', 'nodes'), ('mongodb', 'mongodb_server_status.json', 'server')):
        why = _failed(args[key], field)
        if why:
            left_out(key, why)
        else:
            add(part, dict((k, v) for k, v in args[key].items() if k not in ('changed', 'failed', 'invocation')))
    why = _failed(args['metrics'], 'metrics')
    if why:
        left_out('metrics', why)
    else:
        folder = args['metrics'].get('folder')
        files = sorted(os.listdir(folder)) if folder and os.path.isdir(folder) else []
        if 'metrics.json' not in files:  # the snapshot wrote no folder (check mode): its result instead
            add('metrics/metrics.json', args['metrics']['metrics'])
        if files:
            for name in files:
                path = os.path.join(folder, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, 'rb') as handle:
                        data = handle.read()
                    parts.append(('metrics/%s' % name, data if name.endswith('.png')
                                  else bundle.scrub(data.decode('utf-8', 'replace'), secrets)))
    why = _failed(args['network'], 'log')
    if why:
        left_out('network', why)
    else:
        add('network_check.txt', args['network']['log'])
        add('network_check.json', dict((k, v) for k, v in args['network'].items() if k != 'log'))
    for name, data in bundle.recent_records(records_path, args['records']):
        add('records/%s' % name, data)
    return parts, omitted


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        dest = args['dest'] or args['records_dir']
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        parts, omitted = gather_parts(args, args['records_dir'])
        info = dict(created=now.isoformat(), deployment=args['deployment'], k8s_namespace=args['k8s_namespace'],
                    incident_id=args['incident_id'], severity=args['severity'], omitted=omitted)
        result.update(changed=False, omitted=omitted)
        if self._task.check_mode:
            manifest = bundle.manifest_of([(n, bundle.as_bytes(c)) for n, c in parts], info)
            result.update(path=os.path.join(dest, bundle.archive_name(args['deployment'], now)),
                          parts=[p['name'] for p in manifest['parts']],
                          msg='check mode: would write %d parts to %s' % (len(parts), dest))
            return result
        try:
            written = bundle.write_bundle(dest, parts, info, args['deployment'], now)
        except (OSError, ValueError) as exc:
            raise AnsibleActionFail('debug_bundle: cannot write the bundle to %s (debug_bundle_dir): %s; '
                                    'nothing was written' % (dest, getattr(exc, 'strerror', None) or exc))
        result.update(path=written['path'], sha256=written['sha256'], sha256_path=written['sha256_path'],
                      size=written['size'], parts=written['manifest']['parts'],
                      msg='wrote %d parts to %s' % (len(parts), written['path']))
        return result
