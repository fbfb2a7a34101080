# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore of a mongodump archive or dump directory: validate everything, then write.

1. :func:`validate` (validate.py) reads the whole source once and returns the plan; nothing
   is written and a problem raises MongoArchiveError.
2. :func:`compare` reads the same collections from the database with the same checksum:
   when they already hold exactly the source's content, there is nothing to do.
3. :func:`restore` drops and recreates each collection, streams the raw documents in
   batches, recreates the indexes from the metadata, then :func:`verify` re-reads the
   database and compares counts and checksums with the plan.

:func:`run_restore` is what the mongodb_restore module runs: the three steps above, and a
failure message that says whether anything was written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import (
    RAW_OPTIONS, SON, MongoClientError, PyMongoError, RawBSONDocument, connect)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import ContentChecksum, MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import NamespaceFilter
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.source import open_source
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import index_fields, validate

# Buffered bytes per collection before a batch is sent whatever its document count.
MAX_BATCH_BYTES = 16 * 1024 * 1024


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


def run_restore(params, check_mode, diff):
    """mongodb_restore: validate ``params['src']``, compare it with the database, restore unless identical.

    A failure before the first write says "nothing was written"; one after says the target
    collections may be partly restored.
    """
    if params['batch_size'] < 1:
        raise MongoArchiveError('batch_size must be at least 1, got %d' % params['batch_size'])
    try:
        plan = validate(params['src'], NamespaceFilter(params['ns_include'], params['ns_exclude'],
                                                       params['ns_from'], params['ns_to']))
        client = connect(params)
        identical, before, after = compare(client, plan, params['drop_extra_collections'])
    except (MongoArchiveError, MongoClientError) as exc:
        raise MongoArchiveError('%s; nothing was written' % exc)
    result = dict(changed=not (identical and params['skip_if_identical']), identical=identical,
                  collections=plan.summary(), documents=sum(i.entry.count for i in plan.items),
                  skipped_namespaces=plan.skipped_namespaces, excluded_namespaces=plan.excluded_namespaces,
                  skipped_files=plan.source.skipped_files, source_kind=plan.source.kind)
    if diff:
        result['diff'] = dict(before=before, after=after)
    if result['changed'] and not check_mode:
        try:
            result['verified'] = restore(
                client, plan, params['src'], drop=params['drop'], batch_size=params['batch_size'],
                restore_indexes=params['restore_indexes'], drop_extra_collections=params['drop_extra_collections'],
                convert_legacy_indexes=params['convert_legacy_indexes'])
        except (MongoArchiveError, MongoClientError) as exc:
            raise MongoArchiveError('restore of %s failed after writing began: %s; the target collections may be '
                                    'partly restored: restore them again (or put back a backup)' % (params['src'], exc))
    return result
