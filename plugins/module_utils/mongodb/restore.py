# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore of a mongodump archive or dump directory: validate everything, check the server, then write
one collection at a time.

1. :func:`validate` (validate.py) reads the whole source once and returns the plan; nothing
   is written and a problem raises MongoArchiveError.
2. :func:`compare` reads the same collections from the database with the same checksum:
   when they already hold exactly the source's content, there is nothing to do.
3. :func:`preflight` (preflight.py) checks every namespace, option and index against the server
   (mongorestore's own rules and a probe in a scratch namespace) and refuses before anything is dropped.
4. :func:`restore` then takes one collection at a time, as mongorestore does (mongo-tools
   mongorestore/restore.go, RestoreIntent: the collection is dropped just before it is restored):
   drop -> create with the options of its metadata -> insert the raw documents -> create its indexes ->
   re-read it once and compare it with the plan (count, content checksum, index specs, options, view
   definition). A failure leaves every other collection as it was, so the role's automatic return to
   the safety backup has something whole to return to.

Writes use write concern ``majority`` by default, as mongorestore (``--writeConcern`` defaults to
majority): a failover right after a verified restore cannot roll the writes back.

:func:`run_restore` is what the mongodb_restore module runs: the steps above, and a failure message
that says whether anything was written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.authz import AuthDocuments, plan_users_and_roles
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import (
    RAW_OPTIONS, SON, MongoClientError, OperationFailure, PyMongoError, RawBSONDocument, WriteConcern, bson,
    connect)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import ContentChecksum, MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import NamespaceFilter
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.preflight import (
    create_command, create_indexes_command, list_collections, preflight, server_version)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.source import open_source
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.timeseries import (
    find_buckets, insert_buckets_commands, supports_raw_data)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import (
    contains, indexes_differ, plain, show_index, validate)

# Buffered bytes per collection before a batch is sent whatever its document count.
MAX_BATCH_BYTES = 16 * 1024 * 1024
# Documents decoded only to look for empty timestamps (plain dicts, bson.Timestamp values).
RAW_DECODE = bson.codec_options.CodecOptions() if bson is not None else None
Timestamp = bson.timestamp.Timestamp if bson is not None else None


def _command(action, ns, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except PyMongoError as exc:
        raise MongoArchiveError('%s %s failed: %s' % (action, ns, exc))


# mongo-tools common/db/db.go ErrCannotInsertTimeseriesBucketsWithMixedSchema: the server refuses a bucket whose
# fields mix types until the collection allows it ("please run collMod with timeseriesBucketsMayHaveMixedSchemaData
# and retry your insert": mongo src/mongo/db/timeseries/ bucket write path).
MIXED_SCHEMA_REFUSED = 408


class _MixedSchemaRefused(MongoArchiveError):
    """An insert of buckets stopped at a bucket with mixed-schema data; ``inserted`` went in before it. The
    _Writer allows mixed-schema data and retries; anywhere else it fails the restore with this message."""

    def __init__(self, ns, inserted):
        super(_MixedSchemaRefused, self).__init__(
            'inserting into %s failed: the server refused a time-series bucket with mixed-schema data (code %d)'
            % (ns, MIXED_SCHEMA_REFUSED))
        self.ns = ns
        self.inserted = inserted


def _write_command(action, ns, database, command):
    """Send a write command (``insert``) and fail on what it refused: Database.command raises only when the command
    fails as a whole, a refused document comes back in ``writeErrors`` of an ``ok: 1`` reply (insert_many raises
    BulkWriteError for it, mongorestore fails on it: restore.go NewResultFromBulkResult), and a write concern
    that was not met in ``writeConcernError``. A bucket refused for mixed-schema data raises _MixedSchemaRefused
    (the caller may allow it and retry, as mongorestore)."""
    reply = _command(action, ns, database.command, command)
    first = (reply.get('writeErrors') or [None])[0]
    if first and first.get('code') == MIXED_SCHEMA_REFUSED:
        raise _MixedSchemaRefused(ns, first.get('index', 0))
    error = first or reply.get('writeConcernError')
    if error:
        raise MongoArchiveError('%s %s failed: %s (code %s)' % (action, ns, error.get('errmsg'), error.get('code')))
    return reply


def collection_state(client, db, collection, infos=None, version=None):
    """What a collection holds now: type, options, count, content checksum (and its sum), full index specs.

    A time-series collection's documents are its buckets, read where a server of ``version`` keeps them
    (timeseries.py: system.buckets.<name> before 8.3, the collection itself with rawData from 8.3)."""
    database = client[db]
    if infos is None:
        infos = _command('listing collections of', db, list_collections, database)
    info = infos.get(collection)
    if info is None:
        return {'type': None}
    kind = info.get('type') or 'collection'
    options = info.get('options') or {}
    if kind == 'view':
        return {'type': 'view', 'options': options}
    checksum = ContentChecksum()

    def read_all():
        if kind == 'timeseries':
            for raw in find_buckets(client, db, collection, version):
                checksum.add(raw)
        else:
            for doc in database.get_collection(collection, codec_options=RAW_OPTIONS).find({}, batch_size=1000):
                checksum.add(doc.raw)
        return list(database[collection].list_indexes())
    indexes = _command('reading', '%s.%s' % (db, collection), read_all)
    return {'type': kind, 'options': options, 'documents': checksum.count, 'checksum': checksum.hexdigest(),
            'sum': checksum.total, 'indexes': indexes}


def describe(state):
    """A collection_state() for results and --diff (JSON-able, indexes as readable specs)."""
    if state.get('type') is None:
        return {'type': None}
    shown = {'type': state['type']}
    if state['type'] != 'view':
        shown.update(documents=state['documents'], checksum=state['checksum'],
                     indexes=sorted(show_index(i) for i in state['indexes']))
    if state.get('options') or state['type'] == 'view':
        shown['options'] = plain(state['options'])
    return shown


def state_problems(state, item, convert_legacy=False, version=None, check_indexes=True, base=None):
    """How ``state`` differs from what the plan item must leave (a list; empty when it matches).

    ``base`` is the collection's state before a restore without drop: then it must hold the documents it
    held plus the ones written (the checksum is a sum, so the two add up) and at least the plan's indexes.
    """
    if state.get('type') != item.kind:
        return ['%s is a %s, the source a %s' % (item.ns, state.get('type') or 'missing collection', item.kind)]
    problems = []
    wanted = item.compared_options(version)
    if not contains(state.get('options') or {}, wanted):
        problems.append('%s has options %s, the source %s' % (
            item.ns, plain(state.get('options') or {}), plain(wanted)))
    if item.is_view:
        return problems
    expected = ContentChecksum()
    expected.merge(item.checksum)
    if base is not None and base.get('type') is not None:
        expected.merge(ContentChecksum.of(base['documents'], base['sum']))
    if (state['documents'], state['checksum']) != (expected.count, expected.hexdigest()):
        problems.append('%s holds %d documents (checksum %s...), expected %d (checksum %s...)' % (
            item.ns, state['documents'], state['checksum'][:12], expected.count, expected.hexdigest()[:12]))
    if check_indexes:
        differences = indexes_differ(state['indexes'], item.expected_indexes(convert_legacy, version))
        if base is not None:
            differences = [d for d in differences if not d.startswith('unexpected')]
        problems.extend('%s: %s' % (item.ns, d) for d in differences)
    return problems


def _extra_collections(client, plan):
    wanted = set(item.ns for item in plan.items)
    extra = []
    for db in plan.databases:
        names = _command('listing collections of', db, client[db].list_collection_names)
        extra.extend('%s.%s' % (db, n) for n in sorted(names)
                     if not n.startswith('system.') and '%s.%s' % (db, n) not in wanted)
    return extra


def compare(client, plan, drop_extra_collections=False, convert_legacy=False):
    """(identical, before, after): the database now and as the plan would leave it.

    The raw states are kept in ``plan.states`` (a restore without drop verifies against them)."""
    before, after, plan.states = {}, {}, {}
    identical = True
    infos = {}
    # where time-series buckets are read depends on the server's version (timeseries.py)
    version = server_version(client) if any(item.is_timeseries for item in plan.items) else None
    for item in plan.items:
        if item.db not in infos:
            infos[item.db] = _command('listing collections of', item.db, list_collections, client[item.db])
        state = collection_state(client, item.db, item.collection, infos[item.db], version)
        plan.states[item.ns] = state
        before[item.ns] = describe(state)
        after[item.ns] = item.expected(convert_legacy)
        if state_problems(state, item, convert_legacy):
            identical = False
    if drop_extra_collections:
        for ns in _extra_collections(client, plan):
            before[ns] = {'type': 'collection'}
            after[ns] = {'type': None}
            identical = False
    return identical, before, after


def has_zero_timestamp(raw):
    """Whether a document holds a Timestamp(0, 0) anywhere (mongorestore/empty_timestamp.go FindZeroTimestamps;
    the quick test first: the type byte 0x11 and eight zero bytes must appear)."""
    if b'\x00' * 8 not in raw or b'\x11' not in raw:
        return False
    return _find_zero_timestamp(bson.decode(raw, RAW_DECODE))


def _find_zero_timestamp(value):
    if isinstance(value, Timestamp):
        return value.time == 0 and value.inc == 0
    if isinstance(value, dict):
        return any(_find_zero_timestamp(v) for v in value.values())
    if isinstance(value, list):
        return any(_find_zero_timestamp(v) for v in value)
    return False


def accepts_literal_zero_timestamp(version):
    """common/db/empty_timestamp.go MongoCanAcceptLiteralZeroTimestamp: bypassEmptyTsReplacement exists from 8.0
    and in 7.0.13+, 6.0.17+, 5.0.29+."""
    if version is None:
        return False
    if version[0] >= 8:
        return True
    if version[1] != 0:
        return False
    return {7: 13, 6: 17, 5: 29}.get(version[0], 10 ** 9) <= version[2]


def write_concern(value):
    """The write concern of option ``write_concern``: ``majority``, a number of members, or a tag set name."""
    text = str(value).strip()
    if not text:
        raise MongoArchiveError('write_concern must not be empty (majority, a number of members or a tag name)')
    return WriteConcern(w=int(text) if text.isdigit() else text)


class _Writer(object):
    """One collection at a time: begin (drop, create), add documents, finish (indexes, verify)."""

    def __init__(self, client, plan, drop, batch_size, restore_indexes, convert_legacy, version, concern):
        self.client = client
        self.plan = plan
        self.drop = drop
        self.batch_size = batch_size
        self.restore_indexes = restore_indexes
        self.convert_legacy = convert_legacy
        self.version = version
        self.concern = concern
        self.batch = []
        self.size = 0
        self.verified = {}
        self.started = set()
        self.collection = None

    def _database(self, item):
        return self.client.get_database(item.db, write_concern=self.concern)

    def _with_concern(self, command):
        command['writeConcern'] = self.concern.document
        return command

    def begin(self, item):
        self.started.add(item.ns)
        database = self._database(item)
        if self.drop and not item.collection.startswith('system.'):
            # restore.go RestoreIntent: "cannot drop system collection, skipping"; dropping a time-series
            # collection drops its buckets too
            _command('dropping', item.ns, database.drop_collection, item.collection)
            exists = False
        else:
            infos = _command('listing collections of', item.db, list_collections, database)
            exists = item.collection in infos
            if item.ns not in self.plan.states:  # single pass: what a merge adds to
                self.plan.states[item.ns] = collection_state(self.client, item.db, item.collection, infos,
                                                             self.version)
        if not exists:
            _command('creating', item.ns, database.command,
                     self._with_concern(create_command(item, self.version)))
        self.resume(item)

    def resume(self, item):
        self.collection = self._database(item).get_collection(item.data_collection_on(self.version),
                                                              codec_options=RAW_OPTIONS)

    def _writes_raw_buckets(self, item):
        """Whether ``item``'s documents are buckets written through its own namespace with rawData (8.3+)."""
        return item.is_timeseries and supports_raw_data(self.version)

    def add(self, item, raw):
        if has_zero_timestamp(raw):
            self.flush(item)
            self._insert_allowing_mixed_schema(item, [RawBSONDocument(raw, RAW_OPTIONS)], self._insert_zero_timestamp)
            return
        self.batch.append(RawBSONDocument(raw, RAW_OPTIONS))
        self.size += len(raw)
        if len(self.batch) >= self.batch_size or self.size >= MAX_BATCH_BYTES:
            self.flush(item)

    def flush(self, item):
        if self.batch:
            self._insert_allowing_mixed_schema(item, self.batch, self._insert_batch)
            self.batch, self.size = [], 0

    def _insert_allowing_mixed_schema(self, item, docs, insert):
        """``insert(item, docs)``; when the server refuses a bucket for mixed-schema data, allow it and go on."""
        try:
            insert(item, docs)
        except _MixedSchemaRefused as refused:
            # mongorestore/restore.go RestoreCollectionToDB: on CannotInsertTimeseriesBucketsWithMixedSchema,
            # collMod timeseriesBucketsMayHaveMixedSchemaData (metadata.go EnableMixedSchemaInTimeseriesBucket)
            # and flush again; the buckets before the refused one are in already (ordered insert)
            self._allow_mixed_schema(item)
            try:
                insert(item, docs[refused.inserted:])
            except _MixedSchemaRefused:
                raise MongoArchiveError('inserting buckets into %s failed: the server still refuses a bucket with '
                                        'mixed-schema data after collMod timeseriesBucketsMayHaveMixedSchemaData'
                                        % item.ns)

    def _insert_batch(self, item, docs):
        if self._writes_raw_buckets(item):
            self._insert_raw_buckets(item, docs)
            return
        # buckets are inserted with validation, as mongorestore (restore.go: bypass only when not time-series)
        self._insert_with_pymongo(item, self.collection.insert_many, docs, ordered=True,
                                  bypass_document_validation=not item.is_timeseries)

    @staticmethod
    def _insert_with_pymongo(item, insert, *args, **kwargs):
        """``insert(*args, **kwargs)`` (insert_many or insert_one); a bucket refused for mixed-schema data raises
        _MixedSchemaRefused with how many went in before it (BulkWriteError: nInserted; WriteError: none)."""
        try:
            insert(*args, **kwargs)
        except OperationFailure as exc:
            details = getattr(exc, 'details', None) or {}
            first = (details.get('writeErrors') or [details])[0]
            if item.is_timeseries and first.get('code') == MIXED_SCHEMA_REFUSED:
                raise _MixedSchemaRefused(item.ns, details.get('nInserted', 0))
            raise MongoArchiveError('inserting into %s failed: %s' % (item.ns, exc))
        except PyMongoError as exc:
            raise MongoArchiveError('inserting into %s failed: %s' % (item.ns, exc))

    def _allow_mixed_schema(self, item):
        """collMod on the time-series collection's own name, on every server version (mongo-tools
        common/db/db.go GetLogicalTimeseriesCollName), without a write concern, as mongorestore sends it."""
        _command('allowing mixed-schema buckets in', item.ns, self._database(item).command,
                 SON([('collMod', item.collection), ('timeseriesBucketsMayHaveMixedSchemaData', True)]))

    def _insert_raw_buckets(self, item, docs):
        """Buckets into a server that has no system.buckets.<name> to write (8.3+): ``insert`` commands on the
        collection's own namespace with rawData, as mongorestore (timeseries.py); pymongo's insert_many cannot
        carry rawData. A refusal for mixed-schema data says how many buckets of ``docs`` went in before it."""
        database = self._database(item)
        inserted = 0
        for command in insert_buckets_commands(item.collection, docs, self.concern.document):
            try:
                _write_command('inserting buckets (rawData) into', item.ns, database, command)
            except _MixedSchemaRefused as refused:
                raise _MixedSchemaRefused(item.ns, inserted + refused.inserted)
            inserted += len(command['documents'])

    def _insert_zero_timestamp(self, item, docs):
        """The one document of ``docs``, holding an empty Timestamp(0, 0) that a server replaces by the current time
        on insert, kept as it is (mongo-tools mongorestore/restore.go insertDocWithEmptyTimestamps;
        common/db/empty_timestamp.go: servers with bypassEmptyTsReplacement are asked not to replace it, older ones
        get the document put back with an update after the insert)."""
        (doc,) = docs
        database = self._database(item)
        if self._writes_raw_buckets(item):  # the insert commands of buckets always carry bypassEmptyTsReplacement
            self._insert_raw_buckets(item, docs)
            return
        if accepts_literal_zero_timestamp(self.version):
            _write_command('inserting into', item.ns, database, SON([
                ('insert', item.data_collection_on(self.version)), ('documents', [doc]), ('ordered', True),
                ('bypassDocumentValidation', not item.is_timeseries), ('bypassEmptyTsReplacement', True),
                ('writeConcern', self.concern.document)]))
            return
        self._insert_with_pymongo(item, self.collection.insert_one, doc,
                                  bypass_document_validation=not item.is_timeseries)
        _command('putting back the empty timestamp of a document of', item.ns, self.collection.update_one,
                 {'_id': bson.decode(doc.raw, RAW_DECODE)['_id']}, [{'$replaceRoot': {'newRoot': {'$literal': doc}}}])

    def finish(self, item):
        self.flush(item)
        if self.restore_indexes and not item.is_view:
            specs = item.index_specs(self.convert_legacy, self.version)
            if specs:
                _command('creating indexes on', item.ns, self._database(item).command,
                         self._with_concern(create_indexes_command(item.collection, specs, self.version)))
        state = collection_state(self.client, item.db, item.collection, version=self.version)
        base = None if self.drop else self.plan.states.get(item.ns)
        problems = state_problems(state, item, self.convert_legacy, self.version, self.restore_indexes, base)
        if problems:
            raise MongoArchiveError('verification after restoring %s failed: %s' % (item.ns, '; '.join(problems)))
        self.verified[item.ns] = describe(state)


def restore(client, plan, path, drop=True, batch_size=1000, restore_indexes=True, drop_extra_collections=False,
            convert_legacy_indexes=False, version=None, concern=None, single_pass=False, collect=None):
    """Write the plan into the database one collection at a time; return the verified per-collection state.

    Call :func:`preflight` first: this function assumes the server can hold every item. With ``single_pass``
    the plan comes from ``validate(read_documents=False)``: each namespace is checked (BSON of every document,
    CRC-64 at its EOF, time-series buckets) and counted while it is written, so the source is read once.
    ``collect(entry, raw)`` is given the documents of namespaces not restored as collections (users and roles)."""
    writer = _Writer(client, plan, drop, batch_size, restore_indexes, convert_legacy_indexes, version,
                     concern or WriteConcern(w='majority'))
    items = plan.by_source()
    current = None
    source = plan.source if single_pass else open_source(path)
    try:
        if not single_pass:
            source.read_prelude()
        for entry, raw in source.documents(verify_documents=single_pass):
            item = items.get((entry.db, entry.collection))
            if item is None:
                if collect is not None and raw is not None:
                    collect(entry, raw)
                continue
            if current is not item:
                if current is not None:
                    writer.flush(current)  # another namespace's block (archives may interleave): send the buffer
                if item.ns in writer.started:
                    writer.resume(item)
                else:
                    writer.begin(item)
                current = item
            if raw is None:
                writer.finish(item)
                current = None
                continue
            if single_pass:
                item.add(raw, source.where)
            writer.add(item, raw)
        changed = [] if single_pass else [
            e.ns for e in source.collections
            if (e.db, e.collection) in items and e.count != items[(e.db, e.collection)].entry.count]
    finally:
        source.close()
    if changed:
        raise MongoArchiveError('%s changed while it was being restored (document counts of %s differ from '
                                'the validation pass); restore from a file nobody is writing' % (path, ', '.join(changed)))
    for item in plan.items:
        if item.ns not in writer.verified:  # namespaces without a segment of their own (views, older archives)
            writer.begin(item)
            writer.finish(item)
    if drop_extra_collections:
        for ns in _extra_collections(client, plan):
            db, coll = ns.split('.', 1)
            _command('dropping', ns, client.get_database(db, write_concern=writer.concern).drop_collection, coll)
    return writer.verified


def _users_and_roles(users_and_roles, client, params, write, concern):
    """After the collections, as mongorestore (mongorestore.go Restore: RestoreIntents, then
    RestoreUsersOrRoles): merge the users and roles (authz.py) and report them; the summary alone otherwise."""
    if not (write and users_and_roles.kinds):
        return users_and_roles.summary(params['drop'])
    try:
        return users_and_roles.restore(client, concern, params['drop'])
    except (MongoArchiveError, MongoClientError) as exc:
        raise MongoArchiveError('restore of %s: every collection was restored and verified, then %s; users and roles '
                                'may be partly merged: run the restore again (or manage them by hand)'
                                % (params['src'], exc))


def run_restore(params, check_mode, diff):
    """mongodb_restore: validate ``params['src']``, compare it with the database, check it against the
    server, restore unless identical.

    A failure before the first write says "nothing was written"; one after names what may be partly restored.
    """
    if params['batch_size'] < 1:
        raise MongoArchiveError('batch_size must be at least 1, got %d' % params['batch_size'])
    convert = params.get('convert_legacy_indexes', False)
    single = bool(params.get('single_pass')) and not check_mode
    plan = users_and_roles = None
    auth_documents = AuthDocuments() if params.get('restore_users_and_roles') else None
    try:
        concern = write_concern(params.get('write_concern', 'majority'))
        ns_filter = NamespaceFilter(params['ns_include'], params['ns_exclude'], params['ns_from'], params['ns_to'])
        plan = validate(params['src'], ns_filter, read_documents=not single,
                        collect=auth_documents.collect if auth_documents else None)
        if auth_documents is not None:
            users_and_roles = plan_users_and_roles(plan, ns_filter, auth_documents, documents_read=not single)
        client = connect(params)
        if single:  # validated by an earlier (check mode) run: no second read, no comparison
            identical, before, after, changed = False, {}, {}, True
        else:
            identical, before, after = compare(client, plan, params['drop_extra_collections'], convert)
            # users and roles are not compared (their credentials are not read back): merged whenever asked
            identical = identical and not (users_and_roles and users_and_roles.kinds)
            changed = not (identical and params['skip_if_identical'])
        version, warnings = None, []
        if changed:
            version, warnings = preflight(client, plan, drop=params['drop'], convert_legacy=convert,
                                          restore_indexes=params['restore_indexes'], check_mode=check_mode,
                                          users_and_roles=users_and_roles, concern=concern)
    except (MongoArchiveError, MongoClientError) as exc:
        if single and plan is not None:
            plan.source.close()
        raise MongoArchiveError('%s; nothing was written' % exc)
    result = dict(changed=changed, identical=identical, skipped_namespaces=plan.skipped_namespaces,
                  excluded_namespaces=plan.excluded_namespaces, source_kind=plan.source.kind)
    if diff:
        result['diff'] = dict(before=before, after=after)
    if changed and not check_mode:
        try:
            result['verified'] = restore(
                client, plan, params['src'], drop=params['drop'], batch_size=params['batch_size'],
                restore_indexes=params['restore_indexes'], drop_extra_collections=params['drop_extra_collections'],
                convert_legacy_indexes=convert, version=version, concern=concern, single_pass=single,
                collect=auth_documents.collect if single and auth_documents else None)
        except (MongoArchiveError, MongoClientError) as exc:
            raise MongoArchiveError('restore of %s failed after writing began: %s; the collections not yet reached '
                                    'are untouched, the one being restored may be partly restored: restore it '
                                    'again (or put back a backup)' % (params['src'], exc))
        finally:
            if single:
                plan.source.close()
    if users_and_roles is not None:
        result['users_and_roles'] = _users_and_roles(users_and_roles, client, params, changed and not check_mode,
                                                     concern)
        warnings = warnings + users_and_roles.warnings
    if warnings:
        result['warnings'] = warnings
    result.update(collections=plan.summary(convert), documents=sum(i.entry.count for i in plan.items),
                  skipped_files=plan.source.skipped_files,
                  skipped_indexes=[dict(namespace=i.ns, indexes=i.skipped_indexes) for i in plan.items
                                   if i.skipped_indexes])
    return result
