"""Issue 15: after the login, every path that does not hand the access over revokes the child token
and the login token (in ``finally``), not only a VaultAccessError. Against the fake hvac of
test_vault_break_glass_flow: ``vault.tokens`` is what Vault still holds."""
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.vault import break_glass as bg
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.auth import auth_method
from test_vault_break_glass_flow import FakeVault, open_with, params


def _raise(error):
    def fail(*_args, **_kwargs):
        raise error
    return fail


class Boom(Exception):
    """Not a VaultAccessError: a bug, a library surprise."""


@pytest.mark.parametrize('where', ['read_secret', 'build_access_record', 'write_record', 'record_path'])
def test_an_unexpected_error_after_login_revokes_child_and_login(monkeypatch, where):
    vault = FakeVault()

    def boom(*args, **kwargs):
        assert len(vault.tokens) == 2  # logged in and made the child: both alive at this point
        raise Boom(where)

    monkeypatch.setattr(bg, where, boom)
    with pytest.raises(Boom):
        open_with(vault)
    assert vault.tokens == {}
    assert [c[0] for c in vault.calls][-3:] == ['lookup_accessor', 'revoke_accessor', 'revoke_self']


def test_an_unexpected_error_before_the_child_revokes_the_login(monkeypatch):
    vault = FakeVault()
    monkeypatch.setattr(bg, 'create_child_token', _raise(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        open_with(vault)
    assert vault.tokens == {}


def test_a_failing_secret_sink_still_revokes(monkeypatch):
    vault = FakeVault()
    p = params()
    method = auth_method(p)
    request = bg.check_present_params(p, method.requester(), task_no_log=True)

    def sink(value):
        if len(vault.tokens) == 2:
            raise Boom('mask failed on the child token')

    with pytest.raises(Boom):
        bg.open_access(p, request, method, vault.client, sink)
    assert vault.tokens == {}


def test_success_hands_both_tokens_over_alive():
    vault = FakeVault()
    (record, where, data), sink = open_with(vault)
    accessors = {v['accessor'] for v in vault.tokens.values()}
    assert accessors == {record['token_accessor'], record['login_token_accessor']}


@pytest.mark.parametrize('failure', [Boom('disk full?'), KeyboardInterrupt()])
def test_module_flow_unexpected_error_after_open_revokes_both(monkeypatch, tmp_path, failure):
    """vault_break_glass: writing secret_output_file fails with something unforeseen after the access opened."""
    vault = FakeVault()
    monkeypatch.setattr(bg, 'make_client', lambda p, token=None: vault.client(token))

    def broken_write(path, secret):
        assert len(vault.tokens) == 2
        raise failure

    monkeypatch.setattr(bg, 'write_secret_file', broken_write)
    with pytest.raises(type(failure)):
        bg.vault_break_glass(params(secret_output_file=str(tmp_path / 'out.json')), False, False, lambda v: None)
    assert vault.tokens == {}


def test_module_flow_success_keeps_the_tokens_for_the_role(monkeypatch):
    vault = FakeVault()
    monkeypatch.setattr(bg, 'make_client', lambda p, token=None: vault.client(token))
    result = bg.vault_break_glass(params(), False, True, lambda v: None)
    assert result['secret'] and len(vault.tokens) == 2
