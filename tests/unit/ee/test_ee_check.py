"""scripts/ee-check, end to end on a definition of its own and a local wheelhouse (offline, no Galaxy).

The wheels are real (pip resolves them), so the conflict is pip's: a collection's requirements.txt
needs `eechk-core<2` through `eechk-lib`, the definition pins `eechk-core==2.0` - the shape of the
aiobotocore/botocore conflict of issue 16.
"""
import os
import subprocess
import sys
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CHECKER = os.path.join(REPO, 'scripts', 'ee-check')


def wheel(directory, name, version, requires=()):
    """A minimal valid wheel (PEP 427): METADATA, WHEEL, RECORD and one module."""
    dist = '%s-%s' % (name.replace('-', '_'), version)
    path = os.path.join(directory, '%s-py3-none-any.whl' % dist)
    metadata = 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s' % (
        name, version, ''.join('Requires-Dist: %s\n' % r for r in requires))
    files = {
        '%s.py' % name.replace('-', '_'): '',
        '%s.dist-info/METADATA' % dist: metadata,
        '%s.dist-info/WHEEL' % dist: 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    }
    record = ''.join('%s,,\n' % f for f in files) + '%s.dist-info/RECORD,,\n' % dist
    files['%s.dist-info/RECORD' % dist] = record
    with zipfile.ZipFile(path, 'w') as archive:
        for member, text in files.items():
            archive.writestr(member, text)


@pytest.fixture()
def project(tmp_path):
    """A collection with an EE definition beside it, and a wheelhouse for pip --no-index."""
    house = tmp_path / 'wheels'
    house.mkdir()
    wheel(str(house), 'eechk-core', '1.0')
    wheel(str(house), 'eechk-core', '2.0')
    wheel(str(house), 'eechk-lib', '1.0', ['eechk-core<2'])
    coll = tmp_path / 'coll'
    coll.mkdir()
    (coll / 'galaxy.yml').write_text('namespace: eechk\nname: demo\nversion: 1.0.0\nauthors: [t]\nreadme: README.md\n')
    (coll / 'requirements.txt').write_text('eechk-lib==1.0\n')
    (coll / 'bindep.txt').write_text('git-core [platform:rpm]\ngit [platform:dpkg]\n')
    return {'dir': coll, 'house': house}


def definition(coll, user_requirements):
    (coll / 'ee-requirements.txt').write_text(user_requirements)
    path = coll / 'execution-environment.yml'
    path.write_text('''version: 3
images:
  base_image:
    name: registry.access.redhat.com/ubi10/ubi:latest
dependencies:
  python_interpreter:
    package_system: python3
    python_path: /usr/bin/python3.12
  python: ee-requirements.txt
''')
    return str(path)


def check(project, user_requirements, *extra):
    args = [sys.executable, CHECKER, '-f', definition(project['dir'], user_requirements),
            '--pip-arg=--no-index', '--pip-arg=--find-links=%s' % project['house']] + list(extra)
    env = dict(os.environ, PIP_FIND_LINKS='', PIP_EXTRA_INDEX_URL='')
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)


def test_compatible_requirements_resolve_and_list_what_the_image_gets(project):
    result = check(project, 'eechk-core>=1\n')
    assert result.returncode == 0, result.stderr
    assert 'eechk-core==1.0' in result.stdout and 'eechk-lib==1.0' in result.stdout
    # bindep's RPM reading: git-core, not the dpkg package
    assert 'system packages (bindep, RPM platform): git-core' in result.stdout


def test_a_conflicting_pin_fails_naming_both_packages_and_who_asked(project):
    result = check(project, 'eechk-core==2.0\n')
    assert result.returncode == 1
    assert 'conflicting packages: eechk-core, eechk-lib' in result.stderr
    assert 'eechk-core==2.0 (user)' in result.stderr and 'eechk-lib==1.0 (eechk.demo)' in result.stderr


def test_a_missing_package_is_named(project):
    result = check(project, 'eechk-absent>=1\n')
    assert result.returncode == 1
    assert 'conflicting packages: eechk-absent' in result.stderr


def test_an_unversioned_interpreter_is_refused_naming_the_key(project):
    path = definition(project['dir'], 'eechk-core\n')
    with open(path) as handle:
        text = handle.read().replace('/usr/bin/python3.12', '/usr/bin/python3')
    with open(path, 'w') as handle:
        handle.write(text)
    result = subprocess.run([sys.executable, CHECKER, '-f', path], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 1
    assert 'python_interpreter.python_path' in result.stderr and 'Traceback' not in result.stderr


def test_a_galaxy_collection_missing_locally_is_named(project):
    path = definition(project['dir'], 'eechk-core\n')
    with open(path, 'a') as handle:
        handle.write('  galaxy:\n    collections:\n      - name: eechk.nowhere\n        version: ">=1.0.0"\n')
    result = subprocess.run([sys.executable, CHECKER, '-f', path], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 1
    assert 'eechk.nowhere' in result.stderr and 'not installed locally' in result.stderr
