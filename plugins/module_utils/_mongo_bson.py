# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Raw BSON framing and structural validation, without decoding documents for the restore.

Documents travel through the archive engine as the bytes they were dumped as. This file
reads one framed document at a time from a stream (bounded memory: one document, at most
:data:`MAX_DOCUMENT_SIZE`) and checks a document's structure (lengths, type codes,
null-terminated names, sequential array keys, nested documents) so a corrupt file is
refused before anything is written, with the byte offset of the first problem.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct
import sys

# mongo-tools' parser refuses documents above db.MaxBSONSize (16 MiB); oplog entries may be
# a little larger on the server, so the directory reader allows the 16 KiB of slack the
# server itself allows for internal documents.
MAX_BSON_SIZE = 16 * 1024 * 1024
MAX_DOCUMENT_SIZE = MAX_BSON_SIZE + 16 * 1024
MIN_DOCUMENT_SIZE = 5
# mongo-tools' own test data nests 501 levels deep; the walk recurses once per level.
_MAX_DEPTH = 1000

_INT32 = struct.Struct('<i')

try:
    import bson
    from bson.codec_options import CodecOptions, DatetimeConversion

    _CHECK_OPTIONS = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO,
                                  unicode_decode_error_handler='surrogateescape')
    HAS_BSON = True
except ImportError:  # pragma: no cover - the modules report missing_required_lib('pymongo')
    bson = None
    HAS_BSON = False


class BsonError(Exception):
    """A framing or structure problem at ``offset`` (relative to where reading started)."""

    def __init__(self, offset, reason):
        super(BsonError, self).__init__('%s at byte offset %d' % (reason, offset))
        self.offset = offset
        self.reason = reason


def int32_at(buf, pos):
    return _INT32.unpack_from(buf, pos)[0]


def read_document(stream, offset, max_size=MAX_DOCUMENT_SIZE, allow_terminator=False):
    """Read one framed document from ``stream``, which is at byte ``offset``.

    Returns ``None`` at a clean end of stream, ``b''`` for a 0xFFFFFFFF terminator when
    ``allow_terminator`` is set, else the document's raw bytes. Raises :class:`BsonError`
    (with the absolute offset) for a truncated, oversized or unterminated document.
    """
    head = stream.read(4)
    if not head:
        return None
    if len(head) < 4:
        raise BsonError(offset, 'stream ends inside a document length (%d of 4 bytes)' % len(head))
    if allow_terminator and head == b'\xff\xff\xff\xff':
        return b''
    size = _INT32.unpack(head)[0]
    if size < MIN_DOCUMENT_SIZE or size > max_size:
        raise BsonError(offset, '%d is neither a valid BSON document length%s' % (
            size, ' nor an archive terminator' if allow_terminator else ''))
    body = stream.read(size - 4)
    if len(body) < size - 4:
        raise BsonError(offset, 'stream ends inside a document: %d bytes declared, %d present' % (
            size, len(body) + 4))
    if body[-1:] != b'\x00':
        raise BsonError(offset + size - 1, 'document of %d bytes does not end with a null byte' % size)
    return head + body


def _cstring_end(buf, pos, end, what):
    stop = buf.find(b'\x00', pos, end)
    if stop < 0:
        raise BsonError(pos, '%s is not null-terminated' % what)
    return stop


def _string_end(buf, pos, end, name):
    if pos + 4 > end:
        raise BsonError(pos, 'string length of field %r runs past the document' % name)
    length = int32_at(buf, pos)
    stop = pos + 4 + length
    if length < 1 or stop > end:
        raise BsonError(pos, 'string length %d of field %r is invalid' % (length, name))
    if buf[stop - 1] != 0:
        raise BsonError(stop - 1, 'string of field %r does not end with a null byte' % name)
    return stop


_FIXED = {0x01: 8, 0x06: 0, 0x07: 12, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
          0x13: 16, 0xFF: 0, 0x7F: 0}


def _walk(buf, pos, limit, is_array, depth):
    """Check the document starting at ``pos``; return the offset just past it."""
    if depth > _MAX_DEPTH:
        raise BsonError(pos, 'documents nested deeper than %d levels' % _MAX_DEPTH)
    if pos + MIN_DOCUMENT_SIZE > limit:
        raise BsonError(pos, 'embedded document shorter than 5 bytes')
    size = int32_at(buf, pos)
    end = pos + size
    if size < MIN_DOCUMENT_SIZE or end > limit:
        raise BsonError(pos, 'document length %d runs past its container' % size)
    if buf[end - 1] != 0:
        raise BsonError(end - 1, 'document does not end with a null byte')
    p = pos + 4
    index = 0
    while True:
        kind = buf[p]
        if kind == 0:
            if p != end - 1:
                raise BsonError(p, 'document ends %d bytes before its declared length' % (end - 1 - p))
            return end
        name_end = _cstring_end(buf, p + 1, end - 1, 'field name')
        name = buf[p + 1:name_end]
        if is_array and name != str(index).encode('ascii'):
            raise BsonError(p + 1, 'array key %r where %r was expected' % (
                name.decode('utf-8', 'replace'), str(index)))
        index += 1
        shown = name.decode('utf-8', 'replace')
        v = name_end + 1
        if kind in _FIXED:
            v += _FIXED[kind]
        elif kind in (0x02, 0x0D, 0x0E):
            v = _string_end(buf, v, end - 1, shown)
        elif kind in (0x03, 0x04):
            v = _walk(buf, v, end - 1, kind == 0x04, depth + 1)
        elif kind == 0x05:
            if v + 5 > end - 1:
                raise BsonError(v, 'binary field %r is truncated' % shown)
            length = int32_at(buf, v)
            if length < 0:
                raise BsonError(v, 'binary length %d of field %r is negative' % (length, shown))
            v += 5 + length
        elif kind == 0x08:
            if v < end - 1 and buf[v] not in (0, 1):
                raise BsonError(v, 'boolean field %r holds %d, not 0 or 1' % (shown, buf[v]))
            v += 1
        elif kind == 0x0B:
            v = _cstring_end(buf, v, end - 1, 'regex pattern of %r' % shown) + 1
            v = _cstring_end(buf, v, end - 1, 'regex options of %r' % shown) + 1
        elif kind == 0x0C:
            v = _string_end(buf, v, end - 1, shown) + 12
        elif kind == 0x0F:
            if v + 4 > end - 1:
                raise BsonError(v, 'code-with-scope field %r is truncated' % shown)
            total = int32_at(buf, v)
            stop = v + total
            if total < 14 or stop > end - 1:
                raise BsonError(v, 'code-with-scope length %d of field %r is invalid' % (total, shown))
            after = _walk(buf, _string_end(buf, v + 4, stop, shown), stop, False, depth + 1)
            if after != stop:
                raise BsonError(v, 'code-with-scope length of field %r does not match its parts' % shown)
            v = stop
        else:
            raise BsonError(p, 'unknown BSON type 0x%02x for field %r' % (kind, shown))
        if v > end - 1:
            raise BsonError(p, 'value of field %r runs past the end of its document' % shown)
        p = v


def find_problem(raw):
    """The first structural problem in one raw document as a :class:`BsonError`, or None."""
    if sys.getrecursionlimit() < _MAX_DEPTH + 500:
        sys.setrecursionlimit(_MAX_DEPTH + 500)
    try:
        _walk(raw, 0, len(raw), False, 0)
    except BsonError as exc:
        return exc
    except (IndexError, struct.error):
        return BsonError(len(raw), 'document is truncated')
    return None


def check_document(raw):
    """Raise :class:`BsonError` if ``raw`` is not one well-formed BSON document.

    The C decoder checks most documents quickly; the pure-Python walk runs when it
    objects (to find the exact offset) and for documents that may hold arrays, whose keys
    the C decoder does not check.
    """
    try:
        bson.decode(raw, codec_options=_CHECK_OPTIONS)
    except Exception as exc:  # bson raises InvalidBSON, but also ValueError/OverflowError
        problem = find_problem(raw)
        raise problem or BsonError(0, 'invalid BSON (%s)' % exc)
    if b'\x04' in raw:
        problem = find_problem(raw)
        if problem is not None:
            raise problem
