#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vault_break_glass
short_description: Two-person break-glass access to a Vault KV v2 secret, enforced by Vault
version_added: 0.1.0
description:
  - The runbook's Emergency Access with two people, where Vault - not this module - enforces that the
    requester alone cannot read a production secret. The requester's policy has no read on the secret;
    only a token an approver mints through a token role can read it.
  - O(action=approve) (run by an approver, Vault policy C(breakglass-approver)) logs in, refuses when the
    approver's Vault user name is O(requester) once normalised (NFKC, case folded, C(@domain) and
    C(DOMAIN\) stripped, look-alike Cyrillic/Greek letters mapped, non-printing characters refused), mints
    through C(auth/token/create/<token_role>) a non-renewable read token of O(ttl), response-wrapped for
    O(wrap_ttl), and records the approval (approver's Vault identity, requester, incident, the wrapping
    token) at C(<engine_mount_point>/approvals/break-glass/<incident_id>). A pending approval for the same
    requester is left as it is (changed=false). The approver's login token is not revoked - the minted token
    is its child, carries its entity, and dies with it; it expires with the login's TTL.
  - O(action=open) (the default; run by the requester) logs in, reads the approval for O(incident_id) and
    refuses, before unwrapping, when there is none, when it is for another incident or another requester, when
    its approver is the requester, or when its wrapping token is no longer valid (already unwrapped, the
    tamper signal, or expired) or was not created by the token role. Then it unwraps the token (once - a second
    unwrap fails), refuses when Vault says the token was minted by the requester's own entity or for another
    incident, reads the KV v2 secret with it, writes the access record create-only (never a secret value) to
    C(<engine_mount_point>/audit/break-glass/<incident_id>/<time>-<accessor>), and revokes the read token and
    its own login token in every case.
  - Typed names (O(approved_by), and O(requester) with O(action=open)) are labels for the record, never the proof.
  - The secret is handed out only to a task with C(no_log) (as RV(secret)) or written to
    O(secret_output_file) (mode 0600). A task without C(no_log) and without O(secret_output_file) is refused
    before any request to Vault, so the secret cannot reach the screen or the run record.
  - With O(state=revoked) the module revokes a token by O(token_accessor) (and O(login_token_accessor)); a token
    already revoked or expired is reported unchanged. This needs C(update) on C(auth/token/lookup-accessor) and
    C(auth/token/revoke-accessor) (an admin's policy; the break-glass flow itself does not need it).
  - "Vault policies (tests/sandbox/world.yml): requester - C(create) and C(read) (never C(update)/C(delete)) on
    C(<mount>/data/audit/break-glass/*) and C(<mount>/data/approvals/break-glass/*); approver - C(update) on
    C(auth/token/create/breakglass), C(create), C(read), C(update) on C(<mount>/data/approvals/break-glass/*);
    token role C(breakglass) - C(allowed_policies) the read policy only, not an orphan, C(renewable=false),
    C(token_explicit_max_ttl) 1h, C(token_num_uses) a few (one read, one revoke-self)."
  - Why not M(community.hashi_vault.vault_login) and M(community.hashi_vault.vault_kv2_get) alone - they log
    in and read well, but nothing checks an approval, nothing records the access, and nothing keeps one person
    from reading alone. Use those modules for ordinary, non-break-glass reads.
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
      - O(action=approve) logs in and checks identities and any pending approval; mints and writes nothing.
        O(action=open) logs in and checks the approval and its wrapping token (sys/wrapping/lookup, which does
        not consume it); unwraps, reads and writes nothing. O(state=revoked) looks the accessor up.
  diff_mode:
    support: full
    details:
      - The approval or access record (never the wrapping token or the secret) as the after state;
        O(state=revoked) the token going from C(active) to C(revoked).
options:
  state:
    description:
      - V(present) approves or opens a break-glass access (see O(action)); V(revoked) revokes a token by accessor.
    type: str
    choices: [present, revoked]
    default: present
  action:
    description:
      - With O(state=present), V(open) (the requester) or V(approve) (the approver).
      - Every V(open) changes Vault (a new access record) and consumes the approval; V(approve) changes Vault
        only when no pending approval for the same requester exists.
    type: str
    choices: [open, approve]
    default: open
  incident_id:
    description:
      - Id of the incident; 1-64 letters, digits, V(.), V(_) or V(-). Required with O(state=present).
    type: str
  reason:
    description: Why production access is needed. Required for O(action=open); goes into the approval with O(action=approve).
    type: str
  approved_by:
    description:
      - A typed name of the approver, kept in the access record as a label only. The approver is the Vault
        identity that minted the approval's token.
    type: str
  requester:
    description:
      - With O(action=approve), the Vault user name of the person who will open the access (required).
      - With O(action=open), a typed label for the record (for example the AWX job launcher); the requester is
        the Vault identity that logs in.
    type: str
  secret_path:
    description: Path of the KV v2 secret inside O(engine_mount_point), for example V(production/mongodb).
    type: str
    default: production/mongodb
  engine_mount_point:
    description: Mount point of the KV v2 secrets engine holding the secret, the approvals and the access records.
    type: str
    default: secret
  version:
    description: Version of the secret to read; the latest when not set.
    type: int
  ttl:
    description:
      - With O(action=approve), lifetime of the minted read token, as seconds or a number with V(s), V(m) or V(h).
        At least 60 seconds, at most V(1h); the token role's C(token_explicit_max_ttl) caps it too.
    type: str
    default: 15m
  wrap_ttl:
    description:
      - With O(action=approve), how long the requester has to open the approval (the response-wrapping TTL).
        At least 60 seconds, at most V(1h).
    type: str
    default: 15m
  token_role:
    description: The Vault token role the approver mints through (C(auth/token/create/<token_role>)).
    type: str
    default: breakglass
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
    description: Accessor of the token to revoke. Required for O(state=revoked).
    type: str
  login_token_accessor:
    description:
      - With O(state=revoked), also revoke the token behind this accessor.
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
- name: The approver (team lead) approves oncall's access for the incident
  halobuzz.ops.vault_break_glass:
    action: approve
    vault_addr: "{{ vault_addr }}"
    username: "{{ vault_ldap_username }}"
    password: "{{ vault_ldap_password }}"
    incident_id: INC-2041
    requester: oncall
    wrap_ttl: 15m

- name: The requester opens it; the secret stays in a no_log result
  halobuzz.ops.vault_break_glass:
    vault_addr: "{{ vault_addr }}"
    username: "{{ vault_ldap_username }}"
    password: "{{ vault_ldap_password }}"
    incident_id: INC-2041
    reason: restore halobuzz after the failed migration
    secret_path: production/mongodb
  register: break_glass
  no_log: true

- name: Or write only the URI to a private file (no need for no_log)
  halobuzz.ops.vault_break_glass:
    vault_addr: "{{ vault_addr }}"
    username: "{{ vault_ldap_username }}"
    password: "{{ vault_ldap_password }}"
    incident_id: INC-2041
    reason: restore halobuzz after the failed migration
    secret_key: uri
    secret_output_file: /run/user/1000/mongodb-uri
"""

RETURN = r"""
approval:
  description: The approval record written to Vault, without its wrapping token.
  returned: action=approve, not check mode
  type: dict
  sample:
    event: vault_break_glass_approval
    incident_id: INC-2041
    requester: oncall
    approver: teamlead
    approver_entity_id: 6a3f0c1e-5a7d-5b8e-9c0d-1e2f3a4b5c6d
    approved_at: "2026-11-26T22:38:00Z"
    wrap_expires_at: "2026-11-26T22:53:00Z"
    wrap_accessor: 28cM7pD0HMeI6f7sEP10sXBs
    token_accessor: nOPT4S1zs6gxqKbG35HA8x3A
    creation_path: auth/token/create/breakglass
access_record:
  description: The access record written to Vault (never a secret value).
  returned: action=open, not check mode
  type: dict
  sample:
    event: vault_break_glass_access
    incident_id: INC-2041
    reason: restore halobuzz after the failed migration
    requester: oncall
    requester_entity_id: 0f1e2d3c-4b5a-5968-8776-655443322110
    vault_identity: ldap-oncall
    auth_method: ldap
    approved_by: teamlead
    approver_entity_id: 6a3f0c1e-5a7d-5b8e-9c0d-1e2f3a4b5c6d
    accessed_at: "2026-11-26T22:40:05Z"
    path: production/mongodb
    api_path: secret/data/production/mongodb
    version: 1
    secret_keys: [password, uri, username]
    token_accessor: nOPT4S1zs6gxqKbG35HA8x3A
    token_revoked: true
halobuzz_record:
  description: The approval, access record or revocation, for the halobuzz.ops.incident_timeline run record.
  returned: success, not check mode
  type: dict
  sample: {event: vault_break_glass_revoked, token_accessor: 8609694a-cdbc-db9b-d345-e782dbb562ed}
record_path:
  description: Path of the approval or access record inside O(engine_mount_point).
  returned: state=present and not check mode
  type: str
  sample: audit/break-glass/INC-2041/20261126T224005Z-nOPT4S1zs6gxqKbG35HA8x3A
token_accessor:
  description: Accessor of the read token (action=open, already revoked) or of the token revoked (state=revoked).
  returned: success, not check mode, not action=approve
  type: str
  sample: nOPT4S1zs6gxqKbG35HA8x3A
secret:
  description:
    - The secret's data (or the value of O(secret_key)). Only returned to a task with C(no_log), and not when
      O(secret_output_file) is given.
  returned: action=open, no_log task, no secret_output_file, not check mode
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
    action=dict(type='str', default='open', choices=['open', 'approve']),
    incident_id=dict(type='str'),
    reason=dict(type='str'),
    approved_by=dict(type='str'),
    requester=dict(type='str'),
    secret_path=dict(type='str', default='production/mongodb', no_log=False),
    engine_mount_point=dict(type='str', default='secret'),
    version=dict(type='int'),
    ttl=dict(type='str', default='15m'),
    wrap_ttl=dict(type='str', default='15m'),
    token_role=dict(type='str', default='breakglass', no_log=False),
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
