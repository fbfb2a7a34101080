"""Break-glass access (issue #8): playbooks/break_glass.yml and halobuzz.ops.vault_break_glass against Vault.

Against the sandbox by default. With HALOBUZZ_USE_ENV=1 the same tests run against a real Vault:
VAULT_ADDR, VAULT_LDAP_USERNAME / VAULT_LDAP_PASSWORD (the requester, holding the break-glass
policies, see roles/break_glass/meta/argument_specs.yml), VAULT_TOKEN (an admin token the tests use to
check records and accessors) and, optionally, HALOBUZZ_VAULT_AUDIT_LOG (a file audit device's log).
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from pathlib import Path

import hvac
import pymongo
import pytest
from hvac import exceptions as hv

from sandbox_support import use_real_env
from mongo_helpers import run_module
from ansible_collections.halobuzz.ops.plugins.module_utils.vault import break_glass as bg
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.auth import auth_method
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VaultAccessError, make_client

APPROVER = 'teamlead'
FACT_PLAYBOOK = 'tests/integration/playbooks/break_glass_fact.yml'


@pytest.fixture(scope='module')
def vault(sandbox_env):
    """Everything a test needs to know about the Vault under test."""
    if 'VAULT_ADDR' not in sandbox_env:
        pytest.skip('no VAULT_ADDR (HALOBUZZ_SANDBOX_SKIP has vault, or the environment lacks it)')
    if use_real_env():
        admin_token = os.environ.get('VAULT_TOKEN') or pytest.skip('VAULT_TOKEN (an admin token) is needed to check')
        user, password = os.environ['VAULT_LDAP_USERNAME'], os.environ['VAULT_LDAP_PASSWORD']
        audit = os.environ.get('HALOBUZZ_VAULT_AUDIT_LOG')
    else:
        sandbox_dir = Path(sandbox_env['HALOBUZZ_SANDBOX_DIR'])
        admin_token = json.loads((sandbox_dir / 'secrets.json').read_text())['vault_root_token']
        user, password = sandbox_env['SANDBOX_ONCALL_USER'], sandbox_env['SANDBOX_ONCALL_PASSWORD']
        audit = str(sandbox_dir / 'logs' / 'vault-audit.log')
    admin = hvac.Client(url=sandbox_env['VAULT_ADDR'], token=admin_token)
    secret = admin.secrets.kv.v2.read_secret_version(path='production/mongodb', mount_point='secret',
                                                     raise_on_deleted_version=True)['data']['data']
    return dict(addr=sandbox_env['VAULT_ADDR'], admin=admin, user=user, password=password,
                audit=Path(audit) if audit else None, secret=secret,
                env=dict(sandbox_env, VAULT_LDAP_USERNAME=user, VAULT_LDAP_PASSWORD=password))


def incident():
    return 'INC-T%s' % uuid.uuid4().hex[:8]


def audit_size(vault):
    return vault['audit'].stat().st_size if vault['audit'] and vault['audit'].exists() else None


def break_glass(run_playbook, vault, records, *extra, playbook='break_glass.yml', check=True, **variables):
    args = dict(incident_id=incident(), reason='integration test of the break-glass runbook', approved_by=APPROVER)
    args.update(variables)
    argv = ['-e', json.dumps({k: v for k, v in args.items() if v is not None})] + list(extra)
    return run_playbook(playbook, *argv, env=dict(vault['env'], HALOBUZZ_RECORDS_DIR=str(records)), check=check)


def run_record(records):
    lines = []
    for path in sorted(records.glob('*.jsonl')):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return lines


def assert_revoked(vault, accessor):
    with pytest.raises(hv.InvalidRequest, match='invalid accessor'):
        vault['admin'].auth.token.lookup_accessor(accessor)


def assert_secret_nowhere(vault, *texts):
    values = [v for v in vault['secret'].values() if isinstance(v, str) and len(v) >= 8]
    assert values, 'the seeded secret has no value long enough to look for'
    haystacks = list(texts)
    if vault['audit']:
        haystacks.append(vault['audit'].read_text())
    for value in values:
        for text in haystacks:
            assert value not in text


@pytest.mark.parametrize('variables, error', [
    ({'incident_id': None}, 'missing required arguments: incident_id'),
    ({'incident_id': ''}, 'incident_id is missing'),
    ({'approved_by': ''}, 'approved_by is missing'),
    ({'approved_by': '@requester'}, 'is the requester'),
])
def test_refused_before_any_vault_request(run_playbook, vault, tmp_path, variables, error):
    if variables.get('approved_by') == '@requester':
        variables = dict(approved_by=vault['user'].upper())
    before = audit_size(vault)
    result = break_glass(run_playbook, vault, tmp_path, check=False, **variables)
    assert result.rc != 0
    assert error in result.stdout
    if before is not None:
        assert audit_size(vault) == before, 'a refused request reached Vault'


def test_wrong_ldap_password_is_a_clear_error(run_playbook, vault, tmp_path):
    result = break_glass(run_playbook, vault, tmp_path, '-e', 'vault_ldap_password=not-the-password', check=False)
    assert result.rc != 0
    assert "Vault refused logging in as LDAP user '%s' at auth/ldap/login (Vault 400" % vault['user'] in result.stdout
    assert 'Check the LDAP username and password' in result.stdout


def _open(vault, sink=None, **overrides):
    params = dict(vault_addr=vault['addr'], auth_method='ldap', username=vault['user'], password=vault['password'],
                  mount_point=None, token=None, role_id=None, secret_id=None, requester=None,
                  incident_id=incident(), reason='integration test', approved_by=APPROVER,
                  secret_path='production/mongodb', engine_mount_point='secret', version=None, ttl='2m',
                  token_policies=['breakglass-production-read'], secret_key=None, secret_output_file=None,
                  token_accessor=None, login_token_accessor=None, validate_certs=True, ca_cert=None, timeout=10)
    params.update(overrides)
    method = auth_method(params)
    request = bg.check_present_params(params, method.requester(), task_no_log=True)
    tokens = [] if sink is None else sink
    result = bg.open_access(params, request, method, lambda token: make_client(params, token), tokens.append)
    return params, result, tokens


@pytest.mark.parametrize('overrides, error', [
    ({'secret_path': 'staging/mongodb'},
     "Permission denied reading secret/data/staging/mongodb (Vault 403: permission denied): the token's policies "
     "['breakglass-production-read'] do not allow read"),
    ({'engine_mount_point': 'kv'}, "Permission denied reading kv/data/production/mongodb (Vault 403"),
    ({'secret_path': 'production/nothere'}, 'Nothing found reading secret/data/production/nothere (Vault 404)'),
    ({'version': 999}, 'Nothing found reading secret/data/production/mongodb (Vault 404)'),
])
def test_vault_errors_are_clear_and_revoke_the_child(vault, overrides, error):
    tokens = []
    with pytest.raises(VaultAccessError) as caught:
        _open(vault, sink=tokens, **overrides)
    assert error in str(caught.value)
    assert len(tokens) == 2  # logged in and made a child token, then revoked both
    for token in tokens:
        with pytest.raises(hv.Forbidden):
            hvac.Client(url=vault['addr'], token=token).auth.token.lookup_self()


def test_child_token_is_revoked_afterwards(vault):
    params, (record, where, data), tokens = _open(vault)
    login_token, child_token = tokens
    child = hvac.Client(url=vault['addr'], token=child_token)
    assert child.secrets.kv.v2.read_secret_version(path='production/mongodb', mount_point='secret',
                                                   raise_on_deleted_version=True)['data']['data'] == data
    revoke = dict(params, state='revoked', token_accessor=record['token_accessor'],
                  login_token_accessor=record['login_token_accessor'])
    assert bg.revoke_access(revoke, auth_method(revoke), lambda t: make_client(revoke, t), tokens.append) == (
        True, 'active')
    with pytest.raises(hv.Forbidden):
        child.auth.token.lookup_self()
    with pytest.raises(hv.Forbidden):
        hvac.Client(url=vault['addr'], token=login_token).auth.token.lookup_self()
    assert bg.revoke_access(revoke, auth_method(revoke), lambda t: make_client(revoke, t), tokens.append) == (
        False, 'revoked')


def test_success_records_and_leaks_nothing(run_playbook, vault, tmp_path):
    """Fact mode (-vvv): the secret reaches a following task, the access is recorded, the token revoked."""
    records = tmp_path / 'records'
    result = break_glass(run_playbook, vault, records, '-vvv', playbook=FACT_PLAYBOOK,
                         expected_uri_sha256=hashlib.sha256(vault['secret']['uri'].encode()).hexdigest())
    assert result.recap['localhost']['failed'] == 0
    lines = run_record(records)
    access = [line['record'] for line in lines if line['type'] == 'record'
              and line['record'].get('event') == 'vault_break_glass_access']
    revoked = [line['record'] for line in lines if line['type'] == 'record'
               and line['record'].get('event') == 'vault_break_glass_revoked']
    assert len(access) == 1 and len(revoked) == 1
    record = access[0]
    assert (record['requester'], record['approved_by'], record['path'], record['version']) == (
        vault['user'], APPROVER, 'production/mongodb', 1)
    assert record['token_policies'] == ['breakglass-production-read'] and record['token_ttl_seconds'] == 900
    assert revoked[0]['token_accessor'] == record['token_accessor'] and revoked[0]['revoked'] is True
    listed = vault['admin'].secrets.kv.v2.list_secrets(path='audit/break-glass/%s' % record['incident_id'],
                                                       mount_point='secret')['data']['keys']
    assert len(listed) == 1
    stored = vault['admin'].secrets.kv.v2.read_secret_version(
        path='audit/break-glass/%s/%s' % (record['incident_id'], listed[0]), mount_point='secret',
        raise_on_deleted_version=True)['data']['data']
    assert stored == record
    assert_revoked(vault, record['token_accessor'])
    assert_revoked(vault, record['login_token_accessor'])
    assert_secret_nowhere(vault, result.stdout, result.stderr,
                          *[p.read_text() for p in records.iterdir()])


def test_secret_output_file_is_private(run_playbook, vault, tmp_path):
    out = tmp_path / 'mongodb-uri'
    records = tmp_path / 'records'
    result = break_glass(run_playbook, vault, records, secret_output_file=str(out), break_glass_secret_key='uri')
    assert out.read_text() == vault['secret']['uri'] + '\n'
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    record = [line['record'] for line in run_record(records) if line['type'] == 'record'][0]
    assert_revoked(vault, record['token_accessor'])
    assert_secret_nowhere(vault, result.stdout, *[p.read_text() for p in records.iterdir()])


def test_check_mode_opens_nothing(run_playbook, vault, tmp_path):
    incident_id = incident()
    result = break_glass(run_playbook, vault, tmp_path, '--check', '-v', incident_id=incident_id)
    assert result.recap['localhost']['failed'] == 0
    assert 'Would open break-glass access to secret/production/mongodb' in result.stdout
    with pytest.raises(hv.InvalidPath):
        vault['admin'].secrets.kv.v2.list_secrets(path='audit/break-glass/%s' % incident_id, mount_point='secret')


def test_db_rollback_takes_mongodb_uri_from_vault(run_playbook, vault, scenario, sandbox_env, tmp_path):
    """playbooks/db_rollback.yml with mongodb_uri_from_vault: the corrupted database is restored with the URI
    read through the break_glass role; the access is recorded and its token revoked."""
    if not sandbox_env.get('KUBECONFIG') or not sandbox_env.get('MONGODB_URI'):
        pytest.skip('db_rollback needs the sandbox MongoDB and Kubernetes')
    scenario('healthy')
    archive = tmp_path / 'healthy.archive'
    failed, result = run_module(sandbox_env, 'mongodb_backup', {'mongodb_uri': sandbox_env['MONGODB_URI'],
                                                                'dest': str(archive), 'databases': ['halobuzz']})
    assert not failed, result
    with pymongo.MongoClient(sandbox_env['MONGODB_URI']) as client:
        healthy = {name: client.halobuzz[name].count_documents({}) for name in ('users', 'streams', 'gifts')}
    scenario('db-corruption')
    records = tmp_path / 'records'
    result = run_playbook('db_rollback.yml', '-e', json.dumps({
        'backup_archive': str(archive), 'safety_backup_dir': str(tmp_path / 'safety'),
        'mongodb_uri_from_vault': True, 'incident_id': incident(), 'reason': 'restore after the failed migration',
        'approved_by': APPROVER}),
        # no MONGODB_URI, so the inventory has no mongodb_uri (as in production); -e would outrank set_fact
        env=dict(vault['env'], HALOBUZZ_RECORDS_DIR=str(records), MONGODB_URI=''))
    assert result.recap['localhost']['failed'] == 0
    with pymongo.MongoClient(sandbox_env['MONGODB_URI']) as client:
        assert {name: client.halobuzz[name].count_documents({}) for name in healthy} == healthy
    access = [line['record'] for line in run_record(records) if line['type'] == 'record'
              and line['record'].get('event') == 'vault_break_glass_access']
    assert [(a['path'], a['secret_keys']) for a in access] == [('production/mongodb', ['password', 'uri', 'username'])]
    assert_revoked(vault, access[0]['token_accessor'])
    assert_secret_nowhere(vault, result.stdout, result.stderr, *[p.read_text() for p in records.iterdir()])
