"""Issue 15: vault_addr over plain http:// to a host that is not loopback is refused before any request
unless allow_insecure_http is true. Vault assumes TLS: tls_disable is an explicit opt-in "to insecure
communication" (https://developer.hashicorp.com/vault/docs/configuration/listener/tcp)."""
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.vault import client as vault_client
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import (
    VAULT_CONNECTION,
    VaultAccessError,
    check_transport,
    make_client,
)


@pytest.mark.parametrize('addr', [
    'https://vault.halobuzz.com', 'https://10.0.0.5:8200', 'HTTPS://Vault.example:8200',
    'http://127.0.0.1:8200', 'http://127.8.9.1:1', 'http://localhost:8200', 'http://LOCALHOST.',
    'http://[::1]:8200',
])
def test_allowed(addr):
    check_transport({'vault_addr': addr})


@pytest.mark.parametrize('addr, shown', [
    ('http://vault.halobuzz.com:8200', 'http://vault.halobuzz.com over plain http'),
    ('HTTP://10.0.0.5:8200', 'http://10.0.0.5 over plain http'),
    ('http://0.0.0.0:8200', 'http://0.0.0.0 '),
    ('http://[2001:db8::1]:8200', 'http://[2001:db8::1] '),
    ('http://localhost.evil.example', 'http://localhost.evil.example '),
    ('http://127.0.0.1.nip.io:8200', 'http://127.0.0.1.nip.io '),
    ('http://admin:S3cretPW@vault.example:8200/', 'http://vault.example '),
])
def test_refused_without_opt_in(addr, shown):
    with pytest.raises(VaultAccessError) as error:
        check_transport({'vault_addr': addr})
    message = str(error.value)
    assert shown in message and 'allow_insecure_http' in message and 'Nothing was sent to Vault' in message
    assert 'S3cretPW' not in message and 'admin' not in message


def test_opt_in_allows_it():
    check_transport({'vault_addr': 'http://vault.halobuzz.com:8200', 'allow_insecure_http': True})


def test_unparsable_addr_is_left_to_hvac():
    check_transport({'vault_addr': 'http://u:pw@[::1'})  # urlsplit raises ValueError: not this check's message


def test_make_client_refuses_before_building_a_client(monkeypatch):
    built = []
    monkeypatch.setattr(vault_client.hvac, 'Client', lambda **kwargs: built.append(kwargs))
    with pytest.raises(VaultAccessError, match='plain http'):
        make_client({'vault_addr': 'http://vault.halobuzz.com:8200'})
    assert built == []
    make_client({'vault_addr': 'http://vault.halobuzz.com:8200', 'allow_insecure_http': True})
    assert len(built) == 1


def test_option_defaults_to_false():
    assert VAULT_CONNECTION.argument_spec['allow_insecure_http'] == dict(type='bool', default=False)
