# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Break-glass access to a Vault KV v2 secret: the runbook's Emergency Access, two people, enforced by Vault.

The requester alone cannot read a production secret: their policy has no read on it. ``approval.py``
is the approver's half (a response-wrapped read token minted through a token role, and the approval
record). ``open_access`` is the requester's half: it finds the approval for the incident, checks
that approver and requester are different Vault identities (entity and normalised user name,
identity.py), unwraps the token once (a second unwrap fails: the tamper signal), reads the secret
with it, writes the access record create-only, and revokes the token (in ``finally``).
``vault_break_glass`` is what the module of that name runs: approve, open or revoke.

Layers: client.py (connection, errors) -> auth.py (login methods) -> identity.py -> approval.py -> this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile

from ansible_collections.halobuzz.ops.plugins.module_utils.vault.approval import (
    APPROVAL_PREFIX,
    TAMPER_HINT,
    BreakGlassRefused,
    approve,
    check_incident_id,
    iso,
    lookup_wrap,
    read_approval,
    revoke_token_self,
    unwrap,
    utc_now,
    whoami,
)
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.auth import auth_method
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import (
    VaultAccessError,
    make_client,
    vault_request,
)
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.identity import IdentityRefused, normalize_name

RECORD_PREFIX = 'audit/break-glass'
__all__ = ['APPROVAL_PREFIX', 'BreakGlassRefused', 'vault_break_glass']


def validate_request(incident_id, reason, approved_by=None, requester=None):
    """The checked open request as a dict; BreakGlassRefused names the first rule broken.

    ``approved_by`` and ``requester`` are typed names: labels for the record, never the proof (the
    approval in Vault and the Vault identities are).
    """
    incident_id = check_incident_id(incident_id)
    reason = (reason or '').strip()
    if not reason:
        raise BreakGlassRefused('Break-glass access refused: reason is missing. Say why production access is '
                                'needed (it goes into the access record).')
    return dict(incident_id=incident_id, reason=reason, approved_by_label=(approved_by or '').strip() or None,
                requester_label=(requester or '').strip() or None)


def normalize_secret_path(path, engine_mount_point):
    """The secret's path inside the KV mount, without surrounding slashes."""
    clean = (path or '').strip().strip('/')
    if not clean:
        raise BreakGlassRefused('secret_path is empty: give the path inside the KV mount, e.g. production/mongodb.')
    if any(part in ('', '.', '..') for part in clean.split('/')):
        raise BreakGlassRefused('secret_path %r has an empty, "." or ".." segment.' % (path,))
    mount = engine_mount_point.strip('/')
    if clean.startswith(mount + '/data/') or clean.startswith(mount + '/'):
        raise BreakGlassRefused(
            'secret_path %r starts with the KV mount %r: give the path inside the mount (%r) and the mount in '
            'engine_mount_point.' % (path, mount + '/', clean.split('/data/', 1)[-1] if '/data/' in clean
                                     else clean[len(mount) + 1:]))
    return clean


def record_path(incident_id, accessed_at, accessor):
    """Where the access record goes inside the KV mount (unique per access)."""
    return '%s/%s/%s-%s' % (RECORD_PREFIX, incident_id, accessed_at.strftime('%Y%m%dT%H%M%SZ'), accessor)


def build_access_record(request, requester, approval, token, mount, path, version, keys, accessed_at, method):
    """The access record: who (Vault identities), when, incident, path, version, approval; never a secret value."""
    meta = token.get('metadata') or {}
    return {
        'event': 'vault_break_glass_access',
        'incident_id': request['incident_id'],
        'reason': request['reason'],
        'requester': requester.name,
        'requester_entity_id': requester.entity_id,
        'vault_identity': requester.display_name,
        'auth_method': method,
        'approved_by': meta.get('approver') or approval.get('approver'),
        'approver_entity_id': token.get('entity_id'),
        'approved_at': approval.get('approved_at'),
        'typed_labels': {'approved_by': request['approved_by_label'], 'requester': request['requester_label']},
        'accessed_at': iso(accessed_at),
        'mount': mount,
        'path': path,
        'api_path': '%s/data/%s' % (mount, path),
        'version': version,
        'secret_keys': sorted(keys),
        'token_accessor': token.get('accessor'),
        'token_policies': sorted(token.get('policies') or []),
        'wrap_accessor': approval.get('wrap_accessor'),
        'token_revoked': True,
    }


def read_secret(client, mount, path, version, policies, vault_addr):
    """(data, version) of the KV v2 secret at ``mount``/``path``, read with ``client``'s token."""
    api_path = '%s/data/%s' % (mount, path)
    with vault_request('reading', api_path, vault_addr, policies=policies, capability='read',
                       hint={403: 'Check secret_path and engine_mount_point %r too: Vault answers 403 for any path '
                                  'no policy covers, including a mount that does not exist.' % (mount,),
                             404: 'No such secret%s in the KV mount %r: check secret_path%s.' % (
                                 '' if version is None else ' version', mount,
                                 '' if version is None else ' and version')}):
        response = client.secrets.kv.v2.read_secret_version(path=path, version=version, mount_point=mount,
                                                            raise_on_deleted_version=True)
    body = (response or {}).get('data') or {}
    data = body.get('data')
    metadata = body.get('metadata') or {}
    if data is None:
        raise VaultAccessError('Nothing found reading %s: version %s is deleted or destroyed. Ask for another '
                               'version.' % (api_path, metadata.get('version', version)))
    return data, metadata.get('version', version)


def write_record(client, mount, path, record, policies, vault_addr):
    api_path = '%s/data/%s' % (mount, path)
    with vault_request('writing the access record to', api_path, vault_addr, policies=policies,
                       capability='create on %s/data/%s/*' % (mount, RECORD_PREFIX),
                       hint='No record, no access: the secret was not handed out and the child token was revoked.'):
        client.secrets.kv.v2.create_or_update_secret(path=path, secret=record, mount_point=mount, cas=0)


def revoke_by_accessor(client, accessor, policies, vault_addr, check_only=False):
    """(changed, before) revoking the token behind ``accessor``; already gone -> (False, 'revoked')."""
    if not _accessor_call(client.auth.token.lookup_accessor, 'lookup', accessor, policies, vault_addr):
        return False, 'revoked'
    if check_only:
        return True, 'active'
    # False here: the token expired between the lookup and the revoke
    if not _accessor_call(client.auth.token.revoke_accessor, 'revoke', accessor, policies, vault_addr):
        return False, 'revoked'
    return True, 'active'


def _accessor_call(call, action, accessor, policies, vault_addr):
    """Run auth/token/<action>-accessor; False when Vault says the token is gone already."""
    path = 'auth/token/%s-accessor' % action
    with vault_request('calling', path, vault_addr, policies=policies, capability='update on %s' % path,
                       hint='The break-glass policy must grant update on %s.' % path):
        try:
            call(accessor)
        except Exception as exc:
            if _is_gone(exc):
                return False
            raise
    return True


def _is_gone(exc):
    """Vault's answer for an accessor whose token expired or was revoked: 400 'invalid accessor' (or 404)."""
    name = type(exc).__name__
    if name == 'InvalidPath':
        return True
    if name != 'InvalidRequest':
        return False
    text = ' '.join(str(e) for e in (getattr(exc, 'errors', None) or [])).lower()
    return 'accessor' in text or 'invalid token' in text or 'not found' in text


def _refuse_same_person(requester_name, approver_name, how):
    if normalize_name(requester_name, "the requester's Vault user name %r" % (requester_name,)) == normalize_name(
            approver_name, 'the approver %r' % (approver_name,)):
        raise IdentityRefused('Break-glass access refused: self-approval - the approval was given by %r, which is '
                              'you (%s) once names are normalised (%s). Another person must approve.'
                              % (approver_name, requester_name, how))


def check_approval(approval, request, requester, token_role):
    """Refuse an approval that does not fit this incident and requester, before unwrapping anything."""
    incident_id = request['incident_id']
    if approval is None:
        raise BreakGlassRefused(
            'Break-glass access refused: no approval for incident %s. An approver (breakglass-approver) runs '
            'playbooks/break_glass.yml -e break_glass_action=approve -e incident_id=%s -e requester=%s.'
            % (incident_id, incident_id, requester.name))
    if approval.get('incident_id') != incident_id:
        raise BreakGlassRefused('Break-glass access refused: the approval stored for incident %s is for incident %r. '
                                'Ask for an approval of %s.' % (incident_id, approval.get('incident_id'), incident_id))
    if not approval.get('wrap_token'):
        raise BreakGlassRefused('Break-glass access refused: the approval for incident %s holds no wrapped token. '
                                'Ask for a new approval.' % (incident_id,))
    if normalize_name(approval.get('requester'), "the approval's requester") != normalize_name(
            requester.name, "the requester's Vault user name"):
        raise BreakGlassRefused('Break-glass access refused: the approval for incident %s is for %r, and you are %s '
                                'in Vault.' % (incident_id, approval.get('requester'), requester.name))
    _refuse_same_person(requester.name, approval.get('approver'), "the approval record's approver")
    return approval


def check_unwrapped(token, request, requester, token_role):
    """Refuse a token that Vault says came from the requester, or was minted for another incident."""
    meta = token.get('metadata') or {}
    if not token.get('client_token'):
        raise BreakGlassRefused('Break-glass access refused: the approval\'s wrapped response holds no token.')
    if not token.get('entity_id'):
        raise IdentityRefused('Break-glass access refused: the approval\'s token carries no Vault identity '
                              '(entity_id is empty): it was not minted by an approver\'s own login.')
    if token['entity_id'] == requester.entity_id:
        raise IdentityRefused('Break-glass access refused: self-approval - Vault says the approval\'s token was '
                              'minted by your own identity (entity %s).' % (requester.entity_id,))
    if meta.get('incident_id') != request['incident_id']:
        raise BreakGlassRefused('Break-glass access refused: the approval\'s token was minted for incident %r, not '
                                '%s.' % (meta.get('incident_id'), request['incident_id']))
    _refuse_same_person(requester.name, meta.get('approver'), "the approver named in the token Vault minted")


def open_access(params, request, login_method, client_factory, secret_sink, check_mode=False, now=None):
    """The open step. Returns ``(record, record_path, data)`` (None in check mode after the checks).

    Every token this step holds is revoked in ``finally``: the read token (its own revoke-self) and
    the requester's login (never a token the caller gave with auth_method=token).
    """
    vault_addr = params['vault_addr']
    mount = params['engine_mount_point'].strip('/')
    path = normalize_secret_path(params['secret_path'], mount)
    token_role = (params.get('token_role') or 'breakglass').strip()
    client = client_factory(None)
    login = login_method.login(client)
    token = None
    try:
        secret_sink(login.token)
        requester = whoami(client, vault_addr)
        normalize_name(requester.name, "the requester's Vault user name %r" % (requester.name,))
        approval, dummy = read_approval(client, mount, request['incident_id'], vault_addr, login.policies)
        if approval and approval.get('wrap_token'):
            secret_sink(approval['wrap_token'])
        check_approval(approval, request, requester, token_role)
        info = lookup_wrap(client, approval['wrap_token'], vault_addr)
        if info is None:
            raise BreakGlassRefused('Break-glass access refused: the approval for incident %s (by %s at %s) can no '
                                    'longer be opened: Vault says its wrapping token is not valid or does not '
                                    'exist. %s' % (request['incident_id'], approval.get('approver'),
                                                   approval.get('approved_at'), TAMPER_HINT))
        expected = 'auth/token/create/%s' % token_role
        if info.get('creation_path') != expected:
            raise BreakGlassRefused('Break-glass access refused: the approval\'s wrapped response was created at %r, '
                                    'not by the break-glass token role (%s).' % (info.get('creation_path'), expected))
        if check_mode:
            return None, None, None
        token = (unwrap(client, approval['wrap_token'], vault_addr) or {}).get('auth') or {}
        if token.get('client_token'):
            secret_sink(token['client_token'])
        check_unwrapped(token, request, requester, token_role)
        data, version = read_secret(client_factory(token['client_token']), mount, path, params.get('version'),
                                    token.get('policies') or [], vault_addr)
        accessed_at = now or utc_now()
        record = build_access_record(request, requester, approval, token, mount, path, version, list(data),
                                     accessed_at, login.method)
        where = record_path(request['incident_id'], accessed_at, token.get('accessor'))
        write_record(client, mount, where, record, login.policies, vault_addr)
        return record, where, data
    finally:
        if token and token.get('client_token'):
            revoke_token_self(client_factory, token['client_token'])
        end_login(client, login)


def end_login(client, login):
    """Revoke a login token this module made (never a token the caller gave with auth_method=token)."""
    if login.method == 'token':
        return
    try:
        client.auth.token.revoke_self()
    except Exception:  # best effort: the login token expires with its own TTL
        pass


def revoke_access(params, login_method, client_factory, secret_sink, check_only=False):
    """(changed, before) revoking the child token ``params['token_accessor']``.

    With ``params['login_token_accessor']`` (the access record's) the login token that
    created the child is revoked as well. A login made here only to revoke is revoked
    at the end (never a token the caller gave with auth_method=token).
    """
    vault_addr = params['vault_addr']
    client = client_factory(None)
    login = login_method.login(client)
    secret_sink(login.token)
    changed, before = revoke_by_accessor(client, params['token_accessor'], login.policies, vault_addr,
                                         check_only=check_only)
    parent = params.get('login_token_accessor')
    if parent and parent != login.accessor:
        parent_changed = revoke_by_accessor(client, parent, login.policies, vault_addr, check_only=check_only)[0]
        changed = changed or parent_changed
    end_login(client, login)
    return changed, before


def check_open_params(params, task_no_log):
    """The validated open request, or BreakGlassRefused; no Vault request is made."""
    request = validate_request(params.get('incident_id'), params.get('reason'), params.get('approved_by'),
                               params.get('requester'))
    normalize_secret_path(params.get('secret_path'), params.get('engine_mount_point') or 'secret')
    if params.get('version') is not None and params['version'] < 1:
        raise BreakGlassRefused('version %r is not a secret version: versions start at 1.' % (params['version'],))
    output_file = params.get('secret_output_file')
    if output_file and not os.path.isdir(os.path.dirname(os.path.abspath(output_file))):
        raise BreakGlassRefused('Break-glass access refused: secret_output_file %s: directory %s does not exist. '
                                'Create it (mode 0700) or give another path; nothing was asked of Vault.'
                                % (output_file, os.path.dirname(os.path.abspath(output_file))))
    if not task_no_log and not params.get('secret_output_file'):
        raise BreakGlassRefused('Break-glass access refused: the secret would be returned to a task without no_log. '
                                'Set no_log: true on the task, or give secret_output_file.')
    return request


def select_secret(data, secret_key, mount, path):
    """The whole secret, or the string under ``secret_key``."""
    if not secret_key:
        return data
    if secret_key not in data:
        raise VaultAccessError('The secret %s/%s has no key %r (it has %s). The access is recorded; the child token '
                               'is revoked when the play ends.' % (mount, path, secret_key, sorted(data)))
    return data[secret_key]


def secret_file_text(secret):
    if isinstance(secret, (dict, list)):
        return json.dumps(secret, sort_keys=True) + '\n'
    return '%s\n' % (secret,)


def write_secret_file(path, secret):
    """Write ``secret`` to ``path`` with mode 0600, atomically: no moment with wider permissions."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise VaultAccessError('Cannot write secret_output_file %s: directory %s does not exist.' % (path, directory))
    try:
        handle, tmp = tempfile.mkstemp(prefix='.break-glass-', dir=directory)  # created 0600
    except OSError as exc:
        raise VaultAccessError('Cannot write secret_output_file %s: %s.' % (path, exc.strerror))
    try:
        with os.fdopen(handle, 'w') as stream:
            stream.write(secret_file_text(secret))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise VaultAccessError('Cannot write secret_output_file %s: %s.' % (path, exc.strerror))


def revocation_record(params, changed):
    return {'event': 'vault_break_glass_revoked', 'token_accessor': params['token_accessor'],
            'login_token_accessor': params.get('login_token_accessor'),
            'revoked': changed, 'already_revoked': not changed, 'at': iso(utc_now())}


def vault_break_glass(params, check_mode, task_no_log, mask):
    """The vault_break_glass module: approve, open (state=present) or end (state=revoked) a break-glass access.

    ``task_no_log`` says whether the task has no_log (only then is the secret returned); ``mask(value)``
    is told every token, and the secret's string values when the secret goes to a file, so that none
    of them can reach the output. Returns the module result.
    """
    method = auth_method(params)

    def client_factory(token):
        return make_client(params, token=token)

    if params['state'] == 'revoked':
        changed, before = revoke_access(params, method, client_factory, mask, check_only=check_mode)
        result = dict(changed=changed, token_accessor=params['token_accessor'],
                      diff=dict(before=dict(token=before), after=dict(token='revoked')))
        if not check_mode:
            result['halobuzz_record'] = revocation_record(params, changed)
        return result
    if params.get('action') == 'approve':
        return approve(params, check_mode, method, client_factory, mask)
    # check mode returns no secret, so it needs no no_log
    request = check_open_params(params, task_no_log or check_mode)
    record, where, data = open_access(params, request, method, client_factory, mask, check_mode=check_mode)
    if check_mode:
        return dict(changed=True, msg='Would open break-glass access to %s/%s for %s with the approval found '
                                      '(checked, not unwrapped).' % (params['engine_mount_point'],
                                                                     params['secret_path'], request['incident_id']))
    result = dict(changed=True, access_record=record, halobuzz_record=record, record_path=where,
                  token_accessor=record['token_accessor'], diff=dict(before={}, after=record))
    secret = select_secret(data, params.get('secret_key'), params['engine_mount_point'], params['secret_path'])
    if params.get('secret_output_file'):
        write_secret_file(params['secret_output_file'], secret)
        # not returned, so it may be masked: nothing of it can reach the output by accident
        for value in data.values():
            if isinstance(value, str) and len(value) >= 6:
                mask(value)
        result['secret_output_file'] = params['secret_output_file']
    else:
        result['secret'] = secret
    return result
