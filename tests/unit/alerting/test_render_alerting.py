"""extensions/render_alerting.py (plain Jinja2, no Ansible) against the role's template tasks and the checked-in
renderings; amtool check-config and `amtool config routes test` for every severity and team.

amtool's routing test walks the same route tree as Alertmanager's dispatcher (alertmanager
dispatch/route.go Match: the first matching child wins unless `continue: true`), and prints the
receivers an alert with those labels reaches.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
EXT = REPO / 'extensions'
AMTOOL = shutil.which('amtool') or '/usr/bin/amtool'
PROMTOOL = shutil.which('promtool') or '/usr/bin/promtool'
SEVERITIES = ['P0', 'P1', 'P2', 'P3']
TEAMS = ['backend', 'moderation', 'payments', 'platform', 'streaming']
# What the sandbox passes (docs/ALERTING.md): short for:, short response times, its own receivers.
SANDBOX = {'alerting_for': {name: '10s' for name in (
    'HaloBuzzServiceDown', 'HaloBuzzDatabaseConnectionLost', 'HaloBuzzPaymentFailures', 'HaloBuzzHighErrorRate',
    'HaloBuzzStreamLatencyHigh', 'HaloBuzzAIModerationFailing', 'HaloBuzzMemoryLeak', 'HaloBuzzPodRestarting')},
    'alerting_response_time_seconds': {'P0': 20, 'P1': 30, 'P2': 60, 'P3': 120},
    'alerting_rate_window': '30s', 'k8s_namespace': 'staging',
    'alerting_pagerduty_url': 'http://127.0.0.1:40123/v2/enqueue', 'alerting_secrets_dir': '/tmp/sandbox/am-secrets'}


def _load_renderer():
    spec = importlib.util.spec_from_file_location('render_alerting', EXT / 'render_alerting.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RENDER = _load_renderer().render


def test_checked_in_files_are_the_role_defaults_rendered():
    out = RENDER({})
    assert (EXT / 'prometheus' / 'halobuzz-rules.yml').read_text() == out['rules'], \
        'run .venv/bin/python extensions/render_alerting.py and commit the result'
    assert (EXT / 'alertmanager' / 'alertmanager.yml').read_text() == out['alertmanager'], \
        'run .venv/bin/python extensions/render_alerting.py and commit the result'


def test_renderer_imports_neither_ansible_nor_anything_but_jinja2_and_yaml():
    code = ('import sys, runpy; runpy.run_path(%r); bad = sorted(m for m in sys.modules if m.split(".")[0] in '
            '("ansible", "ansible_collections")); print(bad); sys.exit(1 if bad else 0)'
            % str(EXT / 'render_alerting.py'))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize('overrides', [{}, SANDBOX], ids=['defaults', 'sandbox'])
def test_role_template_tasks_render_what_the_renderer_renders(tmp_path, overrides):
    """roles/alerting tasks_from render (ansible.builtin.template) and render() give the same bytes."""
    play = tmp_path / 'render.yml'
    play.write_text(yaml.safe_dump([{'name': 'render', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'render', 'ansible.builtin.import_role': {'name': 'halobuzz.ops.alerting', 'tasks_from': 'render'}}]}]))
    extra = tmp_path / 'vars.json'
    extra.write_text(json.dumps(dict(overrides, alerting_render_dir=str(tmp_path),
                                     ansible_python_interpreter=sys.executable, ansible_connection='local')))
    env = dict(os.environ, HALOBUZZ_RECORDS_DIR=str(tmp_path / 'records'))
    run = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(play),
                          '-e', '@%s' % extra], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = RENDER(overrides)
    assert (tmp_path / 'halobuzz-rules.yml').read_text() == out['rules']
    assert (tmp_path / 'alertmanager.yml').read_text() == out['alertmanager']


def test_sandbox_overrides_give_valid_files(tmp_path):
    out = RENDER(SANDBOX)
    (tmp_path / 'rules.yml').write_text(out['rules'])
    (tmp_path / 'am.yml').write_text(out['alertmanager'])
    check = subprocess.run([PROMTOOL, 'check', 'rules', str(tmp_path / 'rules.yml')], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    check = subprocess.run([AMTOOL, 'check-config', str(tmp_path / 'am.yml')], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    rules = yaml.safe_load(out['rules'])
    alerts = [r for g in rules['groups'] for r in g['rules'] if 'alert' in r]
    assert {r['for'] for r in alerts if not r['alert'].startswith('HaloBuzzEscalation')} == {'10s'}
    assert 'namespace="staging"' in out['rules'] and 'namespace="halobuzz"' not in out['rules']
    am = yaml.safe_load(out['alertmanager'])
    urls = {c['url'] for r in am['receivers'] for c in r.get('pagerduty_configs', [])}
    assert urls == {'http://127.0.0.1:40123/v2/enqueue'}


def test_no_secret_in_the_configuration():
    am = yaml.safe_load((EXT / 'alertmanager' / 'alertmanager.yml').read_text())
    for receiver in am['receivers']:
        for config in receiver.get('pagerduty_configs', []):
            assert 'routing_key' not in config and 'service_key' not in config
            assert config['routing_key_file'].startswith('/etc/alertmanager/secrets/')
        for config in receiver.get('slack_configs', []):
            assert 'api_url' not in config and config['api_url_file'].startswith('/etc/alertmanager/secrets/')


def test_amtool_check_config():
    out = subprocess.run([AMTOOL, 'check-config', str(EXT / 'alertmanager' / 'alertmanager.yml')],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'SUCCESS' in out.stdout


def routes_test(*labels):
    out = subprocess.run([AMTOOL, 'config', 'routes', 'test', '--config.file=%s' % (EXT / 'alertmanager' /
                                                                                    'alertmanager.yml')] + list(labels),
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip().split(',')


@pytest.mark.parametrize('severity', SEVERITIES)
@pytest.mark.parametrize('team', TEAMS + ['unknown'])
def test_amtool_routes_every_severity_and_team(severity, team):
    expected = ['pagerduty-' + severity.lower(), 'slack-' + (team if team in TEAMS else 'default')]
    assert routes_test('alertname=HaloBuzzSomething', 'severity=' + severity, 'team=' + team) == expected


@pytest.mark.parametrize('escalation', ['team-lead', 'cto'])
@pytest.mark.parametrize('severity', ['P0', 'P1'])
def test_amtool_routes_escalations_to_the_team_lead_and_cto_only(escalation, severity):
    # an escalation alert keeps severity and team: it pages the escalation's service, not the on-call again
    assert routes_test('alertname=HaloBuzzEscalationX', 'severity=' + severity, 'team=backend',
                       'escalation=' + escalation, 'escalated_alertname=HaloBuzzHighErrorRate') == [
        'pagerduty-' + escalation]


def test_amtool_routes_an_alert_without_severity_to_the_default_channel():
    assert routes_test('alertname=Watchdog') == ['slack-default']


def test_timings_follow_the_response_times_and_p3_waits_for_business_hours():
    am = yaml.safe_load((EXT / 'alertmanager' / 'alertmanager.yml').read_text())
    response = {'P0': 300, 'P1': 900, 'P2': 3600, 'P3': 14400}
    by_severity = {r['matchers'][0].split('"')[1]: r for r in am['route']['routes']
                   if r['matchers'][0].startswith('severity=')}
    for severity, seconds in response.items():
        route = by_severity[severity]
        assert (route['group_wait'], route['group_interval'], route['repeat_interval']) == (
            '%ds' % (seconds // 10), '%ds' % (seconds // 5), '%ds' % seconds)
        leaves = route['routes']
        timed = [leaf.get('active_time_intervals') for leaf in leaves]
        assert timed == ([['business-hours']] * len(leaves) if severity == 'P3' else [None] * len(leaves))
    hours = am['time_intervals'][0]
    assert hours['name'] == 'business-hours'
    assert hours['time_intervals'][0]['location'] == 'Asia/Kathmandu'
