import io
import struct

import bson
import pytest
from bson.code import Code
from bson.int64 import Int64

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.bson_reader import (
    BsonError, check_document, find_problem, read_document)

from mongodump_fixtures import fixture


def read_all(path):
    """Every document of a .bson file, checked; BsonError carries the absolute offset."""
    stream = open(path, 'rb')
    offset, docs = 0, []
    while True:
        raw = read_document(stream, offset)
        if raw is None:
            return docs
        try:
            check_document(raw)
        except BsonError as exc:
            raise BsonError(offset + exc.offset, exc.reason)
        docs.append(raw)
        offset += len(raw)


@pytest.mark.parametrize('name, count', [
    ('all_types.bson', 20), ('all_in_one_doc.bson', 1), ('deep_nested.bson', 1), ('sample.bson', 4)])
def test_real_files_read_whole(name, count):
    docs = read_all(fixture('bson', name))
    assert len(docs) == count
    assert b''.join(docs) == open(fixture('bson', name), 'rb').read()


def test_broken_array_is_accepted_as_bsondump_objcheck_accepts_it():
    """mongo-tools bsondump/bsondump_test.go expects `bsondump --objcheck` to accept broken_array.bson (array keys
    that are not "0", "1", ...): a restore is no stricter (issue 14, case 7)."""
    docs = read_all(fixture('bson', 'broken_array.bson'))
    assert docs and all(check_document(raw) is None for raw in docs)


# Each corrupt file of mongo-tools' test data: the offset of the first bad byte and why.
@pytest.mark.parametrize('name, offset, reason', [
    ('bad_cstring.bson', 37, 'string length'),  # key "b" lost its null: the string length is garbage
    ('bad_type.bson', 21, 'unknown BSON type 0xaa'),
    ('invalid_field_name.bson', 283, 'stream ends inside a document length'),
    ('partial_file.bson', 164, 'stream ends inside a document'),
    ('random_bytes.bson', 0, 'neither a valid BSON document length'),
])
def test_corrupt_files_give_offset_and_reason(name, offset, reason):
    with pytest.raises(BsonError) as err:
        read_all(fixture('bson', name))
    assert err.value.offset == offset
    assert reason in err.value.reason
    assert 'at byte offset %d' % offset in str(err.value)


def _doc(**fields):
    return bson.encode(fields)


GOOD = _doc(a=1, b='x', c=[1, 2, {'d': None}], e=Code('f()', {'g': 1}), h=Int64(2), i=True)


@pytest.mark.parametrize('raw, offset, reason', [
    (GOOD[:-1] + b'\x01', len(GOOD) - 1, 'does not end with a null byte'),
    (struct.pack('<i', len(GOOD) + 1) + GOOD[4:] + b'\x00', len(GOOD) - 1, 'ends 1 bytes before'),
    (_doc(a=True).replace(b'\x08a\x00\x01', b'\x08a\x00\x02'), 7, 'boolean field'),
    (_doc(s='xy').replace(b'\x03\x00\x00\x00xy', b'\x09\x00\x00\x00xy'), 7, 'string length 9'),
    (_doc(a={'b': 1}).replace(b'\x0c\x00\x00\x00', b'\x40\x00\x00\x00'), 7, 'runs past its container'),
])
def test_structure_problems(raw, offset, reason):
    problem = find_problem(raw)
    assert problem is not None and problem.offset == offset and reason in problem.reason
    with pytest.raises(BsonError):
        check_document(raw)


def test_good_document_passes():
    assert find_problem(GOOD) is None
    check_document(GOOD)


@pytest.mark.parametrize('data, allow, expected', [
    (b'', False, None),
    (b'\xff\xff\xff\xff', True, b''),
    (GOOD, False, GOOD),
])
def test_read_document_framing(data, allow, expected):
    assert read_document(io.BytesIO(data), 0, allow_terminator=allow) == expected


def test_terminator_is_an_error_where_not_allowed():
    with pytest.raises(BsonError, match='neither a valid BSON document length at byte offset 10'):
        read_document(io.BytesIO(b'\xff\xff\xff\xff'), 10)
