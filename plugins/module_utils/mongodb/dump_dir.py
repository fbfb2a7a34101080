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
    TIMESERIES_BUCKET_PREFIX, CollectionEntry, MongoArchiveError, open_maybe_gzip, parse_metadata,
    unescape_collection_name)

OPLOG_NAMES = ('oplog.bson', 'oplog.bson.gz')
PRELUDE_NAMES = ('prelude.json', 'prelude.json.gz')
# mongo-tools mongorestore/filepath.go, getInfoFromFile: ".bin supported for legacy reasons" (never gzip)
_BSON_SUFFIXES = ('.bson', '.bson.gz', '.bin')
_METADATA_SUFFIXES = ('.metadata.json', '.metadata.json.gz')
# getInfoFromFile: a file name mongodump truncated (it holds "%24" and is 238 bytes long) takes the
# collection's real name from the "collectionName" of its metadata.
_TRUNCATED_NAME_LENGTH = 238


def _strip_suffix(name, suffixes):
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return None


def _is_gzip(path):
    """gzip by the name's suffix, as mongorestore (filepath.go: strings.HasSuffix(path, ".gz"))."""
    return path.endswith('.gz')


def _read_text(path, where):
    stream, _compressed = open_maybe_gzip(path, where, _is_gzip(path))
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
            meta_stem = _strip_suffix(name, _METADATA_SUFFIXES)
            data_stem = None if meta_stem is not None else _strip_suffix(name, _BSON_SUFFIXES)
            if meta_stem is None and data_stem is None:
                self._skip(full, "don't know what to do with file (neither .bson, .bin nor .metadata.json)")
                continue
            target = metadata if meta_stem is not None else files
            stem = meta_stem if meta_stem is not None else data_stem
            if stem in target:
                raise MongoArchiveError('%s: both %s and %s hold the same collection of database %s; keep one'
                                        % (self.where, target[stem], full, db))
            target[stem] = full
        if 'system.indexes' in files:
            self._skip(files.pop('system.indexes'), 'legacy system.indexes: indexes come from each '
                       'collection\'s metadata.json')
        entries = {}
        buckets = {}
        for stem in sorted(set(files) | set(metadata)):
            text = parsed = None
            if stem in metadata:
                where = 'metadata file %s' % metadata[stem]
                text = _read_text(metadata[stem], where)
                try:
                    parsed = parse_metadata(text)
                except ValueError as exc:
                    try:
                        named = '%s.%s' % (db, unescape_collection_name(stem))
                    except ValueError:
                        named = 'database %s' % db
                    raise MongoArchiveError('%s (namespace %s): collection metadata is %s at byte offset 0'
                                            % (where, named, exc))
            coll = self._collection_name(db, stem, files.get(stem) or metadata[stem], parsed)
            if coll.startswith(TIMESERIES_BUCKET_PREFIX) and stem not in metadata:
                # mongorestore/filepath.go: system.buckets.<name>.bson is the data of time-series <name>
                buckets[coll[len(TIMESERIES_BUCKET_PREFIX):]] = files[stem]
                continue
            entries[coll] = CollectionEntry(db, coll, text, parsed, data_path=files.get(stem))
        for coll, path in sorted(buckets.items()):
            entry = entries.get(coll)
            if entry is None or not entry.is_timeseries:
                raise MongoArchiveError('%s: %s holds time-series buckets, but %s.%s has no time-series metadata '
                                        'file (mongorestore: "could not find the timeseries collection metadata '
                                        'file"); restore the dump with its %s.metadata.json' % (
                                            self.where, path, db, coll, coll))
            if entry.data_path is not None:
                raise MongoArchiveError('%s: time-series %s.%s has both %s and %s; keep one' % (
                    self.where, db, coll, entry.data_path, path))
            entry.data_path = path
        for coll in sorted(entries):
            entry = entries[coll]
            if entry.is_timeseries and entry.data_path is None:
                # a time-series collection without its buckets would be recreated empty; mongodump writes them
                # to system.buckets.<name>.bson before 8.3, to <name>.bson from 8.3 (mongodump/prepare.go)
                raise MongoArchiveError('%s: time-series collection %s.%s has metadata but no %s%s.bson (nor, from '
                                        'a server 8.3 or later, %s.bson); the dump is incomplete' % (
                                            self.where, db, coll, TIMESERIES_BUCKET_PREFIX, coll, coll))
            self.collections.append(entry)

    def _collection_name(self, db, stem, path, parsed):
        if '%24' in stem and len(stem) == _TRUNCATED_NAME_LENGTH:
            name = (parsed or {}).get('collectionName')
            if not isinstance(name, str) or not name:
                raise MongoArchiveError('%s: %s has a truncated name and its metadata gives no "collectionName" '
                                        '(database %s)' % (self.where, path, db))
            return name
        try:
            return unescape_collection_name(stem)
        except ValueError as exc:
            raise MongoArchiveError('%s: file %s: %s' % (self.where, path, exc))

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
        stream, compressed = open_maybe_gzip(entry.data_path, where, _is_gzip(entry.data_path))
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
