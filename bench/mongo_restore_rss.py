#!/usr/bin/env python3
"""Peak resident memory of halobuzz.ops' restore of a large mongodump archive (goal: <= 150 MB at ~1 GB).

Writes an archive of about --size MiB (documents of ~1 KiB, streamed: the writer holds one document
at a time), then runs in a fresh child process, so that its peak RSS is the restore's alone:
  1. validate() - the full read (CRC-64, BSON structure, metadata, content checksums), and
  2. unless --validate-only: validate() + restore() into a MongoDB server (drop, insert in batches of
     1000, verify by re-reading), MONGODB_URI or a private nx-27017 started for the run.
Prints the archive size and each child's peak RSS (ru_maxrss).

    PYTHONPATH=.collections:tests/integration:tests/sandbox .venv/bin/python bench/mongo_restore_rss.py [--size 1024] [--restore-size MIB] [--validate-only]
--restore-size restores a smaller archive than --size (nx-27017 inserts a few thousand documents per
second; a 1 GiB restore into it takes hours): the validation pass still reads the full --size archive.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import bson
from bson.int64 import Int64

# .collections and tests/integration are on PYTHONPATH (the Makefile's bench target sets it; the
# restore child inherits it).
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import ArchiveWriter
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import CollectionEntry, dump_metadata
from mongo_helpers import NxServer

CHILD = '''
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import NamespaceFilter
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.restore import restore
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import validate
plan = validate({archive!r}, NamespaceFilter(ns_from=['src.$c$'], ns_to=['h5rss.$c$']))
if {uri!r}:
    import pymongo
    client = pymongo.MongoClient({uri!r}, serverSelectionTimeoutMS=30000)
    restore(client, plan, {archive!r})
    client.drop_database('h5rss')
import resource
print(sum(item.entry.count for item in plan.items), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
'''


def write_archive(path, mib):
    metadata = {'options': {}, 'indexes': [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'}]}
    entries = [CollectionEntry('src', name, dump_metadata(metadata), metadata) for name in ('events', 'ledger')]
    filler = 'x' * 900
    per_collection = mib * 1024 // 2  # documents of ~1 KiB

    def documents(offset):
        for i in range(per_collection):
            yield bson.encode({'_id': offset + i, 'n': Int64(2 ** 33 + i), 'tags': ['a', 'b'], 'pad': filler})
    with open(path, 'wb') as handle:
        writer = ArchiveWriter(handle)
        writer.write_prelude(entries)
        for number, entry in enumerate(entries):
            writer.write_namespace(entry, documents(number * per_collection))
        writer.close()
    return os.path.getsize(path)


def child_peak(archive, uri):
    """(peak RSS MiB, seconds, documents) of one restore child; it reports its own ru_maxrss (KiB)."""
    start = time.perf_counter()
    code = CHILD.format(archive=archive, uri=uri or '')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit('restore child failed:\n%s' % proc.stderr[-3000:])
    docs, peak_kib = proc.stdout.split()[-2:]
    return int(peak_kib) / 1024.0, time.perf_counter() - start, int(docs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=1024, help='archive size for the validation pass, MiB')
    parser.add_argument('--restore-size', type=int, help='archive size for the restore, MiB (default --size)')
    parser.add_argument('--validate-only', action='store_true')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='halobuzz-rss-') as work:
        server = None
        try:
            if not args.validate_only:
                small = os.path.join(work, 'restore.archive')
                size = write_archive(small, args.restore_size or args.size)
                uri = os.environ.get('MONGODB_URI')
                if not uri:
                    server = NxServer(work).start()
                    uri = server.uri
                peak, seconds, docs = child_peak(small, uri)
                print('restore  %8.1f MiB archive, %8d docs: peak RSS %6.1f MiB (%.0f s)' % (
                    size / 2 ** 20, docs, peak, seconds))
                os.unlink(small)
            big = os.path.join(work, 'validate.archive')
            size = write_archive(big, args.size)
            peak, seconds, docs = child_peak(big, None)
            print('validate %8.1f MiB archive, %8d docs: peak RSS %6.1f MiB (%.0f s)' % (
                size / 2 ** 20, docs, peak, seconds))
        finally:
            if server is not None:
                server.stop()


if __name__ == '__main__':
    main()
