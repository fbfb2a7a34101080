import gzip
import shutil

import bson
import pytest
from bson import json_util
from bson.son import SON

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import ArchiveReader, ArchiveWriter
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.bson_reader import read_document
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import (
    CollectionEntry, ContentChecksum, MongoArchiveError, dump_metadata, parse_metadata, unescape_collection_name)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.source import open_source

from mongodump_fixtures import fixture

TEST_BAR = fixture('archives', 'test.bar.archive')
BAD_FORMAT = fixture('archives', 'bad-format.archive')


def read(path):
    reader = ArchiveReader(path)
    reader.read_prelude()
    events = [(entry.ns, raw) for entry, raw in reader.documents(verify_documents=True)]
    reader.close()
    return reader, events


def test_real_archive_prelude_and_documents():
    reader, events = read(TEST_BAR)
    assert reader.header == {'concurrent_collections': 4, 'version': '0.1', 'server_version': '3.4.3',
                             'tool_version': 'r3.4.3'}
    assert [(e.ns, e.kind, e.count) for e in reader.collections] == [
        ('test.bar', 'collection', 1), ('admin.system.version', 'collection', 1)]
    assert [e.metadata['indexes'][0]['name'] for e in reader.collections] == ['_id_', '_id_']
    # interleaved as mongodump wrote them: data, then the verified EOF (raw None)
    assert [(ns, raw is None) for ns, raw in events] == [
        ('admin.system.version', False), ('admin.system.version', True), ('test.bar', False), ('test.bar', True)]
    assert bson.decode(events[2][1])['foo'] == 'bar'


def test_gzip_archive_reads_the_same(tmp_path):
    zipped = tmp_path / 'test.bar.archive.gz'
    with open(TEST_BAR, 'rb') as src, gzip.open(str(zipped), 'wb') as dst:
        shutil.copyfileobj(src, dst)
    reader, events = read(str(zipped))
    assert reader.compressed and events == read(TEST_BAR)[1]


def test_bad_format_archive_names_namespace_and_offset():
    with pytest.raises(MongoArchiveError) as err:
        read(BAD_FORMAT)
    message = str(err.value)
    assert 'bad-format.archive' in message and 'namespace test.ixtest' in message
    assert 'not valid Extended JSON' in message and 'at byte offset 106' in message


def _flip(data, offset):
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]


ORIGINAL = open(TEST_BAR, 'rb').read()


@pytest.mark.parametrize('offset, expected', [
    (0, 'not a mongodump archive'),
    (0x27, 'archive format version None'),                   # "version" -> "wersion"
    (0x2c, 'header document is not valid BSON'),             # the length of the version string
    (0x262, 'CRC-64 mismatch'),                              # a byte of admin.system.version's document
    (0x32a, 'CRC-64 mismatch'),                              # a byte of test.bar's ObjectId
    (0x2d8, 'CRC-64 mismatch'),                              # the stored CRC itself
    (0x212, '-2 is neither a valid BSON document length'),  # the prelude terminator
    (0x223, 'names no namespace of the prelude'),            # "admin" -> "aemin" in a block header
])
def test_flipped_bytes_are_refused(tmp_path, offset, expected):
    path = tmp_path / 'flipped.archive'
    path.write_bytes(_flip(ORIGINAL, offset))
    with pytest.raises(MongoArchiveError, match=expected):
        read(str(path))


@pytest.mark.parametrize('length', list(range(0, len(ORIGINAL), 7)) + [len(ORIGINAL) - 4, len(ORIGINAL) - 1])
def test_every_truncation_fails_cleanly(tmp_path, length):
    path = tmp_path / 'truncated.archive'
    path.write_bytes(ORIGINAL[:length])
    with pytest.raises(MongoArchiveError, match='at byte offset'):
        read(str(path))


def test_crc_mismatch_message_names_namespace(tmp_path):
    path = tmp_path / 'flipped.archive'
    path.write_bytes(_flip(ORIGINAL, 0x32a))
    with pytest.raises(MongoArchiveError, match=r'in namespace test\.bar: CRC-64 mismatch.*at byte offset 835'):
        read(str(path))


def _all_types_docs():
    return read_bson(fixture('bson', 'all_types.bson')) + read_bson(fixture('bson', 'deep_nested.bson'))


def read_bson(path):
    """The raw documents of a .bson file, framed by the engine's own reader."""
    with open(path, 'rb') as stream:
        docs = []
        while True:
            raw = read_document(stream, sum(len(d) for d in docs))
            if raw is None:
                return docs
            docs.append(raw)


@pytest.mark.parametrize('compress', [False, True])
def test_writer_round_trip_keeps_every_byte(tmp_path, compress):
    docs = _all_types_docs()
    metadata = SON([('options', {}), ('indexes', [SON([('v', 2), ('key', {'_id': 1}), ('name', '_id_')])])])
    entries = [CollectionEntry('db', 'types', dump_metadata(metadata), metadata),
               CollectionEntry('db', 'empty', dump_metadata(metadata), metadata),
               CollectionEntry('db', 'caf\u00e9s', None, None)]
    path = tmp_path / 'out.archive'
    with open(str(path), 'wb') as handle:
        writer = ArchiveWriter(handle, compress=compress, server_version='7.0.0')
        writer.write_prelude(entries)
        assert writer.write_namespace(entries[0], iter(docs))[0] == len(docs)
        writer.write_namespace(entries[1], iter([]))
        writer.write_namespace(entries[2], iter(docs[:2]))
        writer.close()
    reader, events = read(str(path))
    assert [(e.ns, e.count) for e in reader.collections] == [('db.types', 21), ('db.empty', 0), ('db.cafés', 2)]
    assert [raw for ns, raw in events if ns == 'db.types' and raw is not None] == docs
    assert reader.collections[0].metadata == metadata
    assert reader.compressed == compress


def test_content_checksum_is_order_independent_and_content_sensitive():
    docs = read_bson(fixture('bson', 'sample.bson'))
    forward, backward, fewer = ContentChecksum(), ContentChecksum(), ContentChecksum()
    for raw in docs:
        forward.add(raw)
    for raw in reversed(docs):
        backward.add(raw)
    for raw in docs[1:]:
        fewer.add(raw)
    assert forward.hexdigest() == backward.hexdigest() != fewer.hexdigest()
    assert forward.count == 4


def escape_collection_name(name):
    """Collection name as mongodump writes it to disk (Go's url.PathEscape)."""
    safe = set(b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
               b"!$&'()*+,;=:@")
    return ''.join(chr(b) if b in safe else '%%%02X' % b for b in bytearray(name.encode('utf-8')))


@pytest.mark.parametrize('name, escaped', [
    ('users', 'users'), ('caf\u00e9s', 'caf%C3%A9s'), ('a b', 'a%20b'), ('x/y', 'x%2Fy'), ('a.b', 'a.b')])
def test_collection_name_encoding(name, escaped):
    assert escape_collection_name(name) == escaped
    assert unescape_collection_name(escaped) == name


@pytest.mark.parametrize('bad', ['%', '%4', '%zz', '%C3'])
def test_bad_percent_encoding(bad):
    with pytest.raises(ValueError):
        unescape_collection_name(bad)


@pytest.mark.parametrize('text, expected', [
    ('', None),
    ('{"options":{},"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}]}',
     {'options': {}, 'indexes': [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'}]}),
    ('{"indexes":[{"v":1,"key":{"a":{"$numberDouble":"1.0"}},"name":"a_1"}]}',
     {'indexes': [{'v': 1, 'key': {'a': 1.0}, 'name': 'a_1'}]}),
])
def test_parse_metadata(text, expected):
    assert parse_metadata(text) == expected


@pytest.mark.parametrize('text, reason', [
    ('{"key":{"{"a":"b"}":1}}', 'not valid Extended JSON'),
    ('[1]', 'not a JSON object'),
    ('{"indexes":{}}', '"indexes" is not a list'),
    ('{"indexes":[{"name":"x"}]}', 'lacks "key" or "name"'),
    ('{"options":[]}', '"options" is not an object'),
])
def test_parse_metadata_refuses(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_metadata(text)


def test_metadata_keeps_types_through_canonical_json():
    doc = SON([('options', {'capped': True, 'size': 4096}), ('indexes', [SON([('key', SON([('a', 1.5)])),
                                                                              ('name', 'a')])])])
    assert json_util.loads(dump_metadata(doc)) == doc


def test_open_source_missing_path(tmp_path):
    with pytest.raises(MongoArchiveError, match='does not exist'):
        open_source(str(tmp_path / 'nope.archive'))
