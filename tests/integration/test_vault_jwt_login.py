"""halobuzz.ops Vault auth_method=jwt (issue 16, CI runs): a JWT the test signs logs the module in.

A private Vault emulator with the JWT auth method configured as a CI pipeline's Vault would be
(hashicorp/vault-plugin-auth-jwt: jwt_validation_pubkeys, bound_issuer, a role bound to audience and
claims); the collection's JwtAuth logs in with hvac's jwt_login, from VAULT_JWT or VAULT_JWT_FILE.
Emulator-only: a real Vault's JWT mount and keys belong to its operators.
"""
from __future__ import annotations

import time

import hvac
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox_support import use_real_env
from vaultemu import VaultEmulator
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.auth import auth_method
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VaultAccessError, make_client

pytestmark = pytest.mark.skipif(use_real_env(), reason='emulator-only: configures the JWT auth method itself')

KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER = 'https://token.actions.githubusercontent.com'


@pytest.fixture(scope='module')
def vault():
    emulator = VaultEmulator({'root_token': 'root', 'policies': {'ci-audit': {'path': {
        'secret/data/ci/*': {'capabilities': ['read']}}}}, 'kv': {'secret': {'ci/redis': {'url': 'redis://x'}}}}).start()
    root = hvac.Client(url=emulator.url, token='root')
    pem = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    root.write('auth/jwt/config', jwt_validation_pubkeys=[pem], bound_issuer=ISSUER)
    root.write('auth/jwt/role/halobuzz-ci', role_type='jwt', user_claim='sub', bound_audiences=['halobuzz-vault'],
               bound_claims={'repository': 'halobuzz/halobuzz.ops'}, token_policies=['ci-audit'], token_ttl='15m')
    yield emulator.url
    emulator.stop()


def signed(**changes):
    now = int(time.time())
    claims = {'iss': ISSUER, 'sub': 'repo:halobuzz/halobuzz.ops:ref:refs/heads/main', 'aud': 'halobuzz-vault',
              'repository': 'halobuzz/halobuzz.ops', 'iat': now, 'exp': now + 300}
    claims.update(changes)
    return pyjwt.encode(claims, KEY, algorithm='ES256')


def params(url, **overrides):
    base = dict(vault_addr=url, auth_method='jwt', mount_point=None, jwt_role='halobuzz-ci', jwt=None,
                jwt_file=None, token=None, username=None, password=None, role_id=None, secret_id=None)
    base.update(overrides)
    return base


@pytest.mark.parametrize('source', ['jwt', 'jwt_file'])
def test_jwt_login_reads_what_the_role_allows(vault, tmp_path, source):
    token_file = tmp_path / 'id-token'
    token_file.write_text(signed() + '\n')
    p = params(vault, **({'jwt': signed()} if source == 'jwt' else {'jwt_file': str(token_file)}))
    client = make_client(p)
    login = auth_method(p).login(client)
    assert login.method == 'jwt' and login.policies == ['ci-audit', 'default']
    assert client.secrets.kv.v2.read_secret_version(path='ci/redis', mount_point='secret',
                                                    raise_on_deleted_version=True)['data']['data'] == {'url': 'redis://x'}


@pytest.mark.parametrize('overrides, error', [
    ({'jwt': None}, 'auth_method=jwt needs jwt or jwt_file'),
    ({'jwt_role': None, 'jwt': 'x'}, 'auth_method=jwt needs jwt_role'),
    ({'jwt_file': '/nonexistent-h16/id-token'}, 'Cannot read jwt_file /nonexistent-h16/id-token'),
])
def test_missing_jwt_inputs_are_refused_before_vault(vault, overrides, error):
    with pytest.raises(VaultAccessError, match=error):
        auth_method(params(vault, **overrides)).login(make_client(params(vault, **overrides)))


@pytest.mark.parametrize('token, vault_says', [
    (lambda: signed(exp=int(time.time()) - 600, iat=int(time.time()) - 900),
     'invalid expiration time (exp) claim: token is expired'),
    (lambda: signed(repository='someone/else'), 'claim "repository" does not match any associated bound claim values'),
    (lambda: signed(aud='other'), 'invalid audience (aud) claim'),
])
def test_vaults_refusal_is_shown_with_what_to_check(vault, token, vault_says):
    p = params(vault, jwt=token())
    with pytest.raises(VaultAccessError) as caught:
        auth_method(p).login(make_client(p))
    message = str(caught.value)
    assert "Vault refused logging in with JWT role 'halobuzz-ci' at auth/jwt/login (Vault 400" in message
    assert vault_says in message and 'VAULT_JWT_ROLE' in message
    assert p['jwt'] not in message
