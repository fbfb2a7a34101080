"""Issue 14: the restore engine against mongo-tools' own behaviour, on the real fixtures.

Where the sandbox's nx-27017 cannot hold a feature (time-series collections, views, hashed or descending
index keys), these tests check the command sequence the engine sends, with the recording client of
mongo_recording.py (answers as a real server answers). Upstream code cited per test: mongo-tools commit
8fa3cfc8263b9cead37912d7b0447766143c3e3a.
"""
import gzip
import io
import shutil

import bson
import pytest
from bson.raw_bson import RawBSONDocument
from bson.timestamp import Timestamp
from pymongo.errors import OperationFailure

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import backup as backup_utils
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import restore as restore_utils
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import timeseries
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import (
    MAGIC_BYTES, ArchiveReader, ArchiveWriter, parse_version)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.dump_dir import DumpDirectory
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import (
    CollectionEntry, MongoArchiveError, dump_metadata)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import validate

from mongo_recording import FakeClient, FakeServer
from mongodump_fixtures import fixture

PARAMS = dict(mongodb_uri='mongodb://db/', batch_size=1000, ns_include=[], ns_exclude=[], ns_from=[], ns_to=[],
              drop=True, drop_extra_collections=False, restore_indexes=True, convert_legacy_indexes=False,
              skip_if_identical=True, write_concern='majority')


@pytest.fixture
def server(monkeypatch):
    server = FakeServer()
    monkeypatch.setattr(restore_utils, 'connect', lambda params: FakeClient(server))
    return server


def run(src, **kwargs):
    return restore_utils.run_restore(dict(PARAMS, src=src, **kwargs), False, False)


def writes(server, db=None):
    """The writes to real (non-scratch) namespaces, in order."""
    return [entry for entry in server.log if entry[0] != 'dropDatabase' and not entry[1].startswith(
        'halobuzz_preflight_') and (db is None or entry[1].startswith(db + '.'))]


def bucket_doc(i):
    return bson.encode({'_id': i, 'control': {'version': 1, 'min': {'t': i}, 'max': {'t': i}}, 'meta': 'm',
                        'data': {'t': {'0': i}}})


# --- case 1: time-series -------------------------------------------------------------------------------

@pytest.mark.parametrize('src', [('archives', 'timeseries_tests-dump.archive'),
                                 ('dumps', 'timeseries_tests', 'ts_dump')])
def test_timeseries_restored_as_mongorestore_demultiplexer_and_filepath_go(server, src):
    """common/archive/demultiplexer.go CreateDemux: before 8.3 the data of time-series <name> travels as
    system.buckets.<name>; mongorestore/filepath.go: system.buckets.<name>.bson is its data. restore.go: the
    collection is created with its timeseries options, buckets inserted without bypassing validation."""
    server.version = '5.0.3'
    result = run(fixture(*src))
    assert [(c['namespace'], c['type'], c['documents']) for c in result['collections']] == [
        ('timeseries_test.foo_ts', 'timeseries', 10)]
    log = writes(server, 'timeseries_test')
    assert [e[:2] for e in log] == [('drop', 'timeseries_test.foo_ts'), ('create', 'timeseries_test.foo_ts'),
                                    ('insert', 'timeseries_test.system.buckets.foo_ts'),
                                    ('createIndexes', 'timeseries_test.foo_ts')]
    assert log[1][2]['timeseries']['timeField'] == 'ts'
    assert log[2][2] == 10 and log[2][3] is False  # ten buckets, validated by the server
    assert len(server.coll('timeseries_test', 'system.buckets.foo_ts')['docs']) == 10
    assert result['verified']['timeseries_test.foo_ts']['documents'] == 10


def _bucket_ids(path):
    """The _id of every bucket of the time-series fixture, in dump order."""
    reader = ArchiveReader(path)
    reader.read_prelude()
    ids = [bson.decode(raw)['_id'] for entry, raw in reader.documents()
           if raw is not None and entry.ns == 'timeseries_test.foo_ts']
    reader.close()
    return ids


@pytest.mark.parametrize('version, inserts', [('7.0.0', ('insert', 'timeseries_test.system.buckets.foo_ts')),
                                              ('8.3.0', ('insertCommand', 'timeseries_test.foo_ts'))])
def test_mixed_schema_bucket_gets_collmod_and_the_rest_is_inserted_as_restore_go(server, version, inserts):
    """mongorestore/restore.go RestoreCollectionToDB: a flush refused with CannotInsertTimeseriesBucketsWithMixedSchema
    (408, common/db/db.go TimeseriesBucketNeedsMixedSchema) is followed by collMod
    timeseriesBucketsMayHaveMixedSchemaData on the collection's own name (metadata.go
    EnableMixedSchemaInTimeseriesBucket, db.go GetLogicalTimeseriesCollName) and a second flush; the buckets the
    ordered insert had written before the refused one are not sent again."""
    server.version = version
    path = fixture('archives', 'timeseries_tests-dump.archive')
    ids = _bucket_ids(path)
    server.mixed_schema_ids = {ids[4]}
    result = run(path)
    log = writes(server, 'timeseries_test')
    assert [e[:2] for e in log] == [('drop', 'timeseries_test.foo_ts'), ('create', 'timeseries_test.foo_ts'),
                                    inserts, ('collMod', 'timeseries_test.foo_ts'), inserts,
                                    ('createIndexes', 'timeseries_test.foo_ts')]
    assert log[3][2] == {'timeseriesBucketsMayHaveMixedSchemaData': True}
    assert (log[2][2], log[4][2]) == (10, 6)  # the first attempt wrote 4 buckets; the retry sends the other 6
    assert result['verified']['timeseries_test.foo_ts']['documents'] == 10
    assert result['verified']['timeseries_test.foo_ts']['checksum'] == result['collections'][0]['checksum']


def test_timeseries_refused_before_any_write_where_the_server_makes_a_plain_collection(server):
    """nx-27017 answers ok to create with timeseries but makes a plain collection: the probe sees it and the
    existing collection of the same name keeps its documents (the issue's reproduction)."""
    server.mode = 'nx'
    server.put('timeseries_test', 'foo_ts', docs=[bson.encode({'_id': 1, 'keep': True})])
    with pytest.raises(MongoArchiveError, match='cannot hold a timeseries.*nothing was written') as err:
        run(fixture('dumps', 'timeseries_tests', 'ts_dump'))
    assert 'timeseries_test.foo_ts' in str(err.value)
    assert writes(server, 'timeseries_test') == []
    assert len(server.coll('timeseries_test', 'foo_ts')['docs']) == 1


def test_timeseries_invalid_buckets_refused_before_any_write(server):
    """ts_dump_invalid_buckets: bucket documents without control: a server refuses them, so does mongorestore."""
    with pytest.raises(MongoArchiveError, match='bucket document 1 has no "control"'):
        run(fixture('dumps', 'timeseries_tests', 'ts_dump_invalid_buckets'))
    assert server.log == []


def test_timeseries_without_drop_into_existing_refused_as_preflightchecks(server):
    """mongorestore/mongorestore.go preFlightChecks: without --drop an existing time-series collection refuses."""
    server.version = '6.0.0'
    server.put('timeseries_test', 'foo_ts', kind='timeseries', options={'timeseries': {'timeField': 'ts'}})
    with pytest.raises(MongoArchiveError, match='already exists on the destination'):
        run(fixture('dumps', 'timeseries_tests', 'ts_dump'), drop=False)
    assert writes(server, 'timeseries_test') == []


def test_backup_includes_timeseries_buckets_and_restores_them(server, tmp_path):
    """Case 1c: the safety backup holds the buckets (mongodump dumps system.buckets.<name> before 8.3)."""
    server.version = '7.0.0'
    server.put('metrics', 'temps', kind='timeseries', options={'timeseries': {'timeField': 't', 'metaField': 'meta'}})
    server.put('metrics', 'system.buckets.temps', docs=[bucket_doc(i) for i in range(3)])
    client = FakeClient(server)
    entries = backup_utils.select(client, ['metrics'])
    assert [(e.ns, e.kind) for e in entries] == [('metrics.temps', 'timeseries')]
    dest = str(tmp_path / 'safety.archive')
    collections, _sha, _size = backup_utils.write(client, entries, dest)
    assert collections[0]['documents'] == 3
    plan = validate(dest)
    assert [(i.ns, i.kind, i.entry.count) for i in plan.items] == [('metrics.temps', 'timeseries', 3)]
    server.log.clear()
    run(dest, skip_if_identical=False)
    assert ('insert', 'metrics.system.buckets.temps', 3, False, {'w': 'majority'}) in server.log


# --- case 1d: time-series on servers 8.3 and later (viewless: rawData on the collection's namespace) ------------
# mongo-tools common/db/version.go SupportsRawData (>= 8.3.0) decides where buckets are read and written by the
# server's version: mongorestore inserts them into the collection itself with rawData (common/intents/intent.go
# DataCollection, common/db/buffered_bulk.go newBufferedBulkInserter), mongodump reads them with rawData
# (mongodump/mongodump.go DumpIntent, common/db/query.go Iter) and writes them under the collection's name
# (mongodump/prepare.go NewIntentFromOptions, common/archive/multiplexer.go via Intent.DataCollection).

def viewless_dump_dir(tmp_path):
    """ts_dump as mongodump writes it from an 8.3+ server: <name>.bson beside <name>.metadata.json
    (mongodump/prepare.go: 'viewless timeseries [...] end up in the final else block as a normal collection')."""
    target = tmp_path / 'ts_dump_83' / 'timeseries_test'
    target.mkdir(parents=True)
    source = fixture('dumps', 'timeseries_tests', 'ts_dump', 'timeseries_test')
    shutil.copy(source + '/foo_ts.metadata.json', str(target / 'foo_ts.metadata.json'))
    shutil.copy(source + '/system.buckets.foo_ts.bson', str(target / 'foo_ts.bson'))
    return str(tmp_path / 'ts_dump_83')


def no_buckets_namespace(server, db):
    """Nothing named system.buckets.* was listed, written or read (an 8.3+ server refuses it: code 491)."""
    assert not [n for n in server.dbs.get(db, {}) if n.startswith('system.buckets.')]
    assert not [e for e in server.log if 'system.buckets.' in e[1]]
    assert not [r for r in server.reads if 'system.buckets.' in r[1]]


@pytest.mark.parametrize('src', ['archive', 'dump', 'dump_83'])
def test_timeseries_restored_into_a_viewless_server_with_rawdata_as_mongorestore_intent_datacollection(
        server, tmp_path, src):
    """A dump of a 5.0 server (archive: buckets under system.buckets.<name>, demultiplexer.go CreateDemux by the
    header's server_version; dump directory: system.buckets.<name>.bson, filepath.go) and a dump directory as
    mongodump writes it from 8.3 (<name>.bson), restored into 8.3: intent.go DataCollection is the collection
    itself, buffered_bulk.go inserts with rawData (and bypassEmptyTsReplacement), without bypassing validation
    (restore.go); the verification reads the buckets back with a rawData find (query.go Iter)."""
    server.version = '8.3.0'
    path = {'archive': fixture('archives', 'timeseries_tests-dump.archive'),
            'dump': fixture('dumps', 'timeseries_tests', 'ts_dump'), 'dump_83': viewless_dump_dir(tmp_path)}[src]
    result = run(path)
    log = writes(server, 'timeseries_test')
    assert [e[:2] for e in log] == [('drop', 'timeseries_test.foo_ts'), ('create', 'timeseries_test.foo_ts'),
                                    ('insertCommand', 'timeseries_test.foo_ts'),
                                    ('createIndexes', 'timeseries_test.foo_ts')]
    assert log[2][2:] == (10, True, True)  # ten buckets, bypassEmptyTsReplacement, rawData
    assert server.coll('timeseries_test', 'foo_ts')['type'] == 'timeseries'
    assert len(server.coll('timeseries_test', 'foo_ts')['docs']) == 10
    assert ('find', 'timeseries_test.foo_ts', True) in server.reads
    no_buckets_namespace(server, 'timeseries_test')
    assert result['verified']['timeseries_test.foo_ts']['documents'] == 10
    assert result['verified']['timeseries_test.foo_ts']['checksum'] == result['collections'][0]['checksum']


def test_viewless_restore_verification_reads_buckets_not_measurements(server):
    """Without rawData an 8.3+ server answers a find on a time-series collection with its measurements (the
    recording client unpacks the buckets as $_internalUnpackBucket): the verification must read with rawData,
    else a correct restore would not match its source."""
    server.version = '8.3.0'
    run(fixture('dumps', 'timeseries_tests', 'ts_dump'))
    assert len(FakeClient(server)['timeseries_test']['foo_ts'].find()) == 1000  # 10 buckets x 100 measurements
    identical, _before, _after = restore_utils.compare(
        FakeClient(server), validate(fixture('dumps', 'timeseries_tests', 'ts_dump')))
    assert identical  # read back with rawData: the same ten buckets
    assert server.reads[-1] == ('find', 'timeseries_test.foo_ts', True)


def test_viewless_restore_without_drop_checks_the_collection_once_as_preflightchecks(server):
    """mongorestore.go preFlightChecks: the existing time-series collection is refused; its DataNamespace is the
    collection itself from 8.3, so no second system.buckets message."""
    server.version = '8.3.0'
    server.put('timeseries_test', 'foo_ts', kind='timeseries', options={'timeseries': {'timeField': 'ts'}})
    with pytest.raises(MongoArchiveError, match='already exists on the destination') as err:
        run(fixture('dumps', 'timeseries_tests', 'ts_dump'), drop=False)
    assert 'system.buckets' not in str(err.value)
    assert writes(server, 'timeseries_test') == []


def test_viewless_bucket_refused_by_the_server_fails_the_restore_with_its_write_error(server, tmp_path):
    """A bucket the server refuses comes back in writeErrors of an ok reply to the insert command (pymongo's
    Database.command does not raise on it, insert_many would: BulkWriteError); mongorestore fails on it
    (restore.go NewResultFromBulkResult): the restore stops with the server's message, not later at verification."""
    server.version = '8.3.0'
    dump = tmp_path / 'dup' / 'timeseries_test'
    dump.mkdir(parents=True)
    source = fixture('dumps', 'timeseries_tests', 'ts_dump', 'timeseries_test')
    shutil.copy(source + '/foo_ts.metadata.json', str(dump / 'foo_ts.metadata.json'))
    data = open(source + '/system.buckets.foo_ts.bson', 'rb').read()
    first = data[:int.from_bytes(data[:4], 'little')]
    (dump / 'system.buckets.foo_ts.bson').write_bytes(data + first)  # the first bucket twice
    with pytest.raises(MongoArchiveError, match=r'after writing began: inserting buckets \(rawData\) into '
                                                r'timeseries_test.foo_ts failed: E11000 duplicate key.*code 11000'):
        run(str(tmp_path / 'dup'))
    assert len(server.coll('timeseries_test', 'foo_ts')['docs']) == 10


def test_backup_from_a_viewless_server_reads_buckets_with_rawdata_and_restores_them(server, tmp_path):
    """mongodump against 8.3 (DumpIntent, query.go Iter): a rawData find on the collection; the archive carries
    the buckets under the collection's own name with the header's server_version 8.3.0, which mongorestore's
    demultiplexer expects (CreateDemux); check mode counts the buckets with rawData; the backup restores into
    the same server with rawData inserts (round trip, same checksum)."""
    server.version = '8.3.0'
    server.put('metrics', 'temps', kind='timeseries', options={'timeseries': {'timeField': 't', 'metaField': 'meta'}},
               docs=[bucket_doc(i) for i in range(3)])
    client = FakeClient(server)
    entries = backup_utils.select(client, ['metrics'])
    assert [(e.ns, e.kind) for e in entries] == [('metrics.temps', 'timeseries')]
    assert [e.count for e in backup_utils.count(client, entries)] == [3]
    assert server.reads == [('count', 'metrics.temps', True)]
    dest = str(tmp_path / 'safety.archive')
    collections, _sha, _size = backup_utils.write(client, entries, dest)
    assert collections[0]['documents'] == 3
    assert server.reads[-1] == ('find', 'metrics.temps', True)
    assert demultiplex(dest) == {'metrics.temps': 'closed'}  # not metrics.system.buckets.temps
    plan = validate(dest)
    assert [(i.ns, i.kind, i.entry.count) for i in plan.items] == [('metrics.temps', 'timeseries', 3)]
    server.log.clear()
    result = run(dest, skip_if_identical=False)
    assert [e[:2] for e in writes(server)] == [('drop', 'metrics.temps'), ('create', 'metrics.temps'),
                                               ('insertCommand', 'metrics.temps')]
    assert writes(server)[2][2:] == (3, True, True)
    assert result['verified']['metrics.temps']['checksum'] == collections[0]['checksum']
    assert sorted(server.coll('metrics', 'temps')['docs']) == sorted(bucket_doc(i) for i in range(3))
    no_buckets_namespace(server, 'metrics')


def test_backup_of_a_viewless_server_restores_into_an_older_one_under_system_buckets(server, tmp_path, monkeypatch):
    """8.3 -> 7.0: the archive's header says 8.3.0, so the buckets are read under <name> (CreateDemux), and the
    destination's version puts them into system.buckets.<name> (intent.go DataCollection), without rawData."""
    server.version = '8.3.0'
    server.put('metrics', 'temps', kind='timeseries', options={'timeseries': {'timeField': 't'}},
               docs=[bucket_doc(i) for i in range(3)])
    dest = str(tmp_path / 'from83.archive')
    client = FakeClient(server)
    backup_utils.write(client, backup_utils.select(client, ['metrics']), dest)
    older = FakeServer(version='7.0.0')
    monkeypatch.setattr(restore_utils, 'connect', lambda params: FakeClient(older))
    result = run(dest)
    assert ('insert', 'metrics.system.buckets.temps', 3, False, {'w': 'majority'}) in older.log
    assert not [e for e in older.log if e[0] == 'insertCommand']
    assert result['verified']['metrics.temps']['documents'] == 3


def test_backup_refuses_timeseries_when_the_server_does_not_report_its_version(server, tmp_path):
    """Without a version the buckets' place is unknown (mongodump does not start without it): refused, nothing
    written, rather than an archive read from a system.buckets.<name> an 8.3+ server may not have."""
    server.version = '8.3.0'
    server.put('metrics', 'temps', kind='timeseries', options={'timeseries': {'timeField': 't'}},
               docs=[bucket_doc(i) for i in range(3)])
    client = FakeClient(server)
    entries = backup_utils.select(client, ['metrics'])
    server.version = None
    dest = tmp_path / 'b.archive'
    with pytest.raises(MongoArchiveError, match='does not report its version'):
        backup_utils.write(client, entries, str(dest))
    with pytest.raises(MongoArchiveError, match='does not report its version'):
        backup_utils.count(client, entries)
    assert list(tmp_path.iterdir()) == []


def test_timeseries_restore_refused_when_the_server_does_not_report_its_version(server):
    """mongorestore.go New fails without the server's version ("error getting server version"): the restore
    refuses time-series collections before any write."""
    server.version = None
    with pytest.raises(MongoArchiveError, match='does not report its version.*nothing was written'):
        run(fixture('dumps', 'timeseries_tests', 'ts_dump'))
    assert writes(server, 'timeseries_test') == []


def test_preflight_refuses_a_server_before_8_3_that_makes_viewless_timeseries(server):
    """A build that makes viewless time-series collections before it has rawData (a feature flag on a dev
    build): upstream knows viewless servers only by version, so where the buckets go is unclear; the probe
    sees no system.buckets.<name> and the restore refuses before any write."""
    server.version = '8.2.0'
    server.viewless_version = (8, 2, 0)
    with pytest.raises(MongoArchiveError, match='without system.buckets.*nothing was written'):
        run(fixture('dumps', 'timeseries_tests', 'ts_dump'))
    assert writes(server, 'timeseries_test') == []


def test_preflight_refuses_a_login_without_performrawdataoperations_on_8_3(server):
    """mongo-tools CHANGELOG 100.16.0: against 8.3 the tools need the action performRawDataOperations
    (mongorestore/dumprestore_auth_test.go adds it to the restore roles): the probe's rawData find says so."""
    server.version = '8.3.0'
    server.raw_data_allowed = False
    with pytest.raises(MongoArchiveError, match='performRawDataOperations.*nothing was written'):
        run(fixture('dumps', 'timeseries_tests', 'ts_dump'))
    assert writes(server, 'timeseries_test') == []


def test_recording_server_refuses_the_buckets_namespace_and_rawdata_as_real_ones(server):
    """The recording client's 8.3 answers (system_buckets_metrics.cpp: code 491; an insert without rawData takes
    measurements; before 8.3 rawData is an unknown field, code 40415)."""
    server.version = '8.3.0'
    client = FakeClient(server)
    client['m'].command({'create': 't', 'timeseries': {'timeField': 't'}})
    assert [c['name'] for c in client['m'].list_collections()] == ['t']
    with pytest.raises(OperationFailure) as err:
        client['m']['system.buckets.t'].insert_many([RawBSONDocument(bucket_doc(1))])
    assert err.value.code == 491 and 'Use the rawData API' in str(err.value)
    with pytest.raises(OperationFailure) as err:
        client['m']['t'].insert_many([RawBSONDocument(bucket_doc(1))])
    assert err.value.code == 2
    server.version = '8.2.0'
    with pytest.raises(OperationFailure) as err:
        client['m']['x'].count_documents({}, rawData=True)
    assert err.value.code == 40415


def test_insert_buckets_commands_stay_within_the_command_size_limit():
    """mongo-tools TOOLS-4145 (mongorestore failure when a batch exceeds the message size): buckets are sent in
    insert commands of at most 16 MiB, in order, a single larger bucket alone."""
    big = [RawBSONDocument(bson.encode({'_id': i, 'pad': b'x' * (7 * 1024 * 1024)})) for i in range(3)]
    commands = list(timeseries.insert_buckets_commands('temps', big, {'w': 'majority'}))
    assert [[bson.decode(d.raw)['_id'] for d in c['documents']] for c in commands] == [[0, 1], [2]]
    assert all(len(bson.encode(c)) <= timeseries.MAX_COMMAND_BYTES for c in commands)
    assert [(c['insert'], c['rawData'], c['bypassEmptyTsReplacement'], c['writeConcern']) for c in commands] == [
        ('temps', True, True, {'w': 'majority'})] * 2
    many = [RawBSONDocument(bson.encode({'_id': i, 'pad': b'x' * 1000})) for i in range(20000)]
    commands = list(timeseries.insert_buckets_commands('temps', many))
    assert sum(len(c['documents']) for c in commands) == 20000 and len(commands) == 2
    assert all(len(bson.encode(c)) <= timeseries.MAX_COMMAND_BYTES for c in commands)


# --- case 2: archives the project writes pass mongorestore's demultiplexer -------------------------------------

def demultiplex(path):
    """mongo-tools common/archive/demultiplexer.go, as a check: every prelude namespace (time-series under
    system.buckets.<name> when the header's server_version is before 8.3 or unknown, under <name> from 8.3:
    CreateDemux, mongorestore.go "sourceVersion") starts Unopened; a namespace header opens it ("namespace
    header for already opened namespace" otherwise), its EOF header closes it; at the end every namespace must
    be closed ("archive finished before all collections were seen")."""
    data = open(path, 'rb').read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    assert data[:4] == MAGIC_BYTES
    stream = io.BytesIO(data[4:])

    def block():
        head = stream.read(4)
        if not head:
            return None
        size = int.from_bytes(head, 'little', signed=True)
        if size == -1:
            return b''
        return head + stream.read(size - 4)

    source_version = parse_version(bson.decode(block()).get('server_version'))  # the header
    status = {}
    while True:
        raw = block()
        if raw == b'':
            break
        meta = bson.decode(raw)
        name = meta['collection']
        if meta.get('type') == 'timeseries' and not (source_version and source_version >= (8, 3, 0)):
            name = 'system.buckets.' + name
        status['%s.%s' % (meta['db'], name)] = 'unopened'
    opened_here = None
    while True:
        raw = block()
        if raw is None:
            break
        if raw == b'':
            continue
        doc = bson.decode(raw)
        if opened_here is None and set(doc) >= {'db', 'collection', 'EOF'}:
            ns = '%s.%s' % (doc['db'], doc['collection'])
            if doc['EOF']:
                assert status[ns] == 'opened', ns
                status[ns] = 'closed'
            else:
                assert status.get(ns) in ('unopened', 'opened'), 'namespace header for unknown namespace %s' % ns
                if status[ns] == 'unopened':
                    status[ns] = 'opened'
                opened_here = ns
                while True:  # the documents of this block, up to its terminator
                    raw = block()
                    if raw == b'':
                        break
                opened_here = None
    unfinished = [ns for ns, state in status.items() if state != 'closed']
    assert not unfinished, 'archive finished before all collections were seen (%s)' % unfinished
    return status


def test_backup_with_a_view_and_an_empty_collection_passes_the_demultiplexer_check(server, tmp_path):
    """mongodump/mongodump.go dumpValidatedQueryToIntent: a view gets an empty segment as the trigger to create
    it; every prelude namespace is opened and closed (demultiplexer.go End)."""
    server.put('shop', 'orders', docs=[bson.encode({'_id': 1})])
    server.put('shop', 'empty')
    server.put('shop', 'recent', kind='view', options={'viewOn': 'orders', 'pipeline': [{'$match': {'_id': 1}}]})
    client = FakeClient(server)
    dest = str(tmp_path / 'b.archive')
    backup_utils.write(client, backup_utils.select(client, ['shop']), dest)
    assert demultiplex(dest) == {'shop.empty': 'closed', 'shop.orders': 'closed', 'shop.recent': 'closed'}


def test_demultiplexer_check_fails_on_an_archive_without_a_view_segment(tmp_path):
    """The check itself can fail: the writer of before issue 14 left views without segment and EOF."""
    meta = {'options': {'viewOn': 'orders', 'pipeline': []}, 'indexes': []}
    view = CollectionEntry('shop', 'recent', dump_metadata(meta), meta, kind='view')
    path = str(tmp_path / 'old.archive')
    with open(path, 'wb') as handle:
        writer = ArchiveWriter(handle)
        writer.write_prelude([view])
        writer.close()
    with pytest.raises(AssertionError, match='before all collections were seen'):
        demultiplex(path)


# --- case 3: nothing dropped before the pre-flight; one collection at a time -----------------------------------

def test_failure_in_the_second_collection_leaves_the_others_whole(server):
    """mongorestore/restore.go RestoreIntent: each collection is dropped just before it is restored."""
    for name in ('c1', 'c2', 'c4'):
        server.put('db1', name, docs=[bson.encode({'_id': 'old-%s' % name})])
    server.fail_insert.add('db1.c4')
    with pytest.raises(MongoArchiveError, match='failed after writing began'):
        run(fixture('dumps', 'testdirs'), ns_include=['db1.*'])
    ops = [e[:2] for e in writes(server, 'db1')]
    assert ops.index(('drop', 'db1.c1')) < ops.index(('insert', 'db1.c1')) < ops.index(('drop', 'db1.c2'))
    assert len(server.coll('db1', 'c1')['docs']) == 100  # restored and verified before c4 was touched
    assert ('drop', 'db1.c4') in ops


def test_users_roles_and_version_are_skipped_and_never_dropped(server):
    """usersdump: mongorestore restores admin.system.users/roles only with --restoreDbUsersAndRoles, through
    _mergeAuthzCollections (metadata.go RestoreUsersOrRoles), never as ordinary collections."""
    result = run(fixture('dumps', 'usersdump'))
    assert result['collections'] == []
    assert sorted(s['namespace'] for s in result['skipped_namespaces']) == [
        'admin.system.roles', 'admin.system.users', 'admin.system.version']
    assert writes(server) == []


def test_long_collection_name_comes_from_collectionname(server):
    """mongorestore/filepath.go getInfoFromFile: a 238-byte name with %24 is truncated, the real name is
    collectionName of the metadata."""
    result = run(fixture('dumps', 'longcollectionname'))
    (item,) = result['collections']
    assert item['namespace'].endswith('ConsistingOfExactlyTwoHundredAndFortySevenCharacters')
    assert len(item['namespace'].split('.', 1)[1]) == 247


@pytest.mark.parametrize('version, db, expected', [
    ('3.6.0', 'test', False),   # before 4.0: kept
    ('7.0.0', 'test', True),    # {autoIndexId: false} is not allowed in >= 4.0: changed to true
    ('7.0.0', 'local', False),  # ... except in local
    ('8.2.0', 'test', None),    # removed from 8.2 on
])
def test_autoindexid_rewritten_as_updateautoindexid(server, tmp_path, version, db, expected):
    """mongorestore/metadata.go UpdateAutoIndexId, on misc/test_auto_idx (options {autoIndexId: false})."""
    from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import PlanItem
    shutil.copytree(fixture('misc'), str(tmp_path / db))
    item = PlanItem(DumpDirectory(str(tmp_path)).read_prelude()[-1], '%s.test_auto_idx' % db)
    options = item.create_options(tuple(int(p) for p in version.split('.')))
    assert options.get('autoIndexId') == expected


def test_legacy_index_options_dropped_by_the_server_with_ignoreunknownindexoptions(server):
    """indextestdump's {safe: true}: metadata.go CreateIndexes sends ignoreUnknownIndexOptions to servers >=
    4.1.9; the legacy key values are converted only with convert_legacy_indexes (--convertLegacyIndexes)."""
    with pytest.raises(MongoArchiveError, match='refuses its indexes.*Values in index key pattern'):
        run(fixture('dumps', 'indextestdump'))
    assert writes(server, 'indextest') == []
    server.log.clear()
    run(fixture('dumps', 'indextestdump'), convert_legacy_indexes=True)
    (command,) = [e for e in writes(server, 'indextest') if e[0] == 'createIndexes']
    assert command[3] is True and command[2][0]['key'] == {'a': 1.0, 'b': 1, 'c': 1, 'd': 1}
    assert command[4] == {'w': 'majority'}


def test_legacy_index_options_stripped_for_servers_before_4_1_9(server):
    """restore.go convertLegacyIndexes: servers < 4.1.9 lack ignoreUnknownIndexOptions: unknown options are
    stripped by the client (bsonutil ConvertLegacyIndexOptions)."""
    server.version = '4.0.0'
    run(fixture('dumps', 'indextestdump'), convert_legacy_indexes=True)
    (command,) = [e for e in writes(server, 'indextest') if e[0] == 'createIndexes']
    assert command[3] is None and 'safe' not in command[2][0]


def test_duplicate_index_specs_after_conversion_are_skipped(server):
    """restore.go convertLegacyIndexes: "contains duplicate key with an existing index after
    ConvertLegacyIndexKeys, Skipping..." (dumps/duplicate_index_key: {foo: ""}, {foo: 1.0}, {foo: 1}, {foo: 2})."""
    result = run(fixture('dumps', 'duplicate_index_key'), convert_legacy_indexes=True)
    (command,) = [e for e in writes(server, 'indextest') if e[0] == 'createIndexes']
    assert [s['key'] for s in command[2]] == [{'foo': 1}, {'foo': 2}]
    assert result['skipped_indexes'] == [{'namespace': 'indextest.duplicate_index_key', 'indexes': ['foo_1.0', 'foo_1']}]


@pytest.mark.parametrize('version, refused', [('4.4.0', False), ('4.9.0', True), ('7.0.0', True)])
def test_geohaystack_refused_on_servers_from_4_9_before_any_write(server, version, refused):
    """mongorestore/mongorestore.go preFlightChecks: "found a geoHaystack index ... not supported"."""
    server.version = version
    if refused:
        with pytest.raises(MongoArchiveError, match='geoHaystack index f_1.*4.9 and later.*nothing was written'):
            run(fixture('dumps', 'coll_with_geohaystack_index'))
        assert writes(server, 'geohaystack_test') == []
    else:
        run(fixture('dumps', 'coll_with_geohaystack_index'))
        assert server.coll('geohaystack_test', 'foo')['indexes'][1]['key'] == {'a': 'geoHaystack', 'f': 1.0}


def test_ttl_index_restored_and_verified_with_its_expiry(server):
    """coll_with_ttl_index: expireAfterSeconds is part of the compared index spec."""
    result = run(fixture('dumps', 'coll_with_ttl_index'))
    assert result['verified']['test.foo']['indexes'] == ['{_id: 1}', '{f: 1} (expireAfterSeconds=1000)']
    server.coll('test', 'foo')['indexes'][1].pop('expireAfterSeconds')
    identical, _before, _after = restore_utils.compare(FakeClient(server), validate(fixture('dumps', 'coll_with_ttl_index')))
    assert not identical  # an index without its TTL is not the source's


def test_preflight_refuses_what_nx_cannot_hold_hashed_index_and_names(server, tmp_path):
    """The probe (create, listCollections/listIndexes, drop in a scratch database) tells the truth where the
    server answers ok: nx-27017 keeps a hashed key as ascending and refuses names a real server accepts."""
    server.mode = 'nx'
    (tmp_path / 'shop').mkdir()
    meta = '{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"},{"v":2,"key":{"h":"hashed"},"name":"h"}]}'
    (tmp_path / 'shop' / 'hashed.metadata.json').write_text(meta)
    (tmp_path / 'shop' / 'hashed.bson').write_bytes(bson.encode({'_id': 1, 'h': 2}))
    (tmp_path / 'shop' / 'my+coll.bson').write_bytes(bson.encode({'_id': 1}))
    server.put('shop', 'hashed', docs=[bson.encode({'_id': 'kept'})])
    with pytest.raises(MongoArchiveError) as err:
        run(str(tmp_path))
    message = str(err.value)
    assert 'shop.hashed' in message and 'h: hashed' in message and "shop.my coll: the server refuses" in message
    assert writes(server, 'shop') == [] and server.coll('shop', 'hashed')['docs'] == [bson.encode({'_id': 'kept'})]
    assert not [d for d in server.dbs if d.startswith('halobuzz_preflight_') and server.dbs[d]]


def _shop_dump(tmp_path):
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'orders.bson').write_bytes(bson.encode({'_id': 1, 'total': 5}))
    return str(tmp_path)


def test_check_mode_with_a_read_only_login_leaves_the_probe_out_and_writes_nothing(server, tmp_path):
    """A scheduled dry run with a read-only user: creating the scratch database is Unauthorized (code 13). Check
    mode must not fall back to scratch names in the target database (a write there): the rules alone are checked
    and a warning says the probe was left out."""
    server.writable = set()
    server.put('shop', 'orders', docs=[bson.encode({'_id': 'current'})])
    result = restore_utils.run_restore(dict(PARAMS, src=_shop_dump(tmp_path)), True, False)
    assert result['changed'] is True
    (warning,) = result['warnings']
    assert 'pre-flight probe was left out' in warning and 'not authorized' in warning
    assert server.log == [] and server.coll('shop', 'orders')['docs'] == [bson.encode({'_id': 'current'})]


def test_check_mode_probes_only_in_the_scratch_database(server, tmp_path):
    server.put('shop', 'orders', docs=[bson.encode({'_id': 'current'})])
    result = restore_utils.run_restore(dict(PARAMS, src=_shop_dump(tmp_path)), True, False)
    assert 'warnings' not in result
    assert [e for e in server.log if e[0] == 'create'] and writes(server) == []
    assert sorted(server.dbs) == ['shop'] or not [d for d in server.dbs if d != 'shop' and server.dbs[d]]


def test_a_login_that_may_not_create_the_scratch_database_is_probed_in_the_target(server, tmp_path):
    """A real run whose user may write only the target database: the probe runs there under scratch names
    (and drops them), then the restore proceeds."""
    server.writable = {'shop'}
    server.put('shop', 'orders', docs=[bson.encode({'_id': 'current'})])
    result = run(_shop_dump(tmp_path))
    assert result['changed'] is True and 'warnings' not in result
    probed = [e[1] for e in server.log if e[0] == 'create' and e[1].startswith('shop.halobuzz_preflight_')]
    assert probed and all(('drop', ns) in server.log for ns in probed)
    assert sorted(server.dbs['shop']) == ['orders']
    assert server.coll('shop', 'orders')['docs'] == [bson.encode({'_id': 1, 'total': 5})]


def test_views_restored_from_their_metadata_and_compared_by_pipeline(server, tmp_path):
    """A view is created with viewOn and pipeline; verification compares the definition."""
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'recent.metadata.json').write_text(
        '{"options":{"viewOn":"orders","pipeline":[{"$match":{"x":1}}]},"indexes":[],"type":"view"}')
    result = run(str(tmp_path))
    assert result['verified']['shop.recent'] == {'type': 'view', 'options': {'viewOn': 'orders', 'pipeline': [
        {'$match': {'x': 1}}]}}
    server.coll('shop', 'recent')['options']['pipeline'] = []
    assert not restore_utils.compare(FakeClient(server), validate(str(tmp_path)))[0]


# --- cases 5, 6: names and gzip as the tools decide them ------------------------------------------------------

def test_query_unescape_plus_is_a_space(tmp_path):
    """mongorestore/filepath.go getInfoFromFile: url.QueryUnescape, so my+coll.bson is "my coll"."""
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'my+coll.bson').write_bytes(bson.encode({'_id': 1}))
    (tmp_path / 'shop' / 'a%2Bb.bson').write_bytes(bson.encode({'_id': 1}))
    reader = DumpDirectory(str(tmp_path))
    assert sorted(e.ns for e in reader.read_prelude()) == ['shop.a+b', 'shop.my coll']


def test_plain_bson_starting_with_gzip_magic_is_plain(tmp_path):
    """filepath.go: gzip by the .gz suffix. A first document 35,615 bytes long starts with 1f 8b."""
    doc = bson.encode({'_id': 1, 'pad': 'x' * (35615 - 24)})
    assert len(doc) == 35615 and doc[:2] == b'\x1f\x8b'
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'big.bson').write_bytes(doc)
    reader = DumpDirectory(str(tmp_path))
    reader.read_prelude()
    assert [raw for _e, raw in reader.documents(verify_documents=True) if raw] == [doc]


def test_bin_files_are_restored_as_collections(tmp_path):
    """filepath.go getInfoFromFile: ".bin supported for legacy reasons"."""
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'legacy.bin').write_bytes(bson.encode({'_id': 1}) * 1)
    reader = DumpDirectory(str(tmp_path))
    reader.read_prelude()
    list(reader.documents())
    assert [(e.ns, e.count) for e in reader.collections] == [('shop.legacy', 1)]


# --- case 9: drop=false merges -------------------------------------------------------------------------------

def test_drop_false_merges_and_verifies_what_it_wrote(server):
    """drop=false into a non-empty collection: it holds what it held plus every document written."""
    server.put('test', 'bar', docs=[bson.encode({'_id': 'already-there'})])
    result = run(fixture('archives', 'test.bar.archive'), drop=False)
    assert result['verified']['test.bar']['documents'] == 2
    assert not [e for e in writes(server, 'test') if e[0] == 'drop']


# --- case 11: write concern ------------------------------------------------------------------------------------

def test_writes_use_write_concern_majority_by_default_and_the_option(server):
    """mongorestore's --writeConcern defaults to majority."""
    run(fixture('archives', 'test.bar.archive'))
    assert [e[4] for e in server.log if e[0] == 'insert'] == [{'w': 'majority'}]
    assert [e[3] for e in server.log if e[0] == 'create' and e[1] == 'test.bar'] == [{'w': 'majority'}]
    server.log.clear()
    run(fixture('archives', 'test.bar.archive'), write_concern='1', skip_if_identical=False)
    assert [e[4] for e in server.log if e[0] == 'insert'] == [{'w': 1}]


def test_oplog_archive_restores_the_collections_and_skips_the_oplog(server):
    """dump-w-oplog.archive: the oplog (db "", collection "oplog") is replayed only with --oplogReplay."""
    result = run(fixture('archives', 'dump-w-oplog.archive'))
    assert [(c['namespace'], c['documents']) for c in result['collections']] == [('test.foo', 25)]
    assert 'oplog' in [s['namespace'] for s in result['skipped_namespaces']]


def test_unknown_server_version_in_the_prelude_reads_as_an_older_server(server):
    """prelude_test/server_version_unknown: the dump still restores."""
    result = run(fixture('dumps', 'prelude_test', 'server_version_unknown'))
    assert result['verified']['test.foo']['documents'] == result['collections'][0]['documents']


def test_archive_reader_maps_buckets_to_the_timeseries_entry():
    reader = ArchiveReader(fixture('archives', 'timeseries_tests-dump.archive'))
    reader.read_prelude()
    counts = {}
    for entry, raw in reader.documents(verify_documents=True):
        if raw is not None:
            counts[entry.ns] = counts.get(entry.ns, 0) + 1
    reader.close()
    assert counts == {'timeseries_test.foo_ts': 10, 'admin.system.version': 1}


# --- case 8: --viewsAsCollections archives ----------------------------------------------------------------

def test_views_as_collections_archive_restores_a_collection(server, tmp_path):
    """mongodump --viewsAsCollections (mongodump/prepare.go): prelude type "view", viewOn/pipeline removed, the
    view's documents dumped: mongorestore creates a collection from those options and inserts them."""
    meta = {'options': {}, 'indexes': [], 'type': 'view'}
    entry = CollectionEntry('shop', 'recent', dump_metadata(meta), meta, kind='view')
    path = str(tmp_path / 'views.archive')
    with open(path, 'wb') as handle:
        writer = ArchiveWriter(handle)
        writer.write_prelude([entry])
        writer.write_namespace(entry, [bson.encode({'_id': i}) for i in range(3)])
        writer.close()
    result = run(path)
    assert result['verified']['shop.recent']['type'] == 'collection'
    assert result['verified']['shop.recent']['documents'] == 3


# --- case 10: Timestamp(0, 0) -------------------------------------------------------------------------------

@pytest.mark.parametrize('version, sequence', [
    ('7.0.13', ['insertCommand']),           # bypassEmptyTsReplacement (common/db/empty_timestamp.go)
    ('7.0.2', ['insertOne', 'updateOne']),   # insert, then put the document back (insertDocWithEmptyTimestamps)
])
def test_top_level_empty_timestamp_survives_the_insert(server, tmp_path, version, sequence):
    server.version = version
    docs = [bson.encode({'_id': 1, 'n': 1}), bson.encode({'_id': 2, 'ts': Timestamp(0, 0)}),
            bson.encode({'_id': 3, 'n': 3})]
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'events.bson').write_bytes(b''.join(docs))
    result = run(str(tmp_path))
    assert sorted(server.coll('shop', 'events')['docs']) == sorted(docs)
    assert result['verified']['shop.events']['documents'] == 3
    ops = [e[0] for e in writes(server, 'shop') if e[0] in ('insert', 'insertCommand', 'insertOne', 'updateOne')]
    assert ops == ['insert'] + sequence + ['insert']


def test_empty_timestamp_of_a_bucket_survives_the_rawdata_insert_on_8_3(server, tmp_path):
    """On 8.3 every bucket insert carries rawData and bypassEmptyTsReplacement (common/db/buffered_bulk.go: both
    set on servers that take them), so a bucket whose meta is Timestamp(0, 0) is kept as dumped."""
    server.version = '8.3.0'
    buckets = [bucket_doc(1), bson.encode({'_id': 2, 'control': {'version': 1, 'min': {'t': 2}, 'max': {'t': 2}},
                                           'meta': Timestamp(0, 0), 'data': {'t': {'0': 2}}}), bucket_doc(3)]
    meta = {'options': {'timeseries': {'timeField': 't', 'metaField': 'meta'}}, 'indexes': [], 'type': 'timeseries'}
    (tmp_path / 'metrics').mkdir()
    (tmp_path / 'metrics' / 'temps.metadata.json').write_text(dump_metadata(meta))
    (tmp_path / 'metrics' / 'system.buckets.temps.bson').write_bytes(b''.join(buckets))
    result = run(str(tmp_path))
    assert sorted(server.coll('metrics', 'temps')['docs']) == sorted(buckets)
    assert result['verified']['metrics.temps']['documents'] == 3
    inserts = [e for e in writes(server, 'metrics') if e[0].startswith('insert')]
    assert [(e[0], e[2], e[3], e[4]) for e in inserts] == [('insertCommand', 1, True, True)] * 3
    no_buckets_namespace(server, 'metrics')


@pytest.mark.parametrize('version, insert', [('8.3.0', 'insertCommand'), ('7.0.13', 'insertCommand'),
                                             ('5.0.3', 'insertOne')])
def test_mixed_schema_bucket_with_an_empty_timestamp_gets_collmod_too(server, tmp_path, version, insert):
    """The documents with an empty timestamp go in one by one (restore.go insertDocWithEmptyTimestamps: rawData
    insert on 8.3, bypassEmptyTsReplacement where the server has it, insert + update before); a mixed-schema
    refusal there gets the same collMod and retry as a batch (restore.go RestoreCollectionToDB)."""
    server.version = version
    zero = bson.encode({'_id': 2, 'control': {'version': 1, 'min': {'t': 2}, 'max': {'t': 2}},
                        'meta': Timestamp(0, 0), 'data': {'t': {'0': 2}}})
    meta = {'options': {'timeseries': {'timeField': 't', 'metaField': 'meta'}}, 'indexes': [], 'type': 'timeseries'}
    (tmp_path / 'metrics').mkdir()
    (tmp_path / 'metrics' / 'temps.metadata.json').write_text(dump_metadata(meta))
    (tmp_path / 'metrics' / 'system.buckets.temps.bson').write_bytes(bucket_doc(1) + zero + bucket_doc(3))
    server.mixed_schema_ids = {2}
    result = run(str(tmp_path))
    log = [e[:2] for e in writes(server, 'metrics') if e[0] in (insert, 'collMod')]
    assert log.count(('collMod', 'metrics.temps')) == 1
    assert log.index(('collMod', 'metrics.temps')) < len(log) - 1  # the refused bucket is sent again after it
    assert result['verified']['metrics.temps']['documents'] == 3
    assert zero in (server.coll('metrics', 'temps') if version == '8.3.0' else
                    server.coll('metrics', 'system.buckets.temps'))['docs']


def test_the_recording_server_replaces_empty_timestamps_as_a_real_one(server):
    """The emulator is not kinder than the server: a plain insert loses the empty timestamp."""
    FakeClient(server)['shop']['events'].insert_many([bson.encode({'_id': 1, 'ts': Timestamp(0, 0)})])
    assert bson.decode(server.coll('shop', 'events')['docs'][0])['ts'] != Timestamp(0, 0)


# --- fewer passes: the writers-down window reads the archive once ----------------------------------------------

def test_single_pass_reads_the_source_once_and_scans_each_collection_once(server, monkeypatch):
    checksum = validate(fixture('archives', 'test.bar.archive')).items[0].checksum.hexdigest()
    from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import archive as archive_utils
    reads, scans = [], []
    documents = archive_utils.ArchiveReader.documents
    monkeypatch.setattr(archive_utils.ArchiveReader, 'documents', lambda self, **kw: reads.append(1) or documents(
        self, **kw))
    state = restore_utils.collection_state
    monkeypatch.setattr(restore_utils, 'collection_state', lambda *a, **k: scans.append(a[2]) or state(*a, **k))
    result = run(fixture('archives', 'test.bar.archive'), single_pass=True, skip_if_identical=False)
    assert result['verified']['test.bar']['documents'] == 1 and result['collections'][0]['documents'] == 1
    assert result['collections'][0]['checksum'] == checksum
    assert len(reads) == 1 and scans == ['bar']
    reads.clear()
    scans.clear()
    run(fixture('archives', 'test.bar.archive'), skip_if_identical=False)
    assert len(reads) == 2 and scans == ['bar', 'bar']  # the default: validation pass + compare, then restore + verify


def test_single_pass_corrupt_namespace_fails_after_the_ones_before_it(server, tmp_path):
    from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import CollectionEntry as Entry
    meta = {'options': {}, 'indexes': [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'}]}
    first, second = Entry('shop', 'a', dump_metadata(meta), meta), Entry('shop', 'b', dump_metadata(meta), meta)
    path = tmp_path / 'two.archive'
    with open(str(path), 'wb') as handle:
        writer = ArchiveWriter(handle)
        writer.write_prelude([first, second])
        writer.write_namespace(first, [bson.encode({'_id': 1})])
        writer.write_namespace(second, [bson.encode({'_id': 2, 'x': 'abc'})])
        writer.close()
    data = bytearray(path.read_bytes())
    data[data.rindex(b'abc')] ^= 0x01  # a flipped byte in b's only document: its CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(MongoArchiveError, match='failed after writing began.*CRC-64 mismatch'):
        run(str(path), single_pass=True)
    assert len(server.coll('shop', 'a')['docs']) == 1


# --- users and roles: restore_users_and_roles (mongorestore --restoreDbUsersAndRoles / a full dump's admin) ----

def _users_dump(tmp_path, users=True, roles=True, version=True):
    """usersdump (the real admin.system.* files) beside a collection, as a full mongodump of admin and shop."""
    shutil.copytree(fixture('dumps', 'usersdump'), str(tmp_path / 'dump'))
    for name, wanted in (('users', users), ('roles', roles), ('version', version)):
        if not wanted:
            for suffix in ('.bson', '.metadata.json'):
                (tmp_path / 'dump' / 'admin' / ('system.%s%s' % (name, suffix))).unlink()
    (tmp_path / 'dump' / 'shop').mkdir()
    (tmp_path / 'dump' / 'shop' / 'orders.bson').write_bytes(bson.encode({'_id': 1, 'total': 5}))
    return str(tmp_path / 'dump')


def _merges(server):
    return [e for e in server.log if e[0] == '_mergeAuthzCollections']


def test_users_and_roles_stay_skipped_by_default(server, tmp_path):
    """Default: unchanged (skipped, listed, nothing merged), and the per-database files of mongodump
    --dumpDbUsersAndRoles are skipped too (common/intents/intent.go IsUsers), not written as a collection
    "$admin.system.users" as before."""
    src = _users_dump(tmp_path)
    (tmp_path / 'dump' / 'shop' / '%24admin.system.users.bson').write_bytes(
        bson.encode({'_id': 'shop.app', 'user': 'app', 'db': 'shop', 'roles': []}))
    result = run(src)
    assert 'users_and_roles' not in result and _merges(server) == []
    assert [e for e in server.log if e[1].startswith('admin.') or '$admin' in e[1]] == []
    assert [c['namespace'] for c in result['collections']] == ['shop.orders']
    assert sorted(s['namespace'] for s in result['skipped_namespaces']) == [
        'admin.system.roles', 'admin.system.users', 'admin.system.version', 'shop.$admin.system.users']


def test_restore_users_and_roles_merges_through_temp_collections_after_the_collections(server, tmp_path):
    """mongorestore/metadata.go RestoreUsersOrRoles, mongorestore.go Restore: after RestoreIntents the users and
    roles go into admin.tempusers/admin.temproles, then _mergeAuthzCollections {tempUsersCollection,
    tempRolesCollection, drop (--drop), db: "" (a full dump: every database), writeConcern}, then the temporary
    collections are dropped; never an insert into admin.system.users. Verified with usersInfo/rolesInfo."""
    result = run(_users_dump(tmp_path), restore_users_and_roles=True)
    log = [e for e in server.log if not e[1].startswith('halobuzz_preflight_') and e[0] != 'dropDatabase']
    steps = [e[:2] for e in log]
    probe, merge = _merges(server)
    # the pre-flight's merge of nothing (drop=false), before the first write
    assert probe[2] == {'tempUsersCollection': 'admin.tempusers', 'tempRolesCollection': 'admin.temproles',
                        'drop': False, 'db': '', 'writeConcern': {'w': 'majority'}}
    assert steps.index(('_mergeAuthzCollections', 'admin.$cmd')) < steps.index(('drop', 'shop.orders'))
    assert steps.index(('insert', 'shop.orders')) < steps.index(('insert', 'admin.tempusers'))
    assert steps[steps.index(('insert', 'admin.tempusers')):] == [
        ('insert', 'admin.tempusers'), ('insert', 'admin.temproles'), ('_mergeAuthzCollections', 'admin.$cmd'),
        ('drop', 'admin.tempusers'), ('drop', 'admin.temproles')]
    assert merge[2] == dict(probe[2], drop=True)
    (temp_insert,) = [e for e in log if e[0] == 'insert' and e[1] == 'admin.tempusers']
    assert temp_insert[2:] == (1, False, {'w': 'majority'})
    assert not [e for e in log if e[1] in ('admin.system.users', 'admin.system.roles')]
    assert server.coll('admin', 'tempusers') is None and server.coll('admin', 'temproles') is None
    assert [bson.decode(d)['user'] for d in server.coll('admin', 'system.users')['docs']] == ['reportsUser']
    users = result['users_and_roles']
    assert users['users'] == ['reportsUser@admin'] and users['roles'] == ['manageOpRole@admin']
    assert users['merged'] is True and users['database'] is None
    assert users['verified'] == {'users': ['reportsUser@admin'], 'roles': ['manageOpRole@admin']}
    assert [s['namespace'] for s in result['skipped_namespaces']] == ['admin.system.version']
    assert 'credentials' not in repr(result) and 'storedKey' not in repr(result)


def test_restore_db_users_and_roles_merges_the_users_of_one_database(server, tmp_path):
    """mongodump --db shop --dumpDbUsersAndRoles: shop/$admin.system.users.bson; --restoreDbUsersAndRoles sends
    db: "shop" (metadata.go: userTargetDB = the intent's database), so the server keeps only shop's users."""
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'orders.bson').write_bytes(bson.encode({'_id': 1}))
    user = {'_id': 'shop.app', 'user': 'app', 'db': 'shop', 'credentials': {},
            'roles': [{'role': 'readWrite', 'db': 'shop'}]}
    stray = dict(user, _id='other.app', db='other')
    (tmp_path / 'shop' / '%24admin.system.users.bson').write_bytes(bson.encode(user) + bson.encode(stray))
    (tmp_path / 'shop' / '%24admin.system.version.bson').write_bytes(
        bson.encode({'_id': 'authSchema', 'currentVersion': 5}))
    server.put('admin', 'system.users', docs=[bson.encode(dict(user, _id='shop.old', user='old'))])
    result = run(str(tmp_path), restore_users_and_roles=True)
    (probe, merge) = _merges(server)
    assert merge[2] == {'tempUsersCollection': 'admin.tempusers', 'drop': True, 'db': 'shop',
                        'writeConcern': {'w': 'majority'}}
    assert [bson.decode(d)['_id'] for d in server.coll('admin', 'system.users')['docs']] == ['shop.app']
    assert result['users_and_roles']['users'] == ['app@shop'] and result['users_and_roles']['database'] == 'shop'


def test_users_and_roles_refused_before_any_write_on_nx(server, tmp_path):
    """nx-27017 answers ok to commands it does not know (no CommandNotFound) and lists no commands: the
    pre-flight refuses, before anything is dropped (the collection keeps its documents)."""
    server.mode = 'nx'
    server.put('shop', 'orders', docs=[bson.encode({'_id': 'current'})])
    with pytest.raises(MongoArchiveError, match='does not list its commands.*nothing was written'):
        run(_users_dump(tmp_path), restore_users_and_roles=True)
    assert writes(server) == [] and _merges(server) == []
    assert server.coll('shop', 'orders')['docs'] == [bson.encode({'_id': 'current'})]


def test_users_and_roles_refused_before_any_write_without_mergeauthzcollections(server, tmp_path):
    """A server without the command: listCommands does not list it (and it would answer CommandNotFound, 59)."""
    server.missing_commands.add('_mergeAuthzCollections')
    with pytest.raises(MongoArchiveError, match='has no _mergeAuthzCollections command'):
        run(_users_dump(tmp_path), restore_users_and_roles=True)
    assert writes(server) == []


def test_users_and_roles_login_without_the_privileges_refused_before_any_write(server, tmp_path):
    """The pre-flight's merge of nothing (drop=false) answers Unauthorized for a login without the restore role's
    user-management privileges; nothing is dropped."""
    server.writable = {'shop'}  # may write shop, not admin
    with pytest.raises(MongoArchiveError, match='_mergeAuthzCollections refused.*restore role'):
        run(_users_dump(tmp_path), restore_users_and_roles=True)
    assert [e for e in writes(server) if not e[1].startswith('shop.halobuzz_preflight_')] == []


@pytest.mark.parametrize('dump_version, server_version, refused', [
    (5, 5, None), (3, 5, None), (5, 3, 'auth version 5 to a server of auth version 3'),
    (2, 5, 'dump file with auth version 2')])
def test_auth_schema_versions_compared_as_validateauthversions(server, tmp_path, dump_version, server_version,
                                                               refused):
    """mongorestore/metadata.go GetDumpAuthVersion (admin.system.version authSchema) and ValidateAuthVersions,
    against getParameter authSchemaVersion, before any write."""
    src = _users_dump(tmp_path)
    (tmp_path / 'dump' / 'admin' / 'system.version.bson').write_bytes(
        bson.encode({'_id': 'authSchema', 'currentVersion': dump_version}))
    server.auth_schema_version = server_version
    if refused is None:
        assert run(src, restore_users_and_roles=True)['users_and_roles']['merged'] is True
        return
    with pytest.raises(MongoArchiveError, match=refused):
        run(src, restore_users_and_roles=True)
    assert writes(server) == []


def test_no_version_file_assumes_auth_version_1_and_refuses_a_version_5_server(server, tmp_path):
    """GetDumpAuthVersion: no system.version in a full dump -> users from <= 2.4 (version 1), and (1, 5) is refused."""
    with pytest.raises(MongoArchiveError, match='auth version 1 to a server of auth version 5'):
        run(_users_dump(tmp_path, version=False), restore_users_and_roles=True)
    assert writes(server) == []


def test_check_mode_with_users_and_roles_writes_and_merges_nothing(server, tmp_path):
    """Check mode: the read-only checks (listCommands, getParameter) run, no merge is tried (even a merge of
    nothing takes the user-management lock), nothing is created in admin; the names that would be restored are
    reported."""
    result = restore_utils.run_restore(dict(PARAMS, src=_users_dump(tmp_path), restore_users_and_roles=True),
                                       True, False)
    assert _merges(server) == [] and writes(server) == []
    assert server.coll('admin', 'tempusers') is None
    assert result['users_and_roles']['users'] == ['reportsUser@admin']
    assert result['users_and_roles']['merged'] is False
    assert any('_mergeAuthzCollections was not tried' in w for w in result['warnings'])


def test_users_and_roles_with_drop_refused_when_it_would_remove_the_restore_login(server, tmp_path):
    """With drop the server removes the users of the scope the dump lacks: the login itself would go."""
    server.login = ('restorer', 'admin')
    with pytest.raises(MongoArchiveError, match='logs in as restorer@admin'):
        run(_users_dump(tmp_path), restore_users_and_roles=True)
    assert writes(server) == []
    assert run(_users_dump(tmp_path / 'again'), restore_users_and_roles=True, drop=False)['changed'] is True


def test_users_and_roles_of_two_scopes_refused(tmp_path, server):
    """mongorestore restores the users of one database (--restoreDbUsersAndRoles needs --db) or of a full dump."""
    src = _users_dump(tmp_path)
    (tmp_path / 'dump' / 'shop' / '%24admin.system.users.bson').write_bytes(
        bson.encode({'_id': 'shop.app', 'user': 'app', 'db': 'shop', 'roles': []}))
    with pytest.raises(MongoArchiveError, match='never both'):
        run(src, restore_users_and_roles=True)
    assert server.log == []


def test_single_pass_collects_users_while_restoring_and_merges_after(server, tmp_path):
    """single_pass reads the source once: the users/roles documents are kept as the restore reads them; the
    pre-flight still tries the merge of nothing, the merge itself comes after the collections."""
    result = run(_users_dump(tmp_path), restore_users_and_roles=True, single_pass=True)
    assert result['users_and_roles']['verified']['users'] == ['reportsUser@admin']
    assert [e[2]['drop'] for e in _merges(server)] == [False, True]


def test_single_pass_compares_auth_versions_before_the_merge(server, tmp_path):
    """In single pass the dump's version file is read with the collections: an incompatible one stops the restore
    after them, before any user or role is written (the check-mode run before it compared them already)."""
    server.auth_schema_version = 3
    with pytest.raises(MongoArchiveError, match='every collection was restored and verified.*auth version 5 to a '
                                                'server of auth version 3.*no user or role was written'):
        run(_users_dump(tmp_path), restore_users_and_roles=True, single_pass=True)
    assert [e[2]['drop'] for e in _merges(server)] == [False]
    assert not [e for e in server.log if e[1].startswith('admin.temp')]


def test_a_leftover_temporary_collection_is_dropped_first_and_never_merged_by_the_preflight(server, tmp_path):
    """metadata.go RestoreUsersOrRoles: "dropping preexisting temporary collection"; the pre-flight's merge of
    nothing is left out while admin.tempusers holds documents (it would merge them)."""
    stale = bson.encode({'_id': 'admin.stale', 'user': 'stale', 'db': 'admin', 'roles': []})
    server.put('admin', 'tempusers', docs=[stale])
    result = run(_users_dump(tmp_path), restore_users_and_roles=True)
    assert [e[2]['drop'] for e in _merges(server)] == [True]
    steps = [e[:2] for e in server.log]
    assert steps.index(('drop', 'admin.tempusers')) < steps.index(('insert', 'admin.tempusers'))
    assert [bson.decode(d)['user'] for d in server.coll('admin', 'system.users')['docs']] == ['reportsUser']
    assert any('admin.tempusers holds documents' in w for w in result['warnings'])


def test_without_drop_existing_users_are_kept_as_the_server_merges(server, tmp_path):
    """user_management_commands.cpp _addUser: without drop an existing same-named user is not updated (its insert
    fails and is skipped); verification then asks only that every restored name is listed."""
    mine = bson.encode({'_id': 'admin.reportsUser', 'user': 'reportsUser', 'db': 'admin', 'roles': []})
    other = bson.encode({'_id': 'admin.ops', 'user': 'ops', 'db': 'admin', 'roles': []})
    server.put('admin', 'system.users', docs=[mine, other])
    result = run(_users_dump(tmp_path), restore_users_and_roles=True, drop=False)
    assert server.coll('admin', 'system.users')['docs'] == [mine, other]
    assert result['users_and_roles']['verified']['users'] == ['reportsUser@admin']
    assert _merges(server)[-1][2]['drop'] is False


def test_the_recording_server_answers_authz_commands_as_nx_27017_and_a_server_do(server):
    """nx-27017 0.8.1 (measured with its NeoSQLiteHandler): unknown commands answer {ok: 1, result: []}; a
    command with a drop field is taken for drop and fails without a code. A real server lists its commands."""
    client = FakeClient(server)
    assert '_mergeAuthzCollections' in client.admin.command('listCommands')['commands']
    assert client.admin.command('getParameter', 1)['authSchemaVersion'] == 5
    server.mode = 'nx'
    assert client.admin.command('listCommands') == {'ok': 1, 'result': []}
    with pytest.raises(OperationFailure) as failure:
        client.admin.command({'_mergeAuthzCollections': 1, 'tempUsersCollection': 'admin.tempusers', 'drop': False,
                              'db': ''})
    assert failure.value.code is None
