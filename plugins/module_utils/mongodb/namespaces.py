# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which namespaces (``db.collection``) a backup or restore takes, and under which name.

:func:`skip_reason` says which namespaces are never restored (as mongorestore without
--oplogReplay), and so never backed up; :class:`NamespaceFilter` applies the user's
ns_include / ns_exclude / ns_from / ns_to patterns as mongorestore applies its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import MongoArchiveError

INTERNAL_DATABASES = ('local', 'config')
AUTH_COLLECTIONS = {'system.users': 'users', 'system.roles': 'roles', 'system.version': 'version'}
# mongodump --db X --dumpDbUsersAndRoles writes X's users, roles and the auth schema version as
# X/$admin.system.users.bson etc. (%24 on disk)
DB_AUTH_PREFIX = '$admin.'


def auth_collection_kind(db, collection):
    """'users', 'roles' or 'version' for the namespaces mongorestore treats as users, roles and the auth schema
    version, else None (mongo-tools common/intents/intent.go IsUsers/IsRoles/IsAuthVersion: admin.system.users
    of a full dump, or <db>.$admin.system.users of a mongodump --dumpDbUsersAndRoles)."""
    if collection.startswith(DB_AUTH_PREFIX):
        return AUTH_COLLECTIONS.get(collection[len(DB_AUTH_PREFIX):])
    if db == 'admin':
        return AUTH_COLLECTIONS.get(collection)
    return None


def skip_reason(db, collection):
    """Why a namespace is not restored (as mongorestore without --oplogReplay), or None."""
    if not db:
        if collection == 'oplog':
            return 'oplog: mongorestore replays it only with --oplogReplay, which this restore does not do'
        return 'namespace without a database'
    if db in INTERNAL_DATABASES:
        return 'internal database %r (replication and cluster state) is never restored' % db
    if auth_collection_kind(db, collection) or collection in ('system.users', 'system.roles'):
        return ('users, roles and the auth schema version: mongorestore restores them only with '
                '--restoreDbUsersAndRoles or a full admin restore, through _mergeAuthzCollections '
                '(option restore_users_and_roles); manage them separately')
    if not collection.startswith('system.'):
        return None
    if collection == 'system.js':
        return None
    if collection == 'system.views':
        return 'view definitions: each view is recreated from its own metadata entry'
    if collection.startswith('system.buckets.'):
        return 'time-series buckets: restored only as the data of their time-series collection\'s own entry'
    return 'server-managed system collection'


# A port of mongo-tools mongorestore/ns/ns.go (Renamer, Matcher): ``*`` is a wild card (``\\*`` a literal
# asterisk, ``\\\\`` a backslash), ``$name$`` a variable; renames are tried last-first, so the last matching
# ns_from/ns_to pair wins ("reversed for replacement precedence").
_WILDCARD = re.compile(r'^(|.*[^\\])\*(.*)$', re.S)
_LEADING_VARIABLE = re.compile(r'^\$([^$]*)\$(.*)$', re.S)


def _unescape(text):
    """ns.go Unescape: ``\\\\`` -> ``\\``, ``\\*`` -> ``*``, any other backslash dropped."""
    out, i = [], 0
    while i < len(text):
        if text[i] == '\\':
            if i + 1 < len(text) and text[i + 1] in '\\*':
                out.append(text[i + 1])
                i += 2
                continue
            i += 1
            continue
        out.append(text[i])
        i += 1
    return ''.join(out)


def _replace_wildcards(text):
    """ns.go replaceWildCards: each unescaped ``*`` becomes ``$1$``, ``$2$``... (from the right)."""
    count = 1
    match = _WILDCARD.match(text)
    while match:
        text = '%s$%d$%s' % (match.group(1), count, match.group(2))
        match = _WILDCARD.match(text)
        count += 1
    return _unescape(text)


def _count_asterisks(text):
    return text.count('*') - text.count('\\*')


def _process(source, target, what):
    """ns.go processReplacement: (regex, [literal or variable index, ...]) for a from/to pair."""
    if '$' in source:
        if source.count('$') % 2 or target.count('$') % 2:
            raise MongoArchiveError('%s: odd number of dollar signs in %r or %r' % (what, source, target))
    else:
        if _count_asterisks(source) != _count_asterisks(target):
            raise MongoArchiveError('%s: different number of asterisks in %r and %r' % (what, source, target))
        source, target = _replace_wildcards(source), _replace_wildcards(target)
    names = {}
    regex = ''
    rest = source
    while rest:
        match = _LEADING_VARIABLE.match(rest)
        if match:
            if match.group(1) in names:
                raise MongoArchiveError('%s: variable $%s$ is used more than once in %r (define each once)' % (
                    what, match.group(1), source))
            names[match.group(1)] = len(names) + 1
            regex += '(.*?)'
            rest = match.group(2)
            continue
        if rest[0] == '$':
            raise MongoArchiveError('%s: extraneous "$" in %r' % (what, source))
        regex += re.escape(rest[0])
        rest = rest[1:]
    parts = []
    rest = target
    while rest:
        match = _LEADING_VARIABLE.match(rest)
        if match:
            if match.group(1) not in names:
                raise MongoArchiveError('%s: ns_to %r uses $%s$ that ns_from %r does not define once' % (
                    what, target, match.group(1), source))
            parts.append(names[match.group(1)])
            rest = match.group(2)
            continue
        if rest[0] == '$':
            raise MongoArchiveError('%s: extraneous "$" in %r' % (what, target))
        parts.append(rest[0])
        rest = rest[1:]
    return re.compile('^' + regex + '$', re.S), parts


def _matcher(pattern, what):
    """ns.go NewMatcher: an include/exclude pattern (``*`` wild card, ``\\*`` literal, no ``$``)."""
    if '$' in pattern:
        raise MongoArchiveError("%s: '$' is not allowed in include/exclude patterns (%r)" % (what, pattern))
    return _process(pattern, pattern, what)[0]


class NamespaceFilter(object):
    """ns_include / ns_exclude / ns_from / ns_to, applied as mongorestore applies them (ns/ns.go)."""

    def __init__(self, ns_include=None, ns_exclude=None, ns_from=None, ns_to=None):
        self.include = [_matcher(p, 'ns_include') for p in ns_include or []]
        self.exclude = [_matcher(p, 'ns_exclude') for p in ns_exclude or []]
        ns_from, ns_to = list(ns_from or []), list(ns_to or [])
        if len(ns_from) != len(ns_to):
            raise MongoArchiveError('ns_from has %d entries and ns_to %d: give one ns_to per ns_from'
                                    % (len(ns_from), len(ns_to)))
        self.renames = []
        for source, target in reversed(list(zip(ns_from, ns_to))):  # ns.go NewRenamer: the last pair wins
            self.renames.append(_process(source, target, 'ns_from %r / ns_to %r' % (source, target)))

    def selects(self, ns):
        if self.include and not any(r.match(ns) for r in self.include):
            return False
        return not any(r.match(ns) for r in self.exclude)

    def target(self, ns):
        for regex, parts in self.renames:
            match = regex.match(ns)
            if match:
                renamed = ''.join(match.group(p) if isinstance(p, int) else p for p in parts)
                if '.' not in renamed.strip('.'):
                    raise MongoArchiveError('ns_to turns %s into %r, which is not "<db>.<collection>"' % (ns, renamed))
                return renamed
        return ns
