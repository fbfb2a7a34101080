# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the bucket documents of a time-series collection are read and written, on a given server.

A time-series collection ``<name>`` stores its measurements as bucket documents, and a dump holds the
buckets (mongodump dumps them as they are stored; mongorestore inserts them back as they are). Where a
server keeps them decides every read and write of a backup or restore:

- servers 5.0 to 8.2: in the collection ``system.buckets.<name>``, read and written like any other one
  (mongo src/mongo/db/timeseries/README.md: the time-series collection is a view on it);
- servers 8.3 and later: through the collection's own namespace, with ``rawData: true`` on the command
  (``find``, ``insert``, ``aggregate``/count...). Their time-series collections are "viewless": no
  ``system.buckets.<name>`` is listed (jstests/core/timeseries/libs/viewless_timeseries_util.js), while
  ``listCollections`` still reports ``type: "timeseries"`` with the same options
  (jstests/core/timeseries/ddl/timeseries_list_collections_filter_name.js); a command naming
  ``system.buckets.<name>`` is refused with code 491 CommandNotSupportedOnLegacyTimeseriesBucketsNamespace
  ("Direct access to timeseries buckets namespaces is not allowed anymore. [...] Use the rawData API",
  src/mongo/db/stats/system_buckets_metrics.cpp) or, where that check is not enabled yet, finds no such
  collection.

mongo-tools decides by the server's version alone: ``SupportsRawData`` is ``version >= 8.3.0``
(common/db/version.go), and then mongodump reads the collection itself with ``rawData`` (mongodump/mongodump.go
DumpIntent, common/db/query.go Iter) and mongorestore inserts into it with ``rawData`` (common/intents/intent.go
DataCollection, common/db/buffered_bulk.go newBufferedBulkInserter, mongorestore/restore.go
insertDocWithEmptyTimestamps). rawData on the collection's namespace also reaches the buckets of a collection
still kept the older way on such a server (jstests/libs/raw_operation_utils.js, getTimeseriesCollForRawOps), so
the version is enough. This module decides the same way. mongo-tools sends ``rawData`` with every insert and
find on those servers; this engine sends it where it matters, for time-series buckets, and keeps pymongo's
plain calls for the other collections.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import RAW_OPTIONS, SON
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import TIMESERIES_BUCKET_PREFIX

# mongo-tools common/db/version.go SupportsRawData
RAW_DATA_VERSION = (8, 3, 0)
# The largest command document a server takes is 16 MiB (maxBsonObjectSize) plus 16 KiB of command
# overhead; an insert command holding several documents stays within 16 MiB, a single larger one goes alone.
MAX_COMMAND_BYTES = 16 * 1024 * 1024
_COMMAND_FIELDS_BYTES = 1024  # insert/ordered/rawData/bypassEmptyTsReplacement/writeConcern and the name


def supports_raw_data(version):
    """Whether a server of ``version`` (a tuple; None when unknown) reads and writes time-series buckets through
    the collection's namespace with rawData (8.3.0 and later). An unknown version does not."""
    return version is not None and tuple(version) >= RAW_DATA_VERSION


def bucket_collection(collection, version):
    """The collection that holds the buckets of time-series ``collection`` on a server of ``version``."""
    return collection if supports_raw_data(version) else TIMESERIES_BUCKET_PREFIX + collection


def find_buckets(client, db, collection, version, batch_size=1000):
    """Every bucket of time-series ``db.collection``, as raw BSON bytes, read where the server keeps them.

    pymongo's ``find()`` takes no ``rawData`` (Cursor refuses unknown keyword arguments), so on 8.3+ the
    ``find`` command is sent as mongodump sends it and its cursor followed with ``cursor_command``; the
    database carries the raw codec so that getMore batches stay raw too."""
    if not supports_raw_data(version):
        cursor = client[db].get_collection(TIMESERIES_BUCKET_PREFIX + collection, codec_options=RAW_OPTIONS).find(
            {}, batch_size=batch_size)
    else:
        database = client.get_database(db, codec_options=RAW_OPTIONS)
        cursor = database.cursor_command(SON([('find', collection), ('filter', {}), ('batchSize', batch_size),
                                              ('rawData', True)]), codec_options=RAW_OPTIONS)
    return (doc.raw for doc in cursor)


def count_buckets(client, db, collection, version):
    """How many buckets time-series ``db.collection`` holds (pymongo passes extra count_documents keyword
    arguments into its aggregate command: ``rawData`` on 8.3+, as mongo-tools' CountDocuments with rawData)."""
    if not supports_raw_data(version):
        return client[db][TIMESERIES_BUCKET_PREFIX + collection].count_documents({})
    return client[db][collection].count_documents({}, rawData=True)


def insert_buckets_commands(collection, documents, concern_document=None):
    """The ``insert`` commands that write ``documents`` (RawBSONDocument) as buckets of ``collection`` on an 8.3+
    server, in order, each within MAX_COMMAND_BYTES.

    As mongorestore's bulk inserter there (common/db/buffered_bulk.go): ``rawData: true``, and
    ``bypassEmptyTsReplacement: true`` (every server with rawData keeps an empty Timestamp(0, 0) when asked:
    common/db/empty_timestamp.go); no bypassDocumentValidation (mongorestore/restore.go: buckets are validated).
    """
    empty = _COMMAND_FIELDS_BYTES + len(collection.encode('utf-8'))
    batch, size = [], empty
    for doc in documents:
        if batch and size + _element_bytes(len(batch), doc) > MAX_COMMAND_BYTES:
            yield _insert_command(collection, batch, concern_document)
            batch, size = [], empty
        size += _element_bytes(len(batch), doc)
        batch.append(doc)
    if batch:
        yield _insert_command(collection, batch, concern_document)


def _element_bytes(index, doc):
    """The bytes a document takes as element ``index`` of a BSON array: type byte, the index as a string, NUL."""
    return 2 + len(str(index)) + len(doc.raw)


def _insert_command(collection, documents, concern_document):
    command = SON([('insert', collection), ('documents', documents), ('ordered', True), ('rawData', True),
                   ('bypassEmptyTsReplacement', True)])
    if concern_document is not None:
        command['writeConcern'] = concern_document
    return command
