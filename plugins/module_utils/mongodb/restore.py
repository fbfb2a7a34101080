# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore of a mongodump archive or dump directory: validate everything, then write.

1. :func:`validate` reads the whole source once: structure, every namespace's CRC-64,
   every document's BSON structure, every metadata document; it applies the namespace
   filters and renames and computes each collection's count and content checksum
   (:class:`ContentChecksum`). Nothing is written; a problem raises MongoArchiveError.
2. :func:`compare` reads the same collections from the database with the same checksum:
   when they already hold exactly the source's content, there is nothing to do.
3. :func:`restore` drops and recreates each collection, streams the raw documents in
   batches, recreates the indexes from the metadata, then :func:`verify` re-reads the
   database and compares counts and checksums with the plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import (
    ContentChecksum, MongoArchiveError, open_source)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import PyMongoError

try:
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument
    from bson.son import SON

    RAW_OPTIONS = CodecOptions(document_class=RawBSONDocument)
except ImportError:  # pragma: no cover - the modules report missing_required_lib('pymongo')
    RAW_OPTIONS = None

# Buffered bytes per collection before a batch is sent whatever its document count.
MAX_BATCH_BYTES = 16 * 1024 * 1024
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


def index_fields(index):
    """An index compared by its key fields ("a,b"): servers may rename indexes or normalise key values."""
    return ','.join(index['key'].keys())


INDEX_TYPES = ('2d', '2dsphere', 'geoHaystack', 'hashed', 'text', 'wildcard')


def convert_legacy_index_key(key):
    """An index key old servers accepted and current ones refuse, made valid as mongorestore's
    --convertLegacyIndexes does: zero, non-numbers and unknown strings become 1; others are kept."""
    converted = SON()
    for field, value in key.items():
        if isinstance(value, bool) or value is None:
            value = 1
        elif isinstance(value, (int, float)):
            value = value if value != 0 else 1
        elif isinstance(value, str):
            value = value if value in INDEX_TYPES else 1
        elif hasattr(value, 'to_decimal'):  # Decimal128
            number = value.to_decimal()
            value = 1 if number.is_nan() or number == 0 else value
        else:
            value = 1
        converted[field] = value
    return converted


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


class PlanItem(object):
    """One collection to restore: where from, where to, and what it must hold afterwards."""

    def __init__(self, entry, target):
        self.entry = entry
        self.db, self.collection = target.split('.', 1)
        self.checksum = ContentChecksum()

    @property
    def ns(self):
        return '%s.%s' % (self.db, self.collection)

    @property
    def is_view(self):
        return self.entry.kind == 'view'

    @property
    def metadata(self):
        return self.entry.metadata or {}

    def index_specs(self, convert_legacy=False):
        """Secondary index definitions, as createIndexes wants them (no ns, no _id index)."""
        specs = []
        for index in self.metadata.get('indexes', []):
            if index.get('name') == '_id_':
                continue
            spec = SON((k, v) for k, v in index.items() if k != 'ns')
            if convert_legacy:
                spec['key'] = convert_legacy_index_key(spec['key'])
            specs.append(spec)
        return specs

    def expected(self):
        if self.is_view:
            return {'type': 'view', 'view_on': self.metadata.get('options', {}).get('viewOn')}
        return {'type': 'collection', 'documents': self.entry.count, 'checksum': self.checksum.hexdigest(),
                'indexes': sorted(['_id'] + [index_fields(s) for s in self.index_specs()])}

    def summary(self):
        result = dict(namespace=self.ns, source_namespace=self.entry.ns)
        result.update(self.expected())
        return result


class Plan(object):
    def __init__(self, source):
        self.source = source
        self.items = []
        self.skipped_namespaces = []
        self.excluded_namespaces = []

    @property
    def databases(self):
        return sorted(set(item.db for item in self.items))

    def by_source(self):
        return dict(((i.entry.db, i.entry.collection), i) for i in self.items)

    def summary(self):
        return [item.summary() for item in self.items]


def validate(path, ns_filter=None):
    """Read and check the whole archive or dump; return the :class:`Plan`. Writes nothing."""
    ns_filter = ns_filter or NamespaceFilter()
    source = open_source(path)
    plan = Plan(source)
    try:
        source.read_prelude()
        targets = {}
        for entry in source.collections:
            reason = skip_reason(entry.db, entry.collection)
            if reason:
                plan.skipped_namespaces.append({'namespace': entry.ns, 'reason': reason})
                continue
            if not ns_filter.selects(entry.ns):
                plan.excluded_namespaces.append(entry.ns)
                continue
            target = ns_filter.target(entry.ns)
            if target in targets:
                raise MongoArchiveError('%s and %s would both be restored into %s; adjust ns_from/ns_to'
                                        % (targets[target], entry.ns, target))
            targets[target] = entry.ns
            plan.items.append(PlanItem(entry, target))
        items = plan.by_source()
        for entry, raw in source.documents(verify_documents=True):
            if raw is not None:
                item = items.get((entry.db, entry.collection))
                if item is not None:
                    item.checksum.add(raw)
    finally:
        source.close()
    return plan


def _command(action, ns, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except PyMongoError as exc:
        raise MongoArchiveError('%s %s failed: %s' % (action, ns, exc))


def collection_state(client, db, collection):
    """What a collection holds now: type, count, content checksum, index names."""
    database = client[db]
    # matched here as well: some servers (nx-27017) ignore listCollections' filter
    infos = [info for info in _command('listing collections of', db, lambda: list(
        database.list_collections(filter={'name': collection}))) if info.get('name') == collection]
    if not infos:
        return {'type': None}
    info = infos[0]
    if info.get('type') == 'view':
        return {'type': 'view', 'view_on': info.get('options', {}).get('viewOn')}
    checksum = ContentChecksum()
    coll = database.get_collection(collection, codec_options=RAW_OPTIONS)

    def read_all():
        for doc in coll.find({}, batch_size=1000):
            checksum.add(doc.raw)
        return sorted(index_fields(index) for index in coll.list_indexes())
    indexes = _command('reading', '%s.%s' % (db, collection), read_all)
    return {'type': 'collection', 'documents': checksum.count, 'checksum': checksum.hexdigest(), 'indexes': indexes}


def _extra_collections(client, plan):
    wanted = set(item.ns for item in plan.items)
    extra = []
    for db in plan.databases:
        names = _command('listing collections of', db, client[db].list_collection_names)
        extra.extend('%s.%s' % (db, n) for n in sorted(names)
                     if not n.startswith('system.') and '%s.%s' % (db, n) not in wanted)
    return extra


def compare(client, plan, drop_extra_collections=False):
    """(identical, before, after): the database now and as the plan would leave it."""
    before, after = {}, {}
    for item in plan.items:
        before[item.ns] = collection_state(client, item.db, item.collection)
        after[item.ns] = item.expected()
    if drop_extra_collections:
        for ns in _extra_collections(client, plan):
            before[ns] = {'type': 'collection'}
            after[ns] = {'type': None}
    return before == after, before, after


def _create(client, item, drop):
    database = client[item.db]
    if drop:
        _command('dropping', item.ns, database.drop_collection, item.collection)
    elif item.collection in _command('listing collections of', item.db, database.list_collection_names):
        return
    options = item.metadata.get('options', {})
    command = SON([('create', item.collection)])
    for key, value in options.items():
        command[key] = value
    _command('creating', item.ns, database.command, command)


def _flush(client, item, batch):
    if batch:
        coll = client[item.db].get_collection(item.collection, codec_options=RAW_OPTIONS)
        _command('inserting into', item.ns, coll.insert_many, batch, ordered=True, bypass_document_validation=True)
        del batch[:]


def restore(client, plan, path, drop=True, batch_size=1000, restore_indexes=True, drop_extra_collections=False,
            convert_legacy_indexes=True):
    """Write the plan into the database; return the verified per-collection state."""
    for item in plan.items:
        _create(client, item, drop)
    if drop_extra_collections:
        for ns in _extra_collections(client, plan):
            db, coll = ns.split('.', 1)
            _command('dropping', ns, client[db].drop_collection, coll)
    items = plan.by_source()
    batches = dict((key, []) for key in items)
    sizes = dict((key, 0) for key in items)
    source = open_source(path)
    try:
        source.read_prelude()
        for entry, raw in source.documents():
            key = (entry.db, entry.collection)
            item = items.get(key)
            if item is None:
                continue
            if raw is None:
                _flush(client, item, batches[key])
                sizes[key] = 0
                continue
            batch = batches[key]
            batch.append(RawBSONDocument(raw, RAW_OPTIONS))
            sizes[key] += len(raw)
            if len(batch) >= batch_size or sizes[key] >= MAX_BATCH_BYTES:
                _flush(client, item, batch)
                sizes[key] = 0
        changed = [e.ns for e in source.collections
                   if (e.db, e.collection) in items and e.count != items[(e.db, e.collection)].entry.count]
    finally:
        source.close()
    if changed:
        raise MongoArchiveError('%s changed while it was being restored (document counts of %s differ from '
                                'the validation pass); restore from a file nobody is writing' % (path, ', '.join(changed)))
    if restore_indexes:
        for item in plan.items:
            specs = item.index_specs(convert_legacy_indexes)
            if specs and not item.is_view:
                _command('creating indexes on', item.ns, client[item.db].command,
                         SON([('createIndexes', item.collection), ('indexes', specs)]))
    return verify(client, plan, restore_indexes)


def verify(client, plan, check_indexes=True):
    """Re-read every restored collection; raise MongoArchiveError on any difference."""
    states = {}
    problems = []
    for item in plan.items:
        state = collection_state(client, item.db, item.collection)
        expected = item.expected()
        if not check_indexes:
            state.pop('indexes', None)
            expected.pop('indexes', None)
        states[item.ns] = state
        if state != expected:
            problems.append('%s holds %s, the source %s' % (item.ns, _brief(state), _brief(expected)))
    if problems:
        raise MongoArchiveError('verification after the restore failed: %s' % '; '.join(problems))
    return states


def _brief(state):
    if state.get('type') != 'collection':
        return 'a %s' % (state.get('type') or 'missing collection')
    return '%s documents (checksum %s…, indexes %s)' % (
        state['documents'], state['checksum'][:12], ','.join(state.get('indexes', [])))
