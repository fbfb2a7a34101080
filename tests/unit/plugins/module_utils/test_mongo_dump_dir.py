import gzip
import shutil

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.dump_dir import DumpDirectory

from mongodump_fixtures import fixture


def read(path):
    dump = DumpDirectory(path)
    dump.read_prelude()
    events = [(entry.ns, raw is None) for entry, raw in dump.documents(verify_documents=True)]
    return dump, events


@pytest.mark.parametrize('dump, expected', [
    ('foodump', [('test.foo', 1)]),
    ('indextestdump', [('indextest.test_collection', 100)]),
    ('prelude_test/prelude_gzip', [('test.foo', 1)]),
    ('specialcharacter', [('db1.caf\u00e9s', 1)]),
    # db2/c1.bin is a collection: mongorestore/filepath.go getInfoFromFile ".bin supported for legacy reasons"
    ('testdirs', [('db1.c1', 100), ('db1.c2', 0), ('db1.c3', 0), ('db1.c4', 10), ('db2.c1', 0)]),
])
def test_real_dumps(dump, expected):
    reader, events = read(fixture('dumps', *dump.split('/')))
    assert [(e.ns, e.count) for e in reader.collections] == expected
    assert sum(1 for _ns, eof in events if eof) == len(expected)


def test_stray_files_are_skipped_with_reasons():
    reader, _events = read(fixture('dumps', 'testdirs'))
    skipped = dict((s['path'], s['reason']) for s in reader.skipped_files)
    assert sorted(skipped) == ['badfile.txt', 'db1/baddir', 'db2/c2.txt', 'oplog.bson']
    assert 'oplogReplay' in skipped['oplog.bson']
    assert reader.collections[2].metadata is None  # c3.metadata.json is empty: no metadata, as mongorestore


def test_gzip_prelude_and_metadata():
    reader, _events = read(fixture('dumps', 'prelude_test', 'prelude_gzip'))
    assert '7.0.16' in reader.header['prelude']
    assert reader.collections[0].metadata['indexes'][0]['name'] == '_id_'


@pytest.mark.parametrize('name, offset, reason', [
    ('bad_type.bson', 21, 'unknown BSON type'),
    ('partial_file.bson', 164, 'stream ends inside a document'),
    ('random_bytes.bson', 0, 'neither a valid BSON document length'),
])
@pytest.mark.parametrize('compress', [False, True])
def test_corrupt_bson_in_a_dump_names_file_namespace_offset(tmp_path, name, offset, reason, compress):
    (tmp_path / 'shop').mkdir()
    target = tmp_path / 'shop' / ('orders.bson.gz' if compress else 'orders.bson')
    with open(fixture('bson', name), 'rb') as src, (gzip.open if compress else open)(str(target), 'wb') as dst:
        shutil.copyfileobj(src, dst)
    with pytest.raises(MongoArchiveError) as err:
        read(str(tmp_path))
    message = str(err.value)
    assert str(target) in message and 'namespace shop.orders' in message and reason in message
    assert 'at byte offset %d' % offset in message


def test_bad_metadata_names_file(tmp_path):
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'orders.metadata.json').write_text('{"indexes": [')
    with pytest.raises(MongoArchiveError, match=r'orders\.metadata\.json \(namespace shop\.orders\).*Extended JSON'):
        read(str(tmp_path))


def test_twin_files_are_refused(tmp_path):
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'orders.bson').write_bytes(b'')
    with gzip.open(str(tmp_path / 'shop' / 'orders.bson.gz'), 'wb'):
        pass
    with pytest.raises(MongoArchiveError, match='keep one'):
        read(str(tmp_path))
