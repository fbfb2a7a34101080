"""Break-glass rules and flow (module_utils/vault/break_glass.py, auth.py, client.py) against a fake hvac."""
import datetime
import json
import os
import stat

import pytest
import requests
from hvac import exceptions as hv

from ansible_collections.halobuzz.ops.plugins.module_utils.vault import break_glass as bg
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.auth import auth_method
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VaultAccessError, describe_error

NOW = datetime.datetime(2026, 11, 26, 22, 40, 5, tzinfo=datetime.timezone.utc)
SECRET = {'uri': 'mongodb://app:s3cr3t-value@db:27017/halobuzz', 'username': 'halobuzz_app', 'password': 's3cr3t-value'}


class FakeVault(object):
    """Just enough of Vault behind hvac's client API: tokens with policies, KV v2, accessors."""

    def __init__(self, read_paths=('production/',), record_writable=True):
        self.tokens = {}  # token -> {accessor, policies, display_name, parent}
        self.kv = {'production/mongodb': [SECRET]}
        self.read_paths = read_paths
        self.record_writable = record_writable
        self.calls = []
        self._n = 0

    def issue(self, policies, display_name, parent=None):
        self._n += 1
        token, accessor = 'hvs.token%d' % self._n, 'acc-%d' % self._n
        self.tokens[token] = dict(accessor=accessor, policies=sorted(policies), display_name=display_name,
                                  parent=parent)
        return {'auth': {'client_token': token, 'accessor': accessor, 'policies': sorted(policies),
                         'token_policies': sorted(policies), 'metadata': {'username': display_name[5:]}}}

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
        self.auth, self.secrets = _Ns(), _Ns()
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
        response = self.vault.issue(['breakglass-production', 'default'], 'ldap-' + username)
        self.token = response['auth']['client_token']
        return response

    def approle_login(self, role_id, secret_id, mount_point):
        self._call('approle_login', role_id=role_id)
        response = self.vault.issue(['breakglass-production'], 'approle')
        self.token = response['auth']['client_token']
        return response

    def lookup_self(self):
        self._call('lookup_self')
        me = self._me()
        return {'data': {'accessor': me['accessor'], 'policies': me['policies'], 'display_name': me['display_name']}}

    def create(self, **kwargs):
        self._call('create', **kwargs)
        me = self._me()
        return self.vault.issue(kwargs['policies'], 'token-' + kwargs['display_name'], parent=me['accessor'])

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
        self.vault.revoke_tree(self.token)

    def read(self, path, version, mount_point, raise_on_deleted_version):
        self._call('read', path=path, version=version, mount_point=mount_point)
        self._me()
        if mount_point != 'secret' or not path.startswith(self.vault.read_paths):
            raise hv.Forbidden(errors=['1 error occurred:\n\t* permission denied\n\n'])
        if path not in self.vault.kv:
            raise hv.InvalidPath()
        return {'data': {'data': dict(self.vault.kv[path][-1]), 'metadata': {'version': len(self.vault.kv[path])}}}

    def write(self, path, secret, mount_point, cas):
        self._call('write', path=path, secret=secret, mount_point=mount_point, cas=cas)
        if not self.vault.record_writable:
            raise hv.Forbidden(errors=['permission denied'])
        self.vault.kv.setdefault(path, []).append(secret)


def params(**overrides):
    base = dict(vault_addr='http://127.0.0.1:8200', auth_method='ldap', username='oncall', password='right',
                mount_point=None, token=None, role_id=None, secret_id=None, requester=None,
                incident_id='INC-2041', reason='restore after failed migration', approved_by='teamlead',
                secret_path='production/mongodb', engine_mount_point='secret', version=None, ttl='15m',
                token_policies=['breakglass-production'], secret_key=None, secret_output_file=None,
                token_accessor=None, login_token_accessor=None, state='present')
    base.update(overrides)
    return base


def open_with(vault, **overrides):
    p = params(**overrides)
    method = auth_method(p)
    request = bg.check_present_params(p, method.requester(), task_no_log=True)
    sink = set()
    result = bg.open_access(p, request, method, vault.client, sink.add, now=NOW)
    return result, sink


@pytest.mark.parametrize('incident_id, reason, approved_by, requester, error', [
    (None, 'r', 'teamlead', 'oncall', 'incident_id is missing'),
    ('  ', 'r', 'teamlead', 'oncall', 'incident_id is missing'),
    ('INC/../x', 'r', 'teamlead', 'oncall', 'must be 1-64 letters'),
    ('INC-1', '', 'teamlead', 'oncall', 'reason is missing'),
    ('INC-1', 'r', None, 'oncall', 'approved_by is missing'),
    ('INC-1', 'r', 'oncall', 'oncall', 'is the requester'),
    ('INC-1', 'r', ' OnCall ', 'oncall', 'is the requester'),
])
def test_validate_request_refuses(incident_id, reason, approved_by, requester, error):
    with pytest.raises(bg.BreakGlassRefused, match=error):
        bg.validate_request(incident_id, reason, approved_by, requester)


def test_validate_request_accepts():
    assert bg.validate_request(' INC-1 ', ' why ', 'teamlead', 'oncall', '30m') == dict(
        incident_id='INC-1', reason='why', approved_by='teamlead', requester='oncall', ttl_seconds=1800)


@pytest.mark.parametrize('ttl, seconds', [(None, 900), ('', 900), ('15m', 900), ('1h', 3600), ('3600', 3600),
                                          (' 90s ', 90), ('60', 60)])
def test_parse_ttl(ttl, seconds):
    assert bg.parse_ttl(ttl) == seconds


@pytest.mark.parametrize('ttl, error', [('2h', 'longer than the break-glass limit'), ('3601', 'longer'),
                                        ('30s', 'shorter'), ('soon', 'not a duration'), ('-5m', 'not a duration')])
def test_parse_ttl_refuses(ttl, error):
    with pytest.raises(bg.BreakGlassRefused, match=error):
        bg.parse_ttl(ttl)


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
    ({'auth_method': 'approle', 'role_id': 'r'}, True, 'give requester'),
    ({'version': 0}, True, 'versions start at 1'),
    ({'approved_by': 'oncall'}, True, 'is the requester'),
    ({'secret_output_file': '/nonexistent-h10/secret.json'}, False, 'directory /nonexistent-h10 does not exist'),
    ({'auth_method': 'approle', 'role_id': 'r', 'requester': 'alice', 'approved_by': 'alice'}, True, 'requester'),
])
def test_check_present_params_refuses_before_vault(overrides, no_log, error):
    p = params(**overrides)
    with pytest.raises(bg.BreakGlassRefused, match=error):
        bg.check_present_params(p, auth_method(p).requester(), no_log)


def test_file_output_needs_no_no_log():
    p = params(secret_output_file='/tmp/x')
    assert bg.check_present_params(p, 'oncall', task_no_log=False)['requester'] == 'oncall'


@pytest.mark.parametrize('overrides, error', [
    ({'password': None}, 'auth_method=ldap needs password'),
    ({'auth_method': 'token'}, 'auth_method=token needs token'),
    ({'auth_method': 'approle'}, 'auth_method=approle needs role_id'),
])
def test_auth_options_checked(overrides, error):
    with pytest.raises(VaultAccessError, match=error):
        auth_method(params(**overrides))


def test_open_access_success():
    vault = FakeVault()
    (record, where, data), sink = open_with(vault)
    assert data == SECRET
    assert where == 'audit/break-glass/INC-2041/20261126T224005Z-acc-2'
    assert vault.kv[where] == [record]
    assert record['token_accessor'] == 'acc-2' and record['login_token_accessor'] == 'acc-1'
    assert record['requester'] == 'oncall' and record['approved_by'] == 'teamlead'
    assert record['version'] == 1 and record['secret_keys'] == ['password', 'uri', 'username']
    assert record['expires_at'] == '2026-11-26T22:55:05Z'
    assert 's3cr3t' not in json.dumps(record)
    assert sink == {'hvs.token1', 'hvs.token2'}
    create = [c for c in vault.calls if c[0] == 'create'][0][2]
    assert create['policies'] == ['breakglass-production'] and create['ttl'] == '900s'
    assert create['renewable'] is False and create['explicit_max_ttl'] == '900s'
    read = [c for c in vault.calls if c[0] == 'read'][0]
    assert read[1] == 'hvs.token2'  # read with the child token, not the login
    write = [c for c in vault.calls if c[0] == 'write'][0]
    assert write[1] == 'hvs.token1' and write[2]['cas'] == 0


def test_default_child_policies_drop_default():
    vault = FakeVault()
    open_with(vault, token_policies=None)
    assert [c for c in vault.calls if c[0] == 'create'][0][2]['policies'] == ['breakglass-production']


@pytest.mark.parametrize('vault, overrides, error', [
    (FakeVault(read_paths=('staging/',)), {},
     r"Permission denied reading secret/data/production/mongodb \(Vault 403: permission denied\)"
     r": the token's policies \['breakglass-production'\] do not allow read"),
    (FakeVault(), {'engine_mount_point': 'kv'}, r"Permission denied reading kv/data/production/mongodb.*engine_mount_point 'kv'"),
    (FakeVault(), {'secret_path': 'production/nothere'}, r'Nothing found reading secret/data/production/nothere'
                                                         r' \(Vault 404\)'),
    (FakeVault(record_writable=False), {}, r'Permission denied writing the access record to secret/data/audit/'
                                           r'break-glass/INC-2041/.*No record, no access'),
])
def test_open_access_errors_revoke_the_child(vault, overrides, error):
    with pytest.raises(VaultAccessError, match=error):
        open_with(vault, **overrides)
    assert [c[2]['accessor'] for c in vault.calls if c[0] == 'revoke_accessor'] == ['acc-2']
    assert vault.tokens == {}  # the child and the login made for it are both revoked


def test_wrong_ldap_password_is_clear():
    vault = FakeVault()
    with pytest.raises(VaultAccessError, match=r"Vault refused logging in as LDAP user 'oncall' at auth/ldap/login "
                                               r"\(Vault 400: ldap operation failed.*Check the LDAP username"):
        open_with(vault, password='wrong')
    assert [c[0] for c in vault.calls] == ['ldap_login']


def test_token_login_approver_is_identity():
    vault = FakeVault()
    vault.issue(['breakglass-production'], 'ldap-teamlead')
    p = params(auth_method='token', token='hvs.token1', username=None, password=None)
    method = auth_method(p)
    request = bg.check_present_params(p, method.requester(), True)
    with pytest.raises(bg.BreakGlassRefused, match='is the Vault identity that logged in'):
        bg.open_access(p, request, method, vault.client, set().add, now=NOW)
    assert 'create' not in [c[0] for c in vault.calls]
    assert list(vault.tokens) == ['hvs.token1']  # the caller's own token is left alone


def test_refusal_after_login_ends_the_login():
    vault = FakeVault()
    with pytest.raises(bg.BreakGlassRefused, match='is the Vault identity'):
        open_with(vault, requester='alice', approved_by='oncall', username='oncall')
    assert vault.tokens == {}


def test_revoke_access_is_idempotent_and_tidy():
    vault = FakeVault()
    (record, _where, _data), _sink = open_with(vault)
    p = params(state='revoked', token_accessor=record['token_accessor'],
               login_token_accessor=record['login_token_accessor'])
    assert bg.revoke_access(p, auth_method(p), vault.client, set().add, check_only=True) == (True, 'active')
    assert vault.by_accessor('acc-2')
    assert bg.revoke_access(p, auth_method(p), vault.client, set().add) == (True, 'active')
    assert not vault.by_accessor('acc-2') and not vault.by_accessor('acc-1')
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
                                               r"on auth/token/lookup-accessor\. The break-glass policy must grant"):
        bg.revoke_by_accessor(client, 'acc-9', ['p'], 'http://v:1')
