# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way a URL or URI is echoed by halobuzz.ops: scheme, host(s) and port(s), nothing else.

``redact_url(value)`` is for messages (module errors, role messages through the ``redact_url`` filter,
the run record). It never returns the raw input and never raises, whatever the input is: the user
information (``user:password@``), the path, the query (MongoDB's ``?authSource=...&password=...``) and
the fragment are always dropped, and a piece that cannot be read unambiguously is replaced by a marker
in angle brackets (``<no host>``, ``<bad port>``, ...) instead of being shown.

Parsing follows RFC 3986 section 3 (``scheme ":" "//" [userinfo "@"] host [":" port]``) the way
Python's ``urllib.parse.urlsplit`` splits it (the authority ends at the first ``/``, ``?`` or ``#``;
the user information ends at the authority's last ``@``), so that the host shown is the host a client
built on urlsplit (redis-py, hvac/requests) would use. MongoDB connection strings
(https://www.mongodb.com/docs/manual/reference/connection-string/) may list several ``host[:port]``
separated by commas; each is shown.

Defensive rules, because a password typed without percent-encoding can hold any character:
- an ``@`` after the authority (``redis://abc/def@host``: the password ``abc/def`` was not encoded)
  makes the host ambiguous: ``<unclear host>`` is shown, never ``abc``;
- a host is shown only if it is a DNS name or IPv4 address (letters, digits, ``.``, ``-``, ``_``,
  percent-escapes) or a bracketed IPv6 address; a port only if it is digits;
- a scheme is shown only if it is a well-known one (``KNOWN_SCHEMES``: ``redis``, ``mongodb+srv``, ``https``, ...);
- at most 253 characters per host and 10 hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from urllib.parse import urlsplit

_SCHEME = re.compile(r'^([A-Za-z][A-Za-z0-9+.-]*):')
# Schemes shown by name; any other is '<other scheme>' (the text before the first ':' may be a password).
KNOWN_SCHEMES = frozenset(('redis', 'rediss', 'mongodb', 'mongodb+srv', 'http', 'https', 'unix', 'tcp', 'tls',
                           'ssl', 'ftp', 'file', 'ldap', 'ldaps', 'ws', 'wss', 'postgres', 'postgresql', 'mysql',
                           'amqp', 'amqps', 'vault', 's3'))
_HOST = re.compile(r'^[A-Za-z0-9._%-]{1,253}$')
_IPV6 = re.compile(r'^\[[0-9A-Fa-f:.]{2,45}(%25[A-Za-z0-9._~-]{1,32})?\]$')
_PORT = re.compile(r'^[0-9]{1,5}$')
# What urlsplit strips or removes before it parses (WHATWG URL standard: C0 controls and space
# around the URL, tab and newline anywhere).
_STRIP = ''.join(chr(c) for c in range(0x21))
_REMOVE = re.compile(r'[\t\r\n]')
MAX_HOSTS = 10

NO_HOST = '<no host>'
UNCLEAR_HOST = '<unclear host>'
BAD_HOST = '<bad host>'
BAD_PORT = '<bad port>'


def _host_port(hostinfo):
    """'host:port' of one authority entry, each part shown only if it is well formed."""
    if hostinfo.startswith('['):
        end = hostinfo.find(']')
        if end < 0:
            return BAD_HOST  # an unclosed IPv6 bracket: urlsplit raises ValueError here
        host, rest = hostinfo[:end + 1], hostinfo[end + 1:]
        host = host if _IPV6.match(host) else BAD_HOST
        if not rest:
            return host
        if not rest.startswith(':'):
            return host + ':' + BAD_PORT
        port = rest[1:]
    else:
        host, sep, port = hostinfo.rpartition(':')
        if not sep:
            host, port = hostinfo, None
        if not host:
            host = NO_HOST
        elif not _HOST.match(host):
            host = BAD_HOST
    if port is None or port == '':
        return host
    if _PORT.match(port) and int(port) <= 65535:
        return '%s:%d' % (host, int(port))
    return '%s:%s' % (host, BAD_PORT)


def _redact(value):
    text = _REMOVE.sub('', value.strip(_STRIP))
    if not text:
        return '<empty>'
    match = _SCHEME.match(text)
    scheme, rest = (match.group(1).lower(), text[match.end():]) if match else (None, text)
    if scheme is not None and scheme not in KNOWN_SCHEMES:
        scheme = '<other scheme>'
    if not rest.startswith('//'):
        # No authority: 'redis:/:pw@host' or ':pw@host:6379' or 'host:6379'. A host written there is not
        # where a client would connect, and the text may be a password: show nothing of it.
        return '%s:%s' % (scheme, NO_HOST) if scheme else '<not a URL: no scheme://host>'
    rest = rest[2:]
    cut = min([i for i in (rest.find('/'), rest.find('?'), rest.find('#')) if i >= 0] or [len(rest)])
    authority, after = rest[:cut], rest[cut:]
    hostinfo = authority.rpartition('@')[2]
    if not hostinfo:
        hosts = NO_HOST
    elif '@' in after:
        hosts = UNCLEAR_HOST
    else:
        entries = hostinfo.split(',')
        shown = [_host_port(entry) for entry in entries[:MAX_HOSTS]]
        if len(entries) > MAX_HOSTS:
            shown.append('<%d more>' % (len(entries) - MAX_HOSTS))
        hosts = ','.join(shown)
    return '%s://%s' % (scheme, hosts) if scheme else '//%s' % hosts


def redact_url(value):
    """Scheme, host(s) and port(s) of the URL/URI ``value``, for a message; never raises.

    >>> redact_url('redis://:S3cret@127.0.0.1:6379/0')
    'redis://127.0.0.1:6379'
    >>> redact_url('redis:/:S3cret@127.0.0.1:6379/0')
    'redis:<no host>'
    """
    try:
        if value is None:
            return '<empty>'
        if isinstance(value, bytes):
            value = value.decode('utf-8', 'replace')
        if not isinstance(value, str):
            return '<not a string: %s>' % type(value).__name__
        return _redact(value)
    except Exception:  # pylint: disable=broad-except
        return '<unreadable URL>'  # a message helper must never be the failure


def redact_text(text, secrets):
    """``text`` with every non-empty string of ``secrets`` replaced by ``********`` (never raises).

    For messages built from a library's exception text, which may quote the URL or a password.
    Longer secrets are replaced first, so that a URL is replaced whole before the password inside it.
    """
    try:
        text = '%s' % (text,)
        for secret in sorted((s for s in secrets if isinstance(s, str) and s), key=len, reverse=True):
            text = text.replace(secret, '********')
        return text
    except Exception:  # pylint: disable=broad-except
        return '<message withheld: it could not be checked for secrets>'


def url_problem(value, schemes=('http', 'https')):
    """What is wrong with ``value`` as a URL a task will request ('' when nothing is); never raises.

    Refused: not a string or empty; not parseable by urlsplit (an unclosed ``[``, ...); a scheme not in
    ``schemes``; no host; a port that is not a number up to 65535; credentials (``user:password@``),
    because a URL that carries them is echoed by the tasks that use it (ansible.builtin.uri returns
    ``url``, and ``-vvv`` shows the module arguments); a host that only a guess could tell
    (``<unclear host>``, see ``redact_url``). The sentence never quotes the input.
    """
    try:
        if not isinstance(value, str):
            return 'is not a string' if value is not None else 'is empty'
        if not value.strip():
            return 'is empty'
        try:
            parts = urlsplit(value.strip())
        except ValueError:
            return 'cannot be parsed (an IPv6 host is written [::1]; special characters must be percent-encoded)'
        if parts.scheme.lower() not in schemes:
            return 'must start with %s' % ' or '.join('%s://' % s for s in schemes)
        if not parts.netloc or not parts.hostname:
            return 'has no host (write %s://host[:port]/path)' % schemes[0]
        try:
            parts.port
        except ValueError:
            return 'has a port that is not a number between 0 and 65535'
        if '@' in parts.netloc:
            return 'carries credentials (user:password@): they would be echoed in task results; remove them'
        shown = redact_url(value)
        if '<' in shown:
            return 'has a host or port that cannot be read unambiguously'
        return ''
    except Exception:  # pylint: disable=broad-except
        return 'cannot be checked'
