#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vault_break_glass
short_description: Approved, time-boxed, recorded read of a Vault KV v2 secret (break-glass access)
version_added: 0.1.0
description:
  - The runbook's Emergency Access, enforced. With O(state=present) the module refuses, before any request
    to Vault, an access without O(incident_id), O(reason) and O(approved_by), or approved by the requester;
    then logs in, creates a non-renewable child token with only O(token_policies) and a TTL of O(ttl)
    (15 minutes by default, 1 hour at most), reads the KV v2 secret with that child token, and writes an
    access record (who, when, incident, path, version, approver, token accessor; never a secret value) to
    C(<engine_mount_point>/audit/break-glass/<incident_id>/<time>-<accessor>). If the read or the record
    fails, the child token is revoked and nothing is handed out.
  - The secret is handed out only to a task with C(no_log) (as RV(secret)) or written to
    O(secret_output_file) (mode 0600). A task without C(no_log) and without O(secret_output_file) is refused
    before any request to Vault, so the secret cannot reach the screen or the run record.
  - With O(state=revoked) the module revokes the child token by O(token_accessor) (and the login token that
    created it, O(login_token_accessor)); a token already revoked or expired is reported unchanged.
  - Why not M(community.hashi_vault.vault_login) and M(community.hashi_vault.vault_kv2_get) alone - they log
    in and read well, but nothing checks an approval, nothing records the access, the login token they use
    keeps its full policies and lifetime, and M(community.hashi_vault.vault_login) returns the token in clear
    unless the task sets C(no_log). Use those modules for ordinary, non-break-glass reads.
  - The policy of the login needs C(read) on the secret, C(create) on the record path, C(update) on
    C(auth/token/create), C(auth/token/lookup-accessor) and C(auth/token/revoke-accessor), and must hold
    O(token_policies).
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.vault
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_vault
attributes:
  check_mode:
    support: full
    details:
      - O(state=present) checks the request and logs in, but creates no token, reads no secret and writes no
        record. O(state=revoked) looks the accessor up and reports whether it would revoke it.
  diff_mode:
    support: full
    details:
      - O(state=present) shows the access record as the after state; O(state=revoked) the token going from
        C(active) to C(revoked).
options:
  state:
    description:
      - V(present) opens a break-glass access; V(revoked) ends it.
      - O(state=present) changes Vault on every run (a new token and a new access record); each run is a new,
        recorded access.
    type: str
    choices: [present, revoked]
    default: present
  incident_id:
    description:
      - Id of the incident the access is for; 1-64 letters, digits, V(.), V(_) or V(-). Required for
        O(state=present).
    type: str
  reason:
    description: Why production access is needed. Required for O(state=present).
    type: str
  approved_by:
    description:
      - Who approved the access (the team lead). Must not be the requester nor the Vault identity that logs in.
        Required for O(state=present).
    type: str
  requester:
    description:
      - The person asking for access. Defaults to O(username) with O(auth_method=ldap); required with
        O(auth_method=approle), where the login names a machine, not a person.
    type: str
  secret_path:
    description: Path of the KV v2 secret inside O(engine_mount_point), for example V(production/mongodb).
    type: str
    default: production/mongodb
  engine_mount_point:
    description: Mount point of the KV v2 secrets engine holding the secret and the access records.
    type: str
    default: secret
  version:
    description: Version of the secret to read; the latest when not set.
    type: int
  ttl:
    description:
      - Lifetime of the child token, as seconds or a number with V(s), V(m) or V(h). At least 60 seconds, at
        most V(1h).
    type: str
    default: 15m
  token_policies:
    description:
      - Policies of the child token; give only the one that reads the secret.
      - Defaults to the login's policies other than V(default).
    type: list
    elements: str
  secret_key:
    description:
      - Hand out only this key of the secret (a string) instead of the whole secret (a dictionary).
    type: str
  secret_output_file:
    description:
      - Write the secret to this file (created with mode 0600, replaced atomically) instead of returning it;
        JSON for the whole secret, the bare value with O(secret_key). The directory must exist.
    type: path
  token_accessor:
    description: Accessor of the child token to revoke. Required for O(state=revoked).
    type: str
  login_token_accessor:
    description:
      - With O(state=revoked), also revoke the login token that created the child (C(login_token_accessor) of
        RV(access_record)).
      - Leave unset when the access logged in with O(auth_method=token), or your own token is revoked.
    type: str
requirements:
  - hvac >= 1.0
notes:
  - Set C(no_log) on the task unless O(secret_output_file) is given; the module refuses otherwise.
  - Tokens are never returned, and masked in any message.
seealso:
  - module: community.hashi_vault.vault_kv2_get
  - module: community.hashi_vault.vault_login
"""

EXAMPLES = r"""
- name: Read the MongoDB credentials for the incident (the secret stays in a no_log fact)
  halobuzz.ops.vault_break_glass:
    vault_addr: "{{ vault_addr }}"
    username: "{{ vault_ldap_username }}"
    password: "{{ vault_ldap_password }}"
    incident_id: INC-2041
    reason: restore halobuzz after the failed migration
    approved_by: teamlead
    secret_path: production/mongodb
    token_policies: [breakglass-production]
  register: break_glass
  no_log: true

- name: Write only the URI to a private file (no need for no_log)
  halobuzz.ops.vault_break_glass:
    vault_addr: "{{ vault_addr }}"
    username: "{{ vault_ldap_username }}"
    password: "{{ vault_ldap_password }}"
    incident_id: INC-2041
    reason: restore halobuzz after the failed migration
    approved_by: teamlead
    secret_key: uri
    secret_output_file: /run/user/1000/mongodb-uri
    ttl: 30m
  register: break_glass_file

- name: Revoke the child token when done
  halobuzz.ops.vault_break_glass:
    vault_addr: "{{ vault_addr }}"
    username: "{{ vault_ldap_username }}"
    password: "{{ vault_ldap_password }}"
    state: revoked
    token_accessor: "{{ break_glass_file.access_record.token_accessor }}"
    login_token_accessor: "{{ break_glass_file.access_record.login_token_accessor }}"
"""

RETURN = r"""
access_record:
  description:
    - The access record written to Vault (never a secret value).
    - Also returned with a failure after the access was opened (for example secret_output_file could not be
      written), so that the tokens can be revoked by O(token_accessor) and O(login_token_accessor).
  returned: state=present and not check mode
  type: dict
  sample:
    event: vault_break_glass_access
    incident_id: INC-2041
    reason: restore halobuzz after the failed migration
    requester: oncall
    vault_identity: ldap-oncall
    auth_method: ldap
    approved_by: teamlead
    accessed_at: "2026-11-26T22:40:05Z"
    expires_at: "2026-11-26T22:55:05Z"
    mount: secret
    path: production/mongodb
    api_path: secret/data/production/mongodb
    version: 1
    secret_keys: [password, uri, username]
    token_accessor: 8609694a-cdbc-db9b-d345-e782dbb562ed
    token_policies: [breakglass-production]
    token_ttl_seconds: 900
    login_token_accessor: 3b0e1b9e-5d1f-8a4b-0c3c-1d2e3f4a5b6c
halobuzz_record:
  description: The access record (or the revocation), for the halobuzz.ops.incident_timeline run record.
  returned: success, not check mode
  type: dict
  sample: {event: vault_break_glass_revoked, token_accessor: 8609694a-cdbc-db9b-d345-e782dbb562ed}
record_path:
  description: Path of the access record inside O(engine_mount_point).
  returned: state=present and not check mode
  type: str
  sample: audit/break-glass/INC-2041/20261126T224005Z-8609694a-cdbc-db9b-d345-e782dbb562ed
token_accessor:
  description: Accessor of the child token (state=present) or of the token revoked (state=revoked).
  returned: success, not check mode for state=present
  type: str
  sample: 8609694a-cdbc-db9b-d345-e782dbb562ed
secret:
  description:
    - The secret's data (or the value of O(secret_key)). Only returned to a task with C(no_log), and not when
      O(secret_output_file) is given.
  returned: state=present, no_log task, no secret_output_file, not check mode
  type: raw
  sample: {uri: "mongodb://...", username: halobuzz_app, password: "..."}
secret_output_file:
  description: The file the secret was written to.
  returned: when O(secret_output_file) is given, not check mode
  type: str
  sample: /run/user/1000/mongodb-uri
"""

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.break_glass import vault_break_glass
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VAULT_CONNECTION

OPTIONS = dict(
    state=dict(type='str', default='present', choices=['present', 'revoked']),
    incident_id=dict(type='str'),
    reason=dict(type='str'),
    approved_by=dict(type='str'),
    requester=dict(type='str'),
    secret_path=dict(type='str', default='production/mongodb', no_log=False),
    engine_mount_point=dict(type='str', default='secret'),
    version=dict(type='int'),
    ttl=dict(type='str', default='15m'),
    token_policies=dict(type='list', elements='str', no_log=False),
    secret_key=dict(type='str', no_log=False),
    secret_output_file=dict(type='path'),
    token_accessor=dict(type='str', no_log=False),
    login_token_accessor=dict(type='str', no_log=False),
)


def main():
    module = HaloBuzzModule(VAULT_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True,
                            required_if=[('state', 'revoked', ('token_accessor',))])
    module.run(lambda: vault_break_glass(module.params, module.check_mode, module.no_log, module.no_log_values.add))


if __name__ == '__main__':
    main()
