"""Self-approval under every spelling of issue 15 item 1 is refused by the two-person break glass.

A private Vault emulator (tests/sandbox/vaultemu) with the sandbox world's break-glass policies and token
role, plus LDAP accounts that are the requester under another spelling (`oncall@halobuzz.com`,
`HALOBUZZ\\oncall`, `oncall` + zero-width space, Cyrillic `оncall`, full-width `ｏｎｃａｌｌ`) holding the
approver policy, and `lead`, one account holding both policies. Emulator-only: LDAP accounts with these
names cannot be made by a test against a real directory.

For each: the approve step refuses; an approval made without that check (minted through the token role
by the other account, as a tampered client would) is refused by the open step, and the audit path stays
empty. LDAP aliases are lower-cased per user name, so each spelling is a *different* entity in Vault;
only the normalised user name (NFKC, casefold, domain stripped, confusables mapped, non-printing refused)
says they are one person. `lead` approving `lead` is the same entity (vault/token_store.go: a non-orphan
role token inherits its creator's entity_id).
"""
from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import hvac
import pytest
import yaml

from sandbox_support import use_real_env
from vault_approvals import module_params, run_module
from vaultemu import VaultEmulator
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VaultAccessError

pytestmark = pytest.mark.skipif(use_real_env(), reason='emulator-only: needs LDAP accounts named as the attacks')

WORLD = Path(__file__).resolve().parents[1] / 'sandbox' / 'world.yml'
SPELLINGS = ['oncall@halobuzz.com', 'HALOBUZZ\\oncall', 'oncall\u200b', '\u043encall',
             '\uff4f\uff4e\uff43\uff41\uff4c\uff4c', 'ONCALL']


@pytest.fixture(scope='module')
def vault(tmp_path_factory):
    world = yaml.safe_load(WORLD.read_text())['world']['vault']
    passwords = {name: 'pw-' + secrets.token_hex(6) for name in ['oncall', 'lead'] + SPELLINGS}
    users = {'oncall': {'password': passwords['oncall'], 'policies': ['breakglass-requester']},
             'lead': {'password': passwords['lead'], 'policies': ['breakglass-requester', 'breakglass-approver']}}
    for name in SPELLINGS:
        users[name] = {'password': passwords[name], 'policies': ['breakglass-approver']}
    config = {'root_token': 'hvs.root-' + secrets.token_hex(6), 'ldap_users': users, 'policies': world['policies'],
              'token_roles': world['token_roles'],
              'kv': {'secret': {'production/mongodb': {'uri': 'mongodb://app:Pr0dSecret-%s@db/halobuzz'
                                                              % secrets.token_hex(4)}}}}
    emulator = VaultEmulator(config, audit_log=tmp_path_factory.mktemp('vault') / 'audit.log').start()
    yield dict(addr=emulator.url, passwords=passwords,
               admin=hvac.Client(url=emulator.url, token=config['root_token']))
    emulator.stop()


def incident():
    return 'INC-S%s' % uuid.uuid4().hex[:8]


def audit_keys(vault, incident_id):
    try:
        return vault['admin'].secrets.kv.v2.list_secrets(path='audit/break-glass/%s' % incident_id,
                                                         mount_point='secret')['data']['keys']
    except hvac.exceptions.InvalidPath:
        return []


def approve(vault, approver, incident_id, requester):
    params = module_params(vault['addr'], approver, vault['passwords'][approver], action='approve',
                           incident_id=incident_id, requester=requester)
    return run_module(params)[0]


def open_as(vault, user, incident_id):
    params = module_params(vault['addr'], user, vault['passwords'][user], incident_id=incident_id,
                           reason='self-approval test')
    return run_module(params)[0]


def forge_approval(vault, approver, incident_id, requester):
    """An approval written without the approve step's identity check: minted through the token role by
    ``approver`` with its honest Vault identity in the token's meta, recorded as the module would."""
    client = hvac.Client(url=vault['addr'])
    client.auth.ldap.login(approver, vault['passwords'][approver])
    me = client.auth.token.lookup_self()['data']
    name = me['meta']['username']
    wrapped = client.auth.token.create(role_name='breakglass', ttl='5m', renewable=False, wrap_ttl='5m',
                                       meta={'incident_id': incident_id, 'requester': requester, 'approver': name,
                                             'approver_entity_id': me['entity_id']})['wrap_info']
    client.secrets.kv.v2.create_or_update_secret(
        path='approvals/break-glass/%s' % incident_id, mount_point='secret', cas=0,
        secret={'incident_id': incident_id, 'requester': requester, 'approver': name,
                'approver_entity_id': me['entity_id'], 'wrap_token': wrapped['token']})
    return me['entity_id']


def test_a_genuine_approver_still_works(vault):
    """The control: a different person with the approver policy (lead) approves oncall, oncall opens."""
    incident_id = incident()
    assert approve(vault, 'lead', incident_id, 'oncall')['changed'] is True
    result = open_as(vault, 'oncall', incident_id)
    assert result['access_record']['approved_by'] == 'lead' and len(audit_keys(vault, incident_id)) == 1


@pytest.mark.parametrize('spelling', SPELLINGS, ids=['at-domain', 'domain-backslash', 'zero-width-space',
                                                     'cyrillic-o', 'full-width', 'upper-case'])
def test_self_approval_under_another_spelling_is_refused(vault, spelling):
    incident_id = incident()
    refusal = 'non-printing character' if '\u200b' in spelling else 'cannot approve your own access'
    with pytest.raises(VaultAccessError, match=refusal):
        approve(vault, spelling, incident_id, 'oncall')
    with pytest.raises(hvac.exceptions.InvalidPath):  # the refused approve wrote nothing
        vault['admin'].secrets.kv.v2.read_secret_version(path='approvals/break-glass/%s' % incident_id,
                                                         mount_point='secret', raise_on_deleted_version=True)
    approver_entity = forge_approval(vault, spelling, incident_id, 'oncall')
    requester = hvac.Client(url=vault['addr'])
    requester.auth.ldap.login('oncall', vault['passwords']['oncall'])
    same_alias = spelling.lower() == 'oncall'  # the LDAP alias is the user name lower-cased: one entity
    assert (approver_entity == requester.auth.token.lookup_self()['data']['entity_id']) is same_alias
    refusal = 'non-printing character' if '\u200b' in spelling else 'self-approval'
    with pytest.raises(VaultAccessError, match=refusal):
        open_as(vault, 'oncall', incident_id)
    assert audit_keys(vault, incident_id) == []


def test_self_approval_by_the_same_vault_identity_is_refused(vault):
    """`lead` holds both policies: the approve step refuses; a forged approval is refused by Vault's entity."""
    incident_id = incident()
    with pytest.raises(VaultAccessError, match='cannot approve your own access'):
        approve(vault, 'lead', incident_id, 'lead')
    forge_approval(vault, 'lead', incident_id, 'lead')
    with pytest.raises(VaultAccessError, match='self-approval'):
        open_as(vault, 'lead', incident_id)
    assert audit_keys(vault, incident_id) == []
