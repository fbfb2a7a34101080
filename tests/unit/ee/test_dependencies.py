"""galaxy.yml, execution-environment.yml, requirements.txt and constraints.txt say what the content uses.

Issue 16: amazon.aws was declared but unused, and its aiobotocore made the EE unbuildable; exact pins in
requirements.txt broke any EE that merges another collection's requirements.
"""
import os
import re

import ansible_collections
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CONTENT = ('plugins', 'roles', 'playbooks', 'inventories')
# A collection is used when content names one of its plugins outside documentation text: a task, a
# module_defaults group, a filter, a role, a doc fragment it extends, an import. M(community.general.redis)
# in a module's description or a seealso entry is text, not use.
FQCN = re.compile(r'(?<![\w.])([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z_][a-z0-9_]*')
TEXT = re.compile(r'M\([^)]*\)|C\([^)]*\)|^\s*- module: \S+$|#.*$', re.M)
FRAGMENTS = re.compile(r'^extends_documentation_fragment:\n((?:\s+- \S+\n)+)', re.M)
BUILTIN = {'ansible.builtin', 'ansible.legacy', 'halobuzz.ops'}


def installed():
    """Every collection this venv can load (the `ansible` bundle): a dotted name that is not one is a host
    name or an attribute, not a collection."""
    names = set()
    for base in ansible_collections.__path__:
        for namespace in os.listdir(base):
            if os.path.isdir(os.path.join(base, namespace)):
                names.update('%s.%s' % (namespace, n) for n in os.listdir(os.path.join(base, namespace)))
    return names


def used_collections():
    known = installed()
    used = set()
    for top in CONTENT:
        for root, _dirs, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                if not name.endswith(('.py', '.yml', '.yaml')):
                    continue
                with open(os.path.join(root, name)) as handle:
                    text = handle.read()
                if name.endswith('.py'):
                    fragments = ''.join(FRAGMENTS.findall(text))
                    code = re.sub(r"(DOCUMENTATION|EXAMPLES|RETURN)\s*=\s*r?(\'\'\'|\"\"\").*?\2", '', text, flags=re.S)
                    text = fragments + code
                for match in FQCN.finditer(TEXT.sub('', text)):
                    fqcn = '%s.%s' % match.groups()
                    if fqcn in known and fqcn not in BUILTIN:
                        used.add(fqcn)
    return used


def load(name):
    with open(os.path.join(REPO, name)) as handle:
        return yaml.safe_load(handle)


def requirement_lines(name):
    with open(os.path.join(REPO, name)) as handle:
        lines = [line.split('#', 1)[0].strip() for line in handle]
    return [line for line in lines if line and not line.startswith('-')]


def pins():
    return {Requirement(line).name.lower().replace('_', '-'): line.split('==', 1)[1]
            for line in requirement_lines('constraints.txt')}


def test_galaxy_declares_exactly_the_collections_the_content_uses():
    used = used_collections()
    assert 'kubernetes.core' in used  # the scan finds real use (module_defaults groups, tasks)
    assert set(load('galaxy.yml')['dependencies']) == used


def test_the_ee_installs_galaxy_dependencies_with_the_same_ranges():
    ee = load('execution-environment.yml')
    ee_collections = {c['name']: c['version'] for c in ee['dependencies']['galaxy']['collections']}
    assert ee_collections == load('galaxy.yml')['dependencies']


def test_the_base_image_is_not_an_end_of_life_fedora():
    image = load('execution-environment.yml')['images']['base_image']['name']
    assert 'fedora' not in image, image


@pytest.mark.parametrize('line', requirement_lines('requirements.txt'))
def test_runtime_requirements_are_ranges_with_an_upper_bound(line):
    requirement = Requirement(line)
    operators = {spec.operator for spec in requirement.specifier}
    assert '==' not in operators and '===' not in operators, '%s: an exact pin belongs in constraints.txt' % line
    assert '<' in operators or '~=' in operators, '%s: give an upper bound (the next major)' % line
    assert '>=' in operators or '~=' in operators, '%s: give the lowest supported version' % line


@pytest.mark.parametrize('name', ['requirements.txt', 'requirements-dev.txt'])
def test_every_requirement_is_locked_in_constraints_within_its_range(name):
    locked = pins()
    for line in requirement_lines(name):
        requirement = Requirement(line)
        key = requirement.name.lower().replace('_', '-')
        assert key in locked, '%s: %s is not pinned in constraints.txt' % (name, requirement.name)
        assert requirement.specifier.contains(locked[key], prereleases=True), \
            '%s: constraints.txt pins %s==%s outside %s' % (name, requirement.name, locked[key], requirement.specifier)


def test_constraints_are_exact_pins_only():
    for line in requirement_lines('constraints.txt'):
        assert re.match(r'^[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.+]*$', line), line


@pytest.mark.parametrize('key', ['ansible_core', 'ansible_runner'])
def test_the_ee_ansible_versions_admit_the_tested_ones(key):
    requirement = Requirement(load('execution-environment.yml')['dependencies'][key]['package_pip'])
    assert requirement.specifier != SpecifierSet()
    assert requirement.specifier.contains(pins()[requirement.name.lower()])


def test_make_venv_installs_with_the_constraints():
    with open(os.path.join(REPO, 'Makefile')) as handle:
        makefile = handle.read()
    assert re.search(r'pip install .*-r requirements-dev\.txt.*-c constraints\.txt', makefile)
