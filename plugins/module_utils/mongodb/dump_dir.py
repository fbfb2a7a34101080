# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reader for mongodump directory dumps, with the same interface as the archive reader (archive.py).

Layout (as mongodump writes it and mongorestore reads it)::

    DIR/prelude.json[.gz]                     tool/server versions (optional)
    DIR/oplog.bson[.gz]                       the oplog (--oplog); replayed only with --oplogReplay
    DIR/<db>/<collection>.bson[.gz]           the documents, back to back
    DIR/<db>/<collection>.metadata.json[.gz]  options, indexes, uuid, type (Extended JSON)

Collection names are percent-encoded on disk (``caf%C3%A9s.bson`` is ``cafés``). Anything
else is skipped with a reason, as mongorestore does ("don't know what to do with ...").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.bson_reader import (
    BsonError, check_document, read_document)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import (
    CollectionEntry, MongoArchiveError, open_maybe_gzip, parse_metadata, unescape_collection_name)

OPLOG_NAMES = ('oplog.bson', 'oplog.bson.gz')
PRELUDE_NAMES = ('prelude.json', 'prelude.json.gz')
_BSON_SUFFIXES = ('.bson', '.bson.gz')
_METADATA_SUFFIXES = ('.metadata.json', '.metadata.json.gz')


def _strip_suffix(name, suffixes):
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return None


def _read_text(path, where):
    stream, _compressed = open_maybe_gzip(path, where)
    try:
        data = b''
        while True:
            block = stream.read(1 << 16)
            if not block:
                break
            data += block
            if len(data) > 16 * 1024 * 1024:
                raise MongoArchiveError('%s: larger than 16 MiB, not a metadata file' % where)
    finally:
        stream.close()
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise MongoArchiveError('%s: not UTF-8 text (byte offset %d)' % (where, exc.start))


class DumpDirectory(object):
    """A mongodump directory: ``read_prelude()`` then ``documents()``, like ArchiveReader."""

    kind = 'directory'

    def __init__(self, path):
        self.path = path
        self.where = 'dump directory %s' % path
        self.header = None
        self.collections = []
        self.skipped_files = []
        self._listed = False

    def _skip(self, path, reason):
        self.skipped_files.append({'path': os.path.relpath(path, self.path), 'reason': reason})

    def close(self):
        pass

    def read_prelude(self):
        if self._listed:
            return self.collections
        self._listed = True
        try:
            top = sorted(os.listdir(self.path))
        except OSError as exc:
            raise MongoArchiveError('%s: cannot list: %s' % (self.where, exc.strerror or exc))
        for name in top:
            full = os.path.join(self.path, name)
            if os.path.isdir(full):
                self._read_database(name, full)
            elif name in OPLOG_NAMES:
                self._skip(full, 'oplog: replayed only with mongorestore --oplogReplay, which this restore does not do')
            elif name in PRELUDE_NAMES:
                self.header = {'prelude': _read_text(full, 'prelude file %s' % full)}
            else:
                self._skip(full, "don't know what to do with file at the top of a dump (not a database directory)")
        return self.collections

    def _read_database(self, db, directory):
        files = {}
        metadata = {}
        for name in sorted(os.listdir(directory)):
            full = os.path.join(directory, name)
            if os.path.isdir(full):
                self._skip(full, "don't know what to do with a subdirectory of a database directory")
                continue
            meta_name = _strip_suffix(name, _METADATA_SUFFIXES)
            data_name = None if meta_name is not None else _strip_suffix(name, _BSON_SUFFIXES)
            if meta_name is None and data_name is None:
                self._skip(full, "don't know what to do with file (neither .bson nor .metadata.json)")
                continue
            try:
                coll = unescape_collection_name(meta_name if meta_name is not None else data_name)
            except ValueError as exc:
                raise MongoArchiveError('%s: file %s: %s' % (self.where, full, exc))
            target = metadata if meta_name is not None else files
            if coll in target:
                raise MongoArchiveError('%s: both %s and a compressed/uncompressed twin hold %s.%s; '
                                        'keep one' % (self.where, full, db, coll))
            target[coll] = full
        if 'system.indexes' in files:
            self._skip(files.pop('system.indexes'), 'legacy system.indexes: indexes come from each '
                       'collection\'s metadata.json')
        for coll in sorted(set(files) | set(metadata)):
            text = parsed = None
            if coll in metadata:
                where = 'metadata file %s' % metadata[coll]
                text = _read_text(metadata[coll], where)
                try:
                    parsed = parse_metadata(text)
                except ValueError as exc:
                    raise MongoArchiveError('%s (namespace %s.%s): collection metadata is %s at byte offset 0'
                                            % (where, db, coll, exc))
            self.collections.append(CollectionEntry(db, coll, text, parsed, data_path=files.get(coll)))

    def documents(self, verify_documents=False):
        """Yield ``(entry, raw)`` per document and ``(entry, None)`` after each collection."""
        self.read_prelude()
        for entry in self.collections:
            if entry.data_path is not None:
                for raw in self._file_documents(entry, verify_documents):
                    yield entry, raw
            yield entry, None

    def _file_documents(self, entry, verify_documents):
        where = 'file %s' % entry.data_path
        stream, compressed = open_maybe_gzip(entry.data_path, where)
        zipped = ' (offset in the decompressed stream)' if compressed else ''
        try:
            while True:
                raw = None
                offset = stream.offset
                try:
                    raw = read_document(stream, offset)
                    if raw is not None and verify_documents:
                        check_document(raw)
                except BsonError as exc:
                    # read_document reports absolute offsets, check_document relative ones
                    at = exc.offset if raw is None else offset + exc.offset
                    raise MongoArchiveError('%s in namespace %s: document %d is corrupt: %s at byte offset %d%s' % (
                        where, entry.ns, entry.count + 1, exc.reason, at, zipped))
                if raw is None:
                    return
                entry.count += 1
                yield raw
        finally:
            stream.close()
