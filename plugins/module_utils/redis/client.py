# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis connections for halobuzz.ops: options -> client, every redis error -> RedisCheckError.

The lowest layer of the Redis package: the connection options (``REDIS_CONNECTION``, documented once in
doc_fragments/redis.py), the client built from them, the translation of redis-py errors, and the raw
command/reply pipeline the topic files (info.py, keys.py) send their commands through.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ssl
import traceback
from urllib.parse import unquote, urlsplit

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.common.connection import Connection
from ansible_collections.halobuzz.ops.plugins.module_utils.common.redact import redact_url

try:
    import redis
    import redis.cluster
    import redis.exceptions
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    REDIS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by HaloBuzzModule with missing_required_lib
    REDIS_IMPORT_ERROR = traceback.format_exc()


class RedisCheckError(HaloBuzzError):
    """Anything that went wrong talking to Redis or validating input, with a message for a human."""


REDIS_CONNECTION = Connection(
    argument_spec=dict(
        redis_url=dict(type='str', no_log=True),  # may carry the password: masked in results (issue 15)
        host=dict(type='str'),
        port=dict(type='int'),
        db=dict(type='int'),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        tls=dict(type='bool'),
        tls_ca_cert=dict(type='path'),
        tls_verify=dict(type='bool', default=True),
        cluster=dict(type='str', default='auto', choices=['auto', 'enabled', 'disabled']),
        socket_timeout=dict(type='float', default=5.0),
        socket_connect_timeout=dict(type='float', default=5.0),
    ),
    libraries=[('redis', REDIS_IMPORT_ERROR)],
    mutually_exclusive=[['redis_url', 'host'], ['redis_url', 'port'], ['redis_url', 'db']],
)


def resolve_target(params):
    """Turn module parameters into connection settings (pure; raises RedisCheckError on bad input)."""
    url = params.get('redis_url')
    target = dict(host='localhost', port=6379, db=0, username=None, password=None, tls=False)
    if url:
        shown = redact_url(url)  # never the raw URL in a message: it may carry the password
        try:
            parts = urlsplit(url)
        except ValueError:  # urlsplit: an unclosed '[' of an IPv6 host, a netloc invalid under NFKC, ...
            raise RedisCheckError(
                "redis_url %r (credentials, path and query not shown) is not a URL that can be parsed: check the "
                "host (an IPv6 address is written [::1]) and percent-encode special characters in the password; "
                "write redis://[user:password@]host:port/db" % shown)
        try:
            port = parts.port
        except ValueError:
            raise RedisCheckError("redis_url %r (credentials, path and query not shown): the port is not a number "
                                  "between 0 and 65535" % shown)
        if parts.scheme not in ('redis', 'rediss'):
            raise RedisCheckError(
                "redis_url %r (credentials, path and query not shown): scheme must be redis:// or rediss:// (TLS); "
                "write redis://[user:password@]host:port/db" % shown)
        if not parts.hostname or not parts.netloc:
            raise RedisCheckError("redis_url %r (credentials, path and query not shown): no host; write "
                                  "redis://[user:password@]host:port/db" % shown)
        path = parts.path.strip('/')
        if path and not path.isdigit():
            raise RedisCheckError("redis_url %r (credentials, path and query not shown): the path must be a "
                                  "database number such as /0" % shown)
        target.update(host=parts.hostname, port=port or 6379, db=int(path or 0), tls=parts.scheme == 'rediss',
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password is not None else None)
    else:
        for key in ('host', 'port', 'db'):
            if params.get(key) is not None:
                target[key] = params[key]
    if params.get('username'):
        target['username'] = params['username']
    if params.get('password') is not None:
        target['password'] = params['password']
    if params.get('tls') is not None:
        target['tls'] = params['tls']
    if not 0 < target['port'] < 65536:
        raise RedisCheckError("port %s is out of range: give a TCP port between 1 and 65535" % target['port'])
    if target['db'] < 0:
        raise RedisCheckError("db %s is negative: give a database number (0 is the default)" % target['db'])
    cluster = params.get('cluster') or 'auto'
    if cluster == 'enabled' and target['db'] != 0:
        raise RedisCheckError("db %s: Redis Cluster has only database 0" % target['db'])
    target.update(
        cluster=cluster,
        tls_ca_cert=params.get('tls_ca_cert'),
        tls_verify=params.get('tls_verify', True),
        socket_timeout=params.get('socket_timeout') or 5.0,
        socket_connect_timeout=params.get('socket_connect_timeout') or 5.0,
    )
    target['label'] = '%s:%s' % (target['host'], target['port'])
    return target


def client_kwargs(target):
    """Keyword arguments for redis.Redis / RedisCluster (no decoding: keys are bytes)."""
    kwargs = dict(
        host=target['host'], port=target['port'], username=target['username'], password=target['password'],
        socket_timeout=target['socket_timeout'], socket_connect_timeout=target['socket_connect_timeout'],
        decode_responses=False,
    )
    if target['tls']:
        kwargs.update(ssl=True, ssl_ca_certs=target['tls_ca_cert'],
                      ssl_cert_reqs='required' if target['tls_verify'] else 'none',
                      ssl_check_hostname=bool(target['tls_verify']))
    return kwargs


def describe_error(exc, target, doing):
    """One clear sentence for a redis-py (or ssl/socket) exception: what, where, what to do."""
    where = target['label']
    text = str(exc) or exc.__class__.__name__
    lowered = text.lower()
    tls_hint = 'ssl' in lowered or 'tls' in lowered or 'handshake' in lowered or isinstance(exc, ssl.SSLError)
    if isinstance(exc, redis.exceptions.AuthenticationError) or (
            'wrongpass' in lowered or 'noauth' in lowered or 'invalid password' in lowered):
        return ("Redis at %s refused authentication while %s (%s): check password/username (or the credentials in "
                "redis_url) against the server's requirepass / ACL users" % (where, doing, text))
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return ("Redis at %s: the ACL user lacks a permission needed while %s (%s): grant it or use another user"
                % (where, doing, text))
    if target['tls'] and (tls_hint or isinstance(exc, redis.exceptions.TimeoutError)):
        return ("TLS handshake with Redis at %s failed while %s (%s): the server may not speak TLS on this port "
                "(use redis:// or tls: false), its certificate may not verify (check tls_ca_cert / tls_verify), "
                "or the host/port is wrong or unreachable" % (where, doing, text))
    if isinstance(exc, redis.exceptions.TimeoutError):
        return ("Redis at %s did not answer within %ss while %s (%s): check that the host and port are right and "
                "reachable, or raise socket_timeout / socket_connect_timeout"
                % (where, target['socket_timeout'], doing, text))
    if isinstance(exc, redis.exceptions.ConnectionError):
        hint = "check that redis-server runs there and the host/port (or redis_url) are right"
        if not target['tls'] and ('closed' in lowered or 'reset' in lowered):
            hint += "; if the server requires TLS, use rediss:// or tls: true"
        return "cannot reach Redis at %s while %s (%s): %s" % (where, doing, text, hint)
    if isinstance(exc, redis.exceptions.RedisClusterException):
        return ("Redis Cluster behind %s is not usable while %s (%s): check CLUSTER INFO (cluster_state:ok) and "
                "that every primary is reachable" % (where, doing, text))
    if isinstance(exc, redis.exceptions.ResponseError):
        return "Redis at %s rejected a command while %s: %s" % (where, doing, text)
    return "Redis at %s failed while %s: %s: %s" % (where, doing, exc.__class__.__name__, text)


@contextlib.contextmanager
def translated_errors(target, doing):
    """Re-raise any redis/socket/ssl error as RedisCheckError naming host:port and what to do."""
    try:
        yield
    except RedisCheckError:
        raise
    except Exception as exc:  # redis-py raises many types; each becomes one clear message
        if isinstance(exc, (redis.exceptions.RedisError, OSError, ssl.SSLError)):
            raise RedisCheckError(describe_error(exc, target, doing))
        raise


def node_target(conn, label):
    """The fields describe_error needs, for one node's redis.Redis client."""
    pool = conn.connection_pool
    return dict(label=label, tls='ssl' in pool.connection_class.__name__.lower(),
                socket_timeout=pool.connection_kwargs.get('socket_timeout'))


class RedisTarget(object):
    """A connected Redis: standalone or Cluster, with the list of primaries to scan."""

    def __init__(self, target, client, cluster):
        self.target = target
        self.client = client
        self.cluster = cluster
        self.label = target['label']

    def primaries(self, db=None):
        """[(label, redis.Redis)] for every primary: the one server, or each Cluster primary.

        db: another database of a standalone server (FLUSHALL checks every database).
        """
        if not self.cluster:
            if db is None or db == self.target['db']:
                return [(self.label, self.client)]
            return [(self.label, redis.Redis(db=db, retry=Retry(NoBackoff(), 0), **client_kwargs(self.target)))]
        with translated_errors(self.target, 'listing the Cluster primaries'):
            nodes = sorted(self.client.get_primaries(), key=lambda n: (n.host, n.port))
            return [('%s:%s' % (n.host, n.port), n.redis_connection or self.client.get_redis_connection(n))
                    for n in nodes]

    def close(self):
        try:
            self.client.close()
        except Exception:  # closing a broken connection is not worth a failure
            pass


def connect(params):
    """Resolve options, connect, PING, detect Cluster. Returns a RedisTarget or raises RedisCheckError."""
    target = resolve_target(params)
    kwargs = client_kwargs(target)
    cluster = target['cluster'] == 'enabled'
    if not cluster:
        # No silent retries (redis-py retries 3 times with backoff by default): a wrong port or a TLS
        # mismatch should fail after one socket timeout with a clear message, not after four.
        client = redis.Redis(db=target['db'], retry=Retry(NoBackoff(), 0), **kwargs)
        with translated_errors(target, 'connecting (PING)'):
            client.ping()
            if target['cluster'] == 'auto':
                info = client.execute_command('INFO', 'cluster')
                cluster = bool(info.get('cluster_enabled')) if isinstance(info, dict) else False
        if not cluster:
            return RedisTarget(target, client, False)
        client.close()
        if target['db'] != 0:
            raise RedisCheckError("%s is a Redis Cluster node: Cluster has only database 0, not db %s"
                                  % (target['label'], target['db']))
    with translated_errors(target, 'connecting to the Redis Cluster'):
        client = redis.cluster.RedisCluster(**kwargs)
        client.ping(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    return RedisTarget(target, client, True)


@contextlib.contextmanager
def connected(params):
    """``connect(params)`` for the ``with`` body; the connection is closed however the body ends."""
    target = connect(params)
    try:
        yield target
    finally:
        target.close()


def _bulk(arg):
    if not isinstance(arg, bytes):
        arg = str(arg).encode('utf-8')
    return b'$%d\r\n%s\r\n' % (len(arg), arg)


def pack_commands(commands):
    """RESP-encode commands (tuples of str/bytes/int) into one buffer.

    redis-py's own packer costs several microseconds per command; an audit of 200k keys sends
    200k PEXPIRETIME commands, so the encoding is done here in one join.
    """
    return b''.join(b'*%d\r\n%s' % (len(cmd), b''.join(_bulk(a) for a in cmd)) for cmd in commands)


def pack_key_commands(name, keys):
    """RESP for `name key` per key (the hot path: PEXPIRETIME/PTTL/UNLINK over many keys)."""
    head = b'*2\r\n$%d\r\n%s\r\n' % (len(name), name.encode('ascii'))
    return b''.join(b'%s$%d\r\n%s\r\n' % (head, len(k), k) for k in keys)


class ReplyStream(object):
    """One pooled connection used as a raw command/reply stream (context manager).

    send() writes commands without waiting; read(n) reads the next n replies. Replies are raw (no
    redis-py response callbacks). An error reply is read like any other so that the stream stays in
    step, and the first one is raised once all n were read. On any exception the connection is
    dropped rather than returned to the pool half-read.
    """

    def __init__(self, conn):
        self.pool = conn.connection_pool
        self.connection = None
        self._read = None

    def __enter__(self):
        self.connection = self.pool.get_connection()
        # redis-py's Connection.read_response wraps each reply in several Python calls; for 200k
        # replies that doubles an audit's time. Its parser (hiredis when installed) returns error
        # replies as exception objects instead of raising them, which suits a pipeline.
        parser = getattr(self.connection, '_parser', None)
        self._read = getattr(parser, 'read_response', None) or self.connection.read_response
        return self

    def send(self, packed):
        self.connection.send_packed_command([packed], check_health=False)

    def read(self, count):
        replies, first_error = [], None
        for dummy in range(count):
            try:
                reply = self._read()
            except redis.exceptions.ResponseError as exc:
                reply = exc
            if isinstance(reply, redis.exceptions.ResponseError):
                first_error = first_error or reply
            replies.append(reply)
        if first_error is not None:
            raise first_error
        return replies

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.connection.disconnect()
        self.pool.release(self.connection)
        return False


def run_pipelined(conn, commands, packed=None):
    """Send commands on one connection in one write, read every reply (see ReplyStream).

    commands: tuples, or (with packed) anything whose len() is the number of commands in packed.
    """
    if not commands:
        return []
    with ReplyStream(conn) as stream:
        stream.send(packed if packed is not None else pack_commands(commands))
        return stream.read(len(commands))
