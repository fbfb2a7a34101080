# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection and authentication options shared by every halobuzz.ops Vault module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The argument spec of these options: VAULT_CONNECTION in plugins/module_utils/vault/client.py.

    DOCUMENTATION = r"""
options:
  vault_addr:
    description:
      - Address of the Vault server, for example V(https://vault.halobuzz.com).
      - If not set, the value of the E(VAULT_ADDR) environment variable is used.
    type: str
    required: true
  auth_method:
    description:
      - How the module logs in to Vault.
      - V(ldap) uses O(username) and O(password) (the runbook's C(vault login -method=ldap)).
      - V(approle) uses O(role_id) and O(secret_id) (what AWX machine credentials use).
      - V(token) uses an existing O(token).
      - V(jwt) uses O(jwt_role) and a signed JWT, O(jwt) or O(jwt_file) (what a CI runner's OIDC ID token is),
        with Vault's JWT auth method (C(auth/<mount_point>/login), mount V(jwt) by default).
      - If not set, the value of the E(VAULT_AUTH_METHOD) environment variable is used, and V(ldap) without it.
    type: str
    choices: [token, ldap, approle, jwt]
  mount_point:
    description:
      - Mount point of the auth method, when it is not mounted at its default path
        (C(ldap) for O(auth_method=ldap), C(approle) for O(auth_method=approle), C(jwt) for O(auth_method=jwt)).
      - Does not apply to O(auth_method=token).
    type: str
  token:
    description:
      - Vault token for O(auth_method=token).
      - If not set, the value of the E(VAULT_TOKEN) environment variable is used.
    type: str
  username:
    description:
      - LDAP user name for O(auth_method=ldap).
    type: str
  password:
    description:
      - LDAP password for O(auth_method=ldap).
    type: str
  role_id:
    description:
      - AppRole role ID for O(auth_method=approle).
    type: str
  secret_id:
    description:
      - AppRole secret ID for O(auth_method=approle).
    type: str
  jwt_role:
    description:
      - The role of Vault's JWT auth method to log in against, for O(auth_method=jwt).
      - If not set, the value of the E(VAULT_JWT_ROLE) environment variable is used.
    type: str
  jwt:
    description:
      - The signed JWT for O(auth_method=jwt) (for example a CI job's OIDC ID token).
      - If not set, the value of the E(VAULT_JWT) environment variable is used.
      - Give O(jwt_file) instead to keep the token out of the environment and the task's arguments.
    type: str
  jwt_file:
    description:
      - A file holding the signed JWT for O(auth_method=jwt), read when O(jwt) is not given
        (for example C(/var/run/secrets/ci/id-token)).
      - If not set, the value of the E(VAULT_JWT_FILE) environment variable is used.
    type: path
  ca_cert:
    description:
      - Path to a PEM bundle used to verify the Vault server's TLS certificate.
    type: path
  validate_certs:
    description:
      - Whether to verify the Vault server's TLS certificate.
      - Only set to V(false) against a test server.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each Vault request before giving up.
    type: int
    default: 30
  allow_insecure_http:
    description:
      - Allow O(vault_addr) with plain C(http://) to a host that is not a loopback address
        (C(localhost), C(127.0.0.0/8), C(::1)).
      - By default such an address is refused before any request, because the login (LDAP password,
        AppRole secret ID, token) and the secrets read would cross the network unencrypted.
      - Only set to V(true) on a network path you trust (for example a Vault behind a local TLS-terminating proxy).
    type: bool
    default: false
"""
