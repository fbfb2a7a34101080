"""The collection as users get it: built tarball, installed elsewhere, documented, callback working.

Issue 16, installed use: `ansible-playbook halobuzz.ops.rollback -i <inventory>` from a directory outside the
checkout, with the installed tarball and the record callback enabled by its documented variables
(ANSIBLE_CALLBACKS_ENABLED, HALOBUZZ_RECORDS_DIR); and from a checkout, `ansible-playbook rollback.yml` in
playbooks/ and `ansible-playbook playbooks/rollback.yml` at the root, with no ANSIBLE_CONFIG set.
"""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
MODULES = sorted(f[:-3] for f in os.listdir(os.path.join(REPO, 'plugins', 'modules'))
                 if f.endswith('.py') and not f.startswith('_'))


def run(args, cwd, env=None):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """Build the tarball and install it into a collections path of its own, away from this checkout."""
    work = tmp_path_factory.mktemp('package')
    env = dict(os.environ)
    env.pop('ANSIBLE_CONFIG', None)
    build = run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(work), REPO],
                cwd=str(work), env=env)
    assert build.returncode == 0, build.stderr
    tarball = work / 'halobuzz-ops-0.1.0.tar.gz'
    assert tarball.exists()
    collections = work / 'collections'
    install = run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--no-deps', '--offline',
                   '-p', str(collections), str(tarball)], cwd=str(work), env=env)
    assert install.returncode == 0, install.stderr
    env['ANSIBLE_COLLECTIONS_PATH'] = str(collections)
    return {'dir': work, 'env': env, 'tarball': tarball, 'root': collections / 'ansible_collections' / 'halobuzz' / 'ops'}


def test_tarball_leaves_out_the_sandbox_and_dev_files(installed):
    files = json.loads((installed['root'] / 'FILES.json').read_text())['files']
    names = {entry['name'] for entry in files}
    assert 'plugins/callback/incident_timeline.py' in names
    assert not [n for n in names if n.startswith(('tests/sandbox', '.venv', '.collections', 'records', 'bench/'))]


def test_ansible_doc_lists_every_module(installed):
    listing = run([os.path.join(BIN, 'ansible-doc'), '-l', 'halobuzz.ops', '--json'], cwd=str(installed['dir']),
                  env=installed['env'])
    assert listing.returncode == 0, listing.stderr
    listed = sorted(name.split('.', 2)[2] for name in json.loads(listing.stdout))
    assert MODULES and listed == MODULES


@pytest.mark.parametrize('module', MODULES)
def test_ansible_doc_renders(installed, module):
    doc = run([os.path.join(BIN, 'ansible-doc'), 'halobuzz.ops.%s' % module], cwd=str(installed['dir']),
              env=installed['env'])
    assert doc.returncode == 0, doc.stderr
    assert 'EXAMPLES' in doc.stdout and 'RETURN VALUES' in doc.stdout


def test_callback_from_the_installed_collection_keeps_no_log(installed, tmp_path):
    playbook = tmp_path / 'pb.yml'
    playbook.write_text('''
- name: Record smoke test
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Visible step
      ansible.builtin.debug:
        msg: visible-step-output
    - name: Secret step
      ansible.builtin.set_fact:
        db_password: s3cr3t-never-recorded
      no_log: true
    - name: Access record
      ansible.builtin.set_stats:
        data:
          halobuzz_record: {incident: INC-42}
        per_host: false
    - name: Failing step
      ansible.builtin.fail:
        msg: deliberate failure
      ignore_errors: true
''')
    env = dict(installed['env'], ANSIBLE_CALLBACKS_ENABLED='halobuzz.ops.incident_timeline',
               HALOBUZZ_RECORDS_DIR=str(tmp_path / 'records'), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    result = run([os.path.join(BIN, 'ansible-playbook'), str(playbook)], cwd=str(tmp_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    records = sorted((tmp_path / 'records').iterdir())
    assert [p.suffix for p in records] == ['.jsonl', '.md']
    text = records[0].read_text()
    assert 's3cr3t-never-recorded' not in text and 's3cr3t-never-recorded' not in records[1].read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    tasks = {line['task']: line for line in lines if line['type'] == 'task'}
    assert tasks['Visible step']['summary'] == 'visible-step-output'
    assert tasks['Secret step']['summary'] == 'censored (no_log)'
    assert tasks['Failing step']['status'] == 'ignored'
    assert tasks['Failing step']['summary'] == 'deliberate failure'
    assert [line['record'] for line in lines if line['type'] == 'record'] == [{'incident': 'INC-42'}]
    assert lines[-1]['type'] == 'stats' and lines[-1]['hosts']['localhost']['ignored'] == 1


def kubectl_deployment(env, name='backend', namespace='halobuzz'):
    """(revision, image) of a Deployment, read with kubectl: the world, not the play's output."""
    proc = subprocess.run(['kubectl', '--kubeconfig', env['KUBECONFIG'], '-n', namespace, 'get', 'deployment', name,
                           '-o', 'json'], capture_output=True, text=True, check=True, timeout=60)
    dep = json.loads(proc.stdout)
    return (int(dep['metadata']['annotations']['deployment.kubernetes.io/revision']),
            dep['spec']['template']['spec']['containers'][0]['image'])


def read_record(records_dir, playbook):
    records = sorted(p for p in records_dir.iterdir() if p.name.endswith('-%s.jsonl' % playbook))
    assert len(records) == 1, sorted(records_dir.iterdir())
    assert (records_dir / records[0].name.replace('.jsonl', '.md')).exists()
    return [json.loads(line) for line in records[0].read_text().splitlines()]


def user_env(sandbox_env, records_dir):
    """A shell of a user: the sandbox endpoints, no ANSIBLE_CONFIG, the callback turned on by its variables."""
    env = dict(os.environ)
    env.pop('ANSIBLE_CONFIG', None)
    env.update(sandbox_env)
    env.update(ANSIBLE_CALLBACKS_ENABLED='halobuzz.ops.incident_timeline', HALOBUZZ_RECORDS_DIR=str(records_dir),
               ANSIBLE_NOCOLOR='1', PATH='%s%s%s' % (BIN, os.pathsep, os.environ.get('PATH', '')))
    return env


def test_installed_collection_runs_halobuzz_ops_rollback_outside_the_checkout(
        installed, sandbox_env, scenario, tmp_path):
    scenario('bad-release')
    assert kubectl_deployment(sandbox_env) == (3, 'registry.halobuzz.com/backend:v1.5.1')
    # A user's project: an inventory of its own, nothing from this checkout on any path.
    project = tmp_path / 'project'
    (project / 'inventory' / 'group_vars' / 'all').mkdir(parents=True)
    (project / 'inventory' / 'hosts.yml').write_text(
        'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n'
        % sys.executable)
    (project / 'inventory' / 'group_vars' / 'all' / 'endpoints.yml').write_text(
        'k8s_namespace: halobuzz\ndeployment: backend\nkubeconfig: %s\nhealthz_url: %s\n'
        % (json.dumps(sandbox_env['KUBECONFIG']), json.dumps(sandbox_env['HEALTHZ_URL'])))
    records = tmp_path / 'records'
    env = user_env(sandbox_env, records)
    env['ANSIBLE_COLLECTIONS_PATH'] = installed['env']['ANSIBLE_COLLECTIONS_PATH']
    result = run([os.path.join(BIN, 'ansible-playbook'), 'halobuzz.ops.rollback', '-i', 'inventory'],
                 cwd=str(project), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # the only halobuzz.ops the run could load is the installed tarball
    listing = run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'list', 'halobuzz.ops', '--format', 'json'],
                  cwd=str(project), env=env)
    assert list(json.loads(listing.stdout)) == [str(installed['root'].parent.parent)], listing.stdout
    assert kubectl_deployment(sandbox_env) == (4, 'registry.halobuzz.com/backend:v1.5.0')
    lines = read_record(records, 'rollback')
    assert lines[-1]['type'] == 'stats' and lines[-1]['hosts']['localhost']['failures'] == 0
    assert [line for line in lines if line['type'] == 'task' and line['status'] == 'changed']


@pytest.mark.parametrize('cwd, playbook', [('playbooks', 'rollback.yml'), ('.', 'playbooks/rollback.yml')],
                         ids=['from-playbooks-dir', 'from-repo-root'])
def test_the_checkout_runs_rollback_without_ansible_config(sandbox_env, scenario, tmp_path, cwd, playbook):
    # ansible.cfg is read from the current directory only: playbooks/ has its own (same settings, paths
    # from there), and playbooks/collections links halobuzz.ops to the checkout. The default inventory
    # (the sandbox's) must load - its guard and endpoints - or no module would run.
    scenario('bad-release')
    records = tmp_path / 'records'
    env = user_env(sandbox_env, records)
    env.pop('ANSIBLE_CALLBACKS_ENABLED')  # the checkout's ansible.cfg enables the callback itself
    result = run([os.path.join(BIN, 'ansible-playbook'), playbook], cwd=os.path.join(REPO, cwd), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert kubectl_deployment(sandbox_env) == (4, 'registry.halobuzz.com/backend:v1.5.0')
    assert read_record(records, 'rollback')[-1]['hosts']['localhost']['failures'] == 0
