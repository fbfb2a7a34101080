"""Helpers of the break-glass integration tests: the Vault under test, and the approver's step.

The sandbox's approver is the LDAP user `teamlead` (tests/sandbox/world.yml, policy breakglass-approver);
against a real Vault (HALOBUZZ_USE_ENV=1) VAULT_APPROVER_USERNAME / VAULT_APPROVER_PASSWORD name one.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import hvac
import pytest

from sandbox_support import use_real_env
from ansible_collections.halobuzz.ops.plugins.module_utils.vault import break_glass as bg

APPROVER = 'teamlead'


def vault_under_test(sandbox_env):
    """Everything a test needs to know about the Vault under test (skips when there is none)."""
    if 'VAULT_ADDR' not in sandbox_env:
        pytest.skip('no VAULT_ADDR (HALOBUZZ_SANDBOX_SKIP has vault, or the environment lacks it)')
    if use_real_env():
        admin_token = os.environ.get('VAULT_TOKEN') or pytest.skip('VAULT_TOKEN (an admin token) is needed to check')
        user, password = os.environ['VAULT_LDAP_USERNAME'], os.environ['VAULT_LDAP_PASSWORD']
        approver = os.environ.get('VAULT_APPROVER_USERNAME') or pytest.skip('VAULT_APPROVER_USERNAME is needed')
        approver_password = os.environ['VAULT_APPROVER_PASSWORD']
        audit = os.environ.get('HALOBUZZ_VAULT_AUDIT_LOG')
    else:
        sandbox_dir = Path(sandbox_env['HALOBUZZ_SANDBOX_DIR'])
        secrets = json.loads((sandbox_dir / 'secrets.json').read_text())
        admin_token = secrets['vault_root_token']
        user, password = sandbox_env['SANDBOX_ONCALL_USER'], sandbox_env['SANDBOX_ONCALL_PASSWORD']
        approver, approver_password = APPROVER, secrets['ldap_passwords'][APPROVER]
        audit = str(sandbox_dir / 'logs' / 'vault-audit.log')
    admin = hvac.Client(url=sandbox_env['VAULT_ADDR'], token=admin_token)
    secret = admin.secrets.kv.v2.read_secret_version(path='production/mongodb', mount_point='secret',
                                                     raise_on_deleted_version=True)['data']['data']
    return dict(addr=sandbox_env['VAULT_ADDR'], admin=admin, user=user, password=password, approver=approver,
                approver_password=approver_password, audit=Path(audit) if audit else None, secret=secret,
                env=dict(sandbox_env, VAULT_LDAP_USERNAME=user, VAULT_LDAP_PASSWORD=password),
                approver_env=dict(sandbox_env, VAULT_LDAP_USERNAME=approver, VAULT_LDAP_PASSWORD=approver_password))


def incident():
    return 'INC-T%s' % uuid.uuid4().hex[:8]


def module_params(addr, username, password, **overrides):
    """vault_break_glass's parameters as the module would receive them (defaults included)."""
    params = dict(vault_addr=addr, auth_method='ldap', username=username, password=password, mount_point=None,
                  token=None, role_id=None, secret_id=None, requester=None, incident_id=None, reason=None,
                  approved_by=None, secret_path='production/mongodb', engine_mount_point='secret', version=None,
                  ttl='15m', wrap_ttl='15m', token_role='breakglass', secret_key=None, secret_output_file=None,
                  token_accessor=None, login_token_accessor=None, validate_certs=True, ca_cert=None, timeout=10,
                  allow_insecure_http=False, state='present', action='open')
    params.update(overrides)
    return params


def run_module(params, check_mode=False, no_log=True):
    """What the module runs; returns (result, the values it was told to mask)."""
    masked = set()
    return bg.vault_break_glass(params, check_mode, no_log, masked.add), masked


def approve(vault, incident_id, requester=None, **overrides):
    """The approver's step (module_utils, as the module runs it) for ``requester`` (the oncall user)."""
    params = module_params(vault['addr'], vault['approver'], vault['approver_password'], action='approve',
                           incident_id=incident_id, requester=requester or vault['user'], **overrides)
    return run_module(params)[0]


def open_access(vault, incident_id, **overrides):
    params = module_params(vault['addr'], vault['user'], vault['password'], incident_id=incident_id,
                           reason='integration test of the two-person break glass', **overrides)
    return run_module(params)[0]


def audit_records(vault, incident_id):
    """Keys under secret/audit/break-glass/<incident_id>/ (admin view); [] when there are none."""
    try:
        return sorted(vault['admin'].secrets.kv.v2.list_secrets(path='audit/break-glass/%s' % incident_id,
                                                                mount_point='secret')['data']['keys'])
    except hvac.exceptions.InvalidPath:
        return []


def approval_record(vault, incident_id):
    return vault['admin'].secrets.kv.v2.read_secret_version(path='approvals/break-glass/%s' % incident_id,
                                                            mount_point='secret',
                                                            raise_on_deleted_version=True)['data']['data']
