"""Token roles, response wrapping and login identity: the Vault features the two-person break glass rests on.

Against the emulator, or a real Vault with HALOBUZZ_USE_ENV=1 (see _vaultemu_target.py). Written from
Vault's source and API docs:
- vault/token_store.go handleCreateCommon (role policies, orphan, explicit max TTL, num uses, entity
  inheritance) and website/content/api-docs/auth/token.mdx ("Create token role", "Create token");
- vault/wrapping.go (wrapInCubbyhole: one-use orphan token with the response-wrapping policy;
  ValidateWrappingToken) and http/logical.go (400 "wrapping token is not valid or does not exist"),
  website/content/api-docs/system/wrapping-{lookup,unwrap,rewrap}.mdx;
- vault/request_handling.go (X-Vault-Wrap-TTL on any request -> wrap_info);
- builtin/credential/ldap (meta.username, display_name ldap-<user>, one entity per alias).
"""

import json
import uuid

import hvac
import hvac.exceptions
import pytest
import requests

from _vaultemu_target import emulator_only, require_ldap, start_target

INVALID_WRAP = {"errors": ["wrapping token is not valid or does not exist"]}


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    target, stop = start_target(tmp_path_factory.mktemp("vault-wrap"))
    prefix = target.prefix
    root = target.root
    root.sys.create_or_update_acl_policy(f"{prefix}-read", json.dumps({"path": {
        f"secret/data/{prefix}/prod/*": {"capabilities": ["read"]}}}))
    root.sys.create_or_update_acl_policy(f"{prefix}-minter", json.dumps({"path": {
        f"auth/token/create/{prefix}-role": {"capabilities": ["update"]},
        f"auth/token/create/{prefix}-orphan": {"capabilities": ["update"]},
        "auth/token/create": {"capabilities": ["update"]},
        f"secret/data/{prefix}/records/*": {"capabilities": ["create", "read"]},
        f"auth/token/roles/{prefix}-made": {"capabilities": ["create", "read"]},
    }}))
    root.secrets.kv.v2.create_or_update_secret(f"{prefix}/prod/db", {"password": "wrapped-value"},
                                               mount_point="secret")
    root.write(f"auth/token/roles/{prefix}-role", allowed_policies=[f"{prefix}-read"],
               disallowed_policies=[f"{prefix}-minter"], orphan=False, renewable=False,
               token_explicit_max_ttl="30m", token_num_uses=3)
    yield target
    try:
        root.delete(f"auth/token/roles/{prefix}-role")
        root.delete(f"auth/token/roles/{prefix}-made")
        root.secrets.kv.v2.delete_metadata_and_all_versions(f"{prefix}/prod/db", mount_point="secret")
        root.secrets.kv.v2.delete_metadata_and_all_versions(f"{prefix}/records/r1", mount_point="secret")
        for name in ("read", "minter"):
            root.sys.delete_acl_policy(f"{prefix}-{name}")
    finally:
        if stop:
            stop()


def raw(vault, method, path, token=None, headers=None, **kwargs):
    hdrs = dict(headers or {})
    if token:
        hdrs["X-Vault-Token"] = token
    return requests.request(method, f"{vault.url}/v1/{path}", headers=hdrs, timeout=10, **kwargs)


def minter(vault):
    return vault.root.auth.token.create(policies=[f"{vault.prefix}-minter"], ttl="30m")["auth"]["client_token"]


def test_token_role_read_back_as_written(vault):
    data = vault.root.read(f"auth/token/roles/{vault.prefix}-role")["data"]
    assert data["allowed_policies"] == [f"{vault.prefix}-read"]
    assert data["disallowed_policies"] == [f"{vault.prefix}-minter"]
    assert (data["orphan"], data["renewable"], data["token_explicit_max_ttl"], data["token_num_uses"]) == (
        False, False, 1800, 3)
    assert f"{vault.prefix}-role" in vault.root.list("auth/token/roles")["data"]["keys"]


def test_create_against_role_gets_the_roles_policies_bounds_and_path(vault):
    token = minter(vault)
    auth = vault.client(token).auth.token.create(role_name=f"{vault.prefix}-role", ttl="2h")["auth"]
    assert auth["policies"] == sorted(["default", f"{vault.prefix}-read"])
    assert auth["renewable"] is False and auth["num_uses"] == 3
    assert auth["lease_duration"] == 1800  # capped by the role's token_explicit_max_ttl
    info = vault.root.auth.token.lookup(auth["client_token"])["data"]
    assert info["path"] == f"auth/token/create/{vault.prefix}-role"
    assert info["explicit_max_ttl"] == 1800 and info["orphan"] is False


def test_role_refuses_policies_outside_allowed_and_disallowed(vault):
    token = minter(vault)
    resp = raw(vault, "POST", f"auth/token/create/{vault.prefix}-role", token=token,
               json={"policies": [f"{vault.prefix}-read", "other"]})
    assert resp.status_code == 400
    assert resp.json() == {"errors": [
        f'token policies (["default" "other" "{vault.prefix}-read"]) must be subset of the role\'s allowed '
        f'policies (["default" "{vault.prefix}-read"])']}
    vault.root.write(f"auth/token/roles/{vault.prefix}-deny", disallowed_policies=[f"{vault.prefix}-minter"])
    try:
        resp = raw(vault, "POST", f"auth/token/create/{vault.prefix}-deny", token=vault.root_token,
                   json={"policies": [f"{vault.prefix}-minter"]})
        assert resp.status_code == 400
        assert resp.json() == {"errors": [f'token policy "{vault.prefix}-minter" is disallowed by this role']}
    finally:
        vault.root.delete(f"auth/token/roles/{vault.prefix}-deny")
    unknown = raw(vault, "POST", f"auth/token/create/{vault.prefix}-none", token=vault.root_token, json={})
    assert unknown.status_code == 400 and unknown.json() == {"errors": [f"unknown role {vault.prefix}-none"]}


def test_role_token_uses_run_out(vault):
    auth = vault.client(minter(vault)).auth.token.create(role_name=f"{vault.prefix}-role")["auth"]
    reader = vault.client(auth["client_token"])
    for _ in range(3):
        reader.secrets.kv.v2.read_secret_version(f"{vault.prefix}/prod/db", mount_point="secret",
                                                 raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        reader.secrets.kv.v2.read_secret_version(f"{vault.prefix}/prod/db", mount_point="secret",
                                                 raise_on_deleted_version=True)


def test_orphan_role_token_outlives_its_creator(vault):
    vault.root.write(f"auth/token/roles/{vault.prefix}-orphan", allowed_policies=[f"{vault.prefix}-read"],
                     orphan=True)
    try:
        creator = minter(vault)
        made = vault.client(creator).auth.token.create(role_name=f"{vault.prefix}-orphan")["auth"]
        child = vault.client(creator).auth.token.create(policies=["default"])["auth"]
        assert made["orphan"] is True and child["orphan"] is False
        vault.client(creator).auth.token.revoke_self()
        vault.root.auth.token.lookup(made["client_token"])  # still alive
        with pytest.raises(hvac.exceptions.Forbidden):
            vault.root.auth.token.lookup(child["client_token"])
    finally:
        vault.root.delete(f"auth/token/roles/{vault.prefix}-orphan")


def test_role_write_is_create_then_update(vault):
    """pathRoles has an ExistenceCheck: writing a new role needs `create`, changing one needs `update`."""
    token = minter(vault)
    made = raw(vault, "POST", f"auth/token/roles/{vault.prefix}-made", token=token,
               json={"allowed_policies": "default"})
    assert made.status_code == 204
    again = raw(vault, "POST", f"auth/token/roles/{vault.prefix}-made", token=token, json={"orphan": True})
    assert again.status_code == 403


def test_any_response_can_be_wrapped_and_unwrapped_once(vault):
    resp = raw(vault, "GET", f"secret/data/{vault.prefix}/prod/db", token=vault.root_token,
               headers={"X-Vault-Wrap-TTL": "5m"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["data"] is None and body["auth"] is None
    info = body["wrap_info"]
    assert info["ttl"] == 300 and info["creation_path"] == f"secret/data/{vault.prefix}/prod/db"
    assert info["token"] and info["accessor"] and info["creation_time"]
    looked = raw(vault, "POST", "sys/wrapping/lookup", json={"token": info["token"]})  # no client token needed
    assert looked.status_code == 200
    assert looked.json()["data"] == {"creation_ttl": 300, "creation_time": info["creation_time"],
                                     "creation_path": f"secret/data/{vault.prefix}/prod/db"}
    unwrapped = vault.client(info["token"]).sys.unwrap()  # the wrapping token as the client token
    assert unwrapped["data"]["data"] == {"password": "wrapped-value"}
    for attempt in (lambda: raw(vault, "POST", "sys/wrapping/unwrap", token=info["token"]),
                    lambda: raw(vault, "POST", "sys/wrapping/unwrap", token=vault.root_token,
                                json={"token": info["token"]}),
                    lambda: raw(vault, "POST", "sys/wrapping/lookup", json={"token": info["token"]})):
        again = attempt()
        assert (again.status_code, again.json()) == (400, INVALID_WRAP)


def test_wrapped_role_token_unwrapped_by_a_third_party_carries_the_creators_entity(vault):
    require_ldap(vault)
    login = vault.client()
    login.auth.ldap.login(vault.oncall_user, vault.oncall_password)
    me = login.auth.token.lookup_self()["data"]
    assert me["entity_id"] and me["meta"] == {"username": vault.oncall_user}
    assert me["display_name"] == f"ldap-{vault.oncall_user}"
    again = vault.client()
    again.auth.ldap.login(vault.oncall_user, vault.oncall_password)
    assert again.auth.token.lookup_self()["data"]["entity_id"] == me["entity_id"]  # one entity per alias
    child = login.auth.token.create(policies=["default"], ttl="5m")["auth"]
    assert child["entity_id"] == me["entity_id"]  # a non-orphan child inherits the entity
    wrapped = vault.root.auth.token.create(role_name=f"{vault.prefix}-role", wrap_ttl="2m")
    assert wrapped["auth"] is None and wrapped["wrap_info"]["creation_path"] == f"auth/token/create/{vault.prefix}-role"
    unwrapped = login.sys.unwrap(token=wrapped["wrap_info"]["token"])["auth"]
    assert unwrapped["accessor"] == wrapped["wrap_info"]["wrapped_accessor"]
    assert unwrapped["entity_id"] == ""  # the root token has no entity
    with pytest.raises(hvac.exceptions.InvalidRequest, match="wrapping token is not valid or does not exist"):
        login.sys.unwrap(token=wrapped["wrap_info"]["token"])


def test_rewrap_invalidates_the_old_token(vault):
    wrapped = vault.root.auth.token.create(role_name=f"{vault.prefix}-role", wrap_ttl="2m")["wrap_info"]
    resp = raw(vault, "POST", "sys/wrapping/rewrap", token=vault.root_token, json={"token": wrapped["token"]})
    assert resp.status_code == 200
    new = resp.json()["wrap_info"]
    assert new["token"] != wrapped["token"] and new["ttl"] == 120
    assert new["creation_path"] == f"auth/token/create/{vault.prefix}-role"
    old = raw(vault, "POST", "sys/wrapping/unwrap", token=vault.root_token, json={"token": wrapped["token"]})
    assert (old.status_code, old.json()) == (400, INVALID_WRAP)
    assert vault.root.sys.unwrap(token=new["token"])["auth"]["policies"] == sorted(["default", f"{vault.prefix}-read"])


def test_not_a_wrapping_token_is_refused(vault):
    ordinary = vault.root.auth.token.create(policies=["default"], ttl="1m")["auth"]["client_token"]
    for token in (ordinary, "hvs.not-a-token-" + uuid.uuid4().hex):
        resp = raw(vault, "POST", "sys/wrapping/unwrap", token=vault.root_token, json={"token": token})
        assert (resp.status_code, resp.json()) == (400, INVALID_WRAP)


@emulator_only
def test_expired_wrap_fails_like_an_unknown_one(tmp_path):
    """The wrapping token's TTL is the wrap TTL: once it has run out the response is gone (emulator clock)."""
    from vaultemu import VaultEmulator
    now = [1_000_000.0]
    with VaultEmulator({"root_token": "root", "kv": {"secret": {"a/b": {"k": "v"}}}}, clock=lambda: now[0]) as emu:
        resp = requests.get(f"{emu.url}/v1/secret/data/a/b", headers={"X-Vault-Token": "root",
                                                                     "X-Vault-Wrap-TTL": "60s"}, timeout=10)
        token = resp.json()["wrap_info"]["token"]
        now[0] += 61
        resp = requests.post(f"{emu.url}/v1/sys/wrapping/unwrap", json={"token": token},
                             headers={"X-Vault-Token": "root"}, timeout=10)
        assert (resp.status_code, resp.json()) == (400, INVALID_WRAP)
