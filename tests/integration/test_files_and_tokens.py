"""Issue 15, items 5-7: files, tokens and no accidental production, end to end against the sandbox.

- the default inventory (ansible.cfg: inventories/sandbox) refuses every module task unless the sandbox's
  marker HALOBUZZ_SANDBOX_DIR names a directory; the refusal says `-i inventories/<env>` or `. .sandbox/env`;
- vault_addr over plain http:// to a non-loopback host is refused before any request (Vault assumes TLS:
  https://developer.hashicorp.com/vault/docs/configuration/listener/tcp, tls_disable);
- the break_glass role's registered result loses .secret once the secret is handed over;
- run records: folder 0700 (tightened when it existed looser), files 0600;
- heap dumps are off in inventories/production.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import kubernetes
import pytest

import vault_approvals
from sandbox_support import REPO, VENV_BIN, use_real_env

REFUSAL = 'Refusing to run: this is the sandbox inventory'


def _backend(env):
    api = kubernetes.client.AppsV1Api(kubernetes.config.new_client_from_config(config_file=env['KUBECONFIG']))
    dep = api.read_namespaced_deployment('backend', 'halobuzz')
    return (dep.metadata.annotations.get('deployment.kubernetes.io/revision'),
            dep.spec.template.spec.containers[0].image, dep.metadata.generation)


def _playbook_without_inventory(playbook, env, *args):
    """ansible-playbook from the repo root with no -i at all: ansible.cfg's default inventory."""
    full = dict(os.environ, **env)
    full.update(ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    return subprocess.run([str(VENV_BIN / 'ansible-playbook'), str(REPO / 'playbooks' / playbook), *args],
                          capture_output=True, text=True, env=full, cwd=REPO, timeout=600, check=False)


def _records(tmp_path):
    return {'HALOBUZZ_RECORDS_DIR': str(tmp_path / 'records')}


@pytest.mark.parametrize('marker', ['', '/nonexistent/halobuzz-sandbox'], ids=['unset', 'no-such-dir'])
def test_no_inventory_and_no_sandbox_env_refuses_and_changes_nothing(sandbox_env, scenario, tmp_path, marker):
    """An operator with a KUBECONFIG exported (here the sandbox's, standing in for production's) who forgets
    -i: the rollback of a bad release would change the Deployment; refused before any module runs."""
    if 'KUBECONFIG' not in sandbox_env:
        pytest.skip('no KUBECONFIG')
    scenario('bad-release')
    before = _backend(sandbox_env)
    env = dict(sandbox_env, HALOBUZZ_SANDBOX_DIR=marker, **_records(tmp_path))
    proc = _playbook_without_inventory('rollback.yml', env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert REFUSAL in output and '-i inventories/<env>' in output and '. .sandbox/env' in output
    assert 'Traceback' not in output
    assert 'changed=0' in proc.stdout
    assert _backend(sandbox_env) == before


def test_with_the_sandbox_env_the_default_inventory_runs(sandbox_env, scenario, tmp_path):
    """The same run with the sandbox's env loaded (what `. .sandbox/env` and make demo do) goes ahead."""
    if use_real_env() and not sandbox_env.get('HALOBUZZ_SANDBOX_DIR'):
        pytest.skip('HALOBUZZ_USE_ENV=1 without HALOBUZZ_SANDBOX_DIR: the guard refuses, as it should')
    proc = _playbook_without_inventory('redis_check.yml', dict(sandbox_env, **_records(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert REFUSAL not in proc.stdout


@pytest.mark.parametrize('playbook', ['cache_purge.yml', 'break_glass.yml', 'scale_up.yml'])
def test_explicit_sandbox_inventory_without_env_refuses_too(run_playbook, sandbox_env, tmp_path, playbook):
    """-i inventories/sandbox by name but no sandbox env: the same refusal, whatever the playbook."""
    env = dict(sandbox_env, HALOBUZZ_SANDBOX_DIR='', **_records(tmp_path))
    result = run_playbook(playbook, '-e', 'incident_id=INC-1', '-e', 'reason=r', '-e', 'approved_by=teamlead',
                          '--check', env=env, check=False)
    assert result.rc != 0 and REFUSAL in result.stdout, result.stdout[-3000:]
    assert result.recap['localhost']['changed'] == 0


def test_production_inventory_turns_heap_dumps_off():
    proc = subprocess.run([str(VENV_BIN / 'ansible-inventory'), '-i', str(REPO / 'inventories' / 'production'),
                           '--host', 'localhost'], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg')), check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)['incident_response_heap_dump'] is False


# -- Vault ------------------------------------------------------------------------------------------

@pytest.fixture
def vault_env(sandbox_env):
    if 'VAULT_ADDR' not in sandbox_env:
        pytest.skip('no VAULT_ADDR')
    if use_real_env():
        return dict(sandbox_env, VAULT_LDAP_USERNAME=os.environ['VAULT_LDAP_USERNAME'],
                    VAULT_LDAP_PASSWORD=os.environ['VAULT_LDAP_PASSWORD'])
    return dict(sandbox_env, VAULT_LDAP_USERNAME=sandbox_env['SANDBOX_ONCALL_USER'],
                VAULT_LDAP_PASSWORD=sandbox_env['SANDBOX_ONCALL_PASSWORD'])


def _audit_size(sandbox_env):
    if use_real_env():
        return None
    log = Path(sandbox_env['HALOBUZZ_SANDBOX_DIR']) / 'logs' / 'vault-audit.log'
    return log.stat().st_size if log.exists() else 0


def _break_glass_args(**extra):
    args = dict(incident_id='INC-T%s' % uuid.uuid4().hex[:8], reason='issue 15 integration test',
                approved_by='teamlead')
    args.update(extra)
    return ['-e', json.dumps(args)]


@pytest.mark.parametrize('addr', ['http://vault.halobuzz.invalid:8200', 'http://10.255.255.1:8200',
                                  'http://ops:Pl4intextPW@vault.halobuzz.invalid:8200'])
def test_plain_http_vault_addr_is_refused_before_any_request(run_playbook, vault_env, tmp_path, addr):
    before = _audit_size(vault_env)
    result = run_playbook('break_glass.yml', *_break_glass_args(vault_addr=addr),
                          env=dict(vault_env, **_records(tmp_path)), check=False)
    assert result.rc != 0
    assert 'over plain http' in result.stdout and 'vault_allow_insecure_http' in result.stdout, result.stdout[-3000:]
    assert 'Pl4intextPW' not in result.stdout + result.stderr
    assert vault_env['VAULT_LDAP_PASSWORD'] not in result.stdout + result.stderr
    assert _audit_size(vault_env) == before


def test_break_glass_result_loses_the_secret_and_records_are_private(run_playbook, vault_env, tmp_path):
    records = tmp_path / 'records'
    records.mkdir(mode=0o755)
    os.chmod(records, 0o755)  # an older records folder, made with a umask of 022
    incident_id = vault_approvals.incident()  # issue 15: the approver approves first (two-person break glass)
    vault_approvals.approve(vault_approvals.vault_under_test(vault_env), incident_id)
    result = run_playbook('tests/integration/playbooks/break_glass_scrubbed.yml',
                          *_break_glass_args(incident_id=incident_id),
                          env=dict(vault_env, HALOBUZZ_RECORDS_DIR=str(records)))
    assert result.recap['localhost']['failed'] == 0
    assert stat.S_IMODE(records.stat().st_mode) == 0o700
    files = sorted(records.iterdir())
    assert [p.suffix for p in files] == ['.jsonl', '.md']
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
