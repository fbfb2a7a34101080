"""extensions/molecule: a scenario per role, each with molecule's idempotence step and a verify of its own.

Read against molecule's collection layout (molecule/constants.py: MOLECULE_COLLECTION_ROOT =
"extensions/molecule"; a scenario is a directory holding molecule.yml) and the base configuration
molecule deep-merges under every scenario (.config/molecule/config.yml).
"""
import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROOT = os.path.join(REPO, 'extensions', 'molecule')
ROLES = sorted(os.listdir(os.path.join(REPO, 'roles')))
# Scenarios whose role changes the world as an event, not a state: molecule's idempotence step (converge
# again, fail on any change) does not apply, and the scenario's molecule.yml says why.
EVENTS = {'break_glass', 'metrics_snapshot'}


def load(*parts):
    with open(os.path.join(*parts)) as handle:
        return yaml.safe_load(handle) or {}


def merged(role):
    base = load(REPO, '.config', 'molecule', 'config.yml')
    scenario = load(ROOT, role, 'molecule.yml')
    sequence = (scenario.get('scenario') or {}).get('test_sequence') or base['scenario']['test_sequence']
    playbooks = dict(base['ansible']['playbooks'], **(scenario.get('ansible') or {}).get('playbooks', {}))
    env = dict(base['ansible']['env'], **(scenario.get('ansible') or {}).get('env', {}))
    return sequence, playbooks, env


def test_the_base_uses_the_default_driver_without_prerun():
    base = load(REPO, '.config', 'molecule', 'config.yml')
    assert base['driver']['name'] == 'default'
    assert base['prerun'] is False  # no copy of the collection in ~/.ansible/collections


@pytest.mark.parametrize('role', ROLES)
def test_every_role_has_a_scenario(role):
    assert os.path.isfile(os.path.join(ROOT, role, 'molecule.yml')), 'no molecule scenario for role %s' % role


@pytest.mark.parametrize('role', ROLES)
def test_scenario_runs_converge_idempotence_verify_between_create_and_destroy(role):
    sequence, playbooks, env = merged(role)
    wanted = ['create', 'converge', 'verify', 'destroy'] if role in EVENTS else \
        ['create', 'converge', 'idempotence', 'verify', 'destroy']
    assert [step for step in sequence[1:] if step in wanted] == wanted
    assert sequence[0] == 'destroy' and sequence[-1] == 'destroy'
    for step in ('create', 'destroy', 'converge', 'verify') + (('prepare',) if 'prepare' in sequence else ()):
        assert os.path.isfile(os.path.normpath(os.path.join(ROOT, role, playbooks[step]))), (role, step)
    assert env.get('HALOBUZZ_MOLECULE_WORLD'), 'the scenario names the sandbox world it starts from'
    with open(os.path.join(ROOT, 'shared', 'create.yml')) as handle:
        assert 'sandbox.py' in handle.read()


@pytest.mark.parametrize('role', ROLES)
def test_verify_reads_the_world_not_the_play(role):
    verify = load(ROOT, role, 'verify.yml')
    tasks = [task for play in verify for task in play.get('tasks', [])]
    modules = {key for task in tasks for key in task if '.' in key}
    assert 'ansible.builtin.assert' in modules
    # reading clients: kubernetes.core, HTTP, redis-cli, pymongo/boto3 through a command - never a play's register
    assert modules & {'kubernetes.core.k8s_info', 'ansible.builtin.uri', 'ansible.builtin.command'}
    assert not [key for key in modules if key.startswith('halobuzz.ops.')], 'verify uses this collection to check itself'
