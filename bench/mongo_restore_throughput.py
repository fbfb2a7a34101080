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
    ... bench/mongo_restore_throughput.py --playbook N   (playbooks/db_rollback.yml on a private sandbox: the
    writers-down window, scale to 0 -> scaled back, and the whole playbook against raw insert_many of the same
    documents into the same server; goals <= 1.3x and <= 2x)
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
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.restore import collection_state, preflight, restore
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
    version = preflight(client, plan).version
    restore(client, plan, path, version=version)
    total = time.perf_counter() - start
    again = time.perf_counter()
    collection_state(client, DB, 'restored')  # restore() ends with the same re-read: timed again to split it out
    return total, validated - start, time.perf_counter() - again


def main():
    parser = argparse.ArgumentParser(description='Restore throughput against raw pymongo insert_many, at several sizes.')
    parser.add_argument('sizes', nargs='*', type=int, default=[50000, 200000, 800000],
                        help='document counts to measure (default: 50000 200000 800000)')
    parser.add_argument('--playbook', type=int, metavar='N',
                        help='instead: playbooks/db_rollback.yml on a private sandbox with N extra documents '
                             '(writers-down window and whole playbook against raw insert_many)')
    args = parser.parse_args()
    if args.playbook:
        return playbook_bench(args.playbook)
    sizes = args.sizes
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


# A callback that prints when each task starts and ends (monotonic seconds), written into a temporary
# directory at run time: the writers-down window is "Scale the writers to 0" start -> "Scale the writers
# back to their recorded replicas" end.
TIMING_CALLBACK = '''
import time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_task_times'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.out = open(__import__('os').environ['BENCH_TASK_TIMES'], 'a')

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.out.write('start\\t%f\\t%s\\n' % (time.monotonic(), task.get_name()))
        self.out.flush()

    def _end(self, result):
        self.out.write('end\\t%f\\t%s\\n' % (time.monotonic(), result._task.get_name()))
        self.out.flush()

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = _end
'''


def playbook_bench(extra):
    """db_rollback.yml on a private sandbox: writers-down window and whole run against raw insert_many."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    sandbox_py = repo / 'tests' / 'sandbox' / 'sandbox.py'
    with tempfile.TemporaryDirectory(prefix='halobuzz-bench-') as work:
        work = Path(work)
        sandbox_dir = work / 'sandbox'
        subprocess.run([sys.executable, str(sandbox_py), 'up', '--dir', str(sandbox_dir), '--scenario', 'healthy',
                        '--skip', 'vault,redis,aws'], check=True, capture_output=True)
        try:
            env = dict(os.environ, **json.loads((sandbox_dir / 'env.json').read_text()))
            client = pymongo.MongoClient(env['MONGODB_URI'], serverSelectionTimeoutMS=30000)
            database = client.get_default_database().name
            # the archive: the database as seeded plus a collection of `extra` documents
            from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import backup
            entries = backup.select(client, [database])
            metadata = {'options': {}, 'indexes': [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'}]}
            bulk = CollectionEntry(database, 'bench_bulk', dump_metadata(metadata), metadata)
            archive = str(work / 'rollback.archive')
            with open(archive, 'wb') as handle:
                writer = ArchiveWriter(handle)
                writer.write_prelude(entries + [bulk])
                for entry in entries:
                    cursor = client[database].get_collection(entry.collection, codec_options=RAW_OPTIONS).find()
                    writer.write_namespace(entry, (doc.raw for doc in cursor))
                writer.write_namespace(bulk, documents(extra))
                writer.close()
            docs = [RawBSONDocument(raw, RAW_OPTIONS) for entry, raw in _all(archive) if raw is not None]
            raw_times = []
            for run in range(2):
                client.drop_database(DB)
                start = time.perf_counter()
                coll = client[DB].get_collection('plain', codec_options=RAW_OPTIONS)
                for i in range(0, len(docs), 1000):
                    coll.insert_many(docs[i:i + 1000], ordered=True)
                raw_times.append(time.perf_counter() - start)
                client.drop_database(DB)
            raw = min(raw_times)
            (work / 'callbacks').mkdir()
            (work / 'callbacks' / 'bench_task_times.py').write_text(TIMING_CALLBACK)
            times_file = work / 'times.tsv'
            env.update(ANSIBLE_CONFIG=str(repo / 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                       ANSIBLE_CALLBACK_PLUGINS=str(work / 'callbacks'), ANSIBLE_CALLBACKS_ENABLED='bench_task_times',
                       BENCH_TASK_TIMES=str(times_file))
            client[database]['bench_bulk'].drop()  # the database differs from the archive: a real rollback
            start = time.perf_counter()
            proc = subprocess.run([str(repo / '.venv' / 'bin' / 'ansible-playbook'), '-i',
                                   str(repo / 'inventories' / 'sandbox'), str(repo / 'playbooks' / 'db_rollback.yml'),
                                   '-e', 'backup_archive=%s' % archive, '-e', 'safety_backup_dir=%s' % (work / 'safety')],
                                  capture_output=True, text=True, env=env, cwd=str(repo), check=False)
            whole = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit('db_rollback.yml failed:\n%s' % proc.stdout[-4000:])
            # task names come as "<role> : <name>"
            marks = [(kind, t, name.split(' : ', 1)[-1]) for kind, t, name in (
                line.split('\t', 2) for line in times_file.read_text().splitlines())] if times_file.exists() else []
            if not marks:
                raise SystemExit('no task times recorded (callback not loaded?):\n%s\n%s' % (
                    proc.stdout[-2000:], proc.stderr[-2000:]))
            down = min(float(t) for kind, t, name in marks if kind == 'start' and name == 'Scale the writers to 0')
            up = max(float(t) for kind, t, name in marks
                     if kind == 'end' and name == 'Scale the writers back to their recorded replicas')
            window = up - down
            print('server: sandbox nx-27017; %d documents in %d collections (%.1f MiB archive)' % (
                len(docs), len(entries) + 1, os.path.getsize(archive) / 2 ** 20))
            print('raw insert_many of the same documents (best of 2): %7.2f s' % raw)
            print('db_rollback.yml writers-down window (scale to 0 -> scaled back): %7.2f s  ratio %.2f (goal <= 1.3)'
                  % (window, window / raw))
            print('db_rollback.yml whole playbook: %7.2f s  ratio %.2f (goal <= 2)' % (whole, whole / raw))
            starts = dict((name, float(t)) for kind, t, name in marks if kind == 'start')
            ends = dict((name, float(t)) for kind, t, name in marks if kind == 'end')
            for name in ('Validate the archive, compare it with the database and check it against the server '
                         '(writes nothing)', 'Scale the writers to 0', 'Wait until the writers\' pods are gone',
                         'Take the safety backup of the current database', 'Restore the archive',
                         'Scale the writers back to their recorded replicas'):
                if name in starts and name in ends:
                    print('  %-60s %7.2f s' % (name[:60], ends[name] - starts[name]))
            print('load average at the end: %.1f on %d CPUs' % (os.getloadavg()[0], os.cpu_count()))
        finally:
            subprocess.run([sys.executable, str(sandbox_py), 'down', '--dir', str(sandbox_dir)], check=False,
                           capture_output=True)


def _all(path):
    reader = open_source(path)
    try:
        reader.read_prelude()
        for item in reader.documents():
            yield item
    finally:
        reader.close()


if __name__ == '__main__':
    main()
