"""Helpers of the MongoDB integration tests and benches: module runs, BSON files, a mongoeco server.

- run_module(env, name, args, check_mode=False, diff=False): runs halobuzz.ops.<name> once with
  `ansible localhost -m` (one-line output) and returns (failed, result dict).
- read_bson(path) / write_bson(path, docs): raw documents of a .bson file.
- archive_then_stray_write(env, tmp_path): an archive of the database as it is now, then a stray write.
- MongoEcoServer: mongoeco's wire-protocol proxy (keeps Decimal128, Timestamp, Regex, MinKey,
  MaxKey, ... which nx-27017 cannot hold) in a subprocess on a free loopback port; always stopped.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pymongo

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import backup as mongodb_backup

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures' / 'mongodump'
ANSIBLE = REPO / '.venv' / 'bin' / 'ansible'


def archive_then_stray_write(env, tmp_path):
    """An archive of the database as it is now (mongodb_backup's writer), then a stray write into gifts: a
    db_rollback run from it has a restore to do. Returns the archive's path."""
    client = pymongo.MongoClient(env['MONGODB_URI'], serverSelectionTimeoutMS=30000)
    try:
        database = client.get_default_database().name
        archive = tmp_path / 'good.archive'
        mongodb_backup.write(client, mongodb_backup.select(client, [database]), str(archive))
        client[database]['gifts'].insert_one({'written_by': 'bad release'})
    finally:
        client.close()
    return archive


def run_module(env, name, args, check_mode=False, diff=False, timeout=300):
    argv = [str(ANSIBLE) if ANSIBLE.exists() else 'ansible', 'localhost', '-o', '-m', 'halobuzz.ops.%s' % name,
            '-a', json.dumps(args)]
    if check_mode:
        argv.append('--check')
    if diff:
        argv.append('--diff')
    full_env = dict(os.environ, **env)
    full_env.update(ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                    ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_DEPRECATION_WARNINGS='0')
    proc = subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=REPO, timeout=timeout, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith('localhost |') and '=>' in line:
            status, _sep, payload = line.partition('=>')
            return 'FAILED' in status, json.loads(payload)
    raise AssertionError('no result from %s:\n%s\n%s' % (' '.join(argv), proc.stdout[-3000:], proc.stderr[-3000:]))


def read_bson(path):
    data = Path(path).read_bytes()
    docs, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 4], 'little')
        docs.append(data[pos:pos + size])
        pos += size
    return docs


def write_bson(path, docs):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b''.join(docs))


_ECO_MAIN = '''
import asyncio
import sys
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

async def main():
    server = AsyncMongoEcoProxyServer(host="127.0.0.1", port=0)
    address = await server.start()
    with open(sys.argv[1] + ".tmp", "w") as handle:
        handle.write(address.uri)
    __import__("os").replace(sys.argv[1] + ".tmp", sys.argv[1])
    await asyncio.Event().wait()

asyncio.run(main())
'''


class _ServerProcess:
    """A server subprocess answering MongoDB pings at self.uri; stop() always ends it."""

    proc = None
    uri = None

    def _wait_ping(self, deadline, what):
        while True:
            try:
                pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500).admin.command('ping')
                return self
            except pymongo.errors.PyMongoError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError('%s did not start' % what)
                time.sleep(0.1)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class MongoEcoServer(_ServerProcess):
    """mongoeco's MongoDB wire proxy on 127.0.0.1:<free port> (it binds port 0 itself)."""

    def start(self, workdir, timeout=60):
        uri_file = Path(workdir) / 'mongoeco.uri'
        self.proc = subprocess.Popen([sys.executable, '-c', _ECO_MAIN, str(uri_file)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not uri_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('mongoeco did not start (is it installed? requirements-dev.txt)')
            time.sleep(0.1)
        self.uri = uri_file.read_text().strip()
        return self._wait_ping(deadline, 'mongoeco')


class NxServer(_ServerProcess):
    """A private nx-27017 (the sandbox's MongoDB) on 127.0.0.1:<free port>, data in `workdir`; always stopped."""

    def __init__(self, workdir):
        self.dir = Path(workdir)

    def start(self, timeout=60):
        import socket
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        binary = REPO / '.venv' / 'bin' / 'nx-27017'
        self.proc = subprocess.Popen(
            [str(binary), '--host', '127.0.0.1', '-p', str(port), '--data-dir', str(self.dir / 'data'),
             '--log-file', str(self.dir / 'nx.log'), '--pid-file', str(self.dir / 'nx.pid')],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.uri = 'mongodb://127.0.0.1:%d/' % port
        return self._wait_ping(time.monotonic() + timeout, 'nx-27017 (log: %s)' % (self.dir / 'nx.log'))
