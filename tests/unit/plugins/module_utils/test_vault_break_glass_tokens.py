"""Issue 15: after the login, every path of the open step revokes the tokens it holds (in ``finally``):
the minted read token once unwrapped, and the requester's login - on success too (the secret is
already in hand), not only on a VaultAccessError. Against the fake hvac of test_vault_break_glass_flow:
``vault.tokens`` is what Vault still holds."""
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.vault import break_glass as bg
from test_vault_break_glass_flow import FakeVault, approve_with, open_with, params, requester_tokens


class Boom(Exception):
    """Not a VaultAccessError: a bug, a library surprise."""


@pytest.mark.parametrize('where', ['read_secret', 'build_access_record', 'write_record', 'record_path',
                                   'check_unwrapped'])
def test_an_unexpected_error_after_unwrap_revokes_the_minted_token_and_the_login(monkeypatch, where):
    vault = FakeVault()
    approve_with(vault)

    def boom(*args, **kwargs):
        assert len(requester_tokens(vault)) == 2  # logged in and unwrapped: both alive at this point
        raise Boom(where)

    monkeypatch.setattr(bg, where, boom)
    with pytest.raises(Boom):
        open_with(vault)
    assert requester_tokens(vault) == []


def test_an_unexpected_error_before_unwrap_revokes_the_login(monkeypatch):
    vault = FakeVault()
    approve_with(vault)
    monkeypatch.setattr(bg, 'check_approval', lambda *a: (_ for _ in ()).throw(Boom('check')))
    with pytest.raises(Boom):
        open_with(vault)
    assert requester_tokens(vault) == []


def test_a_failing_secret_sink_still_revokes():
    vault = FakeVault()
    approve_with(vault)
    p = params()
    calls = []

    def sink(value):
        calls.append(value)
        if len(calls) == 3:  # the minted token
            raise Boom('sink')

    with pytest.raises(Boom):
        bg.open_access(p, bg.check_open_params(p, True), bg.auth_method(p), vault.client, sink)
    assert requester_tokens(vault) == []


def test_success_revokes_too():
    vault = FakeVault()
    approve_with(vault)
    (record, _where, _data), _sink = open_with(vault)
    assert record['token_revoked'] is True and requester_tokens(vault) == []


@pytest.mark.parametrize('failure', [dict(secret_key='nope'), dict(secret_output_file='/')])
def test_module_flow_failure_after_open_leaves_no_token(monkeypatch, failure):
    vault = FakeVault()
    approve_with(vault)
    monkeypatch.setattr(bg, 'make_client', lambda params, token=None: vault.client(token))
    with pytest.raises(bg.VaultAccessError):
        bg.vault_break_glass(params(**failure), False, True, set().add)
    assert requester_tokens(vault) == []
