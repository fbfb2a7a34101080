# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault auth methods: one small class each (token, ldap, approle, jwt), as community.hashi_vault does.

Each class checks its own options before any request (``validate``), names the human or
machine behind the login when that is known in advance (``requester``), and logs an hvac
client in (``login``), returning a ``VaultLogin`` with the token, its accessor and policies.
Failures are ``VaultAccessError`` with a message that names the method, user and mount.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import (
    VaultAccessError,
    vault_request,
)


class VaultLogin(object):
    """The outcome of a login: the token (secret), its accessor, policies and identity."""

    def __init__(self, method, token, accessor, policies, display_name, username=None):
        self.method = method
        self.token = token
        self.accessor = accessor
        self.policies = sorted(set(policies or []))
        self.display_name = display_name or ''
        self.username = username

    def identities(self):
        """Names this login is known by, lower-cased (to compare with an approver)."""
        names = set()
        for name in (self.username, self.display_name):
            if name:
                names.add(name.strip().lower())
        if '-' in self.display_name:  # Vault names tokens '<auth method>-<user>' (ldap-oncall)
            names.add(self.display_name.split('-', 1)[1].strip().lower())
        return names


class _AuthMethod(object):
    NAME = None
    REQUIRED = ()
    DEFAULT_MOUNT = None

    def __init__(self, params):
        self._params = params

    @property
    def mount(self):
        return self._params.get('mount_point') or self.DEFAULT_MOUNT

    def validate(self):
        missing = [name for name in self.REQUIRED if not self._params.get(name)]
        if missing:
            raise VaultAccessError('auth_method=%s needs %s; none given (set the option or its environment variable).'
                                   % (self.NAME, ' and '.join(missing)))

    def requester(self):
        """Who is asking, when known before logging in (None when only Vault can say)."""
        return None

    def login(self, client):
        raise NotImplementedError  # pragma: no cover

    def _login_from_auth(self, response, username=None):
        auth = (response or {}).get('auth') or {}
        if not auth.get('client_token'):
            raise VaultAccessError('Vault login with %s at auth/%s returned no token; check the auth mount.'
                                   % (self.NAME, self.mount))
        metadata = auth.get('metadata') or {}
        return VaultLogin(self.NAME, auth['client_token'], auth.get('accessor'),
                          auth.get('token_policies') or auth.get('policies'),
                          metadata.get('username') or username, username=metadata.get('username') or username)


class TokenAuth(_AuthMethod):
    NAME = 'token'
    REQUIRED = ('token',)

    def login(self, client):
        client.token = self._params['token']
        with vault_request('looking up the given token', 'auth/token/lookup-self', self._params['vault_addr'],
                           hint='The token is invalid or expired: get a new one (vault login) or set VAULT_TOKEN.'):
            data = client.auth.token.lookup_self().get('data') or {}
        meta = data.get('meta') or {}
        return VaultLogin(self.NAME, self._params['token'], data.get('accessor'), data.get('policies'),
                          data.get('display_name'), username=meta.get('username'))


class LdapAuth(_AuthMethod):
    NAME = 'ldap'
    REQUIRED = ('username', 'password')
    DEFAULT_MOUNT = 'ldap'

    def requester(self):
        return self._params['username']

    def login(self, client):
        username = self._params['username']
        with vault_request('logging in as LDAP user %r at' % username, 'auth/%s/login' % self.mount,
                           self._params['vault_addr'],
                           hint='Check the LDAP username and password (VAULT_LDAP_USERNAME / VAULT_LDAP_PASSWORD) '
                                'and the auth mount_point.'):
            response = client.auth.ldap.login(username=username, password=self._params['password'],
                                              mount_point=self.mount)
        return self._login_from_auth(response, username=username)


class ApproleAuth(_AuthMethod):
    NAME = 'approle'
    REQUIRED = ('role_id',)
    DEFAULT_MOUNT = 'approle'

    def login(self, client):
        with vault_request('logging in with AppRole at', 'auth/%s/login' % self.mount, self._params['vault_addr'],
                           hint='Check role_id, secret_id and the auth mount_point.'):
            response = client.auth.approle.login(role_id=self._params['role_id'],
                                                 secret_id=self._params.get('secret_id'),
                                                 mount_point=self.mount)
        return self._login_from_auth(response)


class JwtAuth(_AuthMethod):
    """Vault's JWT auth method: a role and a signed JWT (a CI job's OIDC ID token).

    The JWT comes from ``jwt`` (VAULT_JWT) or, when that is empty, the file ``jwt_file``
    (VAULT_JWT_FILE). Vault checks the signature against its configured keys and the role's bound
    audiences, subject and claims (hashicorp/vault-plugin-auth-jwt path_login.go); its refusal (400,
    e.g. "error validating token: invalid expiration time (exp) claim: token is expired") is shown.
    """
    NAME = 'jwt'
    REQUIRED = ('jwt_role',)
    DEFAULT_MOUNT = 'jwt'

    def validate(self):
        super(JwtAuth, self).validate()
        if not self._params.get('jwt') and not self._params.get('jwt_file'):
            raise VaultAccessError('auth_method=jwt needs jwt or jwt_file; none given (set the option or VAULT_JWT / '
                                   'VAULT_JWT_FILE).')

    def token(self):
        if self._params.get('jwt'):
            return self._params['jwt'].strip()
        path = self._params['jwt_file']
        try:
            with open(path) as stream:
                value = stream.read().strip()
        except (IOError, OSError) as exc:
            raise VaultAccessError('Cannot read jwt_file %s: %s. Nothing was sent to Vault.'
                                   % (path, exc.strerror or exc))
        if not value:
            raise VaultAccessError('jwt_file %s is empty. Nothing was sent to Vault.' % (path,))
        return value

    def login(self, client):
        role = self._params['jwt_role']
        jwt = self.token()
        with vault_request('logging in with JWT role %r at' % role, 'auth/%s/login' % self.mount,
                           self._params['vault_addr'],
                           hint='Check jwt_role (VAULT_JWT_ROLE), that the JWT is current and meant for this Vault '
                                '(audience, issuer, bound claims), and the auth mount_point.'):
            response = client.auth.jwt.jwt_login(role=role, jwt=jwt, path=self.mount)
        return self._login_from_auth(response)


AUTH_METHODS = dict((cls.NAME, cls) for cls in (TokenAuth, LdapAuth, ApproleAuth, JwtAuth))


def auth_method(params):
    """The auth method object for ``params['auth_method']``, its options already checked."""
    name = params.get('auth_method') or 'ldap'
    if name not in AUTH_METHODS:
        raise VaultAccessError('auth_method %r is not supported; use one of %s.' % (name, ', '.join(sorted(AUTH_METHODS))))
    method = AUTH_METHODS[name](params)
    method.validate()
    return method
