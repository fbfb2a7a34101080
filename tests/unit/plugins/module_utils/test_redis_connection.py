"""Option resolution and error messages (plugins/module_utils/redis/client.py)."""
import pytest
import redis

from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import (
    RedisCheckError, describe_error, pack_commands, pack_key_commands, resolve_target, translated_errors)


@pytest.mark.parametrize('params, expected', [
    ({}, dict(host='localhost', port=6379, db=0, tls=False, username=None, password=None)),
    ({'redis_url': 'redis://cache:6380/2'}, dict(host='cache', port=6380, db=2, tls=False)),
    ({'redis_url': 'rediss://u:p%40ss@cache'},
     dict(host='cache', port=6379, db=0, tls=True, username='u', password='p@ss')),
    ({'redis_url': 'redis://:secret@cache/0', 'password': 'other'}, dict(password='other', username=None)),
    ({'redis_url': 'rediss://cache', 'tls': False}, dict(tls=False)),
    ({'host': '10.0.0.5', 'port': 7000, 'db': 1, 'tls': True}, dict(host='10.0.0.5', port=7000, db=1, tls=True)),
])
def test_resolve_target(params, expected):
    target = resolve_target(params)
    assert dict((k, target[k]) for k in expected) == expected
    assert target['label'] == '%s:%s' % (target['host'], target['port'])


@pytest.mark.parametrize('params, message', [
    ({'redis_url': 'http://cache:6379'}, 'scheme must be redis://'),
    ({'redis_url': 'redis://:hunter2@cache:port'}, 'port is not a number'),
    ({'redis_url': 'redis:///0'}, 'no host'),
    ({'redis_url': 'redis://cache/zero'}, 'database number'),
    ({'port': 70000}, 'out of range'),
    ({'db': -1}, 'negative'),
    ({'db': 2, 'cluster': 'enabled'}, 'only database 0'),
])
def test_resolve_target_rejects(params, message):
    with pytest.raises(RedisCheckError, match=message) as err:
        resolve_target(params)
    assert 'hunter2' not in str(err.value)


TARGET = dict(label='cache:6379', tls=False, socket_timeout=5.0)


@pytest.mark.parametrize('exc, tls, expected', [
    (redis.exceptions.AuthenticationError('invalid username-password pair'), False, 'refused authentication'),
    (redis.exceptions.ResponseError('WRONGPASS invalid username-password pair'), False, 'refused authentication'),
    (redis.exceptions.TimeoutError('_ssl.c:1003: The handshake operation timed out'), True, 'TLS handshake'),
    (redis.exceptions.ConnectionError('Error 111 connecting to cache:6379. Connection refused.'), False,
     'cannot reach Redis at cache:6379'),
    (redis.exceptions.ConnectionError('Connection closed by server.'), False, 'use rediss:// or tls: true'),
    (redis.exceptions.TimeoutError('Timeout reading from socket'), False, 'did not answer within 5.0s'),
    (redis.exceptions.NoPermissionError("this user has no permissions to run the 'unlink' command"), False,
     'lacks a permission'),
    (redis.exceptions.ResponseError('ERR unknown command'), False, 'rejected a command while testing'),
])
def test_describe_error(exc, tls, expected):
    message = describe_error(exc, dict(TARGET, tls=tls), 'testing')
    assert expected in message and 'cache:6379' in message


def test_translated_errors_wraps_redis_and_os_errors_only():
    with pytest.raises(RedisCheckError, match='cannot reach'):
        with translated_errors(TARGET, 'x'):
            raise redis.exceptions.ConnectionError('refused')
    with pytest.raises(KeyError):
        with translated_errors(TARGET, 'x'):
            raise KeyError('a bug stays a bug')


def test_pack_commands_is_resp():
    assert pack_commands([('SCAN', b'0', 'COUNT', 10)]) == b'*4\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$5\r\nCOUNT\r\n$2\r\n10\r\n'
    assert pack_key_commands('UNLINK', [b'a', b'bc']) == pack_commands([('UNLINK', b'a'), ('UNLINK', b'bc')])
