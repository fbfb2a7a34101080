"""The collection as users get it: built tarball, installed elsewhere, documented, callback working."""
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
