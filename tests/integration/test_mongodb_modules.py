"""mongodb_restore / mongodb_backup / mongodb_info against the sandbox MongoDB (or MONGODB_URI with
HALOBUZZ_USE_ENV=1), and the every-BSON-type round trip on mongoeco.

Everything lands in the database `h5it` (dropped before and after each test); the real
mongodump files come from tests/fixtures/mongodump (see PROVENANCE.md there).
"""
import datetime
import os
import shutil
import uuid

import bson
import pymongo
import pytest
from bson.binary import Binary
from bson.code import Code
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.objectid import ObjectId
from bson.regex import Regex
from bson.timestamp import Timestamp

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import restore as restore_utils
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import NamespaceFilter
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import validate

from mongo_helpers import FIXTURES, MongoEcoServer, read_bson, run_module, write_bson

DB = 'h5it'
TO_H5IT = dict(ns_from=['$db$.$coll$'], ns_to=[DB + '.$db$_$coll$'])


@pytest.fixture
def mongo(sandbox_env):
    client = pymongo.MongoClient(sandbox_env['MONGODB_URI'], serverSelectionTimeoutMS=20000)
    client.drop_database(DB)
    yield client
    client.drop_database(DB)
    client.close()


def raw_docs(client, db, coll):
    options = bson.codec_options.CodecOptions(document_class=bson.raw_bson.RawBSONDocument)
    return sorted(doc.raw for doc in client[db].get_collection(coll, codec_options=options).find())


REAL_SOURCES = [
    ('archives/test.bar.archive', TO_H5IT, {'test_bar': 1}),
    ('dumps/foodump', TO_H5IT, {'test_foo': 1}),
    ('dumps/indextestdump', TO_H5IT, {'indextest_test_collection': 100}),
    ('dumps/prelude_test/prelude_gzip', TO_H5IT, {'test_foo': 1}),
    ('dumps/specialcharacter', dict(ns_from=['db1.caf\u00e9s'], ns_to=[DB + '.cafes']), {'cafes': 1}),
    # db2/c1.bin: mongorestore/filepath.go getInfoFromFile restores .bin files "for legacy reasons"
    ('dumps/testdirs', TO_H5IT, {'db1_c1': 100, 'db1_c2': 0, 'db1_c3': 0, 'db1_c4': 10, 'db2_c1': 0}),
]
# The legacy index key of indextestdump ({b: true, c: 0, d: ""}) is refused by current servers: restored as
# mongorestore --convertLegacyIndexes restores it (restore.go convertLegacyIndexes).
CONVERT = {'dumps/indextestdump'}


@pytest.mark.parametrize('source, renames, expected', REAL_SOURCES, ids=[s[0] for s in REAL_SOURCES])
def test_every_real_source_restores_with_the_right_counts(mongo, source, renames, expected):
    path = str(FIXTURES / source)
    plan = validate(path, NamespaceFilter(**renames))
    identical, before, after = restore_utils.compare(mongo, plan)  # what diff mode returns
    assert not identical and all(state == {'type': None} for state in before.values())
    assert dict((ns, state['documents']) for ns, state in after.items()) == dict(
        (DB + '.' + c, n) for c, n in expected.items())
    convert = source in CONVERT
    restore_utils.restore(mongo, plan, path, convert_legacy_indexes=convert)  # verifies counts and checksums itself
    assert dict((c, mongo[DB][c].count_documents({})) for c in expected) == expected
    assert restore_utils.compare(mongo, plan, convert_legacy=convert)[0] is True
    for item in plan.items:  # every document arrives as the bytes that were dumped
        assert len(raw_docs(mongo, DB, item.collection)) == item.entry.count


def test_restore_module_check_apply_rerun(mongo, sandbox_env):
    args = dict(mongodb_uri=sandbox_env['MONGODB_URI'], src=str(FIXTURES / 'archives' / 'test.bar.archive'), **TO_H5IT)
    failed, checked = run_module(sandbox_env, 'mongodb_restore', args, check_mode=True, diff=True)
    assert not failed and checked['changed'] and not checked['identical']
    assert [(c['namespace'], c['source_namespace'], c['documents']) for c in checked['collections']] == [
        (DB + '.test_bar', 'test.bar', 1)]
    assert checked['skipped_namespaces'][0]['namespace'] == 'admin.system.version'
    assert 'test_bar' not in mongo[DB].list_collection_names()  # check mode wrote nothing
    failed, applied = run_module(sandbox_env, 'mongodb_restore', args)
    assert not failed and applied['changed'] and mongo[DB].test_bar.count_documents({}) == 1
    failed, again = run_module(sandbox_env, 'mongodb_restore', args)
    assert not failed and not again['changed'] and again['identical']
    assert sandbox_env['MONGODB_URI'] not in str(again)


def test_bad_format_archive_fails_without_writing_or_hanging(mongo, sandbox_env):
    args = dict(mongodb_uri=sandbox_env['MONGODB_URI'], src=str(FIXTURES / 'archives' / 'bad-format.archive'), **TO_H5IT)
    failed, result = run_module(sandbox_env, 'mongodb_restore', args, timeout=120)
    assert failed
    for fragment in ('bad-format.archive', 'namespace test.ixtest', 'Extended JSON', 'byte offset 106',
                     'nothing was written'):
        assert fragment in result['msg']
    assert mongo[DB].list_collection_names() == []


# broken_array.bson is not corrupt for the tools (bsondump --objcheck accepts it: issue 14, case 7)
CORRUPT = ['bad_cstring', 'bad_type', 'invalid_field_name', 'partial_file', 'random_bytes']


@pytest.mark.parametrize('name', CORRUPT)
def test_corrupt_bson_in_a_dump_writes_nothing(mongo, tmp_path, name):
    # a good collection sorted first, then the corrupt one: validation must refuse both
    shutil.copy(str(FIXTURES / 'bson' / 'sample.bson'), str(tmp_path / 'aaa.bson'))
    (tmp_path / 'shop').mkdir()
    shutil.copy(str(FIXTURES / 'bson' / 'sample.bson'), str(tmp_path / 'shop' / 'aaa_good.bson'))
    shutil.copy(str(FIXTURES / 'bson' / (name + '.bson')), str(tmp_path / 'shop' / 'zzz_bad.bson'))
    with pytest.raises(MongoArchiveError) as err:
        validate(str(tmp_path), NamespaceFilter(**TO_H5IT))
    assert 'zzz_bad.bson' in str(err.value) and 'namespace shop.zzz_bad' in str(err.value)
    assert 'byte offset' in str(err.value)
    assert mongo[DB].list_collection_names() == []


def test_corrupt_bson_through_the_module(mongo, sandbox_env, tmp_path):
    (tmp_path / 'shop').mkdir()
    shutil.copy(str(FIXTURES / 'bson' / 'sample.bson'), str(tmp_path / 'shop' / 'aaa_good.bson'))
    shutil.copy(str(FIXTURES / 'bson' / 'bad_type.bson'), str(tmp_path / 'shop' / 'zzz_bad.bson'))
    failed, result = run_module(sandbox_env, 'mongodb_restore', dict(
        mongodb_uri=sandbox_env['MONGODB_URI'], src=str(tmp_path), **TO_H5IT))
    assert failed and 'byte offset 21' in result['msg'] and 'nothing was written' in result['msg']
    assert mongo[DB].list_collection_names() == []


def sandbox_kept_types():
    """Documents of the BSON types the sandbox's nx-27017 keeps byte for byte (it turns UUID binaries
    and Code into plain values: those are in the mongoeco test below)."""
    when = datetime.datetime(2026, 11, 26, 3, 15, 0, 123000)
    return [bson.encode(doc) for doc in [
        {'_id': ObjectId('6745a1f0c0ffee0000000001'), 'name': 'asha', 'coins': Int64(2 ** 40), 'level': 7,
         'ratio': 0.25, 'vip': True, 'nothing': None, 'joined': when},
        {'_id': ObjectId('6745a1f0c0ffee0000000002'), 'tags': ['a', 'b', {'nested': [1, 2.5, 'x']}],
         'profile': {'bio': 'caf\u00e9 \u2603', 'langs': ['ne', 'en']}, 'blob': Binary(b'\x00\x01\x02', 0)},
        {'_id': 'string-id', 'empty_doc': {}, 'empty_list': [], 'neg': -1, 'big': Int64(-(2 ** 62)),
         'before_1970': datetime.datetime(1969, 7, 20, 20, 17, 40)},
    ]]


def test_backup_then_restore_round_trip_in_the_sandbox(mongo, sandbox_env, tmp_path):
    docs = sandbox_kept_types()
    write_bson(tmp_path / 'dump' / 'src' / 'rt.bson', docs)
    restore_utils.restore(mongo, validate(str(tmp_path / 'dump'), NamespaceFilter(
        ns_from=['src.rt'], ns_to=[DB + '.rt'])), str(tmp_path / 'dump'))
    mongo[DB].rt.create_index([('name', 1), ('level', -1)], name='name_level')
    assert raw_docs(mongo, DB, 'rt') == sorted(docs)
    archive = str(tmp_path / 'h5it.archive.gz')
    uri = sandbox_env['MONGODB_URI']
    failed, backup = run_module(sandbox_env, 'mongodb_backup', dict(
        mongodb_uri=uri, dest=archive, databases=[DB], ns_include=[DB + '.rt'], gzip=True))
    assert not failed and backup['changed'] and backup['documents'] == len(docs) and len(backup['sha256']) == 64
    failed, restored = run_module(sandbox_env, 'mongodb_restore', dict(
        mongodb_uri=uri, src=archive, ns_from=[DB + '.rt'], ns_to=[DB + '.rt_copy']))
    assert not failed and restored['changed']
    assert raw_docs(mongo, DB, 'rt_copy') == sorted(docs)
    assert restored['collections'][0]['checksum'] == backup['collections'][0]['checksum']
    # full index specs (nx-27017 itself keeps only ascending keys: what the backup read is what comes back)
    assert [i.split(',')[0] for i in restored['collections'][0]['indexes']] == ['{_id: 1}', '{name: 1']
    assert restored['verified'][DB + '.rt_copy']['indexes'] == restored['collections'][0]['indexes']
    failed, again = run_module(sandbox_env, 'mongodb_backup', dict(mongodb_uri=uri, dest=archive, databases=[DB]))
    assert not failed and not again['changed'] and again['sha256'] == backup['sha256']  # exists: kept, described


def test_info_reports_counts_and_server_status(mongo, sandbox_env):
    mongo[DB].things.insert_many([{'i': i} for i in range(5)])
    failed, info = run_module(sandbox_env, 'mongodb_info', dict(mongodb_uri=sandbox_env['MONGODB_URI'],
                                                                databases=[DB]), check_mode=True)
    assert not failed and not info['changed'] and info['ping'] is True
    assert info['collections'] == {DB + '.things': 5}
    assert 'uptime' in info['server'] and 'connections' in info['server']


def test_unreachable_server_is_a_clear_error(sandbox_env):
    failed, result = run_module(sandbox_env, 'mongodb_info', dict(
        mongodb_uri='mongodb://user:s3cret-pw@127.0.0.1:9/', server_selection_timeout=1))
    assert failed and 'cannot reach MongoDB at 127.0.0.1:9' in result['msg'] and 's3cret-pw' not in str(result)


# ---------------------------------------------------------------- every BSON type, on mongoeco
# nx-27017 cannot hold Decimal128, Timestamp, Regex, MinKey, MaxKey, ...: mongoeco keeps them.
# It turns the deprecated `undefined` and DBPointer into other values (a real mongod keeps them);
# those two are proven byte-exact at the archive level (tests/unit/.../test_mongo_archive.py).
MONGOECO_LOSES = ('undefined', 'dbpointer')


@pytest.fixture(scope='module')
def mongoeco(tmp_path_factory):
    pytest.importorskip('mongoeco', reason='mongoeco (requirements-dev.txt) is the server that keeps every BSON type')
    server = MongoEcoServer().start(tmp_path_factory.mktemp('mongoeco'))
    try:
        yield pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=10000), server.uri
    finally:
        server.stop()


def more_types():
    """What all_types.bson lacks: Decimal128, UUID and user binary subtypes, Int64 extremes, flags."""
    return [bson.encode(doc) for doc in [
        {'_id': 1, 'type': 'decimal', 'ex': Decimal128('1234.5678'), 'neg_zero': Decimal128('-0'),
         'huge': Decimal128('9.999999999999999999999999999999999E+6144')},
        {'_id': 2, 'type': 'binary-subtypes', 'uuid': Binary(uuid.UUID(int=7).bytes, 4), 'md5': Binary(b'x' * 16, 5),
         'user': Binary(b'\x01', 0x80), 'old': Binary(b'ab', 2)},
        {'_id': 3, 'type': 'edges', 'min64': Int64(-(2 ** 63)), 'max64': Int64(2 ** 63 - 1), 'ts': Timestamp(2 ** 31, 7),
         'regex': Regex('^a.*z$', 'imsx'), 'lo': MinKey(), 'hi': MaxKey(), 'code': Code('f(x)', {'x': 1}),
         'nan': float('nan'), 'inf': float('-inf')},
    ]]


def test_round_trip_every_bson_type_on_mongoeco(mongoeco, tmp_path):
    client, uri = mongoeco
    # a private server, not the sandbox's: HALOBUZZ_SANDBOX_DIR is the marker the sandbox inventory
    # requires before it runs a module (issue 15, no accidental production)
    env = dict(os.environ, HALOBUZZ_SANDBOX_DIR=str(tmp_path))
    docs = [raw for raw in read_bson(FIXTURES / 'bson' / 'all_types.bson')
            if bson.decode(raw)['type'] not in MONGOECO_LOSES] + more_types()
    write_bson(tmp_path / 'dump' / 'types' / 'all.bson', docs)
    client.types.drop_collection('capped')
    client.types.command({'create': 'capped', 'capped': True, 'size': 65536})
    client.types.capped.insert_many([{'n': i} for i in range(3)])
    failed, first = run_module(env, 'mongodb_restore', dict(mongodb_uri=uri, src=str(tmp_path / 'dump')))
    assert not failed, first
    client.types.all.create_index([('type', 1)], name='type_1')
    archive = str(tmp_path / 'types.archive')
    failed, backup = run_module(env, 'mongodb_backup', dict(mongodb_uri=uri, dest=archive, databases=['types']))
    assert not failed, backup
    failed, restored = run_module(env, 'mongodb_restore', dict(
        mongodb_uri=uri, src=archive, ns_from=['types.$c$'], ns_to=['types_copy.$c$']))
    assert not failed, restored
    assert raw_docs(client, 'types_copy', 'all') == sorted(docs)
    assert raw_docs(client, 'types_copy', 'capped') == raw_docs(client, 'types', 'capped')
    options = client.types_copy.command('listCollections', filter={'name': 'capped'})['cursor']['firstBatch'][0]
    assert options['options'].get('capped') is True
    assert {tuple(i['key']) for i in client.types_copy.all.list_indexes()} == {('_id',), ('type',)}
