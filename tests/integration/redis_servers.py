"""Private redis-server processes for the Redis tests and bench: free loopback ports, temp dirs, always stopped.

Used by tests/integration/test_redis_*.py (standalone, requirepass, 3-primary Cluster) and bench/redis_audit.py.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import redis

REDIS_SERVER = shutil.which('redis-server') or '/usr/bin/redis-server'
REDIS_CLI = shutil.which('redis-cli') or '/usr/bin/redis-cli'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class RedisServer:
    """One redis-server on 127.0.0.1:<free port>, no persistence, in its own temp dir."""

    def __init__(self, *extra_args, workdir=None):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix='halobuzz-redis-', dir=workdir)
        self.args = [REDIS_SERVER, '--port', str(self.port), '--bind', '127.0.0.1', '--dir', self.dir,
                     '--save', '', '--appendonly', 'no', '--logfile', os.path.join(self.dir, 'redis.log'),
                     *extra_args]
        self.proc = None

    def start(self, password=None):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=self.port, password=password, socket_timeout=1).ping()
                return self
            except redis.exceptions.AuthenticationError:
                return self
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError('redis-server did not start: %s' % ' '.join(self.args))
                time.sleep(0.05)

    @property
    def url(self):
        return 'redis://127.0.0.1:%d/0' % self.port

    def client(self, **kwargs):
        return redis.Redis(port=self.port, **kwargs)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisClusterServers:
    """Three primaries with cluster-enabled yes, joined by `redis-cli --cluster create ... --cluster-yes`."""

    def __init__(self, primaries=3):
        # cluster-port: the bus on its own free port (the default, port + 10000, may be taken or above 65535)
        self.nodes = [RedisServer('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
                                  '--cluster-node-timeout', '5000', '--cluster-port', str(free_port()))
                      for _index in range(primaries)]

    def start(self):
        try:
            for node in self.nodes:
                node.start()
            subprocess.run([REDIS_CLI, '--cluster', 'create', *['127.0.0.1:%d' % n.port for n in self.nodes],
                            '--cluster-replicas', '0', '--cluster-yes'],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            deadline = time.monotonic() + 30
            while any(b'cluster_state:ok' not in n.client().execute_command('CLUSTER', 'INFO')
                      for n in self.nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError('Redis Cluster did not reach cluster_state:ok')
                time.sleep(0.1)
        except Exception:
            self.stop()
            raise
        return self

    @property
    def url(self):
        return self.nodes[0].url

    def stop(self):
        for node in self.nodes:
            node.stop()


def run_module(name, args, check=False, diff=False):
    """Run halobuzz.ops.<name>'s main() in-process with args; return its JSON result (failed=True on fail_json)."""
    import contextlib
    import importlib
    import io
    import json

    from ansible.module_utils.testing import patch_module_args

    module = importlib.import_module('ansible_collections.halobuzz.ops.plugins.modules.%s' % name)
    out = io.StringIO()
    with patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=diff)), \
            contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    return json.loads(out.getvalue())


def delete_prefix(client, prefix):
    """Remove every key under a test's private prefix (SCAN + UNLINK; works on a real shared server)."""
    for key in list(client.scan_iter(match=prefix.replace('[', '\\[') + '*', count=1000)):
        client.unlink(key)
