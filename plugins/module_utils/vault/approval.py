# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The approver's half of the two-person break glass, and the Vault calls both halves share.

An approver (Vault policy ``breakglass-approver``) mints, through the token role
``auth/token/create/<token_role>`` (``allowed_policies``: only the production read policy; bounded
``token_explicit_max_ttl``; a few ``token_num_uses``), a read token *response-wrapped* with a short
wrap TTL, and records the approval - with the wrapping token - create-or-supersede at
``<mount>/approvals/break-glass/<incident_id>``. The token role is not an orphan role, so the minted
token carries the approver's ``entity_id`` (vault/token_store.go handleCreateCommon): the requester's
run reads the approver's Vault identity from the unwrapped token, never from a typed name.

The approver's login token is deliberately *not* revoked: the minted token is its child and would
die with it. It expires with its own TTL (the LDAP method's token_ttl), which bounds the approval too.

Vault API: auth/token/create/:role_name, X-Vault-Wrap-TTL, sys/wrapping/lookup and unwrap
(https://developer.hashicorp.com/vault/api-docs/auth/token, .../api-docs/system/wrapping-lookup,
.../wrapping-unwrap): an unwrapped, expired or unknown wrapping token is answered 400 "wrapping
token is not valid or does not exist" (http/logical.go) - for break glass, the tamper signal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VaultAccessError, vault_request
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.identity import (
    IdentityRefused,
    VaultIdentity,
    normalize_name,
)

APPROVAL_PREFIX = 'approvals/break-glass'
DEFAULT_WRAP_TTL_SECONDS = 15 * 60
MAX_WRAP_TTL_SECONDS = 60 * 60
MIN_WRAP_TTL_SECONDS = 60
_INCIDENT_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
_TTL = re.compile(r'^\s*(\d+)\s*([smh]?)\s*$')
_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600}
TAMPER_HINT = ('It was already unwrapped (opened) or it expired. If nobody on the incident opened it, treat '
               'this as a security incident: someone else may hold the production read token. Ask an approver '
               'for a new approval.')


class BreakGlassRefused(VaultAccessError):
    """The request breaks a break-glass rule; nothing was read and no record was written."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def seconds(value, what, default, minimum, maximum, limit_text):
    """Seconds for ``value`` given as seconds or ``<n>s|m|h`` within [minimum, maximum]."""
    if value is None or value == '':
        return default
    match = _TTL.match(str(value))
    if not match:
        raise BreakGlassRefused("%s %r is not a duration: give seconds or a number with s, m or h (e.g. '15m')."
                                % (what, value))
    result = int(match.group(1)) * _UNITS[match.group(2)]
    if result < minimum:
        raise BreakGlassRefused('%s %r is shorter than %d seconds: too short to use.' % (what, value, minimum))
    if result > maximum:
        raise BreakGlassRefused('%s %r is longer than the break-glass limit of %s: ask for %s at most.'
                                % (what, value, limit_text, limit_text))
    return result


def check_incident_id(incident_id):
    incident_id = (incident_id or '').strip()
    if not incident_id:
        raise BreakGlassRefused('Break-glass access refused: incident_id is missing. Open an incident first and '
                                'give its id.')
    if not _INCIDENT_ID.match(incident_id):
        raise BreakGlassRefused('Break-glass access refused: incident_id %r must be 1-64 letters, digits, ".", "_" '
                                'or "-" (it names the approval and audit record paths).' % (incident_id,))
    return incident_id


def approval_path(incident_id):
    return '%s/%s' % (APPROVAL_PREFIX, incident_id)


def whoami(client, vault_addr):
    """The VaultIdentity of the client's token (auth/token/lookup-self, in Vault's default policy)."""
    with vault_request('looking up the logged-in identity at', 'auth/token/lookup-self', vault_addr,
                       hint='The default policy grants read on auth/token/lookup-self.'):
        data = (client.auth.token.lookup_self() or {}).get('data') or {}
    return VaultIdentity.from_lookup(data)


def read_approval(client, mount, incident_id, vault_addr, policies):
    """(approval record or None, its version or 0) at <mount>/approvals/break-glass/<incident_id>."""
    path = approval_path(incident_id)
    api_path = '%s/data/%s' % (mount, path)
    try:
        with vault_request('reading the approval', api_path, vault_addr, policies=policies, capability='read',
                           hint={403: 'The requester and approver policies need read on %s/data/%s/*.'
                                      % (mount, APPROVAL_PREFIX)}):
            response = client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount,
                                                                raise_on_deleted_version=True)
    except VaultAccessError as error:
        if str(error).startswith('Nothing found'):
            return None, 0
        raise
    body = (response or {}).get('data') or {}
    return body.get('data'), (body.get('metadata') or {}).get('version') or 0


def lookup_wrap(client, wrap_token, vault_addr):
    """sys/wrapping/lookup's data for a live wrapping token; None when Vault says it is not valid."""
    try:
        with vault_request('looking up the approval\'s wrapping token at', 'sys/wrapping/lookup', vault_addr):
            response = client.adapter.post('/v1/sys/wrapping/lookup', json={'token': wrap_token})
    except VaultAccessError as error:
        if 'wrapping token is not valid or does not exist' in str(error):
            return None
        raise
    return (response or {}).get('data') or {}


def unwrap(client, wrap_token, vault_addr):
    """The wrapped response (once: a second unwrap fails); BreakGlassRefused when already used or expired."""
    try:
        with vault_request('unwrapping the approval\'s token at', 'sys/wrapping/unwrap', vault_addr):
            return client.sys.unwrap(token=wrap_token) or {}
    except VaultAccessError as error:
        if 'wrapping token is not valid or does not exist' in str(error):
            raise BreakGlassRefused('Break-glass access refused: the approval\'s wrapped token cannot be unwrapped '
                                    '(Vault: wrapping token is not valid or does not exist). ' + TAMPER_HINT)
        raise


def discard_wrapped_token(client, client_factory, wrap_token):
    """Best effort: unwrap a token nobody will use and revoke what it held; never raises."""
    try:
        auth = (client.sys.unwrap(token=wrap_token) or {}).get('auth') or {}
        if auth.get('client_token'):
            revoke_token_self(client_factory, auth['client_token'])
    except Exception:  # the error on its way is the one to report; the wrap TTL bounds the token
        pass


def revoke_token_self(client_factory, token):
    """Revoke ``token`` with its own revoke-self (the default policy); True when Vault confirmed it."""
    try:
        client_factory(token).auth.token.revoke_self()
    except Exception:  # expired, uses spent or already revoked: gone either way
        return False
    return True


def check_approve_params(params):
    """The checked approve request; BreakGlassRefused before any Vault request."""
    incident_id = check_incident_id(params.get('incident_id'))
    requester = (params.get('requester') or '').strip()
    if not requester:
        raise BreakGlassRefused('Break-glass approval refused: requester is missing. Name the person who will open '
                                'the access (their Vault user name).')
    normalize_name(requester, 'requester %r' % (requester,))
    return dict(incident_id=incident_id, requester=requester, reason=(params.get('reason') or '').strip(),
                wrap_ttl_seconds=seconds(params.get('wrap_ttl'), 'wrap_ttl', DEFAULT_WRAP_TTL_SECONDS,
                                         MIN_WRAP_TTL_SECONDS, MAX_WRAP_TTL_SECONDS, '1h'),
                ttl_seconds=seconds(params.get('ttl'), 'ttl', 15 * 60, 60, 60 * 60, '1h'),
                token_role=(params.get('token_role') or 'breakglass').strip())


def approve(params, check_mode, login_method, client_factory, secret_sink, now=None):
    """The approve step: the module result. See the module doc for the rules."""
    vault_addr = params['vault_addr']
    mount = params['engine_mount_point'].strip('/')
    request = check_approve_params(params)
    client = client_factory(None)
    login = login_method.login(client)
    secret_sink(login.token)
    approver = whoami(client, vault_addr)
    if not approver.entity_id:
        raise IdentityRefused('Break-glass approval refused: the approver\'s token carries no Vault identity '
                              '(entity_id is empty - a root or orphan token). Log in as yourself (LDAP).')
    if normalize_name(approver.name, "the approver's Vault user name %r" % (approver.name,)) == normalize_name(
            request['requester'], 'requester %r' % (request['requester'],)):
        raise IdentityRefused('Break-glass approval refused: you (%s) cannot approve your own access (requester %r '
                              'is the same person once names are normalised). Another approver must approve.'
                              % (approver.name, request['requester']))
    existing, version = read_approval(client, mount, request['incident_id'], vault_addr, login.policies)
    if existing and existing.get('wrap_token'):
        secret_sink(existing['wrap_token'])
        pending = lookup_wrap(client, existing['wrap_token'], vault_addr)
        if pending is not None:
            if normalize_name(existing.get('requester'), 'the pending approval\'s requester') != normalize_name(
                    request['requester'], 'requester'):
                raise BreakGlassRefused(
                    'Break-glass approval refused: incident %s already has a pending approval for %r (until %s). '
                    'It must be opened or expire first.' % (request['incident_id'], existing.get('requester'),
                                                            existing.get('wrap_expires_at')))
            return dict(changed=False, approval=_public(existing), record_path=approval_path(request['incident_id']),
                        msg='Incident %s already has a pending approval for %s (until %s): nothing to do.'
                            % (request['incident_id'], existing.get('requester'), existing.get('wrap_expires_at')))
    if check_mode:
        return dict(changed=True, msg='Would approve break-glass access for %s on incident %s as %s.'
                                      % (request['requester'], request['incident_id'], approver.name))
    role_path = 'auth/token/create/%s' % request['token_role']
    meta = {'incident_id': request['incident_id'], 'requester': request['requester'],
            'approver': approver.name, 'approver_entity_id': approver.entity_id, 'purpose': 'break-glass'}
    with vault_request('minting the wrapped read token at', role_path, vault_addr, policies=login.policies,
                       capability='update on %s' % role_path,
                       hint='The approver policy must grant update on %s (and the token role must exist).'
                            % role_path):
        response = client.auth.token.create(role_name=request['token_role'], ttl='%ds' % request['ttl_seconds'],
                                            renewable=False, meta=meta, wrap_ttl='%ds' % request['wrap_ttl_seconds'],
                                            display_name='break-glass-%s' % request['incident_id'])
    wrap = (response or {}).get('wrap_info') or {}
    if not wrap.get('token'):
        raise VaultAccessError('Vault did not wrap the token minted at %s (no wrap_info in the answer): nothing '
                               'was recorded.' % role_path)
    secret_sink(wrap['token'])
    approved_at = now or utc_now()
    record = {
        'event': 'vault_break_glass_approval', 'incident_id': request['incident_id'],
        'requester': request['requester'], 'reason': request['reason'],
        'approver': approver.name, 'approver_entity_id': approver.entity_id,
        'approver_display_name': approver.display_name, 'auth_method': login.method,
        'approved_at': iso(approved_at),
        'wrap_expires_at': iso(approved_at + datetime.timedelta(seconds=int(wrap.get('ttl') or 0))),
        'wrap_token': wrap['token'], 'wrap_accessor': wrap.get('accessor'),
        'token_accessor': wrap.get('wrapped_accessor'), 'creation_path': wrap.get('creation_path'),
        'token_role': request['token_role'], 'token_ttl_seconds': request['ttl_seconds'],
    }
    path = approval_path(request['incident_id'])
    recorded = False
    try:
        with vault_request('writing the approval to', '%s/data/%s' % (mount, path), vault_addr,
                           policies=login.policies, capability='create/update on %s/data/%s/*' % (mount, APPROVAL_PREFIX),
                           hint='No record, no approval: the wrapped token was unwrapped and revoked.'):
            client.secrets.kv.v2.create_or_update_secret(path=path, secret=record, mount_point=mount, cas=version)
        recorded = True
    finally:
        if not recorded:
            discard_wrapped_token(client, client_factory, wrap['token'])
    public = _public(record)
    return dict(changed=True, approval=public, halobuzz_record=public, record_path=path,
                diff=dict(before=_public(existing) if existing else {}, after=public))


def _public(record):
    """The approval record without its wrapping token (the one value in it that opens the access)."""
    return dict((k, v) for k, v in (record or {}).items() if k != 'wrap_token')
