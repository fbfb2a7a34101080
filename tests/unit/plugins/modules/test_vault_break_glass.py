"""halobuzz.ops.vault_break_glass main(): documentation matches the argspec; what reaches Vault and the result."""
import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.halobuzz.ops.plugins.doc_fragments.vault import ModuleDocFragment
from ansible_collections.halobuzz.ops.plugins.module_utils.vault import break_glass as bg
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VAULT_CONNECTION
from ansible_collections.halobuzz.ops.plugins.modules import vault_break_glass as module

BASE = dict(vault_addr='http://127.0.0.1:1', username='oncall', password='pw-value-123', incident_id='INC-1',
            reason='why', approved_by='teamlead')
RECORD = {'event': 'vault_break_glass_access', 'token_accessor': 'acc-child', 'token_revoked': True}


def run_main(monkeypatch, args, opened=None, revoked=None):
    calls = []

    def fake_open(params, request, method, factory, sink, check_mode=False):
        calls.append('open')
        sink('hvs.child-token-value')
        return (None, None, None) if check_mode else opened

    def fake_revoke(params, method, factory, sink, check_only=False):
        calls.append(('revoke', check_only))
        return revoked

    monkeypatch.setattr(bg, 'open_access', fake_open)
    monkeypatch.setattr(bg, 'revoke_access', fake_revoke)
    monkeypatch.setattr(bg, 'make_client', lambda params, token=None: calls.append('client'))
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return calls


def output(capsys):
    return json.loads(capsys.readouterr().out)


def test_documentation_matches_the_argspec():
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    documented = dict(yaml.safe_load(module.DOCUMENTATION)['options'], **fragment)
    spec = dict(VAULT_CONNECTION.argument_spec, **module.OPTIONS)
    assert set(spec) == set(documented)
    assert set(VAULT_CONNECTION.argument_spec) == set(fragment)
    for name, option in spec.items():
        assert option.get('default') == documented[name].get('default'), name
        assert option.get('choices') == documented[name].get('choices'), name
    for key in ('RETURN', 'EXAMPLES'):
        assert yaml.safe_load(getattr(module, key))


@pytest.mark.parametrize('args, error', [
    (BASE, 'without no_log'),
    (dict(BASE, reason=' ', _ansible_no_log=True), 'reason is missing'),
    (dict(BASE, action='approve', requester=None), 'requester is missing'),
    (dict(BASE, action='approve', requester='alice', wrap_ttl='2h'), 'longer than the break-glass limit'),
    (dict(BASE, password=None, _ansible_no_log=True), 'auth_method=ldap needs password'),
    (dict(BASE, secret_output_file='/nonexistent-h10/secret.json'), 'directory /nonexistent-h10 does not exist'),
])
def test_refused_before_any_vault_client(monkeypatch, capsys, args, error):
    calls = run_main(monkeypatch, {k: v for k, v in args.items() if v is not None})
    result = output(capsys)
    assert result['failed'] and error in result['msg']
    assert calls == []


def test_present_returns_the_secret_only_to_a_no_log_task(monkeypatch, capsys):
    secret = {'uri': 'mongodb://u:p@h/db', 'password': 'p-secret'}
    calls = run_main(monkeypatch, dict(BASE, _ansible_no_log=True), opened=(RECORD, 'audit/x', secret))
    result = output(capsys)
    assert calls == ['open']
    assert result['secret'] == secret and result['halobuzz_record'] == RECORD == result['access_record']
    assert result['changed'] and result['token_accessor'] == 'acc-child'
    assert 'pw-value-123' not in json.dumps(result)


def test_present_writes_the_file_and_returns_no_secret(monkeypatch, capsys, tmp_path):
    out = tmp_path / 'uri'
    run_main(monkeypatch, dict(BASE, secret_output_file=str(out), secret_key='uri'),
             opened=(RECORD, 'audit/x', {'uri': 'mongodb://u:p@h/db'}))
    result = output(capsys)
    assert 'secret' not in result and result['secret_output_file'] == str(out)
    assert out.read_text() == 'mongodb://u:p@h/db\n'


@pytest.mark.parametrize('to_a_directory', [False, True])
def test_a_failure_after_the_access_opened_hands_nothing_out(monkeypatch, capsys, tmp_path, to_a_directory):
    # A missing secret_key, or a secret_output_file that cannot be written (a directory): a clear failure,
    # no secret (the open step has revoked its tokens already).
    args = (dict(BASE, secret_output_file=str(tmp_path)) if to_a_directory
            else dict(BASE, secret_key='nope', _ansible_no_log=True))
    run_main(monkeypatch, args, opened=(RECORD, 'audit/x', {'uri': 'mongodb://u:p@h/db'}))
    result = output(capsys)
    assert result['failed'] and 'secret' not in result and 'mongodb://u:p@h/db' not in json.dumps(result)


@pytest.mark.parametrize('check_mode, revoked, changed', [(False, (True, 'active'), True),
                                                          (False, (False, 'revoked'), False),
                                                          (True, (True, 'active'), True)])
def test_revoked(monkeypatch, capsys, check_mode, revoked, changed):
    calls = run_main(monkeypatch, dict(vault_addr='http://127.0.0.1:1', username='oncall', password='pw-value-123',
                                       state='revoked', token_accessor='acc-child', _ansible_check_mode=check_mode),
                     revoked=revoked)
    result = output(capsys)
    assert calls == [('revoke', check_mode)] and result['changed'] is changed
    assert result['diff'] == {'before': {'token': revoked[1]}, 'after': {'token': 'revoked'}}
    assert ('halobuzz_record' in result) is (not check_mode)


def test_check_mode_checks_without_opening(monkeypatch, capsys):
    calls = run_main(monkeypatch, dict(BASE, _ansible_check_mode=True))
    result = output(capsys)
    assert result['changed'] and 'Would open break-glass access to secret/production/mongodb for INC-1' in result['msg']
    assert calls == ['open'] and 'secret' not in result


def test_approve_goes_to_the_approval_step(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(bg, 'approve', lambda params, check_mode, method, factory, sink: seen.append(
        (params['requester'], params['wrap_ttl'], params['token_role'], check_mode)) or dict(changed=True))
    calls = run_main(monkeypatch, dict(BASE, action='approve', requester='oncall', username='teamlead'))
    assert output(capsys)['changed'] is True and calls == []
    assert seen == [('oncall', '15m', 'breakglass', False)]
