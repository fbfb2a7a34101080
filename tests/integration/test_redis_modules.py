"""redis_info, redis_key_audit and redis_purge against a real redis-server.

The server is a private redis-server on a free port, or REDIS_URL when HALOBUZZ_USE_ENV=1 (then every key
a test writes lives under its own random prefix and is removed afterwards; tests that need a private
server - flushes, passwords, maxmemory - start one regardless).
"""
import os
import uuid

import pytest
import redis

from redis_servers import RedisServer, delete_prefix, free_port, run_module

USE_ENV = os.environ.get('HALOBUZZ_USE_ENV') == '1'


@pytest.fixture(scope='module')
def redis_url():
    if USE_ENV:
        yield os.environ['REDIS_URL']
        return
    server = RedisServer('--maxmemory', '64mb').start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def keyspace(redis_url):
    """Seed a known keyspace under a fresh prefix; return (prefix, client, {family: set of keys})."""
    client = redis.Redis.from_url(redis_url)
    prefix = 't%s:' % uuid.uuid4().hex[:10]
    families = {
        'idempotency': ['%spayment:idempotency:%s' % (prefix, uuid.uuid4()) for _index in range(305)],
        'stream': ['%sstream:cache:%d' % (prefix, i) for i in range(1000)],
        'session': ['%ssession:%d' % (prefix, i) for i in range(200)],
    }
    pipe = client.pipeline(transaction=False)
    for i, key in enumerate(families['idempotency']):
        if i < 300:
            pipe.set(key, '{"status": "succeeded"}', ex=3600 + i)   # TTLs 3600 .. 3899 s
        else:
            pipe.set(key, '{"status": "pending"}')                  # 5 keys without TTL
    for i, key in enumerate(families['stream']):
        pipe.set(key, 'x' * 50, ex=300 if i % 2 else None)
    for key in families['session']:
        pipe.set(key, 's', ex=3600)
    pipe.execute()
    yield prefix, client, dict((k, set(v)) for k, v in families.items())
    delete_prefix(client, prefix)


def keys_under(client, prefix):
    return set(k.decode() for k in client.scan_iter(match=prefix + '*', count=1000))


def test_audit_counts_equal_the_true_counts(redis_url, keyspace):
    prefix, _client, families = keyspace
    result = run_module('redis_key_audit', dict(redis_url=redis_url, pattern=prefix + 'payment:idempotency:*',
                                                sample_size=5, memory_samples=20))
    assert not result.get('failed'), result
    assert (result['count'], result['with_ttl'], result['without_ttl']) == (305, 300, 5)
    assert result['truncated'] is False and result['changed'] is False and result['cluster'] is False
    assert 3500 < result['ttl_seconds']['min'] <= 3600 and 3800 < result['ttl_seconds']['max'] <= 3899
    assert result['ttl_seconds']['min'] <= result['ttl_seconds']['median'] <= result['ttl_seconds']['max']
    assert len(result['sample']) == 5 and set(result['sample']) <= families['idempotency']
    assert result['memory']['sampled'] == 20 and result['memory']['avg_bytes'] > 0
    # Tiny SCAN COUNT: many cursor round trips, same exact answer.
    small = run_module('redis_key_audit', dict(redis_url=redis_url, pattern=prefix + 'stream:cache:*',
                                               scan_count=10))
    assert (small['count'], small['without_ttl']) == (1000, 500)
    assert small['scan_calls'] > 10


def test_audit_stops_at_max_keys(redis_url, keyspace):
    prefix = keyspace[0]
    result = run_module('redis_key_audit', dict(redis_url=redis_url, pattern=prefix + 'stream:cache:*',
                                                scan_count=50, max_keys=100))
    assert result['truncated'] is True and 'max_keys' in result['truncated_reason']
    assert 100 <= result['count'] < 1000


def test_purge_check_mode_then_real_then_idempotent(redis_url, keyspace):
    prefix, client, families = keyspace
    args = dict(redis_url=redis_url, patterns=[prefix + 'stream:cache:*'],
                protected_patterns=[prefix + 'payment:idempotency:*', 'payment:idempotency:*'], batch_size=64)
    dry = run_module('redis_purge', args, check=True, diff=True)
    assert dry['changed'] is True and dry['would_delete'] == 1000 and dry['deleted'] == 0
    assert dry['diff'] == {'before': {prefix + 'stream:cache:*': 1000}, 'after': {prefix + 'stream:cache:*': 0}}
    assert keys_under(client, prefix) == families['idempotency'] | families['stream'] | families['session']

    ttls_before = dict((k, client.pexpiretime(k)) for k in families['idempotency'])
    done = run_module('redis_purge', args)
    assert done['changed'] is True and done['deleted'] == 1000
    assert done['patterns'] == {prefix + 'stream:cache:*': {'matched': 1000, 'deleted': 1000}}
    assert keys_under(client, prefix) == families['idempotency'] | families['session']
    assert dict((k, client.pexpiretime(k)) for k in families['idempotency']) == ttls_before

    again = run_module('redis_purge', args)
    assert again['changed'] is False and again['deleted'] == 0


@pytest.mark.parametrize('patterns', [['{p}*'], ['{p}stream:cache:*', '{p}pay*'], ['{p}p?yment:idempotency:1*']])
def test_overlapping_patterns_are_refused_with_nothing_deleted(redis_url, keyspace, patterns):
    prefix, client, families = keyspace
    result = run_module('redis_purge', dict(redis_url=redis_url, patterns=[p.format(p=prefix) for p in patterns],
                                            protected_patterns=[prefix + 'payment:idempotency:*']))
    assert result['failed'] is True
    assert 'refusing to purge, nothing was deleted' in result['msg'] and 'could delete' in result['msg']
    assert keys_under(client, prefix) == families['idempotency'] | families['stream'] | families['session']


def test_invalid_pattern_is_refused_with_nothing_deleted(redis_url, keyspace):
    prefix, client, families = keyspace
    result = run_module('redis_purge', dict(redis_url=redis_url, patterns=[prefix + 'stream:[cache*']))
    assert result['failed'] is True and 'invalid key pattern' in result['msg'] and 'not closed' in result['msg']
    audit = run_module('redis_key_audit', dict(redis_url=redis_url, pattern=prefix + 'x\\'))
    assert audit['failed'] is True and 'lone backslash' in audit['msg']
    assert len(keys_under(client, prefix)) == 1505


def test_unguarded_flush_is_refused(redis_url, keyspace):
    prefix, client, _families = keyspace
    result = run_module('redis_purge', dict(redis_url=redis_url, flush='db'))
    assert result['failed'] is True and 'allow_flush: true' in result['msg'] and 'nothing was deleted' in result['msg']
    assert len(keys_under(client, prefix)) == 1505


@pytest.fixture
def private_server():
    server = RedisServer().start()
    yield server
    server.stop()


def test_flush_refused_while_a_protected_key_exists_then_allowed(private_server):
    client = private_server.client()
    client.set('stream:cache:1', 'x')
    client.set('payment:idempotency:abc', 'y', ex=600)
    db3 = private_server.client(db=3)
    for i in range(10):
        db3.set('scratch:%d' % i, i)
    refused = run_module('redis_purge', dict(redis_url=private_server.url, flush='db', allow_flush=True))
    assert refused['failed'] is True and "protected_patterns payment:idempotency:*" in refused['msg']
    refused_all = run_module('redis_purge', dict(redis_url=private_server.url.replace('/0', '/3'), flush='all',
                                                 allow_flush=True))
    assert refused_all['failed'] is True and 'FLUSHALL' in refused_all['msg']
    assert client.dbsize() == 2 and db3.dbsize() == 10

    url3 = private_server.url.replace('/0', '/3')
    dry = run_module('redis_purge', dict(redis_url=url3, flush='db', allow_flush=True), check=True)
    assert (dry['changed'], dry['would_delete'], db3.dbsize()) == (True, 10, 10)
    done = run_module('redis_purge', dict(redis_url=url3, flush='db', allow_flush=True))
    assert (done['changed'], done['deleted'], done['flushed']) == (True, 10, 'db')
    assert db3.dbsize() == 0 and client.dbsize() == 2
    again = run_module('redis_purge', dict(redis_url=url3, flush='db', allow_flush=True))
    assert again['changed'] is False


def test_info_facts_and_thresholds(private_server):
    client = private_server.client()
    client.config_set('maxmemory', 4 * 1024 * 1024)
    for i in range(200):
        client.set('blob:%d' % i, 'v' * 10000)
    client.get('blob:1')
    client.get('missing')
    ok = run_module('redis_info', dict(redis_url=private_server.url))
    assert not ok.get('failed'), ok
    node = ok['nodes'][0]
    assert node['node'] == '127.0.0.1:%d' % private_server.port
    assert node['sections']['server']['redis_version'].count('.') == 2
    assert node['sections']['keyspace']['db0']['keys'] == 200
    summary = node['summary']
    assert summary['maxmemory'] == 4 * 1024 * 1024 and summary['memory_percent_of'] == 'maxmemory'
    assert 40 < summary['memory_percent'] < 100
    assert summary['hit_ratio_percent'] == 50.0 and summary['role'] == 'master'
    assert ok['summary']['keys'] == 200 and ok['problems'] == []
    failed = run_module('redis_info', dict(redis_url=private_server.url, max_memory_percent=10,
                                           min_hit_ratio_percent=90))
    assert failed['failed'] is True and failed['msg'].startswith('Redis thresholds exceeded: 127.0.0.1:')
    assert 'above max_memory_percent is 10' in failed['msg'] and 'below min_hit_ratio_percent' in failed['msg']
    assert failed['summary']['keys'] == 200


def test_info_ping_threshold(redis_url):
    result = run_module('redis_info', dict(redis_url=redis_url, max_ping_ms=0))
    assert result['failed'] is True and 'PING round trip (ms)' in result['msg']


def test_wrong_password_is_a_clear_error():
    server = RedisServer('--requirepass', 's3cret-pass').start(password='s3cret-pass')
    try:
        server.client(password='s3cret-pass').set('stream:cache:1', 'x')
        for args in (dict(redis_url='redis://:wrong-pass@127.0.0.1:%d/0' % server.port, patterns=['stream:cache:*']),
                     dict(host='127.0.0.1', port=server.port, patterns=['stream:cache:*'])):
            result = run_module('redis_purge', args)
            assert result['failed'] is True
            assert 'refused authentication' in result['msg'] and '127.0.0.1:%d' % server.port in result['msg']
            assert 'wrong-pass' not in result['msg']
        assert server.client(password='s3cret-pass').exists('stream:cache:1') == 1
        good = run_module('redis_key_audit', dict(host='127.0.0.1', port=server.port, password='s3cret-pass',
                                                  pattern='stream:*'))
        assert good['count'] == 1
    finally:
        server.stop()


def test_unreachable_host_is_a_clear_error():
    port = free_port()  # nothing listens there
    result = run_module('redis_info', dict(redis_url='redis://127.0.0.1:%d/0' % port, socket_connect_timeout=2))
    assert result['failed'] is True
    assert result['msg'].startswith('cannot reach Redis at 127.0.0.1:%d' % port)
    assert 'host/port' in result['msg']


def test_tls_client_to_plain_server_is_a_clear_error(private_server):
    client = private_server.client()
    client.set('stream:cache:1', 'x')
    result = run_module('redis_purge', dict(redis_url='rediss://127.0.0.1:%d/0' % private_server.port,
                                            patterns=['stream:cache:*'], socket_timeout=2,
                                            socket_connect_timeout=2))
    assert result['failed'] is True
    assert 'TLS handshake with Redis at 127.0.0.1:%d failed' % private_server.port in result['msg']
    assert 'tls: false' in result['msg']
    assert client.exists('stream:cache:1') == 1


def test_audit_before_redis_7_uses_pttl(redis_url, keyspace, monkeypatch):
    """Servers without PEXPIRETIME (Redis < 7): TTLs from PTTL, expiries marked inexact, no digest."""
    from ansible_collections.halobuzz.ops.plugins.module_utils.redis import keys as redis_keys
    real = redis_keys._expiry_command

    def as_redis_6(conn):
        _command, _exact, now_ms = real(conn)
        return 'PTTL', False, now_ms
    monkeypatch.setattr(redis_keys, '_expiry_command', as_redis_6)
    prefix = keyspace[0]
    args = dict(redis_url=redis_url, pattern=prefix + 'payment:idempotency:*', expiry_digest=True)
    old = run_module('redis_key_audit', args)
    monkeypatch.undo()
    new = run_module('redis_key_audit', args)
    assert (old['count'], old['with_ttl'], old['without_ttl']) == (new['count'], new['with_ttl'], new['without_ttl'])
    assert old['expiry_exact'] is False and old['expiry_digest'] is None
    assert new['expiry_exact'] is True and len(new['expiry_digest']) == 16
    for key in ('min', 'max'):  # same keys, same expiries, read two ways (PTTL has ms resolution + clock drift)
        assert abs(old['expiry_epoch'][key] - new['expiry_epoch'][key]) < 2.0


# --- issue 15: payment:idempotency:* built in; every UNLINK batch re-checked against the protected patterns ----

def test_protected_key_matcher_agrees_with_scan_match_of_redis_server(private_server):
    """compile_pattern (the per-batch re-check) against redis-server's own SCAN MATCH (stringmatchlen, util.c)."""
    import random
    from ansible_collections.halobuzz.ops.plugins.module_utils.redis.patterns import compile_pattern
    rng = random.Random(1515)
    client = private_server.client()
    alphabet = b'ab:*?[]^\\-\n\x00\xffp'
    keys = set([b'', b'\n', b'payment:idempotency:1', b'payment:idempotency:', b'payment:idempotency'])
    keys.update(bytes(rng.choice(alphabet) for _byte in range(rng.randint(0, 7))) for _key in range(400))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, 1)
    pipe.execute()
    atoms = ['a', 'b', ':', '*', '?', '[ab]', '[^a]', '[a-c]', '[c-a]', '\\*', '\\[', '[\\]]', '[^]', 'p', '\n']
    patterns = ['payment:idempotency:*', '*', '?', 'p*', '*:*'] + [
        ''.join(rng.choice(atoms) for _atom in range(rng.randint(1, 5))) for _round in range(150)]
    for pattern in patterns:
        served = set(client.scan_iter(match=pattern.encode(), count=1000))
        match = compile_pattern(pattern).fullmatch
        assert served == set(k for k in keys if match(k)), pattern


def _disable_the_pattern_check(monkeypatch):
    """Simulate a pattern check that lets a purge pattern through (a bug, or SCAN and the check disagreeing)."""
    from ansible_collections.halobuzz.ops.plugins.module_utils.redis import service
    monkeypatch.setattr(service, 'check_purge_patterns', lambda patterns, protected: None)


def test_each_unlink_batch_is_re_checked_against_the_protected_patterns(redis_url, keyspace, monkeypatch):
    prefix, client, families = keyspace
    ttls_before = dict((k, client.pexpiretime(k)) for k in families['idempotency'])
    _disable_the_pattern_check(monkeypatch)
    result = run_module('redis_purge', dict(redis_url=redis_url, patterns=[prefix + '*'], batch_size=20,
                                            protected_patterns=[prefix + 'payment:idempotency:*']))
    assert result['failed'] is True
    assert result['msg'].startswith("stopped the purge: SCAN MATCH '%s*' on " % prefix)
    assert 'nothing of this batch of' in result['msg']
    assert "which protected_patterns '%spayment:idempotency:*' guards" % prefix in result['msg']
    # Every protected key is there with its expiry; what went before the stop were other keys only.
    assert dict((k, client.pexpiretime(k)) for k in families['idempotency']) == ttls_before
    left = keys_under(client, prefix)
    deleted = (families['stream'] | families['session']) - left
    assert ('%d keys were deleted before it' % len(deleted)) in result['msg']


def test_the_builtin_pattern_is_re_checked_with_an_empty_protected_list(private_server, monkeypatch):
    client = private_server.client()
    for i in range(50):
        client.set('payment:idempotency:%d' % i, 'y', ex=600 + i)
        client.set('stream:cache:%d' % i, 'x')
    before = dict((k, client.pexpiretime(k)) for k in client.scan_iter(match='payment:idempotency:*'))
    _disable_the_pattern_check(monkeypatch)
    for check in (True, False):
        result = run_module('redis_purge', dict(redis_url=private_server.url, patterns=['*'], protected_patterns=[]),
                            check=check)
        assert result['failed'] is True and result['msg'].startswith("stopped the purge: SCAN MATCH '*'")
        assert "the built-in protected pattern 'payment:idempotency:*'" in result['msg']
        assert ('deleted nothing (check mode)' in result['msg']) is check
        assert dict((k, client.pexpiretime(k)) for k in client.scan_iter(match='payment:idempotency:*')) == before


def test_flush_is_refused_with_an_empty_protected_list(private_server):
    client = private_server.client()
    client.set('stream:cache:1', 'x')
    client.set('payment:idempotency:abc', 'y', ex=600)
    for flush in ('db', 'all'):
        refused = run_module('redis_purge', dict(redis_url=private_server.url, flush=flush, allow_flush=True,
                                                 protected_patterns=[]))
        assert refused['failed'] is True and 'protected_patterns payment:idempotency:*' in refused['msg']
    assert client.dbsize() == 2 and 595 < client.ttl('payment:idempotency:abc') <= 600
