"""promtool check rules / promtool test rules on the checked-in rule file (extensions/prometheus/).

Every alert has three kinds of check, evaluated by Prometheus' own rule engine (promtool test rules,
prometheus/cmd/promtool/unittest.go; evaluation every interval, an alert firing once its condition has
held for `for:`): `fires` (just over the runbook's threshold, once `for:` has passed), `below` (just under
the threshold, or a blip shorter than `for:`: nothing), `for` (one interval before `for:` has passed:
pending, which promtool does not list as firing). Every recording rule has a promql_expr_test.
The cases use the role's default thresholds and `for:` (roles/alerting/defaults/main.yml).
"""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / 'extensions' / 'prometheus' / 'halobuzz-rules.yml'
PROMTOOL = shutil.which('promtool') or '/usr/bin/promtool'
NS = {'namespace': 'halobuzz'}


def _rules():
    groups = yaml.safe_load(RULES.read_text())['groups']
    return [rule for group in groups for rule in group['rules']]


def _alert(name):
    return next(rule for rule in _rules() if rule.get('alert') == name)


def expected(name, labels, summary, **annotations):
    """One expected alert: its labels (the rule's severity/team + the series'), its annotations (the rule's, with
    `summary` and any templated one given expanded)."""
    rule = _alert(name)
    annotations = dict(rule['annotations'], summary=summary, **annotations)
    return {'exp_labels': dict(rule.get('labels', {}), **labels), 'exp_annotations': annotations}


def series(metric, values, **labels):
    labels = dict(NS, **labels)
    return {'series': '%s{%s}' % (metric, ', '.join('%s="%s"' % kv for kv in sorted(labels.items()))),
            'values': values}


DB_LABELS = {'service': 'backend', 'command': 'find', 'server_address': 'mongodb-0.mongodb.halobuzz.svc:27017'}
DB_LOST = [series('mongodb_driver_commands_seconds_count', '0+49x10', **DB_LABELS, status='SUCCESS'),
           series('mongodb_driver_commands_seconds_count', '0+51x10', **DB_LABELS, status='ERROR'),
           series('mongodb_up', '1x10')]
DB_DESCRIPTION = ("More than 0.5 of the MongoDB driver's commands failed over 5m. mongodb_exporter: mongodb_up = %s "
                  "(1: MongoDB answers, the backend's connections are stale; 0: MongoDB itself is down).")

# (alert, kind, input series, eval_time, expected alerts). Series notation: "a+bxN" is N+1 samples,
# one per interval (1m), starting at a and growing by b.
CASES = [
    # Critical 1 - Service Down: probe_success 0 from 2m; for 1m.
    ('HaloBuzzServiceDown', 'for', [
        series('probe_success', '1 1 0x10', job='blackbox-healthz', service='backend', instance='healthz')],
     '2m', []),
    ('HaloBuzzServiceDown', 'fires', [
        series('probe_success', '1 1 0x10', job='blackbox-healthz', service='backend', instance='healthz')],
     '3m', [expected('HaloBuzzServiceDown', dict(NS, service='backend'),
                     'backend in halobuzz is down: healthz probe_success = 0')]),
    ('HaloBuzzServiceDown', 'below', [   # one failed probe, shorter than for:
        series('probe_success', '1 1 0 1x10', job='blackbox-healthz', service='backend', instance='healthz')],
     '4m', []),
    # Critical 2 - Database Connection Lost: the backend's MongoDB driver commands (status SUCCESS|ERROR).
    # rate() has two samples from 1m: 51 % failing holds from 1m (pending) and fires at 1m + for (1m) = 2m;
    # 49 % never fires. mongodb_up is the description's evidence (1 or 0, the query template's result).
    ('HaloBuzzDatabaseConnectionLost', 'for', DB_LOST, '1m', []),
    ('HaloBuzzDatabaseConnectionLost', 'fires', DB_LOST, '2m',
     [expected('HaloBuzzDatabaseConnectionLost', dict(NS, service='backend'),
               "51% of backend's MongoDB commands fail in halobuzz", description=DB_DESCRIPTION % '1')]),
    ('HaloBuzzDatabaseConnectionLost', 'fires', [   # MongoDB itself down: every command fails
        series('mongodb_driver_commands_seconds_count', '0+60x10', **DB_LABELS, status='ERROR'),
        series('mongodb_up', '0x10')], '2m',
     [expected('HaloBuzzDatabaseConnectionLost', dict(NS, service='backend'),
               "100% of backend's MongoDB commands fail in halobuzz", description=DB_DESCRIPTION % '0')]),
    ('HaloBuzzDatabaseConnectionLost', 'below', [
        series('mongodb_driver_commands_seconds_count', '0+51x10', **DB_LABELS, status='SUCCESS'),
        series('mongodb_driver_commands_seconds_count', '0+49x10', **DB_LABELS, status='ERROR'),
        series('mongodb_up', '1x10')], '10m', []),
    # Critical 3 - Payment Failures > 10 %: 11 % fires, 9.8 % does not. rate() has two samples from 1m,
    # so the condition holds from 1m and the alert fires at 1m + for (5m).
    ('HaloBuzzPaymentFailures', 'for', [
        series('payments_total', '0+89x20', provider='stripe', status='success'),
        series('payments_total', '0+11x20', provider='stripe', status='failed')], '5m', []),
    ('HaloBuzzPaymentFailures', 'fires', [
        series('payments_total', '0+89x20', provider='stripe', status='success'),
        series('payments_total', '0+11x20', provider='stripe', status='failed')], '6m',
     [expected('HaloBuzzPaymentFailures', NS, '11% of payments fail in halobuzz')]),
    ('HaloBuzzPaymentFailures', 'fires', [   # every payment fails: no success series at all
        series('payments_total', '0+40x20', provider='khalti', status='failed')], '6m',
     [expected('HaloBuzzPaymentFailures', NS, '100% of payments fail in halobuzz')]),
    ('HaloBuzzPaymentFailures', 'below', [
        series('payments_total', '0+902x20', provider='stripe', status='success'),
        series('payments_total', '0+98x20', provider='khalti', status='failed')], '10m', []),
    # Critical 4 - High Error Rate (> 5 %), per service: backend 5.2 % fires, streaming 4.8 % does not.
    ('HaloBuzzHighErrorRate', 'for', [
        series('http_requests_total', '0+948x20', service='backend', route='/api/v1/streams', status='200'),
        series('http_requests_total', '0+52x20', service='backend', route='/api/v1/streams', status='503')],
     '5m', []),
    ('HaloBuzzHighErrorRate', 'fires', [
        series('http_requests_total', '0+948x20', service='backend', route='/api/v1/streams', status='200'),
        series('http_requests_total', '0+52x20', service='backend', route='/api/v1/gifts', status='500'),
        series('http_requests_total', '0+952x20', service='streaming', route='/live', status='200'),
        series('http_requests_total', '0+48x20', service='streaming', route='/live', status='502')], '6m',
     [expected('HaloBuzzHighErrorRate', dict(NS, service='backend'),
               '5.2% of backend requests answer 5xx in halobuzz')]),
    ('HaloBuzzHighErrorRate', 'below', [
        series('http_requests_total', '0+952x20', service='backend', route='/api/v1/streams', status='200'),
        series('http_requests_total', '0+48x20', service='backend', route='/api/v1/streams', status='500'),
        series('http_requests_total', '0+30x20', service='backend', route='/api/v1/streams', status='404')],
     '10m', []),
    # Stream latency > 500 ms (p95 of stream_latency_seconds): 583 ms fires, 484 ms does not.
    ('HaloBuzzStreamLatencyHigh', 'for', [
        series('stream_latency_seconds_bucket', '0+%dx20' % n, service='streaming', le=le)
        for le, n in (('0.25', 80), ('0.5', 94), ('1', 100), ('+Inf', 100))], '5m', []),
    ('HaloBuzzStreamLatencyHigh', 'fires', [
        series('stream_latency_seconds_bucket', '0+%dx20' % n, service='streaming', le=le)
        for le, n in (('0.25', 80), ('0.5', 94), ('1', 100), ('+Inf', 100))], '6m',
     [expected('HaloBuzzStreamLatencyHigh', NS, 'Stream latency p95 is 583.3ms in halobuzz')]),
    ('HaloBuzzStreamLatencyHigh', 'below', [
        series('stream_latency_seconds_bucket', '0+%dx20' % n, service='streaming', le=le)
        for le, n in (('0.25', 80), ('0.5', 96), ('1', 100), ('+Inf', 100))], '10m', []),
    # AI moderation failing: 51 % of the model calls fail fires, 49 % does not.
    ('HaloBuzzAIModerationFailing', 'for', [
        series('moderation_requests_total', '0+100x20', model='nsfw-v3'),
        series('moderation_model_errors_total', '0+51x20', model='nsfw-v3')], '5m', []),
    ('HaloBuzzAIModerationFailing', 'fires', [
        series('moderation_requests_total', '0+100x20', model='nsfw-v3'),
        series('moderation_model_errors_total', '0+51x20', model='nsfw-v3')], '6m',
     [expected('HaloBuzzAIModerationFailing', NS, '51% of AI moderation requests fail in halobuzz')]),
    ('HaloBuzzAIModerationFailing', 'below', [
        series('moderation_requests_total', '0+100x20', model='nsfw-v3'),
        series('moderation_model_errors_total', '0+49x20', model='nsfw-v3')], '10m', []),
    # Memory leak: limit 1000 bytes; backend-1 grows 850 -> over 900 (90 %) at 51m, fires 15m later (66m);
    # backend-2 grows but stays under 90 %; backend-3 sits at 95 % without growing (not a leak).
    ('HaloBuzzMemoryLeak', 'for', [
        series('container_memory_working_set_bytes', '850+1x80', pod='backend-1', container='backend'),
        series('kube_pod_container_resource_limits', '1000x80', pod='backend-1', container='backend',
               resource='memory', unit='byte')], '65m', []),
    ('HaloBuzzMemoryLeak', 'fires', [
        series('container_memory_working_set_bytes', '850+1x80', pod='backend-1', container='backend'),
        series('kube_pod_container_resource_limits', '1000x80', pod='backend-1', container='backend',
               resource='memory', unit='byte')], '66m',
     [expected('HaloBuzzMemoryLeak', dict(NS, pod='backend-1', container='backend'),
               'backend-1/backend uses 91.6% of its memory limit and keeps growing')]),
    ('HaloBuzzMemoryLeak', 'below', [
        series('container_memory_working_set_bytes', '833+1x80', pod='backend-2', container='backend'),
        series('kube_pod_container_resource_limits', '1000x80', pod='backend-2', container='backend',
               resource='memory', unit='byte'),
        series('container_memory_working_set_bytes', '950x80', pod='backend-3', container='backend'),
        series('kube_pod_container_resource_limits', '1000x80', pod='backend-3', container='backend',
               resource='memory', unit='byte')], '66m', []),
    # Pod restarts > 3 per hour: restarts start at 60m at 0.125/min (exact in binary), so increase[1h] passes 3
    # at 85m and the alert fires 15m later (100m) at 5; a container at 0.0625/min stays under 3.
    ('HaloBuzzPodRestarting', 'for', [
        series('kube_pod_container_status_restarts_total', '0x60 0.125+0.125x60', pod='backend-1',
               container='backend')], '99m', []),
    ('HaloBuzzPodRestarting', 'fires', [
        series('kube_pod_container_status_restarts_total', '0x60 0.125+0.125x60', pod='backend-1',
               container='backend')], '100m', [expected('HaloBuzzPodRestarting', dict(NS, pod='backend-1', container='backend'),
                                                        'backend-1/backend restarted 5 times in the last hour')]),
    ('HaloBuzzPodRestarting', 'below', [
        series('kube_pod_container_status_restarts_total', '0x60 0.0625+0.0625x60', pod='backend-2',
               container='backend')], '100m', []),
]

# The escalation matrix: the high error rate (P0) fires at 6m (above); the team lead is paged 5 min
# (the P0 response time) later, the CTO 10 min later. A P1 (stream latency, fires at 6m) goes to the team
# lead after 15 min. The escalation group reads the ALERTS series the other groups write; in which order
# the groups of one evaluation run is not fixed (prometheus 2.42's promtool takes them from the rule
# manager's map, a real Prometheus runs them concurrently), so an escalation fires at its time or one
# interval later: `fires` is checked one interval after, `for` one interval before.


def _case_inputs(alertname, kind):
    """The input series of one case, looked up by name (positions move as cases are added)."""
    return next(case[2] for case in CASES if (case[0], case[1]) == (alertname, kind))


ERRORS = _case_inputs('HaloBuzzHighErrorRate', 'fires')
LATENCY = _case_inputs('HaloBuzzStreamLatencyHigh', 'fires')


def _escalation(name, labels, severity, team, to, alertname):
    rule = _alert(name)
    return {'exp_labels': dict(labels, alertname=None, severity=severity, team=team, escalation=to,
                               escalated_alertname=alertname),
            'exp_annotations': dict(rule['annotations'], summary='%s (%s) is still firing: paging the %s'
                                    % (alertname, severity, to))}


def _clean(exp):
    exp['exp_labels'] = {k: v for k, v in exp['exp_labels'].items() if v is not None}
    return exp


BACKEND = dict(NS, service='backend')
CASES += [
    ('HaloBuzzEscalationTeamLeadP0', 'for', ERRORS, '10m', []),
    ('HaloBuzzEscalationTeamLeadP0', 'fires', ERRORS, '12m', [_clean(_escalation(
        'HaloBuzzEscalationTeamLeadP0', BACKEND, 'P0', 'backend', 'team-lead', 'HaloBuzzHighErrorRate'))]),
    ('HaloBuzzEscalationCTO', 'for', ERRORS, '15m', []),
    ('HaloBuzzEscalationCTO', 'fires', ERRORS, '17m', [_clean(_escalation(
        'HaloBuzzEscalationCTO', BACKEND, 'P0', 'backend', 'cto', 'HaloBuzzHighErrorRate'))]),
    ('HaloBuzzEscalationTeamLeadP1', 'for', LATENCY, '20m', []),
    ('HaloBuzzEscalationTeamLeadP1', 'fires', LATENCY, '22m', [_clean(_escalation(
        'HaloBuzzEscalationTeamLeadP1', NS, 'P1', 'streaming', 'team-lead', 'HaloBuzzStreamLatencyHigh'))]),
    # a P1 alert firing for 40 minutes never takes a P0 path (team lead at 5 min, CTO at 10)
    ('HaloBuzzEscalationTeamLeadP0', 'below', [
        series('ALERTS', '1x40', alertname='HaloBuzzStreamLatencyHigh', alertstate='firing', severity='P1',
               team='streaming')], '40m', []),
    ('HaloBuzzEscalationCTO', 'below', [
        series('ALERTS', '1x40', alertname='HaloBuzzStreamLatencyHigh', alertstate='firing', severity='P1',
               team='streaming')], '40m', []),
    ('HaloBuzzEscalationTeamLeadP1', 'below', [   # P2 and P3 alerts never escalate
        series('ALERTS', '1x40', alertname='HaloBuzzMemoryLeak', alertstate='firing', severity='P2', team='backend'),
        series('ALERTS', '1x40', alertname='HaloBuzzPodRestarting', alertstate='firing', severity='P3',
               team='platform')], '40m', []),
]

# Recording rules: the value each key metric records from known series (at 10m); p95 of the API
# latency: 0.25 + (95 - 90) / (99 - 90) * 0.75; of the stream latency: 0.25 + (95 - 80) / (96 - 80) * 0.25.
RECORDING_SERIES = [
    series('http_request_duration_seconds_bucket', '0+%dx20' % n, service='backend', route='/', le=le)
    for le, n in (('0.1', 50), ('0.25', 90), ('1', 99), ('+Inf', 100))
] + [
    series('http_requests_total', '0+95x20', service='backend', route='/', status='200'),
    series('http_requests_total', '0+5x20', service='backend', route='/', status='500'),
    series('payments_total', '0+3x20', provider='stripe', status='success'),
    series('payments_total', '0+1x20', provider='khalti', status='failed'),
    series('active_streams', '120x20', service='streaming', pod='streaming-1'),
    series('active_streams', '80x20', service='streaming', pod='streaming-2'),
    series('concurrent_users', '1500x20', pod='backend-1'),
    series('gift_transactions_total', '0+30x20'),
    series('mongodb_ss_connections', '42x20', conn_type='current'),
    series('mongodb_ss_connections', '800x20', conn_type='available'),
    {'series': 'redis_memory_used_bytes{instance="redis:6379"}', 'values': '1048576x20'},
    series('kube_pod_container_status_restarts_total', '0x20', pod='backend-1', container='backend'),
] + [
    series('stream_latency_seconds_bucket', '0+%dx20' % n, service='streaming', le=le)
    for le, n in (('0.25', 80), ('0.5', 96), ('1', 100), ('+Inf', 100))
]
RECORDED = [
    ('halobuzz:http_request_duration_seconds:p50_rate5m', dict(NS, service='backend'), 0.1),
    ('halobuzz:http_request_duration_seconds:p95_rate5m', dict(NS, service='backend'), 0.6667),
    ('halobuzz:http_request_duration_seconds:p99_rate5m', dict(NS, service='backend'), 1.0),
    ('halobuzz:http_requests:error_ratio_rate5m', dict(NS, service='backend'), 0.05),
    ('halobuzz:payments:success_ratio_rate5m', NS, 0.75),
    ('halobuzz:active_streams:sum', NS, 200),
    ('halobuzz:concurrent_users:sum', NS, 1500),
    ('halobuzz:gift_transactions:rate5m', NS, 0.5),
    ('halobuzz:mongodb_connections:current', NS, 42),
    ('halobuzz:redis_memory_used_bytes:sum', {'instance': 'redis:6379'}, 1048576),
    ('halobuzz:kube_pod_container_status_restarts:increase1h', dict(NS, container='backend'), 0),
    ('halobuzz:stream_latency_seconds:p95_rate5m', NS, 0.4844),
]


def _labels(metric, labels):
    return '%s{%s}' % (metric, ', '.join('%s="%s"' % kv for kv in sorted(labels.items())))


def promtool_tests():
    tests = [{'name': '%s %s at %s' % (alert, kind, at), 'interval': '1m', 'input_series': inputs,
              'alert_rule_test': [{'eval_time': at, 'alertname': alert, 'exp_alerts': exp}]}
             for alert, kind, inputs, at, exp in CASES]
    tests.append({'name': 'recording rules', 'interval': '1m', 'input_series': RECORDING_SERIES,
                  # rounded to 1e-4: a quantile's interpolation is not exact in binary floating point
                  'promql_expr_test': [{'expr': 'round(%s, 0.0001)' % metric, 'eval_time': '10m',
                                        'exp_samples': [{'labels': _labels('', labels), 'value': value}]}
                                       for metric, labels, value in RECORDED]})
    return {'rule_files': [str(RULES)], 'evaluation_interval': '1m', 'tests': tests}


def test_promtool_check_rules():
    out = subprocess.run([PROMTOOL, 'check', 'rules', str(RULES)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'SUCCESS: %d rules found' % len(_rules()) in out.stdout


def test_promtool_test_rules(tmp_path):
    path = tmp_path / 'halobuzz-rules.test.yml'
    path.write_text(yaml.safe_dump(promtool_tests(), sort_keys=False))
    out = subprocess.run([PROMTOOL, 'test', 'rules', str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize('alert', [rule['alert'] for rule in _rules() if 'alert' in rule])
def test_every_alert_is_tested_fire_below_and_for(alert):
    mine = [(case[1], case[4]) for case in CASES if case[0] == alert]   # (kind, expected alerts)
    kinds = {kind for kind, exp in mine}
    assert kinds == {'fires', 'below', 'for'}, kinds
    assert all(exp for kind, exp in mine if kind == 'fires')
    assert not any(exp for kind, exp in mine if kind != 'fires')


def test_every_recording_rule_is_evaluated():
    assert sorted(entry[0] for entry in RECORDED) == sorted(rule['record'] for rule in _rules() if 'record' in rule)


def test_every_alert_names_its_playbook_severity_and_summary():
    for rule in _rules():
        if 'alert' not in rule:
            continue
        assert rule['labels'].get('severity') in ('P0', 'P1', 'P2', 'P3') or rule['alert'].startswith(
            'HaloBuzzEscalation'), rule['alert']
        assert '$value' in rule['annotations']['summary'] or rule['alert'].startswith('HaloBuzzEscalation')
        if not rule['alert'].startswith('HaloBuzzEscalation'):
            assert (REPO / rule['annotations']['playbook']).is_file(), rule['annotations']['playbook']
            assert rule['for'], rule['alert']
