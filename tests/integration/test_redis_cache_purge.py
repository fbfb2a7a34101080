"""playbooks/cache_purge.yml and playbooks/redis_check.yml end to end (ansible-playbook, real redis-server).

Private server (default): the real key names and the playbook's defaults. HALOBUZZ_USE_ENV=1: REDIS_URL,
with every key under a random prefix passed as purge_patterns / protected_patterns, removed afterwards.
"""
import json
import os
import uuid

import pytest
import redis

from sandbox_support import run_playbook, use_real_env
from redis_servers import RedisServer, delete_prefix


@pytest.fixture
def world(tmp_path):
    """(env for ansible-playbook, extra args, client, prefix, {family: keys})."""
    server = None
    if use_real_env():
        url, prefix = os.environ['REDIS_URL'], 't%s:' % uuid.uuid4().hex[:10]
        extra = ['-e', json.dumps({'purge_patterns': [prefix + 'stream:cache:*'],
                                   'protected_patterns': [prefix + 'payment:idempotency:*', 'payment:idempotency:*']})]
    else:
        server = RedisServer().start()
        url, prefix, extra = server.url, '', []
    client = redis.Redis.from_url(url)
    families = {
        'idempotency': set('%spayment:idempotency:%s' % (prefix, uuid.uuid4()) for _index in range(200)),
        'stream': set('%sstream:cache:%d' % (prefix, i) for i in range(150)),
        'session': set('%ssession:%s' % (prefix, uuid.uuid4()) for _index in range(300)),
    }
    pipe = client.pipeline(transaction=False)
    for i, key in enumerate(sorted(families['idempotency'])):
        pipe.set(key, '{"status": "succeeded"}', ex=86400 - i)
    for key in families['stream']:
        pipe.set(key, '{"viewers": 212}', ex=300)
    for key in families['session']:
        pipe.set(key, '{"device": "android"}', ex=3600)
    pipe.execute()
    # HALOBUZZ_SANDBOX_DIR: the sandbox inventory's marker (issue 15, no accidental production); this private
    # redis-server is a sandbox of the test's own, in tmp_path.
    env = {'REDIS_URL': url, 'HALOBUZZ_RECORDS_DIR': str(tmp_path / 'records'),
           'HALOBUZZ_SANDBOX_DIR': os.environ.get('HALOBUZZ_SANDBOX_DIR', '') if use_real_env() else str(tmp_path)}
    try:
        yield env, extra, client, prefix, families
    finally:
        if server is not None:
            server.stop()
        else:
            delete_prefix(client, prefix)


def snapshot(client, prefix):
    """{key: absolute expiry in ms} for every key under the prefix, read independently of the modules."""
    keys = list(client.scan_iter(match=prefix + '*', count=1000))
    return dict((k.decode(), client.pexpiretime(k)) for k in keys)


def test_cache_purge_check_then_purge_then_nothing(world):
    env, extra, client, prefix, families = world
    before = snapshot(client, prefix)
    assert set(before) == families['idempotency'] | families['stream'] | families['session']

    dry = run_playbook('cache_purge.yml', '--check', *extra, env=env)
    assert 'Would delete 150 keys' in dry.stdout
    assert snapshot(client, prefix) == before

    done = run_playbook('cache_purge.yml', *extra, env=env)
    assert done.recap['localhost']['changed'] == 1 and done.recap['localhost']['failed'] == 0
    assert 'Deleted 150 keys' in done.stdout
    after = snapshot(client, prefix)
    assert set(after) == families['idempotency'] | families['session']
    assert dict((k, after[k]) for k in families['idempotency']) == dict((k, before[k]) for k in families['idempotency'])

    again = run_playbook('cache_purge.yml', *extra, env=env)
    assert again.recap['localhost']['changed'] == 0 and again.recap['localhost']['failed'] == 0
    assert snapshot(client, prefix) == after


def test_cache_purge_refuses_a_pattern_that_reaches_payment_keys(world):
    env, _extra, client, prefix, families = world
    before = snapshot(client, prefix)
    result = run_playbook('cache_purge.yml', '-e', json.dumps({
        'purge_patterns': [prefix + 'stream:cache:*', prefix + 'pay*'],
        'protected_patterns': [prefix + 'payment:idempotency:*']}), env=env, check=False)
    assert result.rc != 0 and result.recap['localhost']['failed'] == 1
    assert 'refusing to purge, nothing was deleted' in result.stdout + result.stderr
    assert snapshot(client, prefix) == before


def test_redis_check_reports_idempotency_keys(world):
    env, _extra, _client, prefix, _families = world
    result = run_playbook('redis_check.yml', '-e', 'redis_check_idempotency_pattern=%spayment:idempotency:*' % prefix,
                          env=env)
    assert result.recap['localhost']['changed'] == 0
    assert '200 keys match %spayment:idempotency:*' % prefix in result.stdout
    assert '0 without TTL' in result.stdout
    failing = run_playbook('redis_check.yml', '-e', 'redis_check_max_ping_ms=0', env=env, check=False)
    assert failing.rc != 0 and 'PING round trip (ms)' in failing.stdout + failing.stderr


def test_cache_purge_on_the_sandbox_world(sandbox_env, scenario, run_playbook):
    """The sandbox's seeded Redis (tests/sandbox/world.yml): stream cache gone, payment and session keys kept."""
    scenario('healthy')  # a fresh world; skipped against real services
    client = redis.Redis.from_url(sandbox_env['REDIS_URL'])
    try:
        # (ratelimit:* keys live 60 s in the world: they may expire during the run, so they are not compared)
        durable = ('payment:idempotency:', 'session:')
        before = snapshot(client, '')
        stream = [k for k in before if k.startswith('stream:cache:')]
        kept = dict((k, v) for k, v in before.items() if k.startswith(durable))
        assert stream and any(k.startswith('payment:idempotency:') for k in kept)
        done = run_playbook('cache_purge.yml')
        assert 'Deleted %d keys' % len(stream) in done.stdout
        after = snapshot(client, '')
        assert not [k for k in after if k.startswith('stream:cache:')]
        assert dict((k, v) for k, v in after.items() if k.startswith(durable)) == kept
        # the closing summary (issue 19): the purge with before -> after, then a second run that says all is well
        assert 'Did: delete %d keys matching stream:cache:* (SCAN + UNLINK), keys (%d -> 0)' % (
            len(stream), len(stream)) in done.stdout
        again = run_playbook('cache_purge.yml')
        assert again.recap['localhost']['changed'] == 0
        assert '"Did: nothing",' in again.stdout and '"Next: nothing: all is well"' in again.stdout
    finally:
        scenario('healthy')  # put the world back for the tests that follow


@pytest.mark.parametrize('protected', [None, [], ['session:*'], ['payment:idempotency:0*']],
                         ids=['not-given', 'empty', 'other-pattern', 'narrower-than-builtin'])
def test_cache_purge_of_everything_is_refused_whatever_protected_patterns_says(world, protected):
    """Issue 15 item 3: one extra var no longer switches the guard off (payment:idempotency:* is built in)."""
    env, _extra, client, prefix, _families = world
    before = snapshot(client, '')  # every key and its absolute expiry, not only the test's
    extra = {'purge_patterns': ['*']}
    if protected is not None:
        extra['protected_patterns'] = protected
    result = run_playbook('cache_purge.yml', '-e', json.dumps(extra), env=env, check=False)
    assert result.rc != 0 and result.recap['localhost']['failed'] == 1
    output = result.stdout + result.stderr
    assert "refusing to purge, nothing was deleted: '*' could delete" in output
    assert "the built-in protected pattern 'payment:idempotency:*' (always protected; protected_patterns cannot " \
           "remove it)" in output
    assert 'Traceback' not in output
    assert snapshot(client, '') == before


def test_cache_purge_with_an_empty_protected_list_purges_only_the_other_keys(world):
    env, _extra, client, prefix, families = world
    before = snapshot(client, prefix)
    done = run_playbook('cache_purge.yml', '-e', json.dumps({
        'purge_patterns': [prefix + 'stream:cache:*', prefix + 'session:*'], 'protected_patterns': []}), env=env)
    assert done.recap['localhost']['failed'] == 0 and 'Deleted 450 keys' in done.stdout
    if not prefix:  # the private server: the built-in pattern is the one audited before and after
        assert 'Protected, untouched: payment:idempotency:* 200 keys' in done.stdout
    after = snapshot(client, prefix)
    assert after == dict((k, before[k]) for k in families['idempotency'])
