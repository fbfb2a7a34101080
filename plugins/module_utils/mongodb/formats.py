# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What both mongodump formats (``--archive`` files and dump directories) are made of.

The archive reader and writer (archive.py) and the dump-directory reader (dump_dir.py) share these
pieces and nothing else: the error type, one namespace of a dump (:class:`CollectionEntry`), the
collection metadata in Extended JSON, mongodump's percent-encoded collection names, streaming reads
of plain or gzip files, and the content checksum that compares a dump with a database.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import struct
import zlib

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import json_util

READ_BUFFER = 1 << 20
# Collection types without documents of their own (a view has none; a time-series collection's
# documents are its buckets, dumped under system.buckets.<name> by servers before 8.3 and under the
# collection's own name from 8.3; see CollectionEntry.data_collection and timeseries.py).
DATALESS_TYPES = ('view',)
TIMESERIES_BUCKET_PREFIX = 'system.buckets.'


class MongoArchiveError(HaloBuzzError):
    """A backup or dump that cannot be read or written; the message says where and why."""


class CollectionEntry(object):
    """One namespace of a dump: its names, its metadata and, once read, its document count.

    A time-series collection ``<name>`` (type ``timeseries``) carries its bucket documents under
    ``system.buckets.<name>`` when the dump comes from a server before 8.3, under its own name from
    8.3 on (viewless time-series): ``viewless_timeseries`` says which, from the server version of the
    archive's header (mongo-tools common/archive/demultiplexer.go CreateDemux, common/intents/intent.go
    ``DataCollection``). This is the source's layout; where a restore writes the buckets depends on the
    target server instead (validate.PlanItem.data_collection_on, timeseries.py).
    """

    def __init__(self, db, collection, metadata_text=None, metadata=None, kind=None, data_path=None,
                 viewless_timeseries=False):
        self.db = db
        self.collection = collection
        self.metadata_text = metadata_text
        self.metadata = metadata
        self.kind = kind or (metadata or {}).get('type') or 'collection'
        if self.kind == 'collection' and (metadata or {}).get('options', {}).get('viewOn'):
            self.kind = 'view'
        elif self.kind == 'view' and metadata is not None and not (metadata.get('options') or {}).get('viewOn'):
            # mongodump --viewsAsCollections keeps type "view" but removes viewOn/pipeline and dumps the
            # view's documents (mongodump/prepare.go): mongorestore creates a collection from those options
            self.kind = 'collection'
        self.data_path = data_path
        self.viewless_timeseries = viewless_timeseries
        self.count = 0

    @property
    def ns(self):
        return '%s.%s' % (self.db, self.collection) if self.db else self.collection

    @property
    def is_timeseries(self):
        return self.kind == 'timeseries'

    @property
    def data_collection(self):
        """The collection under which this namespace's documents travel in the dump (the buckets of a time-series
        one: system.buckets.<name> unless the dump comes from an 8.3+ server)."""
        if self.is_timeseries and not self.viewless_timeseries:
            return TIMESERIES_BUCKET_PREFIX + self.collection
        return self.collection

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

    @classmethod
    def of(cls, count, total):
        """A checksum from a count and sum another one reported (``count``, ``total``)."""
        checksum = cls()
        checksum.count, checksum._sum = count, total
        return checksum

    @property
    def total(self):
        """The sum of the documents' sha256, mod 2**256 (what two checksums add up with)."""
        return self._sum & ((1 << 256) - 1)

    def add(self, raw):
        self.count += 1
        self._sum += int.from_bytes(hashlib.sha256(raw).digest(), 'big')

    def merge(self, other):
        """Add ``other``'s documents: the checksum of both sets together."""
        self.count += other.count
        self._sum += other.total

    def hexdigest(self):
        total = self._sum & ((1 << 256) - 1)
        return hashlib.sha256(struct.pack('<Q', self.count) + total.to_bytes(32, 'big')).hexdigest()


def unescape_collection_name(name):
    """The collection name behind a mongodump file name, as Go's ``url.QueryUnescape`` reads it.

    mongodump writes names with ``url.QueryEscape`` and mongorestore reads them back with
    ``url.QueryUnescape`` (mongo-tools mongorestore/filepath.go, getInfoFromFile): ``%XX`` is a byte
    and ``+`` is a space (``caf%C3%A9s`` -> ``cafés``, ``my+coll`` -> ``my coll``).
    """
    out = bytearray()
    raw = name.encode('utf-8')
    i = 0
    while i < len(raw):
        if raw[i:i + 1] == b'%':
            digits = raw[i + 1:i + 3]
            if len(digits) < 2 or not all(c in b'0123456789abcdefABCDEF' for c in digits):
                raise ValueError('invalid percent-encoding in %r' % name)
            out.append(int(digits.decode('ascii'), 16))
            i += 3
        elif raw[i:i + 1] == b'+':
            out.append(0x20)
            i += 1
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


def open_maybe_gzip(path, where, compressed=None):
    """Open ``path`` for streaming reads, decompressing it when ``compressed`` (None: by gzip's magic).

    Files of a dump directory are gzip exactly when their name ends in ``.gz``, as mongorestore
    decides (mongo-tools mongorestore/filepath.go: ``gzip: strings.HasSuffix(path, ".gz")``): a plain
    ``.bson`` whose first document happens to start with ``1f 8b`` is still plain. Archives keep the
    magic-number test: a plain archive starts with 0x8199e26d, never with gzip's ``1f 8b``.
    """
    try:
        handle = open(path, 'rb')
    except (IOError, OSError) as exc:
        raise MongoArchiveError('%s: cannot open: %s' % (where, exc.strerror or exc))
    if compressed is None:
        compressed = handle.read(2) == b'\x1f\x8b'
        handle.seek(0)
    if compressed:
        stream = io.BufferedReader(gzip.GzipFile(fileobj=handle, mode='rb'), READ_BUFFER)
    else:
        stream = io.BufferedReader(handle, READ_BUFFER)
    return _CountingReader(stream, where), compressed
