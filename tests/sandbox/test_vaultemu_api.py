"""The Vault API as hvac and raw HTTP see it: against the emulator, or a real Vault (HALOBUZZ_USE_ENV=1)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
import requests
import yaml

from _vaultemu_target import MONGODB_SECRET, emulator_only, require_ldap, start_target
from vaultemu import VaultEmulator

PERMISSION_DENIED = "1 error occurred:\n\t* permission denied\n\n"


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    target, stop = start_target(tmp_path_factory.mktemp("vault"))
    root = target.root
    # A policy written through the API, so the same tests hold for a real Vault.
    root.sys.create_or_update_acl_policy(f"{target.prefix}-reader", json.dumps({"path": {
        f"secret/data/{target.prefix}/allowed/*": {"capabilities": ["read"]},
        "auth/token/create": {"capabilities": ["update"]},
    }}))
    root.secrets.kv.v2.create_or_update_secret(f"{target.prefix}/allowed/db", {"password": "allowed-value"},
                                               mount_point="secret")
    yield target
    try:
        root.secrets.kv.v2.delete_metadata_and_all_versions(f"{target.prefix}/allowed/db", mount_point="secret")
        root.sys.delete_acl_policy(f"{target.prefix}-reader")
    finally:
        if stop:
            stop()


def raw(vault, method, path, token=None, **kwargs):
    headers = {"X-Vault-Token": token} if token else {}
    return requests.request(method, f"{vault.url}/v1/{path}", headers=headers, timeout=10, **kwargs)


def reader_token(vault, **params):
    """A non-root token holding the test's reader policy (a child of root)."""
    return vault.root.auth.token.create(policies=[f"{vault.prefix}-reader"], ttl="30m", **params)["auth"]


def test_health_answers_active_and_unsealed(vault):
    resp = raw(vault, "GET", "sys/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["initialized"] is True and body["sealed"] is False and body["standby"] is False
    assert {"version", "server_time_utc", "cluster_name", "cluster_id"} <= set(body)
    assert raw(vault, "HEAD", "sys/health").status_code == 200


def test_mounts_show_kv_v2_at_secret(vault):
    mounts = vault.root.sys.list_mounted_secrets_engines()["data"]
    assert mounts["secret/"]["type"] == "kv"
    assert mounts["secret/"]["options"]["version"] == "2"
    tune = vault.root.sys.read_mount_configuration("secret")
    assert tune["data"]["options"]["version"] == "2"


def test_ldap_login_reads_within_policy_and_is_refused_outside(vault):
    require_ldap(vault)
    client = vault.client()
    auth = client.auth.ldap.login(vault.oncall_user, vault.oncall_password)["auth"]
    assert "breakglass-production" in auth["policies"] and "default" in auth["policies"]
    assert auth["renewable"] is True and auth["lease_duration"] > 0
    me = client.auth.token.lookup_self()["data"]
    assert me["display_name"] == f"ldap-{vault.oncall_user}"
    assert me["meta"] == {"username": vault.oncall_user}
    assert me["path"] == f"auth/ldap/login/{vault.oncall_user}"
    secret = client.secrets.kv.v2.read_secret_version("production/mongodb", mount_point="secret",
                                                      raise_on_deleted_version=True)
    assert set(secret["data"]["data"]) >= {"uri"}
    refused = raw(vault, "GET", f"secret/data/{vault.prefix}/allowed/db", token=auth["client_token"])
    assert refused.status_code == 403
    assert refused.json() == {"errors": [PERMISSION_DENIED]}
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.create_or_update_secret("production/mongodb", {"uri": "x"}, mount_point="secret")


def test_ldap_wrong_password_is_refused_as_vault_does(vault):
    require_ldap(vault)
    resp = raw(vault, "POST", f"auth/ldap/login/{vault.oncall_user}", json={"password": "wrong-password"})
    assert resp.status_code == 400
    assert resp.json() == {"errors": ["ldap operation failed: failed to bind as user"]}
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.client().auth.ldap.login(vault.oncall_user, "wrong-password")


def test_child_token_takes_ttl_policies_meta_and_display_name(vault):
    parent = reader_token(vault)
    client = vault.client(parent["client_token"])
    child = client.auth.token.create(policies=[f"{vault.prefix}-reader"], ttl="15m", display_name="INC-42 db",
                                     meta={"incident_id": "INC-42"})["auth"]
    assert child["lease_duration"] == 900 and child["renewable"] is True and child["orphan"] is False
    assert child["policies"] == sorted(["default", f"{vault.prefix}-reader"])
    assert child["token_policies"] == child["policies"] and child["accessor"]
    info = vault.client(child["client_token"]).auth.token.lookup_self()["data"]
    assert info["display_name"] == "token-INC-42-db"
    assert info["meta"] == {"incident_id": "INC-42"}
    assert 0 < info["ttl"] <= 900 and info["creation_ttl"] == 900
    assert info["accessor"] == child["accessor"]
    inherited = client.auth.token.create(ttl="5m")["auth"]
    assert inherited["policies"] == parent["policies"]


def test_child_token_cannot_widen_its_parents_policies(vault):
    client = vault.client(reader_token(vault)["client_token"])
    resp = raw(vault, "POST", "auth/token/create", token=client.token,
               json={"policies": [f"{vault.prefix}-reader", "breakglass-production"], "ttl": "15m"})
    assert resp.status_code == 400
    assert resp.json() == {"errors": ["child policies must be subset of parent"]}
    orphan = raw(vault, "POST", "auth/token/create", token=client.token, json={"no_parent": True})
    assert orphan.status_code == 400
    assert orphan.json() == {"errors": ["root or sudo privileges required to create orphan token"]}
    # root may hand out any policy
    wide = vault.root.auth.token.create(policies=["breakglass-production"], ttl="1m")["auth"]
    assert "breakglass-production" in wide["policies"]


def test_lookup_by_token_and_accessor(vault):
    tok = reader_token(vault)
    by_token = vault.root.auth.token.lookup(tok["client_token"])["data"]
    assert by_token["id"] == tok["client_token"] and by_token["accessor"] == tok["accessor"]
    by_accessor = vault.root.auth.token.lookup_accessor(tok["accessor"])["data"]
    assert by_accessor["id"] == "" and by_accessor["policies"] == by_token["policies"]
    bad = raw(vault, "POST", "auth/token/lookup-accessor", token=vault.root_token, json={"accessor": "nope"})
    assert bad.status_code == 400 and "invalid accessor" in bad.json()["errors"][0]


def test_revoking_a_parent_revokes_its_children(vault):
    parent = reader_token(vault)
    child = vault.client(parent["client_token"]).auth.token.create(ttl="15m")["auth"]
    grandchild = vault.client(child["client_token"]).auth.token.create(ttl="15m")["auth"]
    resp = raw(vault, "POST", "auth/token/revoke-accessor", token=vault.root_token,
               json={"accessor": parent["accessor"]})
    assert resp.status_code == 204
    for tok in (parent, child, grandchild):
        dead = raw(vault, "GET", "auth/token/lookup-self", token=tok["client_token"])
        assert dead.status_code == 403
        assert "permission denied" in dead.json()["errors"][0]
        assert "invalid token" in dead.json()["errors"][0]


def test_revoke_self_then_every_call_is_refused(vault):
    tok = reader_token(vault)
    assert raw(vault, "POST", "auth/token/revoke-self", token=tok["client_token"]).status_code == 204
    assert not vault.client(tok["client_token"]).is_authenticated()
    missing = raw(vault, "GET", "auth/token/lookup-self")
    assert missing.status_code == 403 and missing.json() == {"errors": ["permission denied"]}


def test_token_use_limit(vault):
    tok = reader_token(vault, num_uses=2)
    for _ in range(2):
        assert raw(vault, "GET", "auth/token/lookup-self", token=tok["client_token"]).status_code == 200
    spent = raw(vault, "GET", "auth/token/lookup-self", token=tok["client_token"])
    assert spent.status_code == 403 and "invalid token" in spent.json()["errors"][0]


def test_renew_self_is_capped_by_explicit_max_ttl(vault):
    tok = reader_token(vault, explicit_max_ttl="15m")
    client = vault.client(tok["client_token"])
    renewed = client.auth.token.renew_self(increment="1h")
    assert 0 < renewed["auth"]["lease_duration"] <= 900
    assert any("exceeded the effective max_ttl" in w for w in renewed["warnings"])
    plain = client.auth.token.renew_self(increment="10m")
    assert plain["auth"]["lease_duration"] == 600


def test_token_expires_at_its_ttl(vault):
    tok = vault.root.auth.token.create(policies=[f"{vault.prefix}-reader"], ttl="1s")["auth"]
    time.sleep(1.5)
    resp = raw(vault, "GET", "auth/token/lookup-self", token=tok["client_token"])
    assert resp.status_code == 403 and "invalid token" in resp.json()["errors"][0]


def test_kv2_versions_cas_soft_delete_undelete_destroy(vault):
    kv, path = vault.root.secrets.kv.v2, f"{vault.prefix}/versions/app"
    assert kv.create_or_update_secret(path, {"k": "v1"}, mount_point="secret")["data"]["version"] == 1
    assert kv.create_or_update_secret(path, {"k": "v2"}, cas=1, mount_point="secret")["data"]["version"] == 2
    stale = raw(vault, "POST", f"secret/data/{path}", token=vault.root_token,
                json={"data": {"k": "v3"}, "options": {"cas": 1}})
    assert stale.status_code == 400
    assert stale.json() == {"errors": ["check-and-set parameter did not match the current version"]}
    assert kv.read_secret_version(path, version=1, mount_point="secret",
                                  raise_on_deleted_version=True)["data"]["data"] == {"k": "v1"}
    # soft delete of the latest version: 404, with the deletion marker in the body
    assert raw(vault, "DELETE", f"secret/data/{path}", token=vault.root_token).status_code == 204
    deleted = raw(vault, "GET", f"secret/data/{path}", token=vault.root_token)
    assert deleted.status_code == 404
    assert deleted.json()["data"]["data"] is None and deleted.json()["data"]["metadata"]["deletion_time"]
    kv.undelete_secret_versions(path, versions=[2], mount_point="secret")
    assert kv.read_secret_version(path, mount_point="secret",
                                  raise_on_deleted_version=True)["data"]["data"] == {"k": "v2"}
    kv.destroy_secret_versions(path, versions=[1], mount_point="secret")
    destroyed = raw(vault, "GET", f"secret/data/{path}?version=1", token=vault.root_token)
    assert destroyed.status_code == 404 and destroyed.json()["data"]["metadata"]["destroyed"] is True
    kv.delete_secret_versions(path, versions=[2], mount_point="secret")
    meta = kv.read_secret_metadata(path, mount_point="secret")["data"]
    assert meta["current_version"] == 2
    assert meta["versions"]["1"]["destroyed"] is True and meta["versions"]["2"]["deletion_time"]
    listed = kv.list_secrets(f"{vault.prefix}/", mount_point="secret")["data"]["keys"]
    assert sorted(listed) == ["allowed/", "versions/"]
    kv.delete_metadata_and_all_versions(path, mount_point="secret")
    gone = raw(vault, "GET", f"secret/metadata/{path}", token=vault.root_token)
    assert gone.status_code == 404 and gone.json() == {"errors": []}


def test_missing_secret_and_unmounted_path(vault):
    missing = raw(vault, "GET", f"secret/data/{vault.prefix}/does-not-exist", token=vault.root_token)
    assert missing.status_code == 404 and missing.json() == {"errors": []}
    with pytest.raises(hvac.exceptions.InvalidPath):
        vault.root.secrets.kv.v2.read_secret_version(f"{vault.prefix}/does-not-exist", mount_point="secret",
                                                     raise_on_deleted_version=True)
    nomount = raw(vault, "GET", "nosuchmount/x", token=vault.root_token)
    assert nomount.status_code == 404
    assert nomount.json() == {"errors": ['no handler for route "nosuchmount/x". route entry not found.']}
    listed = raw(vault, "LIST", f"secret/metadata/{vault.prefix}/nothing-here/", token=vault.root_token)
    assert listed.status_code == 404 and listed.json() == {"errors": []}


def test_reader_token_reads_only_its_glob(vault):
    client = vault.client(reader_token(vault)["client_token"])
    data = client.secrets.kv.v2.read_secret_version(f"{vault.prefix}/allowed/db", mount_point="secret",
                                                    raise_on_deleted_version=True)["data"]["data"]
    assert data == {"password": "allowed-value"}
    caps = client.sys.get_capabilities([f"secret/data/{vault.prefix}/allowed/db", "secret/data/other"])
    assert caps[f"secret/data/{vault.prefix}/allowed/db"] == ["read"]
    assert caps["secret/data/other"] == ["deny"]
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("production/mongodb", mount_point="secret",
                                                 raise_on_deleted_version=True)


# ---------------------------------------------------------------------------- emulator-only

@emulator_only
def test_approle_login(vault):
    role = vault.config["approle"]["roles"]["awx"]
    auth = vault.client().auth.approle.login(role["role_id"], role["secret_id"])["auth"]
    assert auth["lease_duration"] == 1200 and "breakglass-production" in auth["policies"]
    bad = raw(vault, "POST", "auth/approle/login", json={"role_id": role["role_id"], "secret_id": "wrong"})
    assert bad.status_code == 400 and bad.json() == {"errors": ["invalid role or secret ID"]}


@emulator_only
def test_audit_log_holds_only_hmacs_of_secrets(vault):
    client = vault.client()
    login = client.auth.ldap.login(vault.oncall_user, vault.oncall_password)["auth"]
    client.secrets.kv.v2.read_secret_version("production/mongodb", mount_point="secret",
                                             raise_on_deleted_version=True)
    child = client.auth.token.create(ttl="5m")["auth"]
    raw(vault, "POST", f"auth/ldap/login/{vault.oncall_user}", json={"password": "typo-" + MONGODB_SECRET})
    text = vault.audit_log.read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    assert {e["type"] for e in entries} == {"request", "response"}
    for secret in (MONGODB_SECRET, vault.oncall_password, vault.root_token, login["client_token"],
                   login["accessor"], child["client_token"], child["accessor"]):
        assert secret not in text
    hmac = vault.emulator.audit_hash
    reads = [e for e in entries if e["type"] == "response" and e["request"]["path"] == "secret/data/production/mongodb"]
    assert reads and reads[-1]["response"]["data"]["data"]["password"] == hmac(MONGODB_SECRET)
    assert reads[-1]["auth"]["client_token"] == hmac(login["client_token"])
    logins = [e for e in entries if e["request"]["path"] == f"auth/ldap/login/{vault.oncall_user}"]
    assert logins[-4]["request"]["data"]["password"] == hmac(vault.oncall_password)
    assert logins[-3]["response"]["auth"]["client_token"] == hmac(login["client_token"])
    assert logins[-2]["request"]["data"]["password"] == hmac("typo-" + MONGODB_SECRET)
    assert logins[-1]["error"] == "ldap operation failed: failed to bind as user"
    # and the sudo endpoint computes the same HMAC
    hashed = raw(vault, "POST", "sys/audit-hash/file", token=vault.root_token, json={"input": MONGODB_SECRET})
    assert hashed.json()["data"]["hash"] == hmac(MONGODB_SECRET)


@emulator_only
def test_sandbox_reset_reseeds_tokens_and_kv_and_keeps_the_audit_log(vault):
    emu = vault.emulator
    try:
        tok = reader_token(vault)
        vault.root.secrets.kv.v2.create_or_update_secret("production/mongodb", {"uri": "changed"},
                                                         mount_point="secret")
        lines_before = len(vault.audit_log.read_text().splitlines())
        assert requests.post(f"{vault.url}/_sandbox/reset", json=vault.config, timeout=10).status_code == 200
        assert raw(vault, "GET", "auth/token/lookup-self", token=tok["client_token"]).status_code == 403
        seeded = vault.root.secrets.kv.v2.read_secret_version("production/mongodb", mount_point="secret",
                                                              raise_on_deleted_version=True)["data"]
        assert seeded["metadata"]["version"] == 1 and seeded["data"]["password"] == MONGODB_SECRET
        assert len(vault.audit_log.read_text().splitlines()) > lines_before
        bad = requests.post(f"{vault.url}/_sandbox/reset", json={"ldap_users": {}}, timeout=10)
        assert bad.status_code == 400 and "root_token" in bad.json()["errors"][0]
        assert requests.get(f"{vault.url}/_sandbox/healthz", timeout=10).json() == {"status": "ok"}
    finally:
        emu.reset(vault.config)
        vault.root.sys.create_or_update_acl_policy(f"{vault.prefix}-reader", json.dumps({"path": {
            f"secret/data/{vault.prefix}/allowed/*": {"capabilities": ["read"]},
            "auth/token/create": {"capabilities": ["update"]}}}))
        vault.root.secrets.kv.v2.create_or_update_secret(f"{vault.prefix}/allowed/db", {"password": "allowed-value"},
                                                         mount_point="secret")


@emulator_only
def test_stop_leaves_no_thread_or_port_behind(vault):
    emu = VaultEmulator(vault.config).start()
    port, threads_before = emu.port, {t.name for t in threading.enumerate()}
    assert hvac.Client(url=emu.url).sys.read_health_status(method="GET")["initialized"] is True
    assert f"vaultemu-{port}" in threads_before
    emu.stop()
    assert not any(t.name == f"vaultemu-{port}" for t in threading.enumerate())
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@emulator_only
def test_command_line_serves_writes_ready_file_and_stops_on_sigterm(vault, tmp_path):
    config = tmp_path / "vault.yaml"
    config.write_text(yaml.safe_dump(vault.config))
    ready, audit = tmp_path / "vault.ready", tmp_path / "audit.log"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent))
    proc = subprocess.Popen([sys.executable, "-m", "vaultemu", "--port", "0", "--config", str(config),
                             "--ready-file", str(ready), "--audit-log", str(audit)],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), proc.stderr.read() if proc.poll() is not None else "no ready file"
        url = f"http://127.0.0.1:{int(ready.read_text())}"
        client = hvac.Client(url=url)
        assert client.sys.read_health_status(method="GET")["sealed"] is False
        client.auth.ldap.login(vault.oncall_user, vault.oncall_password)
        assert audit.read_text().count('"type": "response"') == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


@emulator_only
@pytest.mark.parametrize("content, message", [
    ("root_token: r\nkv: {kv1: {}}\n", "only the KV v2 mount 'secret'"),
    ("root_token: [unclosed\n", "is not valid YAML"),
])
def test_command_line_refuses_a_bad_config_with_one_clear_line(tmp_path, content, message):
    config = tmp_path / "vault.yaml"
    config.write_text(content)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent))
    proc = subprocess.run([sys.executable, "-m", "vaultemu", "--config", str(config)], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
