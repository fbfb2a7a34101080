"""The files AWX and Galaxy read agree with each other and with what the modules need."""
import importlib
import os
import re

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
    # exact pins live in constraints.txt; the EE's range must admit the tested version
    # (tests/unit/ee/test_dependencies.py), and collections match galaxy.yml there too
    assert deps['ansible_core']['package_pip'].startswith('ansible-core')


def test_runtime_requirements_cover_the_modules_imports():
    wanted = {'kubernetes', 'pymongo', 'redis', 'hvac', 'boto3'}
    named = {re.split(r'[<>=!~ \[;]', line, maxsplit=1)[0].lower() for line in requirement_lines('requirements.txt')}
    assert wanted <= named


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
