# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pre-flight of a restore: every namespace, option and index checked against the target server
before anything is written or dropped.

Two kinds of checks, and the restore refuses with the whole list of problems when any fails:

- the rules mongorestore applies before writing (mongo-tools mongorestore/mongorestore.go,
  ``preFlightChecks``): a time-series collection restored without ``drop`` must not exist yet (nor its
  ``system.buckets`` collection before 8.3); geoHaystack indexes are refused by servers >= 4.9;
- a probe of what the server really holds, rather than trust in its version: each collection is
  created, with the target's name, the same options and the same indexes, in a scratch database
  (``halobuzz_preflight_<random>``), read back with ``listCollections``/``listIndexes`` and dropped. A
  server that answers ``ok`` to ``create`` with ``viewOn`` or ``timeseries`` but makes a plain
  collection (the sandbox's nx-27017 does), renames a hashed index to an ascending one, drops a
  collation or refuses a name (``my coll``) is caught here, before the restore drops anything. A
  time-series collection's buckets are looked for where the restore will write them (timeseries.py):
  ``system.buckets.<name>`` listed before 8.3, a ``find`` with ``rawData`` answered from 8.3.

When the restore's user may not create the scratch database (``Unauthorized``), the probe runs in the
target database under scratch names; the collection names themselves are then not probed. In check mode the
probe never touches the target database: a login that may not create the scratch database (a scheduled dry
run with a read-only user) gets the rules alone and a warning saying the probe was left out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import secrets
from collections import namedtuple

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import parse_version
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import (
    SON, UNAUTHORIZED, OperationFailure, PyMongoError, server_message, server_version_text)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import (
    TIMESERIES_BUCKET_PREFIX, MongoArchiveError)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.timeseries import bucket_collection, supports_raw_data
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import contains, indexes_differ

SCRATCH_PREFIX = 'halobuzz_preflight_'

# version: the server's version (a tuple, None when it does not say); warnings: what was not checked, and why
PreflightResult = namedtuple('PreflightResult', ['version', 'warnings'])


class _ProbeNotAllowed(Exception):
    """Check mode, and the user may not create the scratch database."""


def server_version(client):
    """The server's version as a tuple, None when buildInfo does not say."""
    return parse_version(server_version_text(client))


def list_collections(database):
    """``{name: info}`` of a database (filtered here: some servers ignore listCollections' filter)."""
    return dict((info['name'], info) for info in database.list_collections())


def create_command(item, version, name=None):
    command = SON([('create', name or item.collection)])
    for key, value in item.create_options(version).items():
        command[key] = value
    return command


def create_indexes_command(collection, specs, version):
    command = SON([('createIndexes', collection), ('indexes', specs)])
    # mongorestore/metadata.go CreateIndexes: servers >= 4.1.9 drop unknown (legacy) index options
    # themselves when asked, e.g. the {safe: true} of old dumps
    if version is None or version >= (4, 1, 9):
        command['ignoreUnknownIndexOptions'] = True
    return command


def rule_problems(client, plan, version, drop, restore_indexes):
    """mongorestore's own pre-flight rules (mongorestore.go preFlightChecks) and what this restore does not do."""
    problems = []
    existing = {}
    for item in plan.items:
        if item.is_timeseries:
            if version is None:
                # where the buckets go is decided by the version (timeseries.py); mongorestore does not start
                # without it (mongorestore.go New: "error getting server version")
                problems.append('%s: time-series collection, and the server does not report its version (buildInfo), '
                                'which decides where its buckets are written (system.buckets.<name> before 8.3, '
                                'the collection with rawData from 8.3); nothing can be restored into it safely'
                                % item.ns)
            if not drop:
                names = existing.setdefault(item.db, list_collections(client[item.db]))
                if item.collection in names:
                    problems.append('%s: time-series collection already exists on the destination; remove it or '
                                    'restore with drop (as mongorestore --drop)' % item.ns)
                data = item.data_collection_on(version)
                # from 8.3 the data collection is the collection itself (preFlightChecks then checks it twice)
                if data != item.collection and data in names:
                    problems.append('%s.%s already exists on the destination; remove it to restore %s' % (
                        item.db, data, item.ns))
        if restore_indexes and version is not None and version >= (4, 9, 0) and not item.is_view:
            for index in item.metadata.get('indexes', []):
                if 'geoHaystack' in list(index['key'].values()):
                    problems.append('%s: geoHaystack index %s: geoHaystack indexes are not supported by servers '
                                    '4.9 and later; remove the index from the source or restore without indexes '
                                    '(restore_indexes=false)' % (item.ns, index.get('name')))
        if not drop:
            names = existing.setdefault(item.db, list_collections(client[item.db]))
            info = names.get(item.collection)
            if info is not None and (info.get('type') or 'collection') != item.kind:
                problems.append('%s: the destination holds a %s of that name, the source a %s; restore with drop'
                                % (item.ns, info.get('type') or 'collection', item.kind))
    return problems


class _Probe(object):
    """Creates, reads back and drops one scratch collection per plan item."""

    def __init__(self, client, version, convert_legacy, restore_indexes, check_mode=False):
        self.client = client
        self.check_mode = check_mode
        self.version = version
        self.convert_legacy = convert_legacy
        self.restore_indexes = restore_indexes
        self.scratch_db = SCRATCH_PREFIX + secrets.token_hex(4)
        self.in_target = False
        self.used = set()

    def _where(self, item):
        if self.in_target:
            return self.client[item.db], '%s%s_%d' % (SCRATCH_PREFIX, secrets.token_hex(4), len(self.used))
        return self.client[self.scratch_db], item.collection

    def check(self, item):
        """The problems of ``item`` on this server (a list, empty when the server holds it as the source)."""
        try:
            return self._check(item)
        except OperationFailure as exc:
            if exc.code == UNAUTHORIZED and not self.in_target:
                if self.check_mode:  # a dry run creates nothing in the target database, even scratch names
                    raise _ProbeNotAllowed(server_message(exc))
                self.in_target = True
                return self._check(item)
            raise

    def _check(self, item):
        database, name = self._where(item)
        self.used.add((database.name, name))
        try:
            database.command(create_command(item, self.version, name))
        except OperationFailure as exc:
            if exc.code == UNAUTHORIZED:
                raise
            return ['%s: the server refuses to create it (%s)' % (item.ns, server_message(exc))]
        try:
            infos = list_collections(database)
            info = infos.get(name)
            if info is None:
                return ['%s: the server answered ok to create but lists no such collection' % item.ns]
            kind = info.get('type') or 'collection'
            if kind != item.kind:
                return ['%s: the server cannot hold a %s: create answered ok but made a %s' % (item.ns, item.kind, kind)]
            problems = self._bucket_problems(database, name, item, infos) if item.is_timeseries else []
            wanted = item.compared_options(self.version)
            if not contains(info.get('options') or {}, wanted):
                problems.append('%s: the server does not keep the collection options %s (it reports %s)' % (
                    item.ns, _show(wanted), _show(info.get('options') or {})))
            if self.restore_indexes and not item.is_view:
                specs = item.index_specs(self.convert_legacy, self.version)
                if specs:
                    try:
                        database.command(create_indexes_command(name, specs, self.version))
                    except OperationFailure as exc:
                        return problems + ['%s: the server refuses its indexes (%s)' % (item.ns, server_message(exc))]
                actual = list(database[name].list_indexes())
                differences = indexes_differ(actual, item.expected_indexes(self.convert_legacy, self.version))
                problems.extend('%s: the server cannot hold it as the source has it: %s' % (item.ns, d)
                                for d in differences)
            return problems
        finally:
            self._drop(database, name, item)

    def _bucket_problems(self, database, name, item, infos):
        """Whether the buckets of the scratch time-series collection are where its version says the restore writes
        them (timeseries.py): system.buckets.<name> is listed before 8.3; from 8.3 the collection answers a find
        with rawData (read-only: nothing is written into the probe)."""
        shown = '.'.join(str(v) for v in self.version) if self.version else 'unknown'
        if not supports_raw_data(self.version):
            if bucket_collection(name, self.version) not in infos:
                # a server before 8.3 that keeps time-series collections viewless: upstream only knows such
                # servers by version (mongo-tools common/db/version.go), so where to write is unclear: refuse
                return ['%s: the server (version %s) made the time-series collection without %s%s, where a server '
                        'before 8.3 keeps its buckets; where this server takes buckets is unclear; restore with '
                        'mongorestore' % (item.ns, shown, TIMESERIES_BUCKET_PREFIX, name)]
            return []
        try:
            database.command(SON([('find', name), ('filter', {}), ('limit', 1), ('singleBatch', True),
                                  ('rawData', True)]))
        except OperationFailure as exc:
            if exc.code == UNAUTHORIZED:
                # from 8.3 rawData takes the action performRawDataOperations (mongo-tools CHANGELOG 100.16.0: the
                # built-in backup role holds it; mongorestore/dumprestore_auth_test.go grants it to restore roles)
                return ['%s: the login may not read or write time-series buckets with rawData on this server '
                        '(version %s): grant it the action performRawDataOperations (%s)' % (
                            item.ns, shown, server_message(exc))]
            return ['%s: the server (version %s) refuses to read time-series buckets with rawData (%s), the way a '
                    'restore into 8.3 and later writes them' % (item.ns, shown, server_message(exc))]
        return []

    @staticmethod
    def _drop(database, name, item):
        """Drop the scratch collection (a real server drops a time-series collection's buckets with it)."""
        database.drop_collection(name)
        if item.is_timeseries and TIMESERIES_BUCKET_PREFIX + name in list_collections(database):
            database.drop_collection(TIMESERIES_BUCKET_PREFIX + name)

    def close(self):
        if not self.in_target:
            try:
                self.client.drop_database(self.scratch_db)
            except PyMongoError:
                pass


def _show(value):
    return '{%s}' % ', '.join('%s: %r' % (k, v) for k, v in value.items())


def preflight(client, plan, drop=True, convert_legacy=False, restore_indexes=True, check_mode=False,
              users_and_roles=None, concern=None):
    """Check the whole plan against the server; raise MongoArchiveError with every problem. Returns a
    PreflightResult: the server version and warnings (in check mode, a probe the user may not run).
    ``users_and_roles`` (authz.py) adds the checks of restoring users and roles (_mergeAuthzCollections)."""
    version = server_version(client)
    warnings = []
    try:
        problems = rule_problems(client, plan, version, drop, restore_indexes)
        if users_and_roles is not None:
            problems.extend(users_and_roles.preflight(client, concern, drop, check_mode))
        probe = _Probe(client, version, convert_legacy, restore_indexes, check_mode)
        try:
            for item in plan.items:
                problems.extend(probe.check(item))
        except _ProbeNotAllowed as exc:
            warnings.append('check mode: the pre-flight probe was left out (the user may not create the scratch '
                            'database %s*: %s); only mongorestore\'s rules were checked. The real run probes in the '
                            'target database, before anything is dropped.' % (SCRATCH_PREFIX, exc))
        finally:
            probe.close()
    except PyMongoError as exc:
        raise MongoArchiveError('the pre-flight check against the server failed: %s' % exc)
    if problems:
        raise MongoArchiveError('the server cannot hold what the restore would write: %s' % '; '.join(problems))
    return PreflightResult(version, warnings)
