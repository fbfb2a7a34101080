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
  - ansible.builtin.action_common_attributes
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
  platform:
    platforms: posix
  action_group:
    description: Use C(group/halobuzz.ops.vault) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - halobuzz.ops.vault
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

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.halobuzz.ops.plugins.module_utils.vault import break_glass as bg
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.auth import auth_method
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import (
    HVAC_IMPORT_ERROR,
    VaultAccessError,
    make_client,
    vault_argument_spec,
)


def argument_spec():
    return vault_argument_spec(
        state=dict(type='str', default='present', choices=['present', 'revoked']),
        incident_id=dict(type='str'), reason=dict(type='str'), approved_by=dict(type='str'),
        requester=dict(type='str'),
        secret_path=dict(type='str', default='production/mongodb', no_log=False),
        engine_mount_point=dict(type='str', default='secret'),
        version=dict(type='int'), ttl=dict(type='str', default='15m'),
        token_policies=dict(type='list', elements='str', no_log=False),
        secret_key=dict(type='str', no_log=False), secret_output_file=dict(type='path'),
        token_accessor=dict(type='str', no_log=False), login_token_accessor=dict(type='str', no_log=False),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[('state', 'revoked', ('token_accessor',))],
                           supports_check_mode=True)
    params = module.params
    if HVAC_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib('hvac'), exception=traceback.format_exception_only(
            type(HVAC_IMPORT_ERROR), HVAC_IMPORT_ERROR)[-1])

    def client_factory(token):
        return make_client(params, token=token)

    record = None
    try:
        method = auth_method(params)
        if params['state'] == 'revoked':
            changed, before = bg.revoke_access(params, method, client_factory, module.no_log_values.add,
                                               check_only=module.check_mode)
            result = dict(changed=changed, token_accessor=params['token_accessor'],
                          diff=dict(before=dict(token=before), after=dict(token='revoked')))
            if not module.check_mode:
                result['halobuzz_record'] = bg.revocation_record(params, changed)
            module.exit_json(**result)
        # check mode returns no secret, so it needs no no_log
        request = bg.check_present_params(params, method.requester(), module.no_log or module.check_mode)
        if module.check_mode:
            client = client_factory(None)
            login = method.login(client)
            module.no_log_values.add(login.token)
            try:
                bg.check_approver_identity(request, login)
            finally:
                bg.end_login(client, login)
            module.exit_json(changed=True, msg='Would open break-glass access to %s/%s as %s for %s.' % (
                params['engine_mount_point'], params['secret_path'], login.display_name, request['incident_id']))
        record, where, data = bg.open_access(params, request, method, client_factory, module.no_log_values.add)
        result = dict(changed=True, access_record=record, halobuzz_record=record, record_path=where,
                      token_accessor=record['token_accessor'], diff=dict(before={}, after=record))
        secret = bg.select_secret(data, params.get('secret_key'), params['engine_mount_point'], params['secret_path'])
        if params.get('secret_output_file'):
            bg.write_secret_file(params['secret_output_file'], secret)
            # not returned, so it may be masked: nothing of it can reach the output by accident
            module.no_log_values.update(v for v in data.values() if isinstance(v, str) and len(v) >= 6)
            result['secret_output_file'] = params['secret_output_file']
        else:
            result['secret'] = secret
    except VaultAccessError as exc:
        # Once the access is open, its accessors go back with the failure so that the role revokes the tokens.
        opened = {} if record is None else dict(access_record=record, token_accessor=record['token_accessor'])
        module.fail_json(msg=str(exc), **opened)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
