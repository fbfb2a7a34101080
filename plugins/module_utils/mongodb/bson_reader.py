# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Raw BSON framing and structural validation, without decoding documents for the restore.

Documents travel through the archive engine as the bytes they were dumped as. This file
reads one framed document at a time from a stream (bounded memory: one document, at most
:data:`MAX_DOCUMENT_SIZE`) and checks a document's structure (lengths, type codes,
null-terminated names, nested documents; never stricter than bsondump --objcheck) so a corrupt file is
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


class BsonError(Exception):
    """A framing or structure problem at ``offset`` (relative to where reading started)."""

    def __init__(self, offset, reason):
        super(BsonError, self).__init__('%s at byte offset %d' % (reason, offset))
        self.offset = offset
        self.reason = reason


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


def _field_name(buf, field):
    """The name of the field whose type byte is at ``field`` (for messages only)."""
    stop = buf.find(b'\x00', field + 1)
    return buf[field + 1:stop if stop >= 0 else len(buf)].decode('utf-8', 'replace')


def _string_end(buf, pos, end, field):
    if pos + 4 > end:
        raise BsonError(pos, 'string length of field %r runs past the document' % _field_name(buf, field))
    length = _INT32.unpack_from(buf, pos)[0]
    stop = pos + 4 + length
    if length < 1 or stop > end:
        raise BsonError(pos, 'string length %d of field %r is invalid' % (length, _field_name(buf, field)))
    if buf[stop - 1] != 0:
        raise BsonError(stop - 1, 'string of field %r does not end with a null byte' % _field_name(buf, field))
    return stop


_FIXED = {0x01: 8, 0x06: 0, 0x07: 12, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
          0x13: 16, 0xFF: 0, 0x7F: 0}
_STRINGS = (0x02, 0x0D, 0x0E)


def _walk(buf, pos, limit, _is_array, depth):
    """Check the document starting at ``pos``; return the offset just past it.

    The hot path does one dict lookup and one ``find`` per field; names are decoded only
    for error messages.
    """
    if depth > _MAX_DEPTH:
        raise BsonError(pos, 'documents nested deeper than %d levels' % _MAX_DEPTH)
    if pos + MIN_DOCUMENT_SIZE > limit:
        raise BsonError(pos, 'embedded document shorter than 5 bytes')
    unpack = _INT32.unpack_from
    size = unpack(buf, pos)[0]
    end = pos + size
    if size < MIN_DOCUMENT_SIZE or end > limit:
        raise BsonError(pos, 'document length %d runs past its container' % size)
    last = end - 1
    if buf[last] != 0:
        raise BsonError(last, 'document does not end with a null byte')
    find = buf.find
    fixed = _FIXED
    p = pos + 4
    while True:
        kind = buf[p]
        if kind == 0:
            if p != last:
                raise BsonError(p, 'document ends %d bytes before its declared length' % (last - p))
            return end
        name_end = find(b'\x00', p + 1, last)
        if name_end < 0:
            raise BsonError(p + 1, 'field name is not null-terminated')
        # Array keys are not checked: bsondump --objcheck (bson.Unmarshal) accepts an array whose keys are
        # not "0", "1", ... (mongo-tools bsondump/bsondump_test.go, broken_array.bson), so a restore must too.
        v = name_end + 1
        step = fixed.get(kind)
        if step is not None:
            v += step
        elif kind in _STRINGS:
            v = _string_end(buf, v, last, p)
        elif kind == 0x03 or kind == 0x04:
            v = _walk(buf, v, last, kind == 0x04, depth + 1)
        elif kind == 0x05:
            if v + 5 > last:
                raise BsonError(v, 'binary field %r is truncated' % _field_name(buf, p))
            length = unpack(buf, v)[0]
            if length < 0:
                raise BsonError(v, 'binary length %d of field %r is negative' % (length, _field_name(buf, p)))
            v += 5 + length
        elif kind == 0x08:
            if v < last and buf[v] > 1:
                raise BsonError(v, 'boolean field %r holds %d, not 0 or 1' % (_field_name(buf, p), buf[v]))
            v += 1
        elif kind == 0x0B:
            v = _cstring_end(buf, v, last, 'regex pattern of %r' % _field_name(buf, p)) + 1
            v = _cstring_end(buf, v, last, 'regex options of %r' % _field_name(buf, p)) + 1
        elif kind == 0x0C:
            v = _string_end(buf, v, last, p) + 12
        elif kind == 0x0F:
            if v + 4 > last:
                raise BsonError(v, 'code-with-scope field %r is truncated' % _field_name(buf, p))
            total = unpack(buf, v)[0]
            stop = v + total
            if total < 14 or stop > last:
                raise BsonError(v, 'code-with-scope length %d of field %r is invalid' % (total, _field_name(buf, p)))
            after = _walk(buf, _string_end(buf, v + 4, stop, p), stop, False, depth + 1)
            if after != stop:
                raise BsonError(v, 'code-with-scope length of field %r does not match its parts' % _field_name(buf, p))
            v = stop
        else:
            raise BsonError(p, 'unknown BSON type 0x%02x for field %r' % (kind, _field_name(buf, p)))
        if v > last:
            raise BsonError(p, 'value of field %r runs past the end of its document' % _field_name(buf, p))
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

    One pure-Python walk over the structure (no objects are built): it checks what a decoder
    would trip on; no stricter than bsondump --objcheck (array keys are not checked, as upstream).
    """
    problem = find_problem(raw)
    if problem is not None:
        raise problem
