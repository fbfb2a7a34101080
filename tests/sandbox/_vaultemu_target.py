"""Where the Vault tests point: the in-process emulator, or a real Vault from the environment.

HALOBUZZ_USE_ENV=1 -> VAULT_ADDR + VAULT_TOKEN (a token with root rights, e.g. a
`vault server -dev` root token) and, for the LDAP tests, SANDBOX_ONCALL_USER /
SANDBOX_ONCALL_PASSWORD (an LDAP user holding the breakglass-production policy).
Otherwise an emulator is started in-process on a free loopback port, seeded with the
same shape of world, and stopped afterwards.
"""

import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vaultemu import VaultEmulator

USE_ENV = os.environ.get("HALOBUZZ_USE_ENV") == "1"
emulator_only = pytest.mark.skipif(USE_ENV, reason="emulator-only: inspects the emulator's audit log or admin API")

MONGODB_SECRET = "s3cr3t-" + secrets.token_hex(8)


def emulator_config(oncall_password):
    return {
        "root_token": "hvs.test-root-" + secrets.token_hex(8),
        "ldap_users": {"oncall": {"password": oncall_password, "policies": ["breakglass-production"]}},
        "policies": {"breakglass-production": {"path": {
            "secret/data/production/*": {"capabilities": ["read"]},
            "secret/metadata/production/*": {"capabilities": ["read", "list"]},
            "auth/token/create": {"capabilities": ["update"]},
        }}},
        "approle": {"roles": {"awx": {"role_id": "awx-role-id", "secret_id": "awx-secret-" + secrets.token_hex(4),
                                      "policies": ["breakglass-production"], "token_ttl": "20m"}}},
        "kv": {"secret": {"production/mongodb": {
            "uri": f"mongodb://halobuzz_app:{MONGODB_SECRET}@127.0.0.1:27017/halobuzz",
            "username": "halobuzz_app", "password": MONGODB_SECRET}}},
    }


@dataclass
class VaultTarget:
    url: str
    root_token: str
    oncall_user: str = None
    oncall_password: str = None
    emulator: VaultEmulator = None
    audit_log: Path = None
    config: dict = None
    prefix: str = field(default_factory=lambda: f"vaultemu-test-{uuid.uuid4().hex[:8]}")

    def client(self, token=None):
        import hvac
        return hvac.Client(url=self.url, token=token)

    @property
    def root(self):
        return self.client(self.root_token)


def start_target(tmp_dir):
    """A VaultTarget and a stop() callable."""
    if USE_ENV:
        if not os.environ.get("VAULT_ADDR") or not os.environ.get("VAULT_TOKEN"):
            pytest.skip("HALOBUZZ_USE_ENV=1 needs VAULT_ADDR and VAULT_TOKEN (a root-capable token)")
        return VaultTarget(os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"],
                           os.environ.get("SANDBOX_ONCALL_USER"), os.environ.get("SANDBOX_ONCALL_PASSWORD")), None
    password = "pw-" + secrets.token_hex(8)
    config = emulator_config(password)
    audit_log = Path(tmp_dir) / "vault-audit.log"
    emu = VaultEmulator(config, audit_log=audit_log).start()
    return VaultTarget(emu.url, config["root_token"], "oncall", password, emu, audit_log, config), emu.stop


def require_ldap(target):
    if not target.oncall_user or not target.oncall_password:
        pytest.skip("no LDAP login given (SANDBOX_ONCALL_USER / SANDBOX_ONCALL_PASSWORD)")
