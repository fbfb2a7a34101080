# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Break-glass access to a Vault KV v2 secret: the runbook's Emergency Access, enforced.

``validate_request`` refuses a request without an incident, a reason or an approver (or
approved by the requester) before anything talks to Vault. ``open_access`` logs in, creates a
short-lived child token holding only the policies needed, reads the secret with it, writes
the access record (never the secret) to KV and returns both. ``revoke_access`` revokes the
child token by accessor, idempotently. ``vault_break_glass`` is what the module of that name
runs: the whole flow from its parameters to its result.

Layers: client.py (connection, errors) -> auth.py (login methods) -> this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import tempfile

from ansible_collections.halobuzz.ops.plugins.module_utils.vault.auth import auth_method
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import (
    VaultAccessError,
    make_client,
    vault_request,
)

DEFAULT_TTL_SECONDS = 15 * 60
MAX_TTL_SECONDS = 60 * 60
MIN_TTL_SECONDS = 60
RECORD_PREFIX = 'audit/break-glass'
_INCIDENT_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
_TTL = re.compile(r'^\s*(\d+)\s*([smh]?)\s*$')
_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600}


class BreakGlassRefused(VaultAccessError):
    """The request breaks a break-glass rule; nothing was sent to Vault."""


def parse_ttl(value):
    """Seconds for a TTL given as seconds or ``<n>s|m|h``, within the break-glass bounds."""
    if value is None or value == '':
        return DEFAULT_TTL_SECONDS
    match = _TTL.match(str(value))
    if not match:
        raise BreakGlassRefused("ttl %r is not a duration: give seconds or a number with s, m or h (e.g. '15m')." % (value,))
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds < MIN_TTL_SECONDS:
        raise BreakGlassRefused('ttl %r is shorter than %d seconds: too short to use.' % (value, MIN_TTL_SECONDS))
    if seconds > MAX_TTL_SECONDS:
        raise BreakGlassRefused('ttl %r is longer than the break-glass limit of 1h: ask for 1h at most and run '
                                'again when it expires.' % (value,))
    return seconds


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


def validate_request(incident_id, reason, approved_by, requester, ttl=None):
    """The checked request as a dict; BreakGlassRefused names the first rule broken.

    ``requester`` is the person asking (the LDAP user, or the requester option); None when
    only Vault knows (auth_method=token): check_approver_identity then runs after login.
    """
    incident_id = (incident_id or '').strip()
    reason = (reason or '').strip()
    approved_by = (approved_by or '').strip()
    if not incident_id:
        raise BreakGlassRefused('Break-glass access refused: incident_id is missing. Open an incident first and '
                                'give its id.')
    if not _INCIDENT_ID.match(incident_id):
        raise BreakGlassRefused('Break-glass access refused: incident_id %r must be 1-64 letters, digits, ".", "_" '
                                'or "-" (it names the audit record path).' % (incident_id,))
    if not reason:
        raise BreakGlassRefused('Break-glass access refused: reason is missing. Say why production access is '
                                'needed (it goes into the access record).')
    if not approved_by:
        raise BreakGlassRefused("Break-glass access refused: approved_by is missing. Get the team lead's approval "
                                'and give their name.')
    if requester and approved_by.lower() == requester.strip().lower():
        raise BreakGlassRefused('Break-glass access refused: approved_by %r is the requester. Someone else (the team '
                                'lead) must approve.' % (approved_by,))
    return dict(incident_id=incident_id, reason=reason, approved_by=approved_by,
                requester=(requester or '').strip() or None, ttl_seconds=parse_ttl(ttl))


def check_approver_identity(request, login):
    """Refuse when the approver is the identity Vault logged in (known only after login)."""
    if request['approved_by'].lower() in login.identities():
        raise BreakGlassRefused('Break-glass access refused: approved_by %r is the Vault identity that logged in '
                                '(%s). Someone else must approve.' % (request['approved_by'], login.display_name))


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def record_path(incident_id, accessed_at, accessor):
    """Where the access record goes inside the KV mount (unique per access)."""
    return '%s/%s/%s-%s' % (RECORD_PREFIX, incident_id, accessed_at.strftime('%Y%m%dT%H%M%SZ'), accessor)


def build_access_record(request, login, child, mount, path, version, keys, accessed_at):
    """The access record: who, when, incident, path, version, approver, accessor; never a secret value."""
    expires_at = accessed_at + datetime.timedelta(seconds=request['ttl_seconds'])
    return {
        'event': 'vault_break_glass_access',
        'incident_id': request['incident_id'],
        'reason': request['reason'],
        'requester': request['requester'] or login.display_name,
        'vault_identity': login.display_name,
        'auth_method': login.method,
        'approved_by': request['approved_by'],
        'accessed_at': _iso(accessed_at),
        'expires_at': _iso(expires_at),
        'mount': mount,
        'path': path,
        'api_path': '%s/data/%s' % (mount, path),
        'version': version,
        'secret_keys': sorted(keys),
        'token_accessor': child['accessor'],
        'token_policies': child['policies'],
        'token_ttl_seconds': request['ttl_seconds'],
        'login_token_accessor': login.accessor,
    }


def create_child_token(client, request, login, policies, vault_addr):
    """A non-renewable child token with only ``policies`` and the request's TTL."""
    ttl = '%ds' % request['ttl_seconds']
    meta = {'incident_id': request['incident_id'], 'approved_by': request['approved_by'],
            'purpose': 'break-glass'}
    with vault_request('creating the break-glass child token at', 'auth/token/create', vault_addr,
                       policies=login.policies, capability='update on auth/token/create',
                       hint='The break-glass policy must grant update on auth/token/create and hold %s.'
                            % (policies,)):
        response = client.auth.token.create(policies=policies, ttl=ttl, explicit_max_ttl=ttl, renewable=False,
                                            no_default_policy=True, meta=meta,
                                            display_name='break-glass-%s' % request['incident_id'])
    auth = (response or {}).get('auth') or {}
    if not auth.get('client_token') or not auth.get('accessor'):
        raise VaultAccessError('Vault created no usable child token at auth/token/create (no token or accessor '
                               'in the answer).')
    return {'token': auth['client_token'], 'accessor': auth['accessor'],
            'policies': sorted(auth.get('policies') or policies)}


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


def open_access(params, request, login_method, client_factory, secret_sink, now=None):
    """Log in, create the child token, read the secret, write the record.

    Returns ``(record, record_path, data)``. ``client_factory(token)`` builds an hvac client;
    ``secret_sink(value)`` is told every token, so the module can mask it. On every path after
    the login that does not hand the access back - a refusal, a Vault error, and any other
    exception (a bug, a KeyboardInterrupt) - the child token and the login token are revoked
    (in ``finally``) before the error goes on; on success they stay alive for the caller, whose
    access record names both accessors (the role revokes them in its ``always``).
    """
    vault_addr = params['vault_addr']
    mount = params['engine_mount_point'].strip('/')
    path = normalize_secret_path(params['secret_path'], mount)
    client = client_factory(None)
    login = login_method.login(client)
    child = None
    handed_over = False
    try:
        secret_sink(login.token)
        check_approver_identity(request, login)
        policies = sorted(set(params.get('token_policies')
                              or [p for p in login.policies if p not in ('default', 'root')]))
        if not policies:
            raise BreakGlassRefused('Break-glass access refused: no policy to give the child token (the login '
                                    'holds only %s). Set token_policies to the break-glass read policy.'
                                    % (login.policies,))
        child = create_child_token(client, request, login, policies, vault_addr)
        secret_sink(child['token'])
        data, version = read_secret(client_factory(child['token']), mount, path, params.get('version'),
                                    child['policies'], vault_addr)
        accessed_at = now or utc_now()
        record = build_access_record(request, login, child, mount, path, version, list(data), accessed_at)
        where = record_path(request['incident_id'], accessed_at, child['accessor'])
        write_record(client, mount, where, record, login.policies, vault_addr)
        handed_over = True
        return record, where, data
    finally:
        if not handed_over:
            end_access(client, login, child and child['accessor'], vault_addr)


def end_access(client, login, child_accessor, vault_addr):
    """Best effort: revoke the child token (by accessor) and the login token; never raises.

    Runs while another error is on its way: that error is the one to report, and a token this
    cannot revoke still dies with its short TTL.
    """
    if child_accessor:
        try:
            revoke_by_accessor(client, child_accessor, login.policies, vault_addr)
        except Exception:  # the original error is the one to report
            pass
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


def check_present_params(params, auth_requester, task_no_log):
    """The validated request for state=present, or BreakGlassRefused; no Vault request is made."""
    requester = params.get('requester') or auth_requester
    if not requester and params.get('auth_method') == 'approle':
        raise BreakGlassRefused('Break-glass access refused: auth_method=approle logs in a machine; give requester, '
                                'the person asking (in AWX, the job launcher).')
    request = validate_request(params.get('incident_id'), params.get('reason'), params.get('approved_by'),
                               requester, params.get('ttl'))
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
            'revoked': changed, 'already_revoked': not changed, 'at': _iso(utc_now())}


def vault_break_glass(params, check_mode, task_no_log, mask):
    """The vault_break_glass module: open (state=present) or end (state=revoked) a break-glass access.

    ``task_no_log`` says whether the task has no_log (only then is the secret returned); ``mask(value)``
    is told every token, and the secret's string values when the secret goes to a file, so that none
    of them can reach the output. Returns the module result. A failure after the access was opened
    carries ``access_record`` and ``token_accessor``, so that the role can revoke the tokens.
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
    # check mode returns no secret, so it needs no no_log
    request = check_present_params(params, method.requester(), task_no_log or check_mode)
    if check_mode:
        client = client_factory(None)
        login = method.login(client)
        mask(login.token)
        try:
            check_approver_identity(request, login)
        finally:
            end_login(client, login)
        return dict(changed=True, msg='Would open break-glass access to %s/%s as %s for %s.' % (
            params['engine_mount_point'], params['secret_path'], login.display_name, request['incident_id']))
    record, where, data = open_access(params, request, method, client_factory, mask)
    result = dict(changed=True, access_record=record, halobuzz_record=record, record_path=where,
                  token_accessor=record['token_accessor'], diff=dict(before={}, after=record))
    handed_over = False
    try:
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
        handed_over = True
    except VaultAccessError as error:
        # The access is open: its accessors go back with the failure so that the role revokes the tokens
        # (they are revoked below already; the role's revoke then reports them gone).
        raise VaultAccessError(str(error), access_record=record, token_accessor=record['token_accessor'])
    finally:
        if not handed_over:
            _end_recorded_access(params, method, client_factory, mask, record)
    return result


def _end_recorded_access(params, method, client_factory, mask, record):
    """Revoke both tokens of an opened access whose secret was not handed over; never raises."""
    try:
        revoke_access(dict(params, token_accessor=record['token_accessor'],
                           login_token_accessor=record.get('login_token_accessor')),
                      method, client_factory, mask)
    except Exception:  # the error on its way is the one to report; the TTL bounds the tokens
        pass
