# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log a CI job in to Vault with its OIDC/JWT token and fetch the secrets one scheduled runbook needs.

    python3 examples/ci/halobuzz_ci_vault.py --role ROLE (--jwt-file FILE | --jwt-env NAME) \
        --secret 'ci/redis#url=redis_url' --secret 'ci/kubeconfig#kubeconfig=@kubeconfig' --out DIR

- Logs in with Vault's JWT auth method (POST /v1/auth/<mount>/login with {"role", "jwt"}; Vault docs,
  "JWT/OIDC auth method": the role's bound_audiences, bound_claims and the configured keys decide).
- Reads each secret from the KV v2 engine (GET /v1/<kv-mount>/data/<path>) and writes DIR/vars.json (mode
  0600), an extra-vars file for `ansible-playbook -e @DIR/vars.json`: `PATH#FIELD=VAR` sets VAR to the field's
  value, `PATH#FIELD=@VAR` writes the field to DIR/VAR (0600) and sets VAR to that file's path (a kubeconfig).
- Revokes its Vault token before it exits (POST /v1/auth/token/revoke-self), whatever happened: the token
  never leaves this process. Nothing secret is printed; errors name the step, the path and Vault's message.
Standard library only, so it runs on a bare CI image with Python 3.9+. VAULT_ADDR names Vault
(VAULT_CACERT a CA bundle, VAULT_NAMESPACE an Enterprise namespace).
"""
from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


class CIVaultError(Exception):
    pass


def _request(addr, method, path, token=None, body=None, cafile=None):
    url = addr.rstrip('/') + '/v1/' + path
    data = json.dumps(body).encode() if body is not None else None
    headers = {'Content-Type': 'application/json'} if data else {}
    if token:
        headers['X-Vault-Token'] = token
    if os.environ.get('VAULT_NAMESPACE'):
        headers['X-Vault-Namespace'] = os.environ['VAULT_NAMESPACE']
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    context = ssl.create_default_context(cafile=cafile) if url.startswith('https:') else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as answer:
            text = answer.read().decode()
            return json.loads(text) if text else {}
    except urllib.error.HTTPError as exc:
        try:
            errors = json.loads(exc.read().decode() or '{}').get('errors') or []
        except ValueError:
            errors = []
        raise CIVaultError('Vault answered %s to %s %s: %s' % (exc.code, method, path, '; '.join(errors) or exc.reason))
    except (urllib.error.URLError, OSError) as exc:
        parts = urllib.parse.urlsplit(addr)
        reason = getattr(exc, 'reason', exc)
        raise CIVaultError('cannot reach Vault at %s://%s (%s %s): %s' % (parts.scheme, parts.netloc, method, path, reason))


def parse_secret(spec):
    """'ci/redis#url=redis_url' -> ('ci/redis', 'url', 'redis_url', False); '=@name' -> as a file."""
    try:
        path, rest = spec.split('#', 1)
        field, var = rest.split('=', 1)
    except ValueError:
        raise CIVaultError('--secret %r: expected PATH#FIELD=VAR or PATH#FIELD=@VAR' % spec)
    as_file = var.startswith('@')
    var = var[1:] if as_file else var
    if not (path and field and var.isidentifier()):
        raise CIVaultError('--secret %r: expected PATH#FIELD=VAR (VAR a variable name)' % spec)
    return path.strip('/'), field, var, as_file


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, 'O_NOFOLLOW', 0), 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)


def fetch(args, jwt):
    addr = os.environ.get('VAULT_ADDR') or ''
    if not addr:
        raise CIVaultError('VAULT_ADDR is not set')
    cafile = os.environ.get('VAULT_CACERT') or None
    secrets = [parse_secret(spec) for spec in args.secret]
    login = _request(addr, 'POST', 'auth/%s/login' % args.auth_mount.strip('/'), body={'role': args.role, 'jwt': jwt},
                     cafile=cafile)
    token = (login.get('auth') or {}).get('client_token')
    if not token:
        raise CIVaultError('the JWT login to role %r returned no token' % args.role)
    try:
        os.makedirs(args.out, mode=0o700, exist_ok=True)
        os.chmod(args.out, 0o700)
        variables = {}
        for path, field, var, as_file in secrets:
            data = _request(addr, 'GET', '%s/data/%s' % (args.kv_mount.strip('/'), path), token=token, cafile=cafile)
            values = ((data.get('data') or {}).get('data')) or {}
            if field not in values:
                raise CIVaultError('secret %s/%s has no field %r' % (args.kv_mount, path, field))
            if as_file:
                target = os.path.join(os.path.abspath(args.out), var)
                _write_private(target, values[field])
                variables[var] = target
            else:
                variables[var] = values[field]
        _write_private(os.path.join(args.out, 'vars.json'), json.dumps(variables))
        return sorted(variables)
    finally:
        try:
            _request(addr, 'POST', 'auth/token/revoke-self', token=token, cafile=cafile)
        except CIVaultError as exc:
            print('warning: could not revoke the CI token (it expires with its TTL): %s' % exc, file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--role', required=True, help='Vault JWT role bound to this pipeline')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--jwt-file', help='file holding the CI job OIDC token')
    source.add_argument('--jwt-env', help='environment variable holding the CI job OIDC token (GitLab id_tokens)')
    parser.add_argument('--secret', action='append', default=[], help='PATH#FIELD=VAR or PATH#FIELD=@VAR')
    parser.add_argument('--out', required=True, help='private directory for vars.json and secret files')
    parser.add_argument('--auth-mount', default='jwt')
    parser.add_argument('--kv-mount', default='secret')
    args = parser.parse_args(argv)
    try:
        if args.jwt_file:
            with open(args.jwt_file) as handle:
                jwt = handle.read().strip()
        else:
            jwt = os.environ.get(args.jwt_env, '').strip()
        if not jwt:
            raise CIVaultError('no JWT in %s' % (args.jwt_file or '$' + args.jwt_env))
        names = fetch(args, jwt)
    except (CIVaultError, OSError) as exc:
        print('halobuzz_ci_vault: %s' % exc, file=sys.stderr)
        return 1
    print('halobuzz_ci_vault: wrote %s for %s' % (os.path.join(args.out, 'vars.json'), ', '.join(names)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
