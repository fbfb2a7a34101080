"""The one role-input convention (docs/DEVELOPING.md, "Role inputs"), checked on every role:

- defaults/ and vars/ hold only <role>_* names: no role sets a shared name for the whole play;
- a public input is read once, as `<role>_<name>: "{{ <name> | default(X) }}"`, and the argument spec
  documents <name> with the same default X (or as required, with no default);
- incident_id and severity (issue 18) are in every entry point, exactly as the run record reads them; a role
  need not read them itself (the incident_timeline callback stamps them into the run record);
- a shared vocabulary name has one type everywhere, and the names with a house default
  (k8s_namespace, deployment, eks_cluster_name) have that default in every role.
"""
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLES = sorted(p.name for p in (REPO / 'roles').iterdir() if (p / 'meta' / 'argument_specs.yml').exists())
HOUSE_DEFAULTS = {'k8s_namespace': 'halobuzz', 'deployment': 'backend', 'eks_cluster_name': 'halobuzz'}
SHARED = set(HOUSE_DEFAULTS) | {
    'healthz_url', 'kubeconfig', 'mongodb_uri', 'redis_url', 'vault_addr', 'aws_region', 'aws_endpoint_url',
    'prometheus_url', 'slack_webhook_url', 'stripe_status_url', 'khalti_status_url', 'rollout_timeout',
    'healthz_retries', 'healthz_delay'}
# Issue 18: every entry point takes these; the run record (plugins/callback/incident_timeline.py) reads them from
# the extra vars, so a role maps them to <role>_* only when it uses them itself (break_glass's incident_id).
RUN_RECORD = {'incident_id', 'severity'}
READ_ONCE = re.compile(r'^\{\{\s*(?P<name>\w+)\s*(?:\|\s*default\((?P<default>.*?)(?:,\s*true)?\)\s*)?(?:\|\s*\w+\s*)*\}\}$')


def load(path):
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def role_defaults(role):
    values = {}
    for folder in ('defaults', 'vars'):
        values.update(load(REPO / 'roles' / role / folder / 'main.yml') or {})
    return values


def spec_options(role):
    specs = load(REPO / 'roles' / role / 'meta' / 'argument_specs.yml')['argument_specs']
    return {entry: spec.get('options') or {} for entry, spec in specs.items()}


@pytest.mark.parametrize('role', ROLES)
def test_defaults_hold_only_prefixed_names(role):
    assert [name for name in role_defaults(role) if not name.startswith(role + '_')] == []


@pytest.mark.parametrize('role', ROLES)
def test_public_inputs_are_read_once_with_the_documented_default(role):
    defaults = role_defaults(role)
    for entry, options in spec_options(role).items():
        for name, option in options.items():
            if name.startswith(role + '_'):  # a tunable of this role: its default is the value in defaults/
                if 'default' in option:
                    assert defaults.get(name) == option['default'], (entry, name)
                continue
            mapped = defaults.get('%s_%s' % (role, name))
            if name in RUN_RECORD and mapped is None:
                continue
            assert isinstance(mapped, str), '%s: %s is documented but never read as %s_%s' % (entry, name, role, name)
            match = READ_ONCE.match(mapped.strip())
            assert match and match.group('name') == name, '%s_%s: %r' % (role, name, mapped)
            if option.get('required'):
                continue
            written = match.group('default')
            documented = option.get('default')
            if documented in (None, ''):
                continue
            assert written is not None, (entry, name, mapped)
            if isinstance(documented, str) and documented.startswith('{{'):  # an expression, e.g. an env lookup
                assert documented.strip('{} ') == written.strip(), (entry, name, written)
            else:
                assert yaml.safe_load(written) == documented, (entry, name, written)


def test_shared_names_mean_the_same_in_every_role():
    types, defaults = {}, {}
    for role in ROLES:
        for entry, options in spec_options(role).items():
            for name, option in options.items():
                if name not in SHARED:
                    continue
                types.setdefault(name, set()).add(option.get('type', 'str'))
                if name in HOUSE_DEFAULTS:
                    defaults.setdefault(name, set()).add(option.get('default'))
    assert {name: kinds for name, kinds in types.items() if len(kinds) > 1} == {}
    assert {name: values for name, values in defaults.items() if values != {HOUSE_DEFAULTS[name]}} == {}


@pytest.mark.parametrize('role', ROLES)
def test_every_entry_point_takes_incident_id_and_severity(role):
    for entry, options in spec_options(role).items():
        assert options.get('incident_id', {}).get('type') == 'str', (entry, 'incident_id')
        severity = options.get('severity') or {}
        assert (severity.get('type'), severity.get('choices'), severity.get('required', False)) == (
            'str', ['P0', 'P1', 'P2', 'P3'], False), (entry, 'severity')
