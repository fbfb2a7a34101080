"""The post-incident report (issue 18) built from recorded run records (fixtures/: three runs of INC-42, one run of
another incident and one run of the report itself)."""
import base64
import datetime
import html.parser
import json
import os
import shutil

import pytest

from ansible_collections.halobuzz.ops.plugins.plugin_utils.incident_report import (
    CHECKLIST,
    ReportError,
    build_report,
    chart_window,
    parse_time,
    render_html,
    render_markdown,
)
from ansible_collections.halobuzz.ops.plugins.plugin_utils.run_record import (
    RunRecord,
    incident_problem,
    incident_runs,
    incident_stamp,
    read_run,
)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
PNG = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')


def runs(incident_id='INC-42'):
    return incident_runs(FIXTURES, incident_id, ('incident_report.yml',))


def checklist(report):
    return {item['item']: item for item in report['checklist']}


@pytest.mark.parametrize('incident_id, severity, problem', [
    ('INC-42', 'P1', ''),
    ('a1b2c3d4e5f60718', None, ''),  # an Alertmanager fingerprint
    ('x' * 64, 'P0', ''),
    (None, None, ''),
    ('x' * 65, None, 'incident_id must be'),
    ('../etc', None, 'incident_id must be'),
    ('-lead', None, 'incident_id must be'),
    ('INC 42', None, 'incident_id must be'),
    (42, None, 'incident_id must be'),
    ('INC-42', 'critical', 'severity must be one of P0, P1, P2, P3'),
    ('INC-42', 'p1', 'severity must be one of'),
])
def test_incident_problem_names_the_input(incident_id, severity, problem):
    found = incident_problem(incident_id, severity)
    assert (problem in found) if problem else found == ''
    assert '../etc' not in found  # the message never echoes the input


def test_incident_stamp_keeps_only_valid_values():
    assert incident_stamp({'incident_id': 'INC-42', 'severity': 'P2'}) == {'incident_id': 'INC-42', 'severity': 'P2'}
    assert incident_stamp({'incident_id': 'bad id', 'severity': 'P9'}) == {}
    assert incident_stamp({}) == {}


def test_run_record_stamps_every_line(tmp_path):
    started = datetime.datetime(2026, 1, 26, 3, 0, tzinfo=datetime.timezone.utc)
    record = RunRecord.start(str(tmp_path), 'playbooks/rollback.yml', started,
                             {'user': 'bob', 'incident_id': 'INC-42', 'severity': 'P1'})
    record.write({'type': 'task', 'time': started.isoformat(), 'play': 'p', 'task': 't', 'host': 'h',
                  'status': 'ok', 'duration_s': 0.1, 'summary': ''})
    record.finish(started, {'h': {'ok': 1}})
    lines = [json.loads(line) for line in open(record.jsonl_path)]
    assert [(line['type'], line['incident_id'], line['severity']) for line in lines] == [
        ('run', 'INC-42', 'P1'), ('task', 'INC-42', 'P1'), ('stats', 'INC-42', 'P1')]
    assert '- Incident: INC-42' in open(record.markdown_path).read()
    assert read_run(record.jsonl_path)['run']['incident_id'] == 'INC-42'


def test_incident_runs_groups_by_incident_oldest_first_and_skips_the_report(tmp_path):
    assert [run['run']['playbook'] for run in runs()] == ['high_error_rate.yml', 'rollback.yml', 'metrics_snapshot.yml']
    assert [run['run']['user'] for run in runs('INC-43')] == ['carol']
    assert incident_runs(str(tmp_path / 'missing'), 'INC-42') == []
    folder = tmp_path / 'records'
    shutil.copytree(FIXTURES, folder)
    (folder / 'torn.jsonl').write_text('{"type": "run", "incident_id": "INC-42", "time": "2026-01-26T04:00:00Z", '
                                       '"playbook": "x.yml"}\n{"type": "ta')
    os.symlink(str(folder / '20260126T031100Z-rollback.jsonl'), str(folder / 'link.jsonl'))
    assert [run['run']['playbook'] for run in incident_runs(str(folder), 'INC-42', ('incident_report.yml',))] == [
        'high_error_rate.yml', 'rollback.yml', 'metrics_snapshot.yml', 'x.yml']


def test_incident_runs_skips_a_run_of_the_report_role_whatever_playbook_imported_it(tmp_path):
    # molecule's converge.yml (or a wrapper) imports the report: its record is named after that playbook, so only
    # the role its tasks ran in tells it apart; counting it would widen the window at every report.
    started = datetime.datetime(2026, 1, 26, 3, 40, tzinfo=datetime.timezone.utc)
    folder = tmp_path / 'records'
    shutil.copytree(FIXTURES, folder)
    for playbook, role in (('converge.yml', 'halobuzz.ops.incident_report'), ('wrapper.yml', 'halobuzz.ops.scale_up')):
        record = RunRecord.start(str(folder), playbook, started, {'user': 'bob', 'incident_id': 'INC-42'})
        record.write({'type': 'task', 'time': started.isoformat(), 'play': 'p', 'task': 't', 'host': 'h',
                      'status': 'ok', 'duration_s': 0.1, 'summary': '', 'role': role})
        record.finish(started, {'h': {'ok': 1}})
    kept = incident_runs(str(folder), 'INC-42', ('incident_report.yml',), ('halobuzz.ops.incident_report',))
    assert [run['run']['playbook'] for run in kept] == [
        'high_error_rate.yml', 'rollback.yml', 'metrics_snapshot.yml', 'wrapper.yml']
    assert 'converge.yml' in [run['run']['playbook'] for run in incident_runs(str(folder), 'INC-42')]


def test_timeline_merges_the_runs_in_order_with_who_ran_what():
    report = build_report(runs(), 'INC-42')
    times = [item['time'] for item in report['timeline']]
    assert times == sorted(times)
    started = [(item['event'], item['user']) for item in report['timeline'] if item['event'].startswith('started')]
    assert started == [('started high_error_rate.yml', 'awx-alice'), ('started rollback.yml', 'bob'),
                       ('started metrics_snapshot.yml', 'bob')]
    assert not [item for item in report['timeline'] if 'Validating arguments' in item['event']]
    assert report['severity'] == 'P1'  # from the stamps


def test_changes_keep_before_and_after():
    changes = build_report(runs(), 'INC-42')['changes']
    assert [(c['playbook'], c['before'], c['after']) for c in changes][:2] == [
        ('high_error_rate.yml', '{"replicas": 3}', '{"replicas": 5}'),
        ('rollback.yml', '{"images": {"backend": "registry.halobuzz.com/backend:v1.5.1"}, "revision": 3}',
         '{"images": {"backend": "registry.halobuzz.com/backend:v1.5.0"}, "revision": 4}')]


def test_checklist_ticks_service_restored_with_the_rollback_evidence_and_leaves_the_scale_open():
    items = checklist(build_report(runs(), 'INC-42'))
    assert list(items) == list(CHECKLIST)
    assert items['Service restored and verified'] == {
        'item': 'Service restored and verified', 'ticked': True,
        'evidence': 'rollback.yml 03:12 UTC, healthz 200, 3/3 pods Ready'}
    fixes = items['Temporary fixes removed']
    assert not fixes['ticked'] and fixes['evidence'].startswith('manual scale still in place (high_error_rate.yml 03:05')
    for item in ('Root cause identified', 'Permanent fix deployed', 'Post-mortem scheduled'):
        assert not items[item]['ticked'] and 'left for people' in items[item]['evidence']


def _task(time, name, status='changed', **extra):
    return dict({'type': 'task', 'time': time, 'task': name, 'action': 'x', 'status': status, 'summary': ''}, **extra)


def _run(time, playbook, entries, result='succeeded', check_mode=False):
    return {'path': '/r/%s.jsonl' % playbook, 'run': {'type': 'run', 'time': time, 'playbook': playbook, 'user': 'u',
                                                      'check_mode': check_mode},
            'entries': entries, 'stats': {'type': 'stats', 'time': time, 'result': result}}


@pytest.mark.parametrize('entries, ticked, evidence', [
    ([_task('2026-01-26T03:00:00Z', 'Turn maintenance mode on'),
      _task('2026-01-26T03:10:00Z', 'Set AI_MODERATION on the backend to false')], False,
     'AI moderation fallback still in place (x.yml 03:10 UTC: Set AI_MODERATION on the backend to false); '
     'maintenance mode still in place (x.yml 03:00 UTC: Turn maintenance mode on)'),
    ([_task('2026-01-26T03:00:00Z', 'Set MAINTENANCE_MODE on the backend container, wait for the rollout, value true'),
      _task('2026-01-26T03:20:00Z', 'Set MAINTENANCE_MODE on the backend container, wait for the rollout, value false'),
      _task('2026-01-26T03:21:00Z', 'Set AI_MODERATION on the backend to true')], True,
     'AI moderation fallback removed (x.yml 03:21 UTC); maintenance mode removed (x.yml 03:20 UTC)'),
    ([_task('2026-01-26T03:00:00Z', 'Turn maintenance mode on', status='ok')], True,
     'no temporary fix recorded (maintenance mode, AI moderation fallback, manual scale)'),
])
def test_temporary_fixes(entries, ticked, evidence):
    item = checklist(build_report([_run('2026-01-26T03:00:00Z', 'x.yml', entries)], 'I'))['Temporary fixes removed']
    assert (item['ticked'], item['evidence']) == (ticked, evidence)


@pytest.mark.parametrize('entries, result, check_mode, ticked, evidence', [
    ([_task('2026-01-26T03:01:00Z', 'Wait for healthz to return 200', status='failed')], 'failed', False, False,
     'last verification not passed: x.yml 03:00 UTC (1 check(s) failed)'),
    ([_task('2026-01-26T03:01:00Z', 'Wait for healthz to return 200', status='ok', http_status=200),
      _task('2026-01-26T03:01:00Z', 'Summary', status='ok', lines=['2/3 pods Ready'])], 'succeeded', False, False,
     'last verification not passed: x.yml 03:00 UTC (healthz 200, 2/3 pods Ready)'),
    ([_task('2026-01-26T03:01:00Z', 'Wait for healthz to return 200', status='ok', http_status=200)], 'succeeded',
     True, False, 'no run of this incident verified the service (healthz)'),
    ([_task('2026-01-26T03:01:00Z', 'Measure the 5xx ratio', status='ok', http_status=200)], 'succeeded', False,
     False, 'no run of this incident verified the service (healthz)'),
])
def test_service_restored_needs_a_passed_health_check_outside_check_mode(entries, result, check_mode, ticked,
                                                                         evidence):
    report = build_report([_run('2026-01-26T03:00:00Z', 'x.yml', entries, result, check_mode)], 'I')
    item = checklist(report)['Service restored and verified']
    assert (item['ticked'], item['evidence']) == (ticked, evidence)


@pytest.mark.parametrize('severity, alert, elapsed, met', [
    ('P1', '2026-01-26T02:55:00Z', 600, True),
    ('P0', '2026-01-26T02:55:00Z', 600, False),
    ('P1', str(int(parse_time('2026-01-26T02:55:00Z').timestamp())), 600, True),
    (None, '2026-01-26T03:04:00+01:00', 3660, False),  # the runs' stamped P1 (15 min); 61 min: missed
])
def test_response_time_against_the_severity_target(severity, alert, elapsed, met):
    response = build_report(runs(), 'INC-42', severity, alert)['response']
    assert response['elapsed_s'] == elapsed
    assert response['met'] is met


def test_response_time_without_an_alert_start():
    report = build_report(runs(), 'INC-42')
    assert report['response']['met'] is None
    assert '- Alert started: unknown' in render_markdown(report)


@pytest.mark.parametrize('kwargs, message', [
    ({'alert_started_at': 'yesterday'}, 'alert_started_at must be an RFC 3339 time'),
    ({'alert_started_at': '2026-01-26T03:00:00'}, 'alert_started_at must say its time zone'),
    ({'severity': 'P7'}, 'severity must be one of'),
])
def test_bad_input_names_it(kwargs, message):
    with pytest.raises(ReportError, match=message):
        build_report(runs(), 'INC-42', **kwargs)
    with pytest.raises(ReportError, match='no run record carries incident_id NONE'):
        build_report([], 'NONE')


def test_chart_window_and_markers():
    window = chart_window(runs(), '2026-01-26T02:50:00Z')
    assert (window['start'], window['end'], window['name']) == (
        '2026-01-26T02:40:00+00:00', '2026-01-26T03:25:05+00:00', '20260126T032505Z')
    assert [m['label'] for m in window['markers']] == ['03:05 UTC high_error_rate.yml', '03:11 UTC rollback.yml',
                                                       '03:15 UTC metrics_snapshot.yml']


class _References(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.references = []

    def handle_starttag(self, tag, attrs):
        self.references += [(tag, name, value) for name, value in attrs if name in ('src', 'href', 'srcset', 'data')]


def test_markdown_and_self_contained_html(tmp_path):
    chart = tmp_path / 'charts' / 'error_rate.png'
    chart.parent.mkdir()
    chart.write_bytes(PNG)
    report = build_report(runs(), 'INC-42', charts=[{'name': 'error_rate', 'path': str(chart)}],
                          metrics=[{'name': 'error_rate', 'title': 'Error rate', 'value': 0.01, 'unit': 'ratio',
                                    'threshold': 0.05, 'comparison': '>', 'breached': False}])
    markdown = render_markdown(report, chart_dir=str(tmp_path))
    assert '![error_rate](charts/error_rate.png)' in markdown
    assert '- [x] Service restored and verified: rollback.yml 03:12 UTC, healthz 200, 3/3 pods Ready' in markdown
    assert '- [ ] Root cause identified' in markdown
    page = render_html(report)
    parser = _References()
    parser.feed(page)
    assert parser.references == [('img', 'src', 'data:image/png;base64,' + base64.b64encode(PNG).decode())]
    assert '@import' not in page and 'http://' not in page and 'https://' not in page and '<script' not in page


def test_html_escapes_what_records_hold():
    run = _run('2026-01-26T03:00:00Z', 'x.yml', [_task('2026-01-26T03:01:00Z', '<img src=http://evil/x>')])
    page = render_html(build_report([run], 'I'))
    parser = _References()
    parser.feed(page)
    assert parser.references == []


# Alertmanager's GET /api/v2/alerts answer (GettableAlert, alertmanager api/v2/openapi.yaml): startsAt carries
# nanoseconds, as Go's time.Time marshals them.
ALERTS = [
    {'fingerprint': 'aaaa000011112222', 'labels': {'alertname': 'HighErrorRate', 'severity': 'P1'},
     'startsAt': '2026-01-26T03:00:05.957445121Z', 'status': {'state': 'active'}},
    {'fingerprint': 'bbbb000011112222', 'labels': {'alertname': 'ServiceDown', 'incident_id': 'INC-42'},
     'startsAt': '2026-01-26T02:59:00Z'},
    {'fingerprint': 'cccc000011112222', 'labels': {'incident_id': 'INC-42'}, 'startsAt': '2026-01-26T02:58:30+01:00'},
    {'fingerprint': 'dddd', 'labels': {'incident_id': 'INC-42'}, 'startsAt': 'not a time'},
    'not an alert',
]


def test_the_alert_start_comes_from_the_alert_whose_fingerprint_is_the_incident_id():
    from ansible_collections.halobuzz.ops.plugins.plugin_utils.incident_report import alert_start
    assert alert_start(ALERTS, 'aaaa000011112222') == '2026-01-26T03:00:05.957445Z'


def test_the_earliest_alert_labelled_with_the_incident_wins_and_offsets_become_utc():
    from ansible_collections.halobuzz.ops.plugins.plugin_utils.incident_report import alert_start
    assert alert_start(ALERTS, 'INC-42') == '2026-01-26T01:58:30.000000Z'


def test_no_matching_alert_gives_none_and_the_filter_an_empty_string():
    from ansible_collections.halobuzz.ops.plugins.plugin_utils.incident_report import alert_start
    from ansible_collections.halobuzz.ops.plugins.filter.incident_report import alertmanager_alert_start
    assert alert_start(ALERTS, 'INC-7') is None
    assert alert_start({'not': 'a list'}, 'INC-42') is None
    assert alertmanager_alert_start([], 'INC-42') == ''
