#!/usr/bin/env python3
"""Restore throughput of halobuzz.ops' archive engine against plain pymongo, same server, same documents.

For each size N (documents): build N realistic documents (~230 bytes of BSON), write them into a
mongodump archive, then time
  - pymongo: insert_many of the same raw documents (RawBSONDocument, batches of 1000) into an empty
    collection, and
  - restore: validate() (the full read: CRC, BSON, metadata, checksums) + restore() (drop, create,
    insert in batches of 1000, indexes, re-read and verify counts and checksums) of the archive.
It prints the times, the throughput ratio (pymongo time / restore time; goal >= 0.9) and how time
grows with size (goal: 4x the data in <= 4.4x the time).

    PYTHONPATH=.collections:tests/integration:tests/sandbox .venv/bin/python bench/mongo_restore_throughput.py [N1 N2 N3]     (default 50000 200000 800000)
MONGODB_URI selects the server; without it a private nx-27017 (the sandbox's MongoDB) is started.
"""
import datetime
import argparse
import os
import tempfile
import time

import bson
import pymongo
from bson.int64 import Int64
from bson.objectid import ObjectId
from bson.raw_bson import RawBSONDocument

# .collections and tests/integration are on PYTHONPATH (the Makefile's bench target sets it).
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import ArchiveWriter
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import RAW_OPTIONS
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import CollectionEntry, dump_metadata
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import NamespaceFilter
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.restore import restore, verify
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.source import open_source
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import validate
from mongo_helpers import NxServer

DB = 'h5bench'
# Int64 values above 2**31: nx-27017 narrows small Int64s to int32 (a real mongod keeps them), which the
# restore's verification would rightly report as a difference.
EPOCH = datetime.datetime(2026, 1, 1)


def documents(count):
    for i in range(count):
        yield bson.encode({'_id': ObjectId(), 'user': 'user-%07d' % i, 'coins': Int64(2 ** 33 + i * 37), 'level': i % 90,
                           'created': EPOCH + datetime.timedelta(seconds=i), 'vip': i % 11 == 0,
                           'profile': {'country': 'NP', 'langs': ['ne', 'en'], 'bio': 'streamer %d' % i},
                           'gifts': [i % 5, i % 7, i % 13]})


def write_archive(path, count):
    metadata = {'options': {}, 'indexes': [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'}]}
    entry = CollectionEntry('src', 'docs', dump_metadata(metadata), metadata)
    with open(path, 'wb') as handle:
        writer = ArchiveWriter(handle)
        writer.write_prelude([entry])
        writer.write_namespace(entry, documents(count))
        writer.close()
    return os.path.getsize(path)


def time_pymongo(client, path):
    """insert_many of the archive's raw documents (already in memory: not timed to read)."""
    plan = validate(path)
    source_docs = []
    reader = open_source(path)
    for _entry, raw in reader.documents():
        if raw is not None:
            source_docs.append(RawBSONDocument(raw, RAW_OPTIONS))
    reader.close()
    client[DB].drop_collection('plain')
    coll = client[DB].get_collection('plain', codec_options=RAW_OPTIONS)
    start = time.perf_counter()
    for i in range(0, len(source_docs), 1000):
        coll.insert_many(source_docs[i:i + 1000], ordered=True)
    elapsed = time.perf_counter() - start
    assert coll.estimated_document_count() == plan.items[0].entry.count
    return elapsed


def time_restore(client, path):
    """(total, validate, verify) seconds: the whole restore, its validation pass, its verification re-read."""
    start = time.perf_counter()
    plan = validate(path, NamespaceFilter(ns_from=['src.docs'], ns_to=[DB + '.restored']))
    validated = time.perf_counter()
    restore(client, plan, path)
    total = time.perf_counter() - start
    again = time.perf_counter()
    verify(client, plan)  # restore() ends with the same re-read: timed again to split it out
    return total, validated - start, time.perf_counter() - again


def main():
    parser = argparse.ArgumentParser(description='Restore throughput against raw pymongo insert_many, at several sizes.')
    parser.add_argument('sizes', nargs='*', type=int, default=[50000, 200000, 800000],
                        help='document counts to measure (default: 50000 200000 800000)')
    sizes = parser.parse_args().sizes
    with tempfile.TemporaryDirectory(prefix='halobuzz-bench-') as work:
        server = None
        uri = os.environ.get('MONGODB_URI')
        if not uri:
            server = NxServer(work).start()
            uri = server.uri
        try:
            client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=30000)
            print('server: %s (%s)' % ('MONGODB_URI' if server is None else 'private nx-27017', uri.split('@')[-1]))
            print('restore = validate (read all, CRC, BSON, checksums) + write (drop, create, insert, indexes)'
                  ' + verify (re-read, counts, checksums)')
            print('%8s %7s %10s %10s %10s %10s %10s %11s %11s' % (
                'docs', 'MiB', 'pymongo s', 'restore s', 'validate s', 'write s', 'verify s', 'ratio all', 'ratio write'))
            results = []
            for count in sizes:
                path = os.path.join(work, 'bench-%d.archive' % count)
                size = write_archive(path, count)
                plain = time_pymongo(client, path)
                total, validating, verifying = time_restore(client, path)
                writing = total - validating - verifying
                results.append((count, plain, total))
                print('%8d %7.1f %10.2f %10.2f %10.2f %10.2f %10.2f %11.2f %11.2f' % (
                    count, size / 2 ** 20, plain, total, validating, writing, verifying, plain / total, plain / writing))
                client[DB].drop_collection('plain')
                client[DB].drop_collection('restored')
                os.unlink(path)
            for (n1, p1, t1), (n2, p2, t2) in zip(results, results[1:]):
                print('growth %d -> %d docs (%.1fx data): restore time x%.2f (pymongo x%.2f)' % (
                    n1, n2, n2 / n1, t2 / t1, p2 / p1))
            client.drop_database(DB)
        finally:
            if server is not None:
                server.stop()


if __name__ == '__main__':
    main()
