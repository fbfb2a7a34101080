# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming reader and writer for the mongodump archive format (``mongodump --archive``).

The format (mongo-tools ``common/archive/spec.md``)::

    magic 0x8199e26d (little-endian), header document,
    collection-metadata documents, terminator 0xffffffff,
    then blocks of: namespace header {db, collection, EOF: false, CRC: 0}, documents, terminator
                 or: EOF header {db, collection, EOF: true, CRC: crc64}, terminator

A namespace's documents may be split over several blocks, interleaved with other
namespaces; its EOF header carries the CRC-64 (ECMA, as Go's hash/crc64) of all of them.
The reader holds one document at a time: memory stays bounded whatever the archive's size.
Documents are yielded as the raw bytes that were dumped, never decoded and re-encoded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import os
import struct
import zlib

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import crc64
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.bson_reader import (
    BsonError, MAX_BSON_SIZE, check_document, read_document)

try:
    import bson
    from bson import json_util
    from bson.int64 import Int64
    from bson.son import SON

    HAS_PYMONGO = True
except ImportError:  # pragma: no cover - the modules report missing_required_lib('pymongo')
    HAS_PYMONGO = False

MAGIC = 0x8199E26D
MAGIC_BYTES = struct.pack('<I', MAGIC)
TERMINATOR = b'\xff\xff\xff\xff'
FORMAT_VERSION = '0.1'
_READ_BUFFER = 1 << 20
# Collection types whose data is not stored under their own name (a view has none; a
# time-series collection's data is in system.buckets.<name>).
DATALESS_TYPES = ('view', 'timeseries')


class MongoArchiveError(Exception):
    """A backup or dump that cannot be read or written; the message says where and why."""


class CollectionEntry(object):
    """One namespace of a dump: its names, its metadata and, once read, its counts."""

    def __init__(self, db, collection, metadata_text=None, metadata=None, kind=None, data_path=None):
        self.db = db
        self.collection = collection
        self.metadata_text = metadata_text
        self.metadata = metadata
        self.kind = kind or (metadata or {}).get('type') or 'collection'
        if self.kind == 'collection' and (metadata or {}).get('options', {}).get('viewOn'):
            self.kind = 'view'
        self.data_path = data_path
        self.count = 0
        self.data_bytes = 0

    @property
    def ns(self):
        return '%s.%s' % (self.db, self.collection) if self.db else self.collection

    @property
    def has_data(self):
        return self.kind not in DATALESS_TYPES


class ContentChecksum(object):
    """An order-independent checksum of a collection's documents, raw BSON in, hex out.

    ``sha256(count as 8 bytes LE || (sum of sha256(raw document) mod 2**256) as 32 bytes BE)``.
    The same raw bytes give the same value whether they come from an archive, a dump
    directory or a database cursor, in any order, with memory that does not grow.
    """

    __slots__ = ('count', '_sum')

    def __init__(self):
        self.count = 0
        self._sum = 0

    def add(self, raw):
        self.count += 1
        self._sum += int.from_bytes(hashlib.sha256(raw).digest(), 'big')

    def hexdigest(self):
        total = self._sum & ((1 << 256) - 1)
        return hashlib.sha256(struct.pack('<Q', self.count) + total.to_bytes(32, 'big')).hexdigest()


def escape_collection_name(name):
    """Collection name as mongodump writes it to disk (Go's url.PathEscape)."""
    safe = set(b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
               b"!$&'()*+,;=:@")
    return ''.join(chr(b) if b in safe else '%%%02X' % b for b in bytearray(name.encode('utf-8')))


def unescape_collection_name(name):
    """The collection name behind a mongodump file name (``caf%C3%A9s`` -> ``cafés``)."""
    out = bytearray()
    raw = name.encode('utf-8')
    i = 0
    while i < len(raw):
        if raw[i:i + 1] == b'%':
            try:
                out.append(int(raw[i + 1:i + 3].decode('ascii'), 16))
            except (ValueError, UnicodeDecodeError):
                raise ValueError('invalid percent-encoding in %r' % name)
            if len(raw[i + 1:i + 3]) < 2:
                raise ValueError('invalid percent-encoding in %r' % name)
            i += 3
        else:
            out.append(raw[i])
            i += 1
    try:
        return out.decode('utf-8')
    except UnicodeDecodeError:
        raise ValueError('percent-encoded name %r is not UTF-8' % name)


def parse_metadata(text):
    """Collection metadata (canonical or relaxed Extended JSON, as mongodump writes it)."""
    if text is None or not text.strip():
        return None
    try:
        doc = json_util.loads(text, json_options=json_util.CANONICAL_JSON_OPTIONS)
    except Exception as exc:  # json_util raises ValueError, TypeError, bson.errors.*
        raise ValueError('not valid Extended JSON (%s)' % exc)
    if not isinstance(doc, dict):
        raise ValueError('not a JSON object')
    if not isinstance(doc.get('options', {}), dict):
        raise ValueError('"options" is not an object')
    indexes = doc.get('indexes', [])
    if not isinstance(indexes, list):
        raise ValueError('"indexes" is not a list')
    for index in indexes:
        if not isinstance(index, dict) or not isinstance(index.get('key'), dict) or 'name' not in index:
            raise ValueError('index definition %r lacks "key" or "name"' % (index,))
    return doc


def dump_metadata(doc):
    """Collection metadata as canonical Extended JSON, the way mongodump writes it."""
    return json_util.dumps(doc, json_options=json_util.CANONICAL_JSON_OPTIONS)


class _CountingReader(object):
    """A file-like reader that knows its offset in the (uncompressed) stream."""

    def __init__(self, raw, where):
        self.raw = raw
        self.offset = 0
        self.where = where

    def read(self, size):
        try:
            data = self.raw.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise MongoArchiveError('%s: cannot read at byte offset %d: %s' % (self.where, self.offset, exc))
        self.offset += len(data)
        return data

    def close(self):
        self.raw.close()


def open_maybe_gzip(path, where):
    """Open ``path`` for streaming reads, decompressing it when it starts with gzip's magic."""
    try:
        handle = open(path, 'rb')
    except (IOError, OSError) as exc:
        raise MongoArchiveError('%s: cannot open: %s' % (where, exc.strerror or exc))
    compressed = handle.read(2) == b'\x1f\x8b'
    handle.seek(0)
    if compressed:
        stream = io.BufferedReader(gzip.GzipFile(fileobj=handle, mode='rb'), _READ_BUFFER)
    else:
        stream = io.BufferedReader(handle, _READ_BUFFER)
    return _CountingReader(stream, where), compressed


def _decode_small(raw):
    return bson.decode(raw)


class ArchiveReader(object):
    """Reads a mongodump archive (plain or gzip) in one forward pass.

    ``read_prelude()`` fills ``header`` and ``collections``; ``documents()`` then yields
    ``(entry, raw_bytes)`` for each document and ``(entry, None)`` at each namespace's EOF,
    after checking the CRC. Every problem raises :class:`MongoArchiveError` naming the
    file, the namespace and the byte offset (of the uncompressed stream).
    """

    kind = 'archive'

    def __init__(self, path):
        self.path = path
        self.where = 'archive %s' % path
        self.header = None
        self.collections = []
        self.skipped_files = []
        self.compressed = False
        self._by_ns = {}
        self._input = None

    def _fail(self, offset, message, ns=None):
        in_ns = ' in namespace %s' % ns if ns else ''
        zipped = ' (offset in the decompressed stream)' if self.compressed else ''
        raise MongoArchiveError('%s%s: %s at byte offset %d%s' % (self.where, in_ns, message, offset, zipped))

    def _read(self, allow_terminator=True, ns=None):
        offset = self._input.offset
        try:
            return offset, read_document(self._input, offset, max_size=MAX_BSON_SIZE,
                                         allow_terminator=allow_terminator)
        except BsonError as exc:
            self._fail(exc.offset, exc.reason, ns)

    def close(self):
        if self._input is not None:
            self._input.close()
            self._input = None

    def read_prelude(self):
        self._input, self.compressed = open_maybe_gzip(self.path, self.where)
        magic = self._input.read(4)
        if magic != MAGIC_BYTES:
            self._fail(0, 'not a mongodump archive: the first 4 bytes are %r, not the magic number '
                       '0x8199e26d (was it written with mongodump --archive?)' % (magic,))
        offset, raw = self._read(allow_terminator=False)
        if raw is None:
            self._fail(offset, 'archive ends before its header document')
        header = self._decode(raw, offset, 'header document')
        if header.get('version') != FORMAT_VERSION:
            self._fail(offset, 'archive format version %r is not supported (only %r)' % (
                header.get('version'), FORMAT_VERSION))
        self.header = header
        while True:
            offset, raw = self._read()
            if raw is None:
                self._fail(offset, 'archive ends inside its prelude (no terminator after the collection metadata)')
            if raw == b'':
                break
            self._add_entry(self._decode(raw, offset, 'collection metadata document'), offset)
        return self.collections

    def _decode(self, raw, offset, what, ns=None):
        try:
            return _decode_small(raw)
        except Exception as exc:  # InvalidBSON and friends
            self._fail(offset, '%s is not valid BSON (%s)' % (what, exc), ns)

    def _add_entry(self, doc, offset):
        db, coll = doc.get('db'), doc.get('collection')
        if not isinstance(db, str) or not isinstance(coll, str) or not coll:
            self._fail(offset, 'collection metadata document lacks "db" or "collection": %r' % (doc,))
        ns = '%s.%s' % (db, coll) if db else coll
        text = doc.get('metadata') or None
        if text is not None and not isinstance(text, str):
            self._fail(offset, 'collection metadata is not a string', ns)
        try:
            metadata = parse_metadata(text)
        except ValueError as exc:
            self._fail(offset, 'collection metadata is %s' % exc, ns)
        if (db, coll) in self._by_ns:
            self._fail(offset, 'namespace listed twice in the prelude', ns)
        entry = CollectionEntry(db, coll, text, metadata, kind=doc.get('type') or None)
        self.collections.append(entry)
        self._by_ns[(db, coll)] = entry

    def documents(self, verify_documents=False):
        """Yield ``(entry, raw)`` per document and ``(entry, None)`` per verified EOF."""
        if self.header is None:
            self.read_prelude()
        crcs = {}
        finished = set()
        while True:
            offset, raw = self._read()
            if raw is None:
                break
            if raw == b'':
                self._fail(offset, 'two terminators in a row (a block without a namespace header)')
            header = self._decode(raw, offset, 'namespace header')
            key = (header.get('db'), header.get('collection'))
            entry = self._by_ns.get(key)
            ns = '%s.%s' % key
            if entry is None or not isinstance(header.get('EOF'), bool):
                self._fail(offset, 'block header %r names no namespace of the prelude' % (header,), ns)
            if key in finished:
                self._fail(offset, 'data or EOF after the namespace\'s EOF', ns)
            if header['EOF']:
                after, raw = self._read(ns=ns)
                if raw != b'':
                    self._fail(after, 'EOF header is not followed by a terminator', ns)
                expected = header.get('CRC')
                actual = crc64.to_int64(crcs.get(key, 0))
                if not isinstance(expected, int) or expected != actual:
                    self._fail(offset, 'CRC-64 mismatch: the EOF header says %r, the %d documents hash to %d '
                               '(the archive is corrupt)' % (expected, entry.count, actual), ns)
                finished.add(key)
                yield entry, None
                continue
            crc = crcs.get(key, 0)
            update = crc64.update
            while True:
                offset, raw = self._read(ns=ns)
                if raw is None:
                    self._fail(offset, 'archive ends inside a block (no terminator)', ns)
                if raw == b'':
                    break
                if verify_documents:
                    try:
                        check_document(raw)
                    except BsonError as exc:
                        self._fail(offset + exc.offset, 'document %d is corrupt: %s' % (
                            entry.count + 1, exc.reason), ns)
                crc = update(crc, raw)
                entry.count += 1
                entry.data_bytes += len(raw)
                yield entry, raw
            crcs[key] = crc
        missing = [e.ns for e in self.collections if e.has_data and (e.db, e.collection) not in finished]
        if missing:
            self._fail(self._input.offset, 'archive ends before the EOF of %s (truncated?)' % ', '.join(missing))


class _HashingWriter(object):
    """Passes writes to a file and keeps their sha256 and size."""

    def __init__(self, handle):
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self):
        self.handle.flush()


class ArchiveWriter(object):
    """Writes a mongodump-compatible archive, one namespace after another.

    Use: ``write_prelude(entries)`` once, then ``write_namespace(entry, raw_docs)`` for each
    entry that has data, then ``close()``. ``sha256``/``size`` describe the file as written
    (compressed bytes when ``compress`` is set).
    """

    def __init__(self, handle, compress=False, server_version='', tool_version='halobuzz.ops'):
        self._file = _HashingWriter(handle)
        self._gzip = gzip.GzipFile(fileobj=self._file, mode='wb', compresslevel=6, mtime=0) if compress else None
        self._out = self._gzip or self._file
        self._buffer = bytearray()
        self.server_version = server_version
        self.tool_version = tool_version

    def _write(self, data):
        self._buffer += data
        if len(self._buffer) >= _READ_BUFFER:
            self._out.write(bytes(self._buffer))
            del self._buffer[:]

    def write_prelude(self, entries):
        self._write(MAGIC_BYTES)
        self._write(bson.encode(SON([('concurrent_collections', 1), ('version', FORMAT_VERSION),
                                     ('server_version', self.server_version),
                                     ('tool_version', self.tool_version)])))
        for entry in entries:
            # "size" is the collection's size as mongodump knew it when it wrote the prelude;
            # mongodump itself writes 0 when it does not know (see the real test.bar.archive).
            self._write(bson.encode(SON([('db', entry.db), ('collection', entry.collection),
                                         ('metadata', entry.metadata_text or ''), ('size', 0),
                                         ('type', entry.kind)])))
        self._write(TERMINATOR)

    def _namespace_header(self, entry, eof, crc):
        return bson.encode(SON([('db', entry.db), ('collection', entry.collection),
                                ('EOF', eof), ('CRC', Int64(crc))]))

    def write_namespace(self, entry, raw_documents, on_document=None):
        """Write every raw document of ``entry`` then its EOF header; return (count, crc)."""
        self._write(self._namespace_header(entry, False, 0))
        crc = 0
        count = 0
        update = crc64.update
        for raw in raw_documents:
            self._write(raw)
            crc = update(crc, raw)
            count += 1
            if on_document is not None:
                on_document(raw)
        self._write(TERMINATOR)
        self._write(self._namespace_header(entry, True, crc64.to_int64(crc)))
        self._write(TERMINATOR)
        entry.count = count
        return count, crc

    def close(self):
        if self._buffer:
            self._out.write(bytes(self._buffer))
            del self._buffer[:]
        if self._gzip is not None:
            self._gzip.close()
        self._file.flush()

    @property
    def sha256(self):
        return self._file.sha256.hexdigest()

    @property
    def size(self):
        return self._file.size


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(_READ_BUFFER), b''):
            digest.update(block)
    return digest.hexdigest()


def open_source(path):
    """An :class:`ArchiveReader` for a file, a dump-directory reader for a directory."""
    if os.path.isdir(path):
        from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.dump_dir import DumpDirectory
        return DumpDirectory(path)
    if not os.path.exists(path):
        raise MongoArchiveError('archive %s does not exist; give the path of a mongodump archive '
                                '(file) or dump directory' % path)
    return ArchiveReader(path)
