"""Two-person break glass, enforced by Vault (issue 15 item 1): playbooks/break_glass.yml and
halobuzz.ops.vault_break_glass against Vault.

Against the sandbox by default. With HALOBUZZ_USE_ENV=1 the same tests run against a real Vault:
VAULT_ADDR, VAULT_LDAP_USERNAME / VAULT_LDAP_PASSWORD (the requester, policy breakglass-requester),
VAULT_APPROVER_USERNAME / VAULT_APPROVER_PASSWORD (policy breakglass-approver), VAULT_TOKEN (an admin
token the tests use to check records) and, optionally, HALOBUZZ_VAULT_AUDIT_LOG (a file audit device's log).
Vault behaviour relied on (and emulated, tests/sandbox/test_vaultemu_wrapping.py): token roles and entity
inheritance (vault/token_store.go handleCreateCommon), single-use response wrapping (vault/wrapping.go,
api-docs/system/wrapping-unwrap), KV v2 create vs update by existence (api-docs/secret/kv/kv-v2, policies).
"""
from __future__ import annotations

import hashlib
import json
import stat

import hvac
import pymongo
import pytest
from hvac import exceptions as hv

from mongo_helpers import run_module
from vault_approvals import (
    approval_record,
    approve,
    audit_records,
    incident,
    module_params,
    open_access,
    run_module as run_break_glass,
    vault_under_test,
)
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VaultAccessError

FACT_PLAYBOOK = 'tests/integration/playbooks/break_glass_fact.yml'
TAMPER = 'wrapping token is not valid or does not exist'


@pytest.fixture(scope='module')
def vault(sandbox_env):
    return vault_under_test(sandbox_env)


def audit_size(vault):
    return vault['audit'].stat().st_size if vault['audit'] and vault['audit'].exists() else None


def break_glass(run_playbook, vault, records, *extra, playbook='break_glass.yml', check=True, approver=False,
                **variables):
    args = dict(incident_id=incident(), reason='integration test of the break-glass runbook')
    args.update(variables)
    argv = ['-e', json.dumps({k: v for k, v in args.items() if v is not None})] + list(extra)
    env = vault['approver_env'] if approver else vault['env']
    return run_playbook(playbook, *argv, env=dict(env, HALOBUZZ_RECORDS_DIR=str(records)), check=check)


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


def requester_client(vault):
    client = hvac.Client(url=vault['addr'])
    client.auth.ldap.login(vault['user'], vault['password'])
    return client


# -- Vault enforces it: the requester alone ---------------------------------------------------------

def test_requester_alone_cannot_read_production_by_any_vault_call(vault):
    """Done when: the requester's own token cannot read secret/data/production/mongodb (403), by hvac directly."""
    client = requester_client(vault)
    with pytest.raises(hv.Forbidden):
        client.secrets.kv.v2.read_secret_version(path='production/mongodb', mount_point='secret',
                                                 raise_on_deleted_version=True)
    with pytest.raises(hv.Forbidden):  # nor mint a reader through the token role, nor a child token
        client.auth.token.create(role_name='breakglass')
    with pytest.raises(hv.Forbidden):
        client.auth.token.create(policies=['breakglass-production-read'])
    with pytest.raises(hv.Forbidden):  # nor change its own policy
        client.sys.create_or_update_acl_policy('breakglass-requester', '{"path": {"secret/*": {"capabilities": ["read"]}}}')


# -- refused before anything is read or recorded ----------------------------------------------------

@pytest.mark.parametrize('variables, error', [
    ({'incident_id': None}, 'missing required arguments: incident_id'),
    ({'incident_id': ''}, 'incident_id is missing'),
    ({'incident_id': '../x'}, 'must be 1-64 letters'),
    ({'reason': ''}, 'reason is missing'),
])
def test_refused_before_any_vault_request(run_playbook, vault, tmp_path, variables, error):
    before = audit_size(vault)
    result = break_glass(run_playbook, vault, tmp_path, check=False, **variables)
    assert result.rc != 0
    assert error in result.stdout
    assert 'Traceback' not in result.stdout + result.stderr
    if before is not None:
        assert audit_size(vault) == before, 'a refused request reached Vault'


def test_wrong_ldap_password_is_a_clear_error(run_playbook, vault, tmp_path):
    result = break_glass(run_playbook, vault, tmp_path, '-e', 'vault_ldap_password=not-the-password', check=False)
    assert result.rc != 0
    assert "Vault refused logging in as LDAP user '%s' at auth/ldap/login (Vault 400" % vault['user'] in result.stdout
    assert 'Check the LDAP username and password' in result.stdout


def test_open_without_approval_fails_and_records_nothing(run_playbook, vault, tmp_path):
    """Typed names prove nothing: approved_by and a requester label do not stand in for an approval."""
    incident_id = incident()
    result = break_glass(run_playbook, vault, tmp_path, check=False, incident_id=incident_id,
                         approved_by='nobody-checks-this', requester='someone-else')
    assert result.rc != 0
    assert 'no approval for incident %s' % incident_id in result.stdout
    assert 'break_glass_action=approve' in result.stdout
    assert audit_records(vault, incident_id) == []


def test_approval_for_another_incident_is_refused(vault):
    approved, other = incident(), incident()
    approve(vault, approved)
    with pytest.raises(VaultAccessError, match='no approval for incident %s' % other):
        open_access(vault, other)
    # the approval record copied to the other incident's path: its own incident id says where it belongs
    record = approval_record(vault, approved)
    vault['admin'].secrets.kv.v2.create_or_update_secret(path='approvals/break-glass/%s' % other, secret=record,
                                                         mount_point='secret')
    with pytest.raises(VaultAccessError, match="is for incident '%s'" % approved):
        open_access(vault, other)
    # ... relabelled as well: Vault's token says which incident it was minted for (and it is spent now)
    vault['admin'].secrets.kv.v2.create_or_update_secret(path='approvals/break-glass/%s' % other,
                                                         secret=dict(record, incident_id=other), mount_point='secret')
    with pytest.raises(VaultAccessError, match="minted for incident '%s', not %s" % (approved, other)):
        open_access(vault, other)
    assert audit_records(vault, other) == [] and audit_records(vault, approved) == []


def test_already_unwrapped_token_is_the_tamper_signal(vault):
    """Someone unwrapped the approval's token first: the requester's open fails, nothing is recorded."""
    incident_id = incident()
    approve(vault, incident_id)
    stolen = vault['admin'].sys.unwrap(token=approval_record(vault, incident_id)['wrap_token'])
    assert stolen['auth']['client_token']
    with pytest.raises(VaultAccessError) as caught:
        open_access(vault, incident_id)
    assert TAMPER in str(caught.value) and 'security incident' in str(caught.value)
    assert audit_records(vault, incident_id) == []


def test_approver_cannot_approve_their_own_access(vault):
    with pytest.raises(VaultAccessError, match='cannot approve your own access'):
        approve(vault, incident(), requester=vault['approver'].upper() + '@halobuzz.com')


# -- approve, then open: once -----------------------------------------------------------------------

def test_approve_then_open_succeeds_once_and_leaks_nothing(run_playbook, vault, tmp_path):
    """Done when: approve -> open succeeds once, a second open with the same approval fails (-vvv, no secret)."""
    incident_id = incident()
    approved = break_glass(run_playbook, vault, tmp_path / 'approve', '-vvv', approver=True, incident_id=incident_id,
                           requester=vault['user'], break_glass_action='approve', reason=None)
    assert approved.recap['localhost']['failed'] == 0 and approved.recap['localhost']['changed'] == 1
    approval = approval_record(vault, incident_id)
    assert approval['wrap_token'] not in approved.stdout + approved.stderr
    again = break_glass(run_playbook, vault, tmp_path / 'approve2', approver=True, incident_id=incident_id,
                        requester=vault['user'], break_glass_action='approve', reason=None)
    assert again.recap['localhost']['changed'] == 0  # a pending approval for the same requester stays
    assert approval_record(vault, incident_id)['wrap_token'] == approval['wrap_token']

    records = tmp_path / 'records'
    result = break_glass(run_playbook, vault, records, '-vvv', playbook=FACT_PLAYBOOK, incident_id=incident_id,
                         expected_uri_sha256=hashlib.sha256(vault['secret']['uri'].encode()).hexdigest())
    assert result.recap['localhost']['failed'] == 0
    access = [line['record'] for line in run_record(records) if line['type'] == 'record'
              and line['record'].get('event') == 'vault_break_glass_access']
    assert len(access) == 1
    record = access[0]
    assert (record['requester'], record['approved_by'], record['path'], record['version']) == (
        vault['user'], vault['approver'], 'production/mongodb', 1)
    assert record['approver_entity_id'] and record['requester_entity_id']
    assert record['approver_entity_id'] != record['requester_entity_id']
    assert record['token_policies'] == ['breakglass-production-read', 'default']
    listed = audit_records(vault, incident_id)
    assert len(listed) == 1
    stored = vault['admin'].secrets.kv.v2.read_secret_version(
        path='audit/break-glass/%s/%s' % (incident_id, listed[0]), mount_point='secret',
        raise_on_deleted_version=True)['data']['data']
    assert stored == record
    assert_revoked(vault, record['token_accessor'])
    assert_secret_nowhere(vault, result.stdout, result.stderr, *[p.read_text() for p in records.iterdir()])
    assert approval['wrap_token'] not in result.stdout + result.stderr

    second = break_glass(run_playbook, vault, tmp_path / 'second', incident_id=incident_id, check=False)
    assert second.rc != 0 and TAMPER in second.stdout and 'Traceback' not in second.stdout + second.stderr
    assert audit_records(vault, incident_id) == listed


def test_records_cannot_be_overwritten_by_the_requester(vault):
    """Done when: the audit and approval records are create-only for the requester (no update, no delete)."""
    incident_id = incident()
    approve(vault, incident_id)
    result = open_access(vault, incident_id)
    client = requester_client(vault)
    for path in (result['record_path'], 'approvals/break-glass/%s' % incident_id):
        before = vault['admin'].secrets.kv.v2.read_secret_version(path=path, mount_point='secret',
                                                                  raise_on_deleted_version=True)['data']
        with pytest.raises(hv.Forbidden):
            client.secrets.kv.v2.create_or_update_secret(path=path, secret={'requester': 'someone-else'},
                                                         mount_point='secret')
        with pytest.raises(hv.Forbidden):
            client.secrets.kv.v2.create_or_update_secret(path=path, secret={'requester': 'someone-else'},
                                                         mount_point='secret', cas=before['metadata']['version'])
        with pytest.raises(hv.Forbidden):
            client.secrets.kv.v2.delete_latest_version_of_secret(path=path, mount_point='secret')
        with pytest.raises(hv.Forbidden):
            client.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point='secret')
        after = vault['admin'].secrets.kv.v2.read_secret_version(path=path, mount_point='secret',
                                                                 raise_on_deleted_version=True)['data']
        assert after == before


def test_secret_output_file_is_private(run_playbook, vault, tmp_path):
    incident_id = incident()
    approve(vault, incident_id)
    out = tmp_path / 'mongodb-uri'
    records = tmp_path / 'records'
    result = break_glass(run_playbook, vault, records, incident_id=incident_id, secret_output_file=str(out),
                         break_glass_secret_key='uri')
    assert out.read_text() == vault['secret']['uri'] + '\n'
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    record = [line['record'] for line in run_record(records) if line['type'] == 'record'][0]
    assert_revoked(vault, record['token_accessor'])
    assert_secret_nowhere(vault, result.stdout, *[p.read_text() for p in records.iterdir()])


def test_check_mode_opens_nothing(run_playbook, vault, tmp_path):
    incident_id = incident()
    approve(vault, incident_id)
    result = break_glass(run_playbook, vault, tmp_path, '--check', '-v', incident_id=incident_id)
    assert result.recap['localhost']['failed'] == 0
    assert 'Would open break-glass access to secret/production/mongodb' in result.stdout
    assert audit_records(vault, incident_id) == []
    assert open_access(vault, incident_id)['changed'] is True  # the approval is still there to open


def test_approve_check_mode_mints_nothing(vault):
    incident_id = incident()
    params = module_params(vault['addr'], vault['approver'], vault['approver_password'], action='approve',
                           incident_id=incident_id, requester=vault['user'])
    result = run_break_glass(params, check_mode=True)[0]
    assert result['changed'] is True and 'Would approve' in result['msg']
    with pytest.raises(hv.InvalidPath):
        approval_record(vault, incident_id)


def test_db_rollback_takes_mongodb_uri_from_vault(run_playbook, vault, scenario, sandbox_env, tmp_path):
    """playbooks/db_rollback.yml with mongodb_uri_from_vault: after an approval, the corrupted database is
    restored with the URI read through the break_glass role; the access is recorded and its token revoked."""
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
    vault = vault_under_test(sandbox_env)  # the scenario re-seeded Vault
    incident_id = incident()
    approve(vault, incident_id)
    records = tmp_path / 'records'
    result = run_playbook('db_rollback.yml', '-e', json.dumps({
        'backup_archive': str(archive), 'safety_backup_dir': str(tmp_path / 'safety'),
        'mongodb_uri_from_vault': True, 'incident_id': incident_id, 'reason': 'restore after the failed migration',
        'approved_by': vault['approver']}),
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
