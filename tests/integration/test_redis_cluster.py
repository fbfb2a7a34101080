"""Redis Cluster: three primaries (real redis-server processes, cluster-enabled yes), started and stopped here.

The audit and the purge must see every primary: keys are spread over the 16384 slots, so each primary
holds about a third of them.
"""
import pytest
import redis.cluster

from redis_servers import RedisClusterServers, run_module

IDEMPOTENCY = ['payment:idempotency:%04d' % i for i in range(300)]
STREAM = ['stream:cache:%d' % i for i in range(600)]


@pytest.fixture(scope='module')
def cluster():
    servers = RedisClusterServers(3).start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def seeded(cluster):
    client = redis.cluster.RedisCluster(host='127.0.0.1', port=cluster.nodes[0].port)
    for node in cluster.nodes:
        node.client().flushdb()
    pipe = client.pipeline()
    for i, key in enumerate(IDEMPOTENCY):
        pipe.set(key, 'ok', ex=7200 + i)
    for key in STREAM:
        pipe.set(key, 'x')
    pipe.execute()
    yield client
    client.close()


def per_node(cluster, pattern):
    return [len(list(node.client().scan_iter(match=pattern, count=1000))) for node in cluster.nodes]


def test_audit_sees_every_primary(cluster, seeded):
    truth = per_node(cluster, 'payment:idempotency:*')
    assert all(truth) and sum(truth) == 300  # the keys really are spread over the three primaries
    result = run_module('redis_key_audit', dict(redis_url=cluster.url, pattern='payment:idempotency:*'))
    assert not result.get('failed'), result
    assert result['cluster'] is True and result['count'] == 300 and result['without_ttl'] == 0
    by_node = dict((n['node'], n['count']) for n in result['nodes'])
    assert by_node == dict(('127.0.0.1:%d' % node.port, count) for node, count in zip(cluster.nodes, truth))
    assert 7000 < result['ttl_seconds']['min'] and result['ttl_seconds']['max'] <= 7500
    assert result['memory']['sampled'] == 100


def test_purge_sees_every_primary(cluster, seeded):
    args = dict(redis_url=cluster.url, patterns=['stream:cache:*'])
    dry = run_module('redis_purge', args, check=True)
    assert (dry['cluster'], dry['would_delete'], dry['deleted']) == (True, 600, 0)
    assert sum(per_node(cluster, 'stream:cache:*')) == 600
    expiries = dict((k, seeded.pexpiretime(k)) for k in IDEMPOTENCY)
    done = run_module('redis_purge', args)
    assert (done['changed'], done['deleted']) == (True, 600)
    assert per_node(cluster, 'stream:cache:*') == [0, 0, 0]
    assert dict((k, seeded.pexpiretime(k)) for k in IDEMPOTENCY) == expiries
    assert run_module('redis_purge', args)['changed'] is False


def test_overlap_and_flush_refused_on_cluster(cluster, seeded):
    refused = run_module('redis_purge', dict(redis_url=cluster.url, patterns=['*']))
    assert refused['failed'] is True and 'could delete' in refused['msg']
    flush = run_module('redis_purge', dict(redis_url=cluster.url, flush='all', allow_flush=True))
    assert flush['failed'] is True and 'protected_patterns payment:idempotency:*' in flush['msg']
    assert sum(per_node(cluster, '*')) == 900


def test_info_reads_every_primary(cluster, seeded):
    result = run_module('redis_info', dict(redis_url=cluster.url))
    assert result['cluster'] is True and result['summary']['nodes'] == 3
    assert result['summary']['keys'] == 900
    assert sorted(n['node'] for n in result['nodes']) == sorted('127.0.0.1:%d' % n.port for n in cluster.nodes)
