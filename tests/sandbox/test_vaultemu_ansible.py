"""community.hashi_vault against the Vault under test, through one real ansible-playbook run.

vault_login (auth_method ldap) -> vault_kv2_get with the LDAP token -> vault_token_create
(child, 15m) -> a refused read outside the policy -> vault_kv2_write (then again: no change
with read_before_write) -> vault_kv2_get of what was written. The playbook asserts each
step; the test then checks that no secret value, password or token reached the output.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from _vaultemu_target import require_ldap, start_target

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

PLAYBOOK = """
- name: Vault through community.hashi_vault
  hosts: localhost
  gather_facts: false
  vars:
    vault_url: "{{ lookup('ansible.builtin.env', 'VAULT_ADDR') }}"
    scratch: "{{ lookup('ansible.builtin.env', 'TEST_PREFIX') }}/ansible"
  tasks:
    - name: Log in as the on-call engineer with LDAP
      community.hashi_vault.vault_login:
        url: "{{ vault_url }}"
        auth_method: ldap
        username: "{{ lookup('ansible.builtin.env', 'VAULT_LDAP_USERNAME') }}"
        password: "{{ lookup('ansible.builtin.env', 'VAULT_LDAP_PASSWORD') }}"
      register: login
      no_log: true

    - name: Read the production MongoDB secret with the LDAP token
      community.hashi_vault.vault_kv2_get:
        url: "{{ vault_url }}"
        auth_method: token
        token: "{{ login.login.auth.client_token }}"
        path: production/mongodb
      register: mongodb
      no_log: true

    - name: Check the secret's shape (without printing it)
      ansible.builtin.assert:
        that:
          - mongodb.secret.uri is defined
          - mongodb.metadata.version >= 1
        quiet: true

    - name: Create a short-lived child token
      community.hashi_vault.vault_token_create:
        url: "{{ vault_url }}"
        auth_method: token
        token: "{{ login.login.auth.client_token }}"
        policies: [breakglass-production]
        ttl: 15m
        display_name: ansible-test
      register: child
      no_log: true

    - name: Check the child token
      ansible.builtin.assert:
        that:
          - child.login.auth.lease_duration == 900
          - "'breakglass-production' in child.login.auth.policies"
          - child.login.auth.orphan is false
        quiet: true

    - name: Read outside the policy with the child token
      community.hashi_vault.vault_kv2_get:
        url: "{{ vault_url }}"
        auth_method: token
        token: "{{ child.login.auth.client_token }}"
        path: "{{ scratch }}"
      register: refused
      ignore_errors: true
      no_log: true

    - name: Check the refusal is Vault's permission denied
      ansible.builtin.assert:
        that:
          - refused is failed
          - "'Permission Denied' in refused.msg"
        quiet: true

    - name: Write a secret with the operator token
      community.hashi_vault.vault_kv2_write:
        url: "{{ vault_url }}"
        auth_method: token
        path: "{{ scratch }}"
        data: {owner: ansible, count: "1"}
        read_before_write: true
      register: first_write

    - name: Write the same secret again
      community.hashi_vault.vault_kv2_write:
        url: "{{ vault_url }}"
        auth_method: token
        path: "{{ scratch }}"
        data: {owner: ansible, count: "1"}
        read_before_write: true
      register: second_write

    - name: Read it back
      community.hashi_vault.vault_kv2_get:
        url: "{{ vault_url }}"
        auth_method: token
        path: "{{ scratch }}"
      register: written

    - name: Check write, idempotent rewrite and read-back
      ansible.builtin.assert:
        that:
          - first_write is changed
          - second_write is not changed
          - written.secret.owner == 'ansible'
          - written.secret.count == '1'
          - written.secret | length == 2
          - written.metadata.version == 1
        quiet: true
"""


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    target, stop = start_target(tmp_path_factory.mktemp("vault"))
    yield target
    try:
        target.root.secrets.kv.v2.delete_metadata_and_all_versions(f"{target.prefix}/ansible", mount_point="secret")
    finally:
        if stop:
            stop()


def test_community_hashi_vault_modules(vault, tmp_path):
    require_ldap(vault)
    playbook = tmp_path / "vault.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, VAULT_ADDR=vault.url, VAULT_TOKEN=vault.root_token, TEST_PREFIX=vault.prefix,
               VAULT_LDAP_USERNAME=vault.oncall_user, VAULT_LDAP_PASSWORD=vault.oncall_password,
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-v", "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "failed=0" in output
    secret = vault.root.secrets.kv.v2.read_secret_version("production/mongodb", mount_point="secret",
                                                          raise_on_deleted_version=True)["data"]["data"]
    for value in [v for v in secret.values() if isinstance(v, str) and len(v) > 6] + [vault.oncall_password]:
        assert value not in output
    if vault.emulator:  # every token the run made is in the emulator; none may be in the output
        for token_id in list(vault.emulator.core.tokens.by_id):
            assert token_id not in output
