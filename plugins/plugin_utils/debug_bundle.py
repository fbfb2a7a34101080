# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The debug bundle (runbook "Debugging Commands" in one file): parts, redaction, the archive and its manifest.

Controller-side code of the ``halobuzz.ops.debug_bundle`` action. Everything here is pure apart from
``write_bundle`` (which writes the archive) and ``recent_records`` (which reads the run-record folder).

Secrets never enter a part:
- a pod's environment is shown the way ``kubectl describe`` shows it (k8s.io/kubectl/pkg/describe/describe.go
  describeContainerEnvVars / describeContainerEnvFrom): a variable from a Secret by the Secret's and the key's
  NAME only (``<set to the key 'password' in secret 'mongodb'>``); unlike kubectl, a plain value is shown
  only when it neither looks like a URL with anything beyond scheme://host:port (it goes through
  ``redact_url``) nor belongs to a secret-looking name (PASSWORD, TOKEN, SECRET, KEY, ...);
- every text part goes through ``scrub``: URLs carrying user information, a query or a path are reduced to
  ``redact_url``'s scheme://host:port, and the values the caller knows to be secret (the passwords of the
  connection URIs, the URIs themselves) are replaced by ``********``;
- results of ``no_log`` tasks never reach the action (Ansible censors them before any later task sees them),
  and run records already omit them (plugins/callback/incident_timeline.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
from urllib.parse import unquote, urlsplit

from ansible_collections.halobuzz.ops.plugins.module_utils.common.redact import redact_text, redact_url
from ansible_collections.halobuzz.ops.plugins.module_utils.common.files import FILE_MODE, private_dir, write_private

MANIFEST = 'manifest.json'
MASK = '********'
SECRET_NAME = re.compile(r'(PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH|DSN|SIGNING|_KEY$)',
                         re.IGNORECASE)
# scheme://anything up to whitespace or a quote: a URL in a log line or a value
_URL = re.compile(r'\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s\'"<>`]+')
_ERROR_LINE = re.compile(r'ERROR|CRITICAL')
_ARCHIVE_NAME = re.compile(r'[^A-Za-z0-9_.-]+')


# -- redaction ------------------------------------------------------------------------------------------

def secrets_of(values):
    """The strings to mask for ``values`` (URIs and other secrets): each value and, for a URI, its password
    and user information (raw and percent-decoded), longest first; empty and trivially short ones left out."""
    found = set()
    for value in values or []:
        if not isinstance(value, str) or not value:
            continue
        found.add(value)
        try:
            parts = urlsplit(value)
            userinfo = parts.netloc.rpartition('@')[0] if '@' in parts.netloc else ''
        except ValueError:
            userinfo = value.partition('://')[2].rpartition('@')[0]
        if userinfo:
            user, _sep, password = userinfo.partition(':')
            for piece in (userinfo, password, unquote(password)):
                found.add(piece)
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def _redact_match(match):
    url = match.group(0)
    try:
        parts = urlsplit(url)
        plain = '@' not in parts.netloc and not parts.query and not parts.fragment
    except ValueError:
        plain = False
    # a plain http(s)://host/path is kept (a request line, a CDN origin); anything else is reduced
    if plain and parts.scheme.lower() in ('http', 'https'):
        return url
    return redact_url(url)


def scrub(text, secrets=()):
    """``text`` with the known secrets masked and every URL carrying credentials or a query reduced."""
    text = redact_text(text, secrets)
    return _URL.sub(_redact_match, text)


def env_value(name, value):
    """A plain env value as the bundle shows it (never a secret-looking one, never a URI's credentials)."""
    if SECRET_NAME.search(name or ''):
        return '<hidden: plain value of a secret-looking variable>'
    value = '' if value is None else str(value)
    if '://' in value:
        return redact_url(value)
    return value


# -- kubectl describe ----------------------------------------------------------------------------------

def _env_lines(container, indent):
    lines = []
    for source in container.get('envFrom') or []:
        ref, kind = (source.get('secretRef'), 'Secret') if source.get('secretRef') else \
            (source.get('configMapRef') or {}, 'ConfigMap')
        prefix = (" with prefix '%s'" % source['prefix']) if source.get('prefix') else ''
        optional = str(bool((ref or {}).get('optional'))).lower()
        lines.append('%s  %s\t%s%s\tOptional: %s' % (indent, (ref or {}).get('name', ''), kind, prefix, optional))
    if lines:
        lines.insert(0, '%sEnvironment Variables from:' % indent)
    env = container.get('env') or []
    if not env:
        lines.append('%sEnvironment:\t<none>' % indent)
        return lines
    lines.append('%sEnvironment:' % indent)
    for var in env:
        name, source = var.get('name', ''), var.get('valueFrom') or {}
        if 'value' in var and not source:
            shown = env_value(name, var.get('value'))
        elif source.get('secretKeyRef'):
            ref = source['secretKeyRef']
            shown = "<set to the key '%s' in secret '%s'>\tOptional: %s" % (
                ref.get('key', ''), ref.get('name', ''), str(bool(ref.get('optional'))).lower())
        elif source.get('configMapKeyRef'):
            ref = source['configMapKeyRef']
            shown = "<set to the key '%s' of config map '%s'>\tOptional: %s" % (
                ref.get('key', ''), ref.get('name', ''), str(bool(ref.get('optional'))).lower())
        elif source.get('fieldRef'):
            shown = ' (%s:%s)' % (source['fieldRef'].get('apiVersion', 'v1'), source['fieldRef'].get('fieldPath', ''))
        elif source.get('resourceFieldRef'):
            shown = '%s (%s)' % (source['resourceFieldRef'].get('resource', ''),
                                 source['resourceFieldRef'].get('containerName', ''))
        else:
            shown = ''
        lines.append('%s  %s:\t%s' % (indent, name, shown))
    return lines


def _state_lines(label, state, indent):
    if not state:
        return []
    kind = next(iter(state))
    detail = state[kind] or {}
    lines = ['%s%s:\t%s' % (indent, label, kind.capitalize())]
    for key, title in (('reason', 'Reason'), ('message', 'Message'), ('exitCode', 'Exit Code'),
                       ('startedAt', 'Started'), ('finishedAt', 'Finished')):
        if detail.get(key) not in (None, ''):
            lines.append('%s  %s:\t%s' % (indent, title, detail[key]))
    return lines


def describe_pod(pod, events=()):
    """The text ``kubectl describe pod`` prints for ``pod`` (a v1 Pod dict), with the bundle's env rules."""
    meta, spec, status = pod.get('metadata') or {}, pod.get('spec') or {}, pod.get('status') or {}
    labels = meta.get('labels') or {}
    lines = ['Name:\t%s' % meta.get('name', ''), 'Namespace:\t%s' % meta.get('namespace', ''),
             'Node:\t%s' % (spec.get('nodeName') or '<none>'), 'Start Time:\t%s' % (status.get('startTime') or '<none>'),
             'Labels:\t%s' % ('\n\t'.join('%s=%s' % kv for kv in sorted(labels.items())) or '<none>'),
             'Status:\t%s' % (status.get('phase') or 'Unknown')]
    if meta.get('deletionTimestamp'):
        lines.append('Status:\tTerminating (lasts %ss)' % meta.get('deletionGracePeriodSeconds', ''))
    if status.get('reason'):
        lines.append('Reason:\t%s' % status['reason'])
    if status.get('message'):
        lines.append('Message:\t%s' % status['message'])
    lines += ['IP:\t%s' % (status.get('podIP') or ''), 'QoS Class:\t%s' % (status.get('qosClass') or '')]
    owners = meta.get('ownerReferences') or []
    if owners:
        lines.append('Controlled By:\t%s/%s' % (owners[0].get('kind', ''), owners[0].get('name', '')))
    statuses = dict((cs.get('name'), cs) for cs in status.get('containerStatuses') or [])
    lines.append('Containers:')
    for container in spec.get('containers') or []:
        cs = statuses.get(container.get('name'), {})
        lines += ['  %s:' % container.get('name', ''), '    Image:\t%s' % container.get('image', '')]
        ports = ['%s/%s' % (p.get('containerPort'), p.get('protocol', 'TCP')) for p in container.get('ports') or []]
        lines.append('    Port:\t%s' % (', '.join(ports) or '<none>'))
        lines += _state_lines('State', cs.get('state'), '    ')
        lines += _state_lines('Last State', cs.get('lastState'), '    ')
        lines += ['    Ready:\t%s' % cs.get('ready', False), '    Restart Count:\t%s' % cs.get('restartCount', 0)]
        resources = container.get('resources') or {}
        for key in ('limits', 'requests'):
            if resources.get(key):
                lines.append('    %s:' % key.capitalize())
                lines += ['      %s:\t%s' % kv for kv in sorted(resources[key].items())]
        lines += _env_lines(container, '    ')
    lines += ['Conditions:', '  Type\tStatus']
    lines += ['  %s\t%s' % (c.get('type', ''), c.get('status', '')) for c in status.get('conditions') or []]
    lines.append('Events:' if events else 'Events:\t<none>')
    if events:
        lines.append('  Type\tReason\tLast Seen\tCount\tMessage')
        for event in events:
            lines.append('  %s\t%s\t%s\t%s\t%s' % (event.get('type', ''), event.get('reason', ''),
                                                   event.get('last_seen') or event.get('first_seen') or '',
                                                   event.get('count', 1), event.get('message', '')))
    return '\n'.join(lines) + '\n'


def error_lines(pods_logs, pattern=_ERROR_LINE):
    """``pod/container: line`` for each log line (current and previous container) matching ``pattern``."""
    found = []
    for pod in pods_logs or []:
        for container in pod.get('containers') or []:
            for which in ('previous_log', 'log'):
                for line in (container.get(which) or '').splitlines():
                    if pattern.search(line):
                        found.append('%s/%s%s: %s' % (pod.get('name', ''), container.get('name', ''),
                                                      ' (previous)' if which == 'previous_log' else '', line))
    return found


# -- run records ---------------------------------------------------------------------------------------

def recent_records(records_dir, limit):
    """[(file name, bytes)] of the newest ``limit`` run records (.jsonl and .md pairs) in ``records_dir``."""
    if not records_dir or not os.path.isdir(records_dir) or limit <= 0:
        return []
    names = [n for n in os.listdir(records_dir) if n.endswith('.jsonl')
             and os.path.isfile(os.path.join(records_dir, n)) and not os.path.islink(os.path.join(records_dir, n))]
    parts = []
    for name in sorted(names, reverse=True)[:limit]:
        for candidate in (name, name[:-len('.jsonl')] + '.md'):
            path = os.path.join(records_dir, candidate)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as handle:
                    parts.append((candidate, handle.read()))
    return parts


# -- the network check pod ------------------------------------------------------------------------------

# The pod runs this fixed, non-interactive command set (busybox/netshoot sh, nslookup and nc -z): one line per
# check, `OK <command>` or `FAIL <command>`, exit 1 when one failed. tests/sandbox/kubeemu/netcheck.py answers
# exactly these lines in the sandbox.
CHECK_HEAD = ['rc=0', 'check() { if "$@" >/dev/null 2>&1; then echo "OK $*"; else echo "FAIL $*"; rc=1; fi; }']
CHECK_TAIL = ['exit $rc']
_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
_HOST = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$')
DEFAULT_PORTS = {'mongodb': 27017, 'redis': 6379, 'rediss': 6379}


def uri_targets(uri):
    """[(host, port)] a client of ``uri`` connects to (MongoDB seed lists too); never the credentials.

    mongodb+srv:// hosts are found through DNS SRV records, so they give no TCP target here. A host that is not
    a plain DNS name or IPv4 address (an IPv6 literal, anything odd) is left out rather than quoted.
    """
    if not isinstance(uri, str) or '://' not in uri:
        return []
    scheme, _sep, rest = uri.partition('://')
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return []
    authority = rest
    for stop in ('/', '?', '#'):
        authority = authority.split(stop, 1)[0]
    hosts = authority.rpartition('@')[2]
    targets = []
    for entry in hosts.split(','):
        host, sep, port = entry.rpartition(':')
        if not sep:
            host, port = entry, str(DEFAULT_PORTS[scheme])
        if _HOST.match(host) and port.isdigit() and 0 < int(port) <= 65535:
            targets.append((host, int(port)))
    return targets


def network_check_script(services, namespace, uris, connect_timeout=3):
    """The pod's ``sh -c`` script: nslookup of each Service (cluster DNS name), nc -z to each URI's host:port."""
    lines = list(CHECK_HEAD)
    for name in sorted(set(services or [])):
        if _DNS_LABEL.match(name or '') and _DNS_LABEL.match(namespace or ''):
            lines.append('check nslookup %s.%s.svc.cluster.local' % (name, namespace))
    seen = set()
    for uri in uris or []:
        for host, port in uri_targets(uri):
            if (host, port) not in seen:
                seen.add((host, port))
                lines.append('check nc -z -w %d %s %d' % (int(connect_timeout), host, port))
    return '\n'.join(lines + CHECK_TAIL) + '\n'


# -- the archive ---------------------------------------------------------------------------------------

def as_bytes(content):
    """A part's content as bytes: text as UTF-8, anything else as indented, key-sorted JSON."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode('utf-8')
    return (json.dumps(content, indent=2, sort_keys=True, default=str) + '\n').encode('utf-8')


def manifest_of(parts, info):
    """The manifest: ``info`` plus every part's name, size and sha256, in archive order."""
    manifest = dict(info)
    manifest['parts'] = [dict(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())
                         for name, data in parts]
    return manifest


def archive_name(deployment, when):
    return 'debug-bundle-%s-%s.tar.gz' % (_ARCHIVE_NAME.sub('_', deployment or 'all'), when.strftime('%Y%m%dT%H%M%SZ'))


def build_archive(parts, manifest, top, when):
    """The gzip'ed tar (bytes) of ``manifest.json`` and ``parts`` under the folder ``top``; reproducible
    for the same input (fixed mtime, owner and mode 0600 in every header)."""
    stamp = int((when - datetime.datetime(1970, 1, 1, tzinfo=when.tzinfo)).total_seconds())
    raw = io.BytesIO()
    with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=stamp) as zipped:
        with tarfile.open(fileobj=zipped, mode='w', format=tarfile.PAX_FORMAT) as tar:
            for name, data in [(MANIFEST, as_bytes(manifest))] + list(parts):
                header = tarfile.TarInfo('%s/%s' % (top, name))
                header.size, header.mode, header.mtime = len(data), FILE_MODE, stamp
                header.uid = header.gid = 0
                header.uname = header.gname = ''
                tar.addfile(header, io.BytesIO(data))
    return raw.getvalue()


def write_bundle(dest_dir, parts, info, deployment, when):
    """Write the archive and its ``.sha256`` (sha256sum format) into ``dest_dir`` (made 0700 if new).

    Returns {path, sha256, sha256_path, size, manifest}.
    """
    parts = [(name, as_bytes(content)) for name, content in parts]
    names = [name for name, _data in parts] + [MANIFEST]
    if len(set(names)) != len(names):
        raise ValueError('two parts of the bundle have the same name: %s'
                         % ', '.join(sorted(set(n for n in names if names.count(n) > 1))))
    manifest = manifest_of(parts, info)
    name = archive_name(deployment, when)
    data = build_archive(parts, manifest, name[:-len('.tar.gz')], when)
    private_dir(dest_dir, hint='give a debug_bundle_dir of your own')
    path = os.path.join(os.path.abspath(dest_dir), name)
    digest = hashlib.sha256(data).hexdigest()
    write_private(path, data)
    write_private(path + '.sha256', ('%s  %s\n' % (digest, name)).encode('ascii'))
    return dict(path=path, sha256=digest, sha256_path=path + '.sha256', size=len(data), manifest=manifest)
