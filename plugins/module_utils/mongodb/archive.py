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
import struct

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import crc64
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.bson_reader import (
    BsonError, MAX_BSON_SIZE, check_document, read_document)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import Int64, SON, bson
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import (
    READ_BUFFER, CollectionEntry, MongoArchiveError, open_maybe_gzip, parse_metadata)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.timeseries import supports_raw_data

MAGIC = 0x8199E26D
MAGIC_BYTES = struct.pack('<I', MAGIC)
TERMINATOR = b'\xff\xff\xff\xff'
FORMAT_VERSION = '0.1'


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
        self._viewless = viewless_timeseries(header.get('server_version'))
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
            return bson.decode(raw)
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
        entry = CollectionEntry(db, coll, text, metadata, kind=doc.get('type') or None,
                                viewless_timeseries=self._viewless)
        # data travels under entry.data_collection: system.buckets.<name> for a time-series collection
        # dumped from a server before 8.3 (mongo-tools common/archive/demultiplexer.go, CreateDemux)
        if (db, entry.data_collection) in self._by_ns:
            self._fail(offset, 'namespace listed twice in the prelude', ns)
        self.collections.append(entry)
        self._by_ns[(db, entry.data_collection)] = entry

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
                yield entry, raw
            crcs[key] = crc
        missing = [e.ns for e in self.collections if e.has_data and (e.db, e.data_collection) not in finished]
        if missing:
            self._fail(self._input.offset, 'archive ends before the EOF of %s (truncated?)' % ', '.join(missing))


def parse_version(text):
    """'5.0.3' -> (5, 0, 3); None when unknown (mongo-tools common/db/version.go, StrToVersion)."""
    if not isinstance(text, str):
        return None
    parts = text.split('-', 1)[0].split('.')
    try:
        numbers = tuple(int(p) for p in parts[:3])
    except ValueError:
        return None
    return (numbers + (0, 0, 0))[:3] if numbers else None


def viewless_timeseries(server_version):
    """Whether a dump from this server keeps time-series data under the collection's own name (>= 8.3;
    mongo-tools common/db/version.go, SupportsRawData). An unknown version counts as older (mongorestore.go:
    "Archives too old to record a parseable version predate viewless timeseries")."""
    return supports_raw_data(parse_version(server_version))


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

    Use: ``write_prelude(entries)`` once, then ``write_namespace(entry, raw_docs)`` for EVERY entry
    of the prelude (a view with no documents: mongorestore only creates what its demultiplexer sees
    opened and closed, "archive finished before all collections were seen" otherwise, and mongodump
    writes an empty segment for a view as the trigger to create it: mongodump/mongodump.go,
    dumpValidatedQueryToIntent), then ``close()``. ``sha256``/``size`` describe the file as written
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
        if len(self._buffer) >= READ_BUFFER:
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
        return bson.encode(SON([('db', entry.db), ('collection', entry.data_collection),
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
    """The sha256 of a file as written (an archive that is already there)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(READ_BUFFER), b''):
            digest.update(block)
    return digest.hexdigest()
