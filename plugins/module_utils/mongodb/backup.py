# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup of chosen databases/collections into a mongodump-compatible archive.

Documents are read with a raw-BSON cursor and written as the bytes the server returned;
the archive is written to a temporary file beside the destination (``<dest>.partial-<pid>-<random>``,
made by ``tempfile.mkstemp``: created exclusively, so never through a symlink, and mode 0600), flushed
to disk and renamed into place, so a crash never leaves a half-written archive under the final name.
The archive keeps mode 0600: it holds production data (users, payments), for its owner only.
:func:`run_backup` is what the mongodb_backup module runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import (
    ArchiveWriter, file_sha256, parse_version, viewless_timeseries)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import (
    RAW_OPTIONS, SON, PyMongoError, connect, server_version_text)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import (
    CollectionEntry, ContentChecksum, MongoArchiveError, dump_metadata)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import (
    INTERNAL_DATABASES, NamespaceFilter, skip_reason)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.timeseries import count_buckets, find_buckets
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import validate

TOOL_VERSION = 'halobuzz.ops mongodb_backup'


def _uuid_hex(info):
    value = (info.get('info') or {}).get('uuid')
    if value is None or isinstance(value, str):
        return value or None
    hexed = getattr(value, 'hex', None)  # uuid.UUID has .hex (str); bson Binary is bytes
    return hexed if isinstance(hexed, str) else bytes(value).hex()


def select(client, databases=None, ns_filter=None):
    """The collections to dump, each a CollectionEntry with mongodump-style metadata."""
    ns_filter = ns_filter or NamespaceFilter()
    try:
        if not databases:
            databases = [d for d in client.list_database_names() if d not in INTERNAL_DATABASES + ('admin',)]
        entries = []
        for db in databases:
            for info in sorted(client[db].list_collections(), key=lambda i: i['name']):
                name = info['name']
                ns = '%s.%s' % (db, name)
                if skip_reason(db, name) or not ns_filter.selects(ns):
                    continue
                kind = info.get('type') or 'collection'
                indexes = [] if kind == 'view' else list(client[db][name].list_indexes())
                metadata = SON([('options', info.get('options') or {}), ('indexes', indexes)])
                uuid = _uuid_hex(info)
                if uuid:
                    metadata['uuid'] = uuid
                metadata['collectionName'] = name
                metadata['type'] = kind
                entries.append(CollectionEntry(db, name, dump_metadata(metadata), metadata, kind=kind))
    except PyMongoError as exc:
        raise MongoArchiveError('listing the collections to back up failed: %s' % exc)
    return entries


def _check_timeseries_readable(entries, server_version):
    """Where a time-series collection's buckets are read depends on the server's version (timeseries.py):
    without one, refuse rather than read system.buckets.<name> of a server that may have none (mongodump
    does not start without the version either: mongodump.go Init, ServerVersionArray)."""
    unknown = [e.ns for e in entries if e.is_timeseries and parse_version(server_version) is None]
    if unknown:
        raise MongoArchiveError('cannot back up time-series collection(s) %s: the server does not report its '
                                'version (buildInfo), which decides where their buckets are read (system.buckets.'
                                '<name> before 8.3, the collection with rawData from 8.3)' % ', '.join(unknown))


def count(client, entries):
    """Exact document counts (a time-series collection's buckets), for check mode."""
    server_version = server_version_text(client)
    _check_timeseries_readable(entries, server_version)
    version = parse_version(server_version)
    entry = None
    try:
        for entry in entries:
            if entry.is_timeseries:
                entry.count = count_buckets(client, entry.db, entry.collection, version)
            elif entry.has_data:
                entry.count = client[entry.db][entry.collection].count_documents({})
    except PyMongoError as exc:
        raise MongoArchiveError('counting %s failed: %s' % (entry.ns, exc))
    return entries


def write(client, entries, dest, compress=False):
    """Dump ``entries`` into the archive ``dest``; return (collections, sha256, size)."""
    directory = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(directory):
        raise MongoArchiveError('cannot write backup %s: directory %s does not exist' % (dest, directory))
    try:
        # O_CREAT|O_EXCL, mode 0600: a symlink planted at the name is never followed, nothing is readable by others
        descriptor, partial = tempfile.mkstemp(prefix='%s.partial-%d-' % (os.path.basename(dest), os.getpid()),
                                               dir=directory)
    except OSError as exc:
        raise MongoArchiveError('cannot write backup %s: creating a temporary file in %s failed: %s' % (
            dest, directory, exc))
    try:
        # the archive header's server_version; for time-series it also says where the buckets are read and
        # under which namespace they travel
        server_version = server_version_text(client)
        _check_timeseries_readable(entries, server_version)
    except BaseException:
        os.close(descriptor)
        _remove(partial)
        raise
    for entry in entries:
        # from 8.3 the buckets travel under the collection's own name, before under system.buckets.<name>, as
        # mongodump writes them and mongorestore's demultiplexer expects them by the header's server_version
        # (mongo-tools common/archive/multiplexer.go, Intent.DataCollection; demultiplexer.go CreateDemux)
        entry.viewless_timeseries = viewless_timeseries(server_version)
    collections = []
    entry = None
    try:
        with os.fdopen(descriptor, 'wb') as handle:
            writer = ArchiveWriter(handle, compress=compress, server_version=server_version,
                                   tool_version=TOOL_VERSION)
            writer.write_prelude(entries)
            for entry in entries:
                summary = {'namespace': entry.ns, 'type': entry.kind}
                if entry.has_data:
                    checksum = ContentChecksum()
                    if entry.is_timeseries:
                        # a time-series collection's documents are its buckets, read as mongodump reads them
                        # (mongodump/mongodump.go DumpIntent): system.buckets.<name> before 8.3, the collection
                        # itself with rawData from 8.3 (timeseries.py)
                        documents = find_buckets(client, entry.db, entry.collection, parse_version(server_version))
                    else:
                        documents = (doc.raw for doc in client[entry.db].get_collection(
                            entry.collection, codec_options=RAW_OPTIONS).find({}, batch_size=1000))
                    writer.write_namespace(entry, documents, on_document=checksum.add)
                    summary.update(documents=entry.count, checksum=checksum.hexdigest())
                else:
                    # every prelude namespace gets its segment and EOF: an empty one for a view, as mongodump
                    writer.write_namespace(entry, ())
                collections.append(summary)
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(partial, dest)
    except PyMongoError as exc:
        _remove(partial)
        raise MongoArchiveError('backing up %s failed: %s; no archive was written to %s' % (
            entry.ns if entry else 'the collection list', exc, dest))
    except (IOError, OSError) as exc:
        _remove(partial)
        raise MongoArchiveError('writing backup %s failed: %s' % (dest, exc))
    except BaseException:
        _remove(partial)
        raise
    return collections, writer.sha256, writer.size


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def run_backup(params, check_mode):
    """mongodb_backup: describe an existing ``dest`` (unless ``force``), else dump into it (count in check mode)."""
    dest = params['dest']
    result = dict(changed=False, dest=dest)
    if os.path.exists(dest) and not params['force']:
        plan = validate(dest)
        result.update(collections=plan.summary(), documents=sum(i.entry.count for i in plan.items),
                      sha256=file_sha256(dest), size=os.path.getsize(dest))
        return result
    client = connect(params)
    entries = select(client, params['databases'], NamespaceFilter(params['ns_include'], params['ns_exclude']))
    if check_mode:
        count(client, entries)
        collections = [dict(namespace=e.ns, type=e.kind, documents=e.count) for e in entries]
    else:
        collections, result['sha256'], result['size'] = write(client, entries, dest, params['gzip'])
    result.update(changed=True, collections=collections, documents=sum(c.get('documents', 0) for c in collections))
    return result
