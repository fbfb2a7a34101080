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


def skip_reason(db, collection):
    """Why a namespace is not restored (as mongorestore without --oplogReplay), or None."""
    if not db:
        if collection == 'oplog':
            return 'oplog: mongorestore replays it only with --oplogReplay, which this restore does not do'
        return 'namespace without a database'
    if db in INTERNAL_DATABASES:
        return 'internal database %r (replication and cluster state) is never restored' % db
    if not collection.startswith('system.'):
        return None
    if collection == 'system.js':
        return None
    if collection in ('system.users', 'system.roles') or (db == 'admin' and collection == 'system.version'):
        return ('users, roles and the auth schema version: mongorestore restores them only with '
                '--restoreDbUsersAndRoles or a full admin restore; manage them separately')
    if collection == 'system.views':
        return 'view definitions: each view is recreated from its own metadata entry'
    if collection.startswith('system.buckets.'):
        return 'time-series buckets: not supported by this restore'
    return 'server-managed system collection'


def _glob_regex(pattern):
    """mongorestore's --nsInclude/--nsExclude syntax: ``*`` matches any run of characters."""
    return re.compile('^' + '.*'.join(re.escape(part) for part in pattern.split('*')) + '$', re.S)


_VARIABLE = re.compile(r'\$([A-Za-z0-9_]+)\$')


class NamespaceFilter(object):
    """ns_include / ns_exclude / ns_from / ns_to, applied as mongorestore applies them."""

    def __init__(self, ns_include=None, ns_exclude=None, ns_from=None, ns_to=None):
        self.include = [_glob_regex(p) for p in ns_include or []]
        self.exclude = [_glob_regex(p) for p in ns_exclude or []]
        ns_from, ns_to = list(ns_from or []), list(ns_to or [])
        if len(ns_from) != len(ns_to):
            raise MongoArchiveError('ns_from has %d entries and ns_to %d: give one ns_to per ns_from'
                                    % (len(ns_from), len(ns_to)))
        self.renames = []
        for source, target in zip(ns_from, ns_to):
            names = _VARIABLE.findall(source)
            missing = set(_VARIABLE.findall(target)) - set(names)
            if missing or len(set(names)) != len(names):
                raise MongoArchiveError('ns_to %r uses $%s$ that ns_from %r does not define once' % (
                    target, '$, $'.join(sorted(missing)) or names[0], source))
            parts = _VARIABLE.split(source)
            regex = ''.join(re.escape(part) if i % 2 == 0 else '(?P<%s>.*?)' % part
                            for i, part in enumerate(parts))
            self.renames.append((re.compile('^' + regex + '$', re.S), target))

    def selects(self, ns):
        if self.include and not any(r.match(ns) for r in self.include):
            return False
        return not any(r.match(ns) for r in self.exclude)

    def target(self, ns):
        for regex, target in self.renames:
            match = regex.match(ns)
            if match:
                renamed = _VARIABLE.sub(lambda m: match.group(m.group(1)), target)
                if '.' not in renamed.strip('.'):
                    raise MongoArchiveError('ns_to turns %s into %r, which is not "<db>.<collection>"' % (ns, renamed))
                return renamed
        return ns
