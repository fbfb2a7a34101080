"""The JWT auth method as a CI runner uses it (issue 16): a JWT signed with a key Vault knows logs in.

Against the emulator, or a real Vault with the JWT method enabled at auth/jwt (HALOBUZZ_USE_ENV=1; skipped
when it is not). Written from hashicorp/vault-plugin-auth-jwt path_login.go, path_role.go, claims.go and
hashicorp/cap jwt (Validator.Validate); every refusal is a 400 with the plugin's text.
"""

import time

import hvac
import hvac.exceptions
import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from _vaultemu_target import start_target

ISSUER = "https://gitlab.halobuzz.example"


def _pem(private_key):
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode()


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    target, stop = start_target(tmp_path_factory.mktemp("vault-jwt"))
    if "jwt/" not in target.root.sys.list_auth_methods()["data"]:
        if stop:
            stop()
        pytest.skip("no JWT auth method at auth/jwt on this Vault")
    root = target.root
    root.write("auth/jwt/config", jwt_validation_pubkeys=[_pem(RSA_KEY), _pem(EC_KEY)], bound_issuer=ISSUER)
    root.write(f"auth/jwt/role/{target.prefix}-ci", role_type="jwt", user_claim="sub",
               bound_audiences=["halobuzz-vault"], bound_claims={"project_path": "halobuzz/ops", "ref": ["main"]},
               token_policies=["default"], token_ttl="10m")
    yield target
    try:
        root.delete(f"auth/jwt/role/{target.prefix}-ci")
    finally:
        if stop:
            stop()


def claims(**changes):
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "project_path:halobuzz/ops:ref:main", "aud": "halobuzz-vault", "iat": now,
            "nbf": now - 5, "exp": now + 300, "project_path": "halobuzz/ops", "ref": "main"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload, key=RSA_KEY, alg="RS256"):
    return pyjwt.encode(payload, key, algorithm=alg)


def login(vault, token, role=None):
    return requests.post(f"{vault.url}/v1/auth/jwt/login", json={"role": role or f"{vault.prefix}-ci", "jwt": token},
                         timeout=10)


@pytest.mark.parametrize("key, alg", [(RSA_KEY, "RS256"), (EC_KEY, "ES256")])
def test_a_signed_jwt_logs_in_with_the_roles_policies(vault, key, alg):
    auth = hvac.Client(url=vault.url).auth.jwt.jwt_login(role=f"{vault.prefix}-ci", jwt=sign(claims(), key, alg))["auth"]
    assert auth["policies"] == ["default"] and auth["lease_duration"] == 600
    assert auth["metadata"] == {"role": f"{vault.prefix}-ci"}
    me = hvac.Client(url=vault.url, token=auth["client_token"]).auth.token.lookup_self()["data"]
    assert me["display_name"] == "jwt-project_path:halobuzz/ops:ref:main" and me["entity_id"]


@pytest.mark.parametrize("token, error", [
    (lambda: sign(claims(), OTHER_KEY), "error validating token: error verifying token signature: no known key "
                                        "successfully validated the token signature"),
    (lambda: sign(claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200, nbf=None)),
     "error validating token: invalid expiration time (exp) claim: token is expired"),
    (lambda: sign(claims(nbf=int(time.time()) + 3600)),
     "error validating token: invalid not before (nbf) claim: token not yet valid"),
    (lambda: sign(claims(iss="https://evil.example")), "error validating token: invalid issuer (iss) claim"),
    (lambda: sign(claims(aud="another-service")),
     "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience"),
    (lambda: sign(claims(ref="feature-x")),
     'error validating claims: claim "ref" does not match any associated bound claim values'),
    (lambda: sign(claims(project_path=None)), 'error validating claims: claim "project_path" is missing'),
    (lambda: sign(claims(sub=None)), 'claim "sub" not found in token'),
])
def test_bad_jwts_are_refused_as_the_plugin_does(vault, token, error):
    resp = login(vault, token())
    assert (resp.status_code, resp.json()) == (400, {"errors": [error]})


def test_role_and_token_are_required(vault):
    assert login(vault, sign(claims()), role="nope").json() == {"errors": ['role "nope" could not be found']}
    resp = requests.post(f"{vault.url}/v1/auth/jwt/login", json={"role": f"{vault.prefix}-ci"}, timeout=10)
    assert (resp.status_code, resp.json()) == (400, {"errors": ["missing token"]})
    with pytest.raises(hvac.exceptions.InvalidRequest, match="could not be found"):
        hvac.Client(url=vault.url).auth.jwt.jwt_login(role="nope", jwt=sign(claims()))


def test_a_role_needs_a_user_claim_and_a_bound_constraint(vault):
    bad = requests.post(f"{vault.url}/v1/auth/jwt/role/{vault.prefix}-bad", headers={"X-Vault-Token": vault.root_token},
                        json={"role_type": "jwt", "user_claim": "sub", "token_policies": ["default"]}, timeout=10)
    assert (bad.status_code, bad.json()) == (
        400, {"errors": ["must have at least one bound constraint when creating/updating a role"]})
    role = vault.root.read(f"auth/jwt/role/{vault.prefix}-ci")["data"]
    assert role["bound_audiences"] == ["halobuzz-vault"] and role["user_claim"] == "sub"
