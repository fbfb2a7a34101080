"""Two-person break-glass rules and flow (module_utils/vault/break_glass.py, approval.py, auth.py, client.py)
against a fake hvac that keeps Vault's rules that matter here: token roles inherit the creator's entity,
wrapped responses unwrap once, KV v2 writes with cas, the read policy only on minted tokens."""
import datetime
import json
import os
import stat

import pytest
import requests
from hvac import exceptions as hv

from ansible_collections.halobuzz.ops.plugins.module_utils.vault import approval as ap
from ansible_collections.halobuzz.ops.plugins.module_utils.vault import break_glass as bg
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.auth import auth_method
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VaultAccessError, describe_error

NOW = datetime.datetime(2026, 11, 26, 22, 40, 5, tzinfo=datetime.timezone.utc)
SECRET = {'uri': 'mongodb://app:s3cr3t-value@db:27017/halobuzz', 'username': 'halobuzz_app', 'password': 's3cr3t-value'}
INVALID_WRAP = 'wrapping token is not valid or does not exist'
READ_POLICY = 'breakglass-production-read'


class FakeVault(object):
    """Tokens (policies, entity, meta, parent), a token role, response wrapping, KV v2 with versions."""

    def __init__(self, read_paths=('production/',), record_writable=True, approvers=('teamlead', 'lead'),
                 requesters=('oncall', 'lead')):
        self.tokens = {}
        self.kv = {'production/mongodb': [SECRET]}
        self.read_paths = read_paths
        self.record_writable = record_writable
        self.approvers, self.requesters = approvers, requesters
        self.calls = []
        self._n = 0

    def issue(self, policies, display_name, parent=None, entity='', meta=None, wrapped=None):
        self._n += 1
        token, accessor = 'hvs.token%d' % self._n, 'acc-%d' % self._n
        self.tokens[token] = dict(accessor=accessor, policies=sorted(policies), display_name=display_name,
                                  parent=parent, entity=entity, meta=meta or {}, wrapped=wrapped)
        return {'auth': {'client_token': token, 'accessor': accessor, 'policies': sorted(policies),
                         'token_policies': sorted(policies), 'metadata': meta or {}, 'entity_id': entity}}

    def revoke_tree(self, token):
        gone = self.tokens.pop(token, None)
        for child in [t for t, v in self.tokens.items() if gone and v['parent'] == gone['accessor']]:
            self.revoke_tree(child)

    def by_accessor(self, accessor):
        return [t for t, v in self.tokens.items() if v['accessor'] == accessor]

    def client(self, token):
        return FakeClient(self, token)


class _Ns(object):
    pass


class FakeClient(object):
    def __init__(self, vault, token):
        self.vault, self.token = vault, token
        self.auth, self.secrets, self.sys, self.adapter = _Ns(), _Ns(), _Ns(), _Ns()
        self.auth.ldap, self.auth.approle, self.auth.token = _Ns(), _Ns(), _Ns()
        self.secrets.kv = _Ns()
        self.secrets.kv.v2 = _Ns()
        self.auth.ldap.login = self.ldap_login
        self.auth.approle.login = self.approle_login
        self.auth.token.lookup_self = self.lookup_self
        self.auth.token.create = self.create
        self.auth.token.lookup_accessor = self.lookup_accessor
        self.auth.token.revoke_accessor = self.revoke_accessor
        self.auth.token.revoke_self = self.revoke_self
        self.secrets.kv.v2.read_secret_version = self.read
        self.secrets.kv.v2.create_or_update_secret = self.write
        self.sys.unwrap = self.unwrap
        self.adapter.post = self.post

    def _call(self, name, **kwargs):
        self.vault.calls.append((name, self.token, kwargs))

    def _me(self):
        if self.token not in self.vault.tokens:
            raise hv.Forbidden(errors=['permission denied'])
        return self.vault.tokens[self.token]

    def ldap_login(self, username, password, mount_point):
        self._call('ldap_login', username=username, mount_point=mount_point)
        if mount_point != 'ldap' or password != 'right':
            raise hv.InvalidRequest(errors=['ldap operation failed: failed to bind as user'])
        policies = ['default'] + (['breakglass-approver'] if username in self.vault.approvers else []) + (
            ['breakglass-requester'] if username in self.vault.requesters else [])
        response = self.vault.issue(policies, 'ldap-' + username, entity='ent-' + username.lower(),
                                    meta={'username': username})
        self.token = response['auth']['client_token']
        return response

    def approle_login(self, role_id, secret_id, mount_point):
        self._call('approle_login', role_id=role_id)
        response = self.vault.issue(['breakglass-requester'], 'approle', entity='ent-approle')
        self.token = response['auth']['client_token']
        return response

    def lookup_self(self):
        self._call('lookup_self')
        me = self._me()
        return {'data': {'accessor': me['accessor'], 'policies': me['policies'], 'display_name': me['display_name'],
                         'entity_id': me['entity'], 'meta': me['meta'] or None}}

    def create(self, **kwargs):
        self._call('create', **kwargs)
        me = self._me()
        if kwargs.get('role_name') != 'breakglass' or 'breakglass-approver' not in me['policies']:
            raise hv.Forbidden(errors=['1 error occurred:\n\t* permission denied\n\n'])
        made = self.vault.issue([READ_POLICY, 'default'], 'token-' + kwargs['display_name'], parent=me['accessor'],
                                entity=me['entity'], meta=kwargs.get('meta'))
        if not kwargs.get('wrap_ttl'):
            return made
        wrap = self.vault.issue(['response-wrapping'], 'response-wrapping', wrapped=made)
        return {'wrap_info': {'token': wrap['auth']['client_token'], 'accessor': wrap['auth']['accessor'],
                              'ttl': int(kwargs['wrap_ttl'].rstrip('s')), 'creation_path': 'auth/token/create/breakglass',
                              'wrapped_accessor': made['auth']['accessor']}, 'auth': None}

    def _wrap_token(self, token):
        entry = self.vault.tokens.get(token)
        if not entry or entry['wrapped'] is None:
            raise hv.InvalidRequest(errors=[INVALID_WRAP])
        return entry

    def post(self, url, json=None):
        self._call('post', url=url)
        assert url == '/v1/sys/wrapping/lookup'
        self._wrap_token(json['token'])
        return {'data': {'creation_path': 'auth/token/create/breakglass', 'creation_ttl': 900}}

    def unwrap(self, token):
        self._call('unwrap')
        self._me()
        entry = self._wrap_token(token)
        del self.vault.tokens[token]
        return entry['wrapped']

    def lookup_accessor(self, accessor):
        self._call('lookup_accessor', accessor=accessor)
        self._me()
        if not self.vault.by_accessor(accessor):
            raise hv.InvalidRequest(errors=['invalid accessor'])
        return {'data': {'accessor': accessor}}

    def revoke_accessor(self, accessor):
        self._call('revoke_accessor', accessor=accessor)
        for token in self.vault.by_accessor(accessor):
            del self.vault.tokens[token]

    def revoke_self(self):
        self._call('revoke_self')
        self._me()
        self.vault.revoke_tree(self.token)

    def read(self, path, mount_point, raise_on_deleted_version, version=None):
        self._call('read', path=path, version=version, mount_point=mount_point)
        me = self._me()
        readable = path.startswith(('approvals/', 'audit/')) or (
            READ_POLICY in me['policies'] and path.startswith(self.vault.read_paths))
        if mount_point != 'secret' or not readable:
            raise hv.Forbidden(errors=['1 error occurred:\n\t* permission denied\n\n'])
        if path not in self.vault.kv or (version or 1) > len(self.vault.kv[path]):
            raise hv.InvalidPath()
        return {'data': {'data': dict(self.vault.kv[path][-1]), 'metadata': {'version': len(self.vault.kv[path])}}}

    def write(self, path, secret, mount_point, cas):
        self._call('write', path=path, secret=secret, mount_point=mount_point, cas=cas)
        self._me()
        if not self.vault.record_writable:
            raise hv.Forbidden(errors=['permission denied'])
        if cas != len(self.vault.kv.get(path, [])):
            raise hv.InvalidRequest(errors=['check-and-set parameter did not match the current version'])
        self.vault.kv.setdefault(path, []).append(secret)


def params(**overrides):
    base = dict(vault_addr='http://127.0.0.1:8200', auth_method='ldap', username='oncall', password='right',
                mount_point=None, token=None, role_id=None, secret_id=None, requester=None,
                incident_id='INC-2041', reason='restore after failed migration', approved_by=None,
                secret_path='production/mongodb', engine_mount_point='secret', version=None, ttl='15m',
                wrap_ttl='15m', token_role='breakglass', secret_key=None, secret_output_file=None,
                token_accessor=None, login_token_accessor=None, state='present', action='open')
    base.update(overrides)
    return base


def approve_with(vault, approver='teamlead', requester='oncall', check_mode=False, **overrides):
    p = params(action='approve', username=approver, requester=requester, reason=None, **overrides)
    return ap.approve(p, check_mode, auth_method(p), vault.client, set().add, now=NOW)


def open_with(vault, check_mode=False, **overrides):
    p = params(**overrides)
    method = auth_method(p)
    request = bg.check_open_params(p, task_no_log=True)
    sink = set()
    result = bg.open_access(p, request, method, vault.client, sink.add, check_mode=check_mode, now=NOW)
    return result, sink


def requester_tokens(vault):
    """The requester's logins, and minted tokens out of their wrap (a token still wrapped is nobody's yet)."""
    wrapped = set(v['wrapped']['auth']['client_token'] for v in vault.tokens.values() if v['wrapped'])
    return [t for t, v in vault.tokens.items() if v['display_name'] in ('ldap-oncall', 'ldap-lead') or (
        v['policies'] == [READ_POLICY, 'default'] and t not in wrapped)]


@pytest.mark.parametrize('incident_id, reason, error', [
    (None, 'r', 'incident_id is missing'),
    ('  ', 'r', 'incident_id is missing'),
    ('INC/../x', 'r', 'must be 1-64 letters'),
    ('INC-1', '', 'reason is missing'),
])
def test_validate_request_refuses(incident_id, reason, error):
    with pytest.raises(bg.BreakGlassRefused, match=error):
        bg.validate_request(incident_id, reason, 'teamlead', 'oncall')


def test_validate_request_keeps_typed_names_as_labels():
    assert bg.validate_request(' INC-1 ', ' why ', 'nobody-checks-this', 'someone-else') == dict(
        incident_id='INC-1', reason='why', approved_by_label='nobody-checks-this', requester_label='someone-else')


@pytest.mark.parametrize('ttl, seconds', [(None, 900), ('', 900), ('15m', 900), ('1h', 3600), ('3600', 3600),
                                          (' 90s ', 90), ('60', 60)])
def test_parse_ttl(ttl, seconds):
    assert ap.seconds(ttl, 'ttl', 900, 60, 3600, '1h') == seconds


@pytest.mark.parametrize('ttl, error', [('2h', 'longer than the break-glass limit'), ('3601', 'longer'),
                                        ('30s', 'shorter'), ('soon', 'not a duration'), ('-5m', 'not a duration')])
def test_parse_ttl_refuses(ttl, error):
    with pytest.raises(bg.BreakGlassRefused, match=error):
        ap.seconds(ttl, 'ttl', 900, 60, 3600, '1h')


@pytest.mark.parametrize('path, expected', [('production/mongodb', 'production/mongodb'),
                                            ('/production/mongodb/', 'production/mongodb')])
def test_normalize_secret_path(path, expected):
    assert bg.normalize_secret_path(path, 'secret') == expected


@pytest.mark.parametrize('path, error', [('', 'empty'), ('production/../x', 'segment'),
                                         ('secret/production/mongodb', "starts with the KV mount 'secret/'"),
                                         ('secret/data/production/mongodb', "'production/mongodb'")])
def test_normalize_secret_path_refuses(path, error):
    with pytest.raises(bg.BreakGlassRefused, match=error):
        bg.normalize_secret_path(path, 'secret')


@pytest.mark.parametrize('overrides, no_log, error', [
    ({}, False, 'without no_log'),
    ({'version': 0}, True, 'versions start at 1'),
    ({'reason': ' '}, True, 'reason is missing'),
    ({'secret_output_file': '/nonexistent-h10/secret.json'}, False, 'directory /nonexistent-h10 does not exist'),
])
def test_check_open_params_refuses_before_vault(overrides, no_log, error):
    with pytest.raises(bg.BreakGlassRefused, match=error):
        bg.check_open_params(params(**overrides), no_log)


def test_file_output_needs_no_no_log():
    assert bg.check_open_params(params(secret_output_file='/tmp/x'), task_no_log=False)['incident_id'] == 'INC-2041'


@pytest.mark.parametrize('overrides, error', [
    ({'password': None}, 'auth_method=ldap needs password'),
    ({'auth_method': 'token'}, 'auth_method=token needs token'),
    ({'auth_method': 'approle'}, 'auth_method=approle needs role_id'),
])
def test_auth_options_checked(overrides, error):
    with pytest.raises(VaultAccessError, match=error):
        auth_method(params(**overrides))


def test_approve_then_open():
    vault = FakeVault()
    approved = approve_with(vault)
    assert approved['changed'] is True and 'wrap_token' not in json.dumps(approved)
    stored = vault.kv['approvals/break-glass/INC-2041'][-1]
    assert (stored['approver'], stored['approver_entity_id'], stored['requester']) == (
        'teamlead', 'ent-teamlead', 'oncall')
    assert stored['wrap_token'] in vault.tokens and stored['approved_at'] == '2026-11-26T22:40:05Z'
    create = [c for c in vault.calls if c[0] == 'create'][0][2]
    assert create['role_name'] == 'breakglass' and create['wrap_ttl'] == '900s' and create['renewable'] is False
    assert create['meta']['approver'] == 'teamlead' and create['meta']['incident_id'] == 'INC-2041'
    vault.calls[:] = []
    (record, where, data), sink = open_with(vault)
    assert data == SECRET
    minted = stored['token_accessor']
    assert where == 'audit/break-glass/INC-2041/20261126T224005Z-%s' % minted
    assert vault.kv[where] == [record]
    assert (record['requester'], record['requester_entity_id'], record['approved_by'],
            record['approver_entity_id']) == ('oncall', 'ent-oncall', 'teamlead', 'ent-teamlead')
    assert record['version'] == 1 and record['secret_keys'] == ['password', 'uri', 'username']
    assert 's3cr3t' not in json.dumps(record)
    assert stored['wrap_token'] in sink and len(sink) == 3  # login, wrapping and minted tokens all masked
    read = [c for c in vault.calls if c[0] == 'read' and c[2]['path'] == 'production/mongodb'][0]
    write = [c for c in vault.calls if c[0] == 'write'][0]
    assert read[1] != write[1]  # read with the minted token, not the login
    assert write[2]['cas'] == 0
    assert requester_tokens(vault) == []  # minted token and the requester's login revoked
    with pytest.raises(bg.BreakGlassRefused, match=INVALID_WRAP):  # once only
        open_with(vault)
    assert list(vault.kv) == ['production/mongodb', 'approvals/break-glass/INC-2041', where]


def _approval_by(vault, by, **record_changes):
    approve_with(vault, approver=by, requester='oncall')
    vault.kv['approvals/break-glass/INC-2041'][-1].update(record_changes)


@pytest.mark.parametrize('prepare, error', [
    (lambda vault: None, 'no approval for incident INC-2041.*break_glass_action=approve'),
    (lambda vault: _approval_by(vault, 'teamlead', incident_id='INC-9'), "is for incident 'INC-9'"),
    (lambda vault: _approval_by(vault, 'teamlead', requester='alice'), "is for 'alice', and you are oncall"),
    (lambda vault: _approval_by(vault, 'teamlead', approver='ONCALL@halobuzz.com'), 'self-approval'),
    (lambda vault: _approval_by(vault, 'teamlead', approver='oncall\u200b'), 'non-printing character'),
    (lambda vault: _approval_by(vault, 'teamlead', wrap_token='hvs.gone'), INVALID_WRAP + '.*security incident'),
    (lambda vault: _approval_by(vault, 'teamlead', wrap_token=None), 'holds no wrapped token'),
])
def test_open_refusals_record_nothing_and_revoke_everything(prepare, error):
    vault = FakeVault()
    prepare(vault)
    with pytest.raises(VaultAccessError, match=error):
        open_with(vault)
    assert not [k for k in vault.kv if k.startswith('audit/')]
    assert requester_tokens(vault) == []


def test_an_approval_minted_by_the_requesters_own_entity_is_refused_after_unwrap():
    vault = FakeVault()
    approve_with(vault, approver='lead', requester='oncall')
    record = vault.kv['approvals/break-glass/INC-2041'][-1]
    record['requester'] = 'lead'
    with pytest.raises(VaultAccessError, match=r'self-approval.*Vault says.*ent-lead|self-approval'):
        open_with(vault, username='lead')
    assert not [k for k in vault.kv if k.startswith('audit/')]
    assert [vault.tokens[t]['display_name'] for t in requester_tokens(vault)] == ['ldap-lead']  # the approve login


def test_a_token_minted_for_another_incident_is_refused_after_unwrap():
    vault = FakeVault()
    approve_with(vault, incident_id='INC-1')
    vault.kv['approvals/break-glass/INC-2041'] = [dict(vault.kv['approvals/break-glass/INC-1'][-1],
                                                       incident_id='INC-2041')]
    with pytest.raises(VaultAccessError, match="minted for incident 'INC-1', not INC-2041"):
        open_with(vault)
    assert requester_tokens(vault) == []


@pytest.mark.parametrize('vault, overrides, error', [
    (FakeVault(read_paths=('staging/',)), {},
     r"Permission denied reading secret/data/production/mongodb \(Vault 403: permission denied\)"),
    (FakeVault(), {'secret_path': 'production/nothere'}, r'Nothing found reading secret/data/production/nothere'),
    (FakeVault(), {'version': 9}, r'Nothing found reading secret/data/production/mongodb'),
])
def test_errors_after_unwrap_revoke_the_minted_token(vault, overrides, error):
    approve_with(vault)
    with pytest.raises(VaultAccessError, match=error):
        open_with(vault, **overrides)
    assert requester_tokens(vault) == []
    assert not [k for k in vault.kv if k.startswith('audit/')]


def test_record_write_failure_hands_nothing_out():
    vault = FakeVault()
    approve_with(vault)
    vault.record_writable = False
    with pytest.raises(VaultAccessError, match=r'Permission denied writing the access record to .*No record, no access'):
        open_with(vault)
    assert requester_tokens(vault) == []


def test_check_mode_open_does_not_unwrap():
    vault = FakeVault()
    approve_with(vault)
    assert open_with(vault, check_mode=True)[0] == (None, None, None)
    assert 'unwrap' not in [c[0] for c in vault.calls]
    assert open_with(vault)[0][2] == SECRET


@pytest.mark.parametrize('overrides, error', [
    ({'requester': ''}, 'requester is missing'),
    ({'requester': 'TeamLead@halobuzz.com'}, 'cannot approve your own access'),
    ({'requester': 'teamlead\u200b'}, 'non-printing character'),
    ({'wrap_ttl': '2h'}, 'longer than the break-glass limit'),
    ({'incident_id': '../x'}, 'must be 1-64 letters'),
])
def test_approve_refusals_mint_nothing(overrides, error):
    vault = FakeVault()
    with pytest.raises(VaultAccessError, match=error):
        approve_with(vault, **overrides)
    assert 'create' not in [c[0] for c in vault.calls] and list(vault.kv) == ['production/mongodb']


def test_approve_needs_an_identity():
    vault = FakeVault()
    vault.issue(['breakglass-approver'], 'root')
    with pytest.raises(VaultAccessError, match='carries no Vault identity'):
        approve_with(vault, approver=None, auth_method='token', token='hvs.token1', password=None)


def test_approve_is_idempotent_while_pending_and_supersedes_a_used_one():
    vault = FakeVault()
    approve_with(vault)
    again = approve_with(vault)
    assert again['changed'] is False and 'pending approval' in again['msg']
    assert len(vault.kv['approvals/break-glass/INC-2041']) == 1
    with pytest.raises(bg.BreakGlassRefused, match="pending approval for 'oncall'"):
        approve_with(vault, requester='alice')
    open_with(vault)
    assert approve_with(vault)['changed'] is True  # the used one is superseded (cas = its version)
    assert [c[2]['cas'] for c in vault.calls if c[0] == 'write' and c[2]['path'].startswith('approvals/')] == [0, 1]


def test_approve_check_mode_mints_nothing():
    vault = FakeVault()
    assert 'Would approve' in approve_with(vault, check_mode=True)['msg']
    assert 'create' not in [c[0] for c in vault.calls]


def test_approval_that_cannot_be_recorded_discards_the_wrapped_token():
    vault = FakeVault(record_writable=False)
    with pytest.raises(VaultAccessError, match='No record, no approval'):
        approve_with(vault)
    assert not [t for t, v in vault.tokens.items() if v['wrapped'] or v['policies'] == [READ_POLICY, 'default']]


def test_wrong_ldap_password_is_clear():
    vault = FakeVault()
    with pytest.raises(VaultAccessError, match=r"Vault refused logging in as LDAP user 'oncall' at auth/ldap/login "
                                               r"\(Vault 400: ldap operation failed.*Check the LDAP username"):
        open_with(vault, password='wrong')
    assert [c[0] for c in vault.calls] == ['ldap_login']


def test_revoke_access_is_idempotent_and_tidy():
    vault = FakeVault()
    vault.issue(['x'], 'token-x')  # hvs.token1 / acc-1
    p = params(state='revoked', token_accessor='acc-1', username='teamlead')
    assert bg.revoke_access(p, auth_method(p), vault.client, set().add, check_only=True) == (True, 'active')
    assert vault.by_accessor('acc-1')
    assert bg.revoke_access(p, auth_method(p), vault.client, set().add) == (True, 'active')
    assert not vault.by_accessor('acc-1')
    assert bg.revoke_access(p, auth_method(p), vault.client, set().add) == (False, 'revoked')
    assert vault.tokens == {}  # every login made to revoke was revoked too


@pytest.mark.parametrize('exc, error', [
    (requests.exceptions.ConnectionError('refused'), r'Cannot reach Vault at http://v:1 while reading a/b'),
    (requests.exceptions.SSLError('bad cert'), 'TLS verification failed reading a/b.*ca_cert'),
    (hv.VaultDown(errors=['Vault is sealed']), 'is sealed.*Vault 503: Vault is sealed'),
    (hv.InternalServerError(errors=['boom']), r'Vault refused reading a/b \(Vault 500: boom\)'),
])
def test_describe_error(exc, error):
    assert pytest.raises(VaultAccessError, _raise, describe_error(exc, 'reading', 'a/b', 'http://v:1')).match(error)


def _raise(exc):
    raise exc


@pytest.mark.parametrize('secret, key, text', [(SECRET, None, json.dumps(SECRET, sort_keys=True) + '\n'),
                                               (SECRET, 'uri', SECRET['uri'] + '\n')])
def test_write_secret_file(tmp_path, secret, key, text):
    target = tmp_path / 'out'
    target.write_text('old')
    os.chmod(str(target), 0o644)
    bg.write_secret_file(str(target), bg.select_secret(secret, key, 'secret', 'p'))
    assert target.read_text() == text
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ['out']


def test_secret_file_errors(tmp_path):
    with pytest.raises(VaultAccessError, match='does not exist'):
        bg.write_secret_file(str(tmp_path / 'missing' / 'out'), 'x')
    with pytest.raises(VaultAccessError, match=r"has no key 'url' \(it has \['password', 'uri', 'username'\]\)"):
        bg.select_secret(SECRET, 'url', 'secret', 'production/mongodb')


def test_revoke_without_the_capability_is_clear():
    vault = FakeVault()
    client = vault.client(None)
    client.auth.token.lookup_accessor = lambda accessor: _raise(hv.Forbidden(errors=['permission denied']))
    with pytest.raises(VaultAccessError, match=r"Permission denied calling auth/token/lookup-accessor \(Vault 403: "
                                               r"permission denied\): the token's policies \['p'\] do not allow update "
                                               r"on auth/token/lookup-accessor\."):
        bg.revoke_by_accessor(client, 'acc-9', ['p'], 'http://v:1')
