# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault client plumbing shared by the halobuzz.ops Vault modules.

One connection (``VAULT_CONNECTION``: the options of the ``halobuzz.ops.vault`` doc fragment and the
hvac library), one hvac client factory, and one error type: every hvac or transport failure becomes a
``VaultAccessError`` whose message says what was being done, to which path, what Vault answered and
what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ipaddress
import re
import traceback
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.common.connection import Connection
from ansible_collections.halobuzz.ops.plugins.module_utils.common.redact import redact_text, redact_url

try:
    import hvac
    from hvac import exceptions as hvac_exceptions
    import requests
except ImportError:  # pragma: no cover - reported by HaloBuzzModule with missing_required_lib
    HVAC_IMPORT_ERROR = traceback.format_exc()
else:
    HVAC_IMPORT_ERROR = None


class VaultAccessError(HaloBuzzError):
    """A Vault request failed, or a request was refused before it; the message is ready for the user."""


VAULT_CONNECTION = Connection(
    argument_spec=dict(
        vault_addr=dict(type='str', required=True, fallback=(env_fallback, ['VAULT_ADDR'])),
        # no default here: VAULT_AUTH_METHOD must be able to fill it; auth.py takes ldap when neither is set
        auth_method=dict(type='str', choices=['token', 'ldap', 'approle', 'jwt'],
                         fallback=(env_fallback, ['VAULT_AUTH_METHOD'])),
        mount_point=dict(type='str'),
        token=dict(type='str', no_log=True, fallback=(env_fallback, ['VAULT_TOKEN'])),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        role_id=dict(type='str', no_log=False),
        secret_id=dict(type='str', no_log=True),
        jwt_role=dict(type='str', fallback=(env_fallback, ['VAULT_JWT_ROLE'])),
        jwt=dict(type='str', no_log=True, fallback=(env_fallback, ['VAULT_JWT'])),
        jwt_file=dict(type='path', fallback=(env_fallback, ['VAULT_JWT_FILE'])),
        ca_cert=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='int', default=30),
        allow_insecure_http=dict(type='bool', default=False),
    ),
    libraries=[('hvac', HVAC_IMPORT_ERROR)],
)


def _is_loopback(host):
    if host.rstrip('.').lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(params):
    """Refuse plain http:// to a host other than loopback unless allow_insecure_http is true.

    Vault assumes TLS ("you must explicitly disable TLS to opt-in to insecure communication",
    https://developer.hashicorp.com/vault/docs/configuration/listener/tcp, tls_disable): over http://
    the LDAP password, the AppRole secret_id, every token and every secret read travel in clear.
    The sandbox's Vault listens on 127.0.0.1 over http://, which stays allowed. A vault_addr that does
    not parse is left to hvac's own error; the message names scheme and host only, never the input.
    """
    if params.get('allow_insecure_http'):
        return
    try:
        parts = urlsplit(str(params.get('vault_addr') or '').strip())
        host = parts.hostname or ''
    except ValueError:
        return
    if parts.scheme.lower() != 'http' or not host or _is_loopback(host):
        return  # not plain http, loopback, or no host at all (make_client names a malformed vault_addr)
    raise VaultAccessError(
        'Refusing to talk to Vault at http://%s over plain http: the login (LDAP password, AppRole secret_id, '
        'token) and the secrets would cross the network unencrypted. Use https:// in vault_addr, or, only on a '
        'network path you trust, set allow_insecure_http: true (the roles\' input vault_allow_insecure_http). '
        'Nothing was sent to Vault.' % (host if ':' not in host else '[%s]' % host,))


def make_client(params, token=None):
    """An hvac client for ``params`` (the connection options), optionally carrying ``token``.

    Refuses (check_transport) plain http:// to a non-loopback host unless allow_insecure_http.
    """
    check_transport(params)
    verify = params.get('ca_cert') or params.get('validate_certs', True)
    # token='' keeps hvac from picking up VAULT_TOKEN or ~/.vault-token on its own: which
    # token a request carries is decided here, never by the environment behind our back.
    client = hvac.Client(url=params['vault_addr'], verify=verify, timeout=params.get('timeout', 30),
                         token=token or '')
    return client


_MULTIERROR_HEAD = re.compile(r'^\s*\d+ errors? occurred:\s*')


def _vault_errors(exc):
    """Vault's error list on one line ('1 error occurred:\\n\\t* permission denied' -> 'permission denied')."""
    texts = []
    for error in getattr(exc, 'errors', None) or []:
        text = _MULTIERROR_HEAD.sub('', str(error))
        text = ' '.join(part.strip().lstrip('*').strip() for part in text.splitlines() if part.strip())
        if text:
            texts.append(text)
    return '; '.join(texts)


def _status_of(exc):
    for status, name in ((400, 'InvalidRequest'), (401, 'Unauthorized'), (403, 'Forbidden'),
                         (404, 'InvalidPath'), (412, 'PreconditionFailed'), (429, 'RateLimitExceeded'),
                         (500, 'InternalServerError'), (501, 'VaultNotInitialized'), (502, 'BadGateway'),
                         (503, 'VaultDown')):
        if isinstance(exc, getattr(hvac_exceptions, name)):
            return status
    return None


def describe_error(exc, doing, target, vault_addr, policies=None, capability=None, hint=None):
    """The VaultAccessError for an hvac/transport exception raised while ``doing`` ``target``.

    ``doing`` is a gerund phrase ("reading"), ``target`` the API path ("secret/data/x"),
    ``capability`` the policy capability the request needed, ``hint`` what to check next (a string,
    or a dict of strings by HTTP status).
    """
    # vault_addr is echoed only as scheme://host:port (common/redact.py): it may be malformed and carry
    # credentials, and requests quotes the whole URL in its InvalidURL/InvalidSchema messages, so the
    # text of those is never shown either.
    shown = redact_url(vault_addr)
    if isinstance(exc, requests.exceptions.SSLError):
        return VaultAccessError(
            'TLS verification failed %s %s at %s: %s. Give the CA bundle in ca_cert (validate_certs=false '
            'only against a test server).' % (doing, target, shown, redact_text(exc, [vault_addr])))
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return VaultAccessError(
            'Cannot reach Vault at %s while %s %s: %s. Check vault_addr (or VAULT_ADDR) and the network.'
            % (shown, doing, target, type(exc).__name__))
    if isinstance(exc, requests.exceptions.RequestException):
        # InvalidURL, InvalidSchema, MissingSchema, URLRequired, ...: the address itself is wrong.
        return VaultAccessError(
            'vault_addr %r (credentials and path not shown) is not a usable Vault address while %s %s (%s): write '
            'https://host:8200 (credentials go in the auth options - token, password, secret_id - never in the URL). '
            'Check vault_addr (or VAULT_ADDR).' % (shown, doing, target, type(exc).__name__))
    status = _status_of(exc)
    if isinstance(hint, dict):  # a hint per status: {403: '...', 404: '...'}
        hint = hint.get(status)
    detail = _vault_errors(exc)
    answered = 'Vault %s' % status if status else 'Vault error'
    if detail:
        answered += ': %s' % detail
    if status == 403:
        msg = 'Permission denied %s %s (%s)' % (doing, target, answered)
        if policies is not None:
            msg += ": the token's policies %s do not allow %s" % (sorted(policies), capability or 'this request')
        msg += '. %s' % (hint or 'Ask a Vault admin to grant the capability, or check the path.')
    elif status == 404:
        msg = 'Nothing found %s %s (%s). %s' % (doing, target, answered, hint or 'Check the path and the mount.')
    elif status in (501, 503):
        msg = 'Vault at %s is sealed, uninitialised or unavailable while %s %s (%s). Unseal it or try again.' % (
            shown, doing, target, answered)
    else:
        msg = 'Vault refused %s %s (%s). %s' % (doing, target, answered, hint or 'Check the request.')
    return VaultAccessError(msg.strip())


@contextlib.contextmanager
def vault_request(doing, target, vault_addr, policies=None, capability=None, hint=None):
    """Run the hvac call in the ``with`` body; any Vault or transport failure becomes VaultAccessError."""
    try:
        yield
    except (hvac_exceptions.VaultError, requests.exceptions.RequestException) as exc:
        raise describe_error(exc, doing, target, vault_addr, policies=policies, capability=capability, hint=hint)
