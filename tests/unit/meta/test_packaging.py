"""The files AWX and Galaxy read agree with each other and with what the modules need."""
import importlib
import os
import re

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def load_yaml(name):
    with open(os.path.join(REPO, name)) as handle:
        return yaml.safe_load(handle)


def requirement_lines(name):
    with open(os.path.join(REPO, name)) as handle:
        return [line.split('#', 1)[0].strip() for line in handle if line.split('#', 1)[0].strip()]


def test_execution_environment_is_builder_v3_with_our_requirements():
    ee = load_yaml('execution-environment.yml')
    assert ee['version'] == 3
    deps = ee['dependencies']
    assert deps['python'] == 'requirements.txt'
    assert os.path.exists(os.path.join(REPO, deps['python']))
    assert deps['ansible_core']['package_pip'] == 'ansible-core==%s' % dev_pin('ansible-core')
    ee_collections = {c['name']: c['version'] for c in deps['galaxy']['collections']}
    assert ee_collections == load_yaml('galaxy.yml')['dependencies']


def dev_pin(package):
    for line in requirement_lines('requirements-dev.txt'):
        if line.startswith(package + '=='):
            return line.split('==', 1)[1]
    raise AssertionError('%s is not pinned in requirements-dev.txt' % package)


@pytest.mark.parametrize('name', ['requirements.txt', 'requirements-dev.txt'])
def test_every_requirement_is_pinned(name):
    for line in requirement_lines(name):
        if line.startswith('-r '):
            continue
        assert re.match(r'^[A-Za-z0-9_.\[\]-]+==[0-9][0-9A-Za-z.]*$', line), '%s: %r is not pinned' % (name, line)


def test_runtime_requirements_cover_the_modules_imports():
    wanted = {'kubernetes', 'pymongo', 'redis', 'hvac', 'boto3'}
    pinned = {line.split('==')[0].lower() for line in requirement_lines('requirements.txt')}
    assert wanted <= pinned


def test_every_module_is_in_exactly_one_system_group():
    runtime = load_yaml('meta/runtime.yml')
    groups = runtime['action_groups']
    modules = sorted(f[:-3] for f in os.listdir(os.path.join(REPO, 'plugins', 'modules'))
                     if f.endswith('.py') and not f.startswith('_'))
    assert modules, 'no modules found'
    for module in modules:
        owners = [name for name, members in groups.items()
                  if name != 'all' and module in (members or [])]
        assert len(owners) == 1, '%s must be listed in exactly one action group, found %s' % (module, owners)
    extended = groups['all'][0]['metadata']['extend_group']
    assert sorted(extended) == sorted(name for name in groups if name != 'all')


def test_galaxy_metadata():
    galaxy = load_yaml('galaxy.yml')
    assert (galaxy['namespace'], galaxy['name'], galaxy['version']) == ('halobuzz', 'ops', '0.1.0')
    assert 'kubernetes.core' in galaxy['dependencies']
    assert os.path.exists(os.path.join(REPO, 'LICENSE'))


def test_every_module_declares_its_group_and_the_shared_attributes():
    # the attributes block is written once (doc_fragments/attributes.py), never pasted into a module
    groups = load_yaml('meta/runtime.yml')['action_groups']
    for group, members in groups.items():
        if group == 'all':
            continue
        for module in members:
            doc = yaml.safe_load(importlib.import_module(
                'ansible_collections.halobuzz.ops.plugins.modules.' + module).DOCUMENTATION)
            fragments = doc['extends_documentation_fragment']
            assert 'halobuzz.ops.attributes' in fragments, module
            assert 'halobuzz.ops.attributes.action_group_%s' % group in fragments, module
            assert 'ansible.builtin.action_common_attributes' not in fragments, module
            assert 'action_group' not in (doc.get('attributes') or {}), module
