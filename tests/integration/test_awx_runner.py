"""Every playbook run as AWX runs it: ansible-runner's Python API with the job template of extensions/aap/.

For each job (one per playbook, grouped by the scenario it starts from, one sandbox reset per group):
- the extra vars are what AWX gives the job (awx_survey_rules.launch_extra_vars, written from AWX's
  SurveyJobTemplateMixin): the template's survey defaults, then the launch answers typed as AWX takes them
  (text answers str, integer answers int, float answers float, multiple choice the choice's string), plus the
  awx_* variables AWX adds; they land in env/extravars of a private data dir;
- the credentials are injected as AWX does from the credential types of extensions/aap/
  (controller_credential_types.yml): env injectors rendered into env/envvars, file injectors written into
  the private data dir and named by `tower.filename.<name>`; the endpoints come from the sandbox (in AWX,
  the inventory and credentials), HALOBUZZ_RECORDS_DIR and ANSIBLE_CALLBACKS_ENABLED as the EE sets them;
- the project is this checkout (project/, as AWX's project update leaves it), the inventory a copy of
  inventories/sandbox in inventory/ (AWX writes the job's inventory there);
- job_type check / diff_mode become --check / --diff (env/cmdline), as AWX's schedule of the maintenance
  rehearsal asks.
ansible-runner runs the job the way AWX's worker does (pexpect, with no passwords to answer: a prompt would
leave the job idle until idle_timeout fails it, and is asserted against by its event). Asserted: the
runner's status and rc, its events (playbook_on_stats with no failures, no runner_on_failed or unreachable
event, the play started), and the run record in HALOBUZZ_RECORDS_DIR (header naming the AWX user, a stats
line saying succeeded, the Markdown summary), with no credential value in the events or the record.
With HALOBUZZ_USE_ENV=1 the scenarios are skipped (they reset the sandbox).
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, NamedTuple

import pytest
import yaml

from awx_survey_rules import launch_extra_vars
from prometheus_operator import install_operator_crd
from sandboxlib.kube import KubeAPI

ansible_runner = pytest.importorskip('ansible_runner')
jinja2 = pytest.importorskip('jinja2')
kubernetes = pytest.importorskip('kubernetes')
pymongo = pytest.importorskip('pymongo')

# pylint: disable-next=wrong-import-position
from mongo_helpers import archive_then_stray_write  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
AAP = REPO / 'extensions' / 'aap'
TEMPLATES = {t['playbook']: t for t in
             yaml.safe_load((AAP / 'controller_templates.yml').read_text())['controller_templates']}
CREDENTIAL_TYPES = {c['name']: c for c in
                    yaml.safe_load((AAP / 'controller_credential_types.yml').read_text())['controller_credential_types']}
SCHEDULES = yaml.safe_load((AAP / 'controller_schedules.yml').read_text())['controller_schedules']
WORKFLOWS = yaml.safe_load((AAP / 'controller_workflows.yml').read_text())['controller_workflows']
# The sandbox's LDAP user behind each Vault LDAP credential the configuration names.
LDAP_CREDENTIALS = {'HaloBuzz Vault LDAP': 'oncall', 'HaloBuzz Vault LDAP (team lead)': 'teamlead'}
AWX_USER = 'sre-oncall'
NS = 'halobuzz'
# Test credentials only: what a PagerDuty credential would hold.
ALERTING_KEYS = {'alerting_pagerduty_routing_key_oncall': 'R0UTINGKEY0NCALLawx0000000000001',
                 'alerting_pagerduty_routing_key_team_lead': 'R0UTINGKEYLEADawx000000000000002',
                 'alerting_pagerduty_routing_key_cto': 'R0UTINGKEYCT0awx0000000000000003'}


class Job(NamedTuple):
    playbook: str
    # (sandbox_env, tmp_path) -> (survey answers, other launch extra vars)
    answers: Callable[[dict, Path], tuple[dict, dict]] = lambda env, tmp: ({}, {})
    job_type: str = 'run'
    diff_mode: bool = False
    credentials: tuple = ()  # a workflow node's credentials, replacing the template's of the same type


class JobRun(NamedTuple):
    status: str
    rc: int
    events: list
    stdout: str
    records: Path
    secrets: list


# -- AWX's side: credentials, extra vars, the private data dir -------------------------------------

def _inject(ctype_name: str, inputs: dict, pdd: Path) -> dict:
    """The environment AWX gives a job for a credential of this type (env and file injectors)."""
    ctype = CREDENTIAL_TYPES[ctype_name]
    injectors = ctype['injectors']
    filenames = {}
    for key, template in (injectors.get('file') or {}).items():
        path = pdd / 'env' / ('cred-%s-%s' % (key.split('.', 1)[1], uuid.uuid4().hex[:8]))
        path.write_text(jinja2.Template(template).render(**inputs))
        path.chmod(0o600)
        filenames[key.split('.', 1)[1]] = str(path)
    context = dict(inputs, tower={'filename': filenames})
    return {name: jinja2.Template(value).render(**context) for name, value in (injectors.get('env') or {}).items()}


def _credentials(names: list, env: dict, pdd: Path) -> tuple[dict, list]:
    envvars, secrets = {}, []
    ldap_passwords = json.loads((Path(env['HALOBUZZ_SANDBOX_DIR']) / 'secrets.json').read_text())['ldap_passwords']
    for name in names:
        if name in LDAP_CREDENTIALS:
            user = LDAP_CREDENTIALS[name]
            inputs = {'username': user, 'password': ldap_passwords[user]}
            secrets.append(inputs['password'])
            name = 'HaloBuzz Vault LDAP'
        elif name == 'HaloBuzz kubeconfig':
            inputs = {'kubeconfig': Path(env['KUBECONFIG']).read_text()}
        elif name == 'HaloBuzz AWS':  # AWX's built-in Amazon Web Services type
            envvars.update({k: env[k] for k in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY') if k in env})
            continue
        else:
            raise AssertionError(f'no test input for credential {name}')
        envvars.update(_inject(name, inputs, pdd))
    return envvars, secrets


def awx_run(job: Job, sandbox_env: dict, tmp_path: Path) -> JobRun:
    template = TEMPLATES[f'playbooks/{job.playbook}.yml']
    pdd = tmp_path / f'job-{job.playbook}-{uuid.uuid4().hex[:6]}'
    (pdd / 'env').mkdir(parents=True)
    (pdd / 'project').symlink_to(REPO, target_is_directory=True)
    shutil.copytree(REPO / 'inventories' / 'sandbox', pdd / 'inventory')

    answers, launch_vars = job.answers(sandbox_env, tmp_path)
    extra_vars = launch_extra_vars(template, dict(answers, **launch_vars))
    extra_vars.update(awx_job_id=4242, awx_job_template_name=template['name'], awx_user_name=AWX_USER,
                      awx_job_launch_type='manual', tower_user_name=AWX_USER)
    (pdd / 'env' / 'extravars').write_text(json.dumps(extra_vars))

    records = tmp_path / 'records'
    # Endpoints: in AWX the inventory and credentials. The sandbox's own on-call login variables are left
    # out, so that Vault is reached only through the injected credential.
    envvars = {k: v for k, v in sandbox_env.items() if not k.startswith('SANDBOX_ONCALL_') and k != 'KUBECONFIG'}
    names = list(template['credentials'])
    if job.credentials:  # AWX: a prompted credential replaces the template's credential of its type
        names = [n for n in names if n not in LDAP_CREDENTIALS] + list(job.credentials)
    cred_env, secrets = _credentials(names, sandbox_env, pdd)
    envvars.update(cred_env)
    envvars.update(HALOBUZZ_RECORDS_DIR=str(records), ANSIBLE_CALLBACKS_ENABLED='halobuzz.ops.incident_timeline',
                   ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
                   # the EE has ansible-playbook on PATH; here it is the venv's
                   PATH=os.pathsep.join([str(REPO / '.venv' / 'bin'), os.environ.get('PATH', '')]))
    (pdd / 'env' / 'envvars').write_text(json.dumps(envvars))
    cmdline = (['--check'] if job.job_type == 'check' else []) + (['--diff'] if job.diff_mode else [])
    if cmdline:
        (pdd / 'env' / 'cmdline').write_text(' '.join(cmdline))
    # AWX's worker runs the job under pexpect with the passwords it knows (none here: every secret comes from a
    # credential's environment). A prompt nobody answers would leave the job idle: idle_timeout fails it instead
    # of hanging the suite (a safety net, not a timing assertion).
    (pdd / 'env' / 'settings').write_text(json.dumps({'suppress_ansible_output': True, 'idle_timeout': 600}))

    runner = ansible_runner.run(private_data_dir=str(pdd), playbook=f'playbooks/{job.playbook}.yml',
                                quiet=True, timeout=900)
    stdout = runner.stdout.read()
    return JobRun(runner.status, runner.rc, list(runner.events), stdout, records, secrets)


def assert_job_succeeded(job: Job, run: JobRun):
    assert run.status == 'successful' and run.rc == 0, f'{job.playbook}: {run.status} rc={run.rc}\n{run.stdout[-5000:]}'
    kinds = [e['event'] for e in run.events]
    assert 'playbook_on_play_start' in kinds
    assert not {'runner_on_failed', 'runner_on_unreachable', 'playbook_on_vars_prompt'} & set(
        e['event'] for e in run.events if not e.get('event_data', {}).get('ignore_errors')), run.stdout[-5000:]
    stats = [e for e in run.events if e['event'] == 'playbook_on_stats']
    assert len(stats) == 1 and not stats[0]['event_data']['failures'] and not stats[0]['event_data']['dark']
    assert 'localhost' in stats[0]['event_data']['ok']
    # the run record, where HALOBUZZ_RECORDS_DIR names (the EE: /runner/records)
    jsonl = sorted(run.records.glob(f'*-{job.playbook}.jsonl'))
    assert jsonl, f'no run record of {job.playbook} in {run.records}'
    lines = [json.loads(line) for line in jsonl[-1].read_text().splitlines()]
    header, last = lines[0], lines[-1]
    assert header['type'] == 'run' and header['playbook'] == f'{job.playbook}.yml'
    assert header['user'] == AWX_USER and header['check_mode'] == (job.job_type == 'check')
    assert last['type'] == 'stats' and last['result'] == 'succeeded'
    assert jsonl[-1].with_suffix('.md').is_file()
    everything = run.stdout + json.dumps(run.events) + jsonl[-1].read_text() + jsonl[-1].with_suffix('.md').read_text()
    for secret in run.secrets:
        assert secret not in everything


# -- the jobs, per scenario ------------------------------------------------------------------------

def _db_rollback(env, tmp_path):
    """An archive of the database as it is now, then a stray write: the job has a restore to do."""
    archive = archive_then_stray_write(env, tmp_path)
    return {'backup_archive': str(archive), 'safety_backup_dir': str(tmp_path / 'safety'),
            'healthz_retries': 30}, {}


def _backend_node(env):
    api = kubernetes.config.new_client_from_config(config_file=env['KUBECONFIG'])
    try:
        pods = kubernetes.client.CoreV1Api(api).list_namespaced_pod(NS, label_selector='app=backend').items
    finally:
        api.close()
    return next(p.spec.node_name for p in pods if p.spec.node_name and p.status.phase == 'Running')


def _maintenance(action):
    def answers(env, _tmp_path):
        # maintenance_nodes is a list: no survey type holds it, the launch gives it (prompt on launch)
        return {'maintenance_action': action}, {'maintenance_nodes': [_backend_node(env)]}
    return answers


def break_glass_workflow() -> list[Job]:
    """The jobs of the two-person break-glass workflow, in the order its success edges give, as AWX launches
    them: the workflow's survey answers (one incident for both) over each node's extra_data, the node's
    credentials (the team lead's Vault login for approve). The approval node between them is the human gate
    AWX holds; here it is approved."""
    (workflow,) = WORKFLOWS
    nodes = {n['identifier']: n for n in workflow['simplified_workflow_nodes']}
    targets = {t for n in nodes.values() for t in n.get('success_nodes', [])}
    (start,) = [i for i in nodes if i not in targets]
    incident = 'INC-AWX-%s' % uuid.uuid4().hex[:6]
    jobs, identifier = [], start
    while identifier:
        node = nodes[identifier]
        if 'unified_job_template' in node:
            def answers(_env, tmp_path, node=node):
                (tmp_path / 'out').mkdir(exist_ok=True)
                survey = {'incident_id': incident, 'reason': 'AWX workflow test of the break-glass runbook',
                          'approved_by': 'teamlead', 'requester': 'oncall',
                          'secret_output_file': str(tmp_path / 'out' / 'mongodb.json')}
                asked = {q['variable'] for q in workflow['survey_spec']['spec']}
                workflow_vars = launch_extra_vars(workflow, {k: v for k, v in survey.items() if k in asked})
                return dict(node['extra_data'], **workflow_vars), {}
            playbook = next(p for p, t in TEMPLATES.items() if t['name'] == node['unified_job_template'])
            jobs.append(Job(Path(playbook).stem, answers, credentials=tuple(node.get('credentials', ()))))
        identifier = (node.get('success_nodes') or [None])[0]
    return jobs


def _memory_leak(_env, tmp_path):
    """No heap dump: production's inventory says so (a dump is process memory), and kubeemu runs no
    containers (no pods/exec). Both are prompt-on-launch extra vars, outside the survey: the switch is an
    inventory name, the directory has a templated default."""
    return ({'incident_response_restart_cooldown_minutes': 0},
            {'incident_response_heap_dump': False, 'incident_response_heap_dump_dir': str(tmp_path / 'heapdumps')})


def _alerting(env, _tmp_path):
    """The cluster as a site has it: prometheus-operator's CRD Established (prometheus_operator.py). The
    PagerDuty routing keys are the survey's password answers (AWX would take them from a credential)."""
    install_operator_crd(KubeAPI(env['KUBECONFIG']))
    return dict(ALERTING_KEYS), {}


def _rehearsal(env, _tmp_path):
    """The schedule's extra_data, with the site's node list filled in."""
    (schedule,) = [s for s in SCHEDULES if s['unified_job_template'] == TEMPLATES['playbooks/maintenance.yml']['name']]
    data = dict(schedule['extra_data'], maintenance_nodes=[_backend_node(env)])
    return {'maintenance_action': data.pop('maintenance_action')}, data


def _stream_latency(_env, _tmp_path):
    """After cache_purge the streaming pods still hold the latency: the job restarts them and waits for p95 under
    500 ms; p95 "now" over 30 s (a survey answer) since the sandbox's Prometheus scrapes every second."""
    return {'incident_response_stream_latency_window': '30s'}, {}


REHEARSAL = Job('maintenance', _rehearsal, job_type='check', diff_mode=True)
# Keyed '<scenario>' or '<scenario>:<part>': each key is one test, on a world freshly switched to its scenario, so
# pytest-xdist spreads the parts of the long `healthy` list over its workers. Jobs in one list run in order (the
# break-glass workflow's nodes; the maintenance rehearsal before the real start).
GROUPS = {
    'bad-release': [Job('rollback')],
    'healthy': [Job('redis_check'), Job('service_down'), Job('scale_up'), Job('debug_bundle')],
    'healthy:break-glass': break_glass_workflow(),
    'healthy:alerting': [Job('alerting', _alerting)],
    'healthy:db-rollback': [Job('db_rollback', _db_rollback)],
    'healthy:maintenance': [REHEARSAL, Job('maintenance', _maintenance('start'))],
    'stream-latency': [Job('cache_purge'), Job('stream_latency', _stream_latency)],
    'db-corruption': [Job('db_connection_lost')],
    'payment-failures': [Job('payment_failures')],
    # issue 18: a survey's incident_id and severity stamp the runs; the report of that incident reads them
    'high-error-rate': [Job('high_error_rate', lambda env, tmp: ({'incident_id': 'INC-awx-1', 'severity': 'P1'}, {})),
                        Job('metrics_snapshot', lambda env, tmp: ({'incident_id': 'INC-awx-1'}, {})),
                        Job('incident_report', lambda env, tmp: ({'incident_id': 'INC-awx-1'}, {}))],
    'ai-moderation-down': [Job('ai_moderation_fallback')],
    'memory-leak': [Job('memory_leak', _memory_leak)],
}


def test_every_playbook_has_a_job():
    covered = {job.playbook for jobs in GROUPS.values() for job in jobs}
    assert sorted(p.stem for p in (REPO / 'playbooks').glob('*.yml')) == sorted(covered)
    assert sorted(f'playbooks/{name}.yml' for name in covered) == sorted(TEMPLATES)


@pytest.mark.parametrize('group', list(GROUPS))
def test_jobs_run_through_ansible_runner(group, sandbox_env, scenario, tmp_path):
    scenario(group.partition(':')[0])
    for job in GROUPS[group]:
        assert_job_succeeded(job, awx_run(job, sandbox_env, tmp_path))


def test_a_failing_job_is_reported_failed(sandbox_env, tmp_path):
    """The assertions above can fail: a launch that AWX accepts but the role refuses (an archive that is not
    there) ends failed, with a runner_on_failed event and a run record that says failed."""
    job = Job('db_rollback', lambda env, tmp: ({'backup_archive': str(tmp / 'missing.archive')}, {}))
    run = awx_run(job, sandbox_env, tmp_path)
    assert run.status == 'failed' and run.rc != 0
    assert 'runner_on_failed' in {e['event'] for e in run.events}
    with pytest.raises(AssertionError):
        assert_job_succeeded(job, run)
    (record,) = run.records.glob('*-db_rollback.jsonl')
    assert json.loads(record.read_text().splitlines()[-1])['result'] == 'failed'


def test_awx_refuses_a_string_for_an_integer_answer():
    """AWX types the answers: "42" for to_revision is refused at launch, before any job runs."""
    with pytest.raises(ValueError, match='expected to be an integer'):
        launch_extra_vars(TEMPLATES['playbooks/rollback.yml'], {'to_revision': '42'})
