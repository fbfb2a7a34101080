"""INFO parsing, derived figures and thresholds (plugins/module_utils/redis/replies.py, info.py)."""
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import RedisCheckError
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.info import (
    aggregate, check_thresholds, summarize, validate_limits)
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.replies import parse_info, typed

INFO = b"""# Server\r
redis_version:7.0.15\r
redis_mode:standalone\r
uptime_in_seconds:5230\r
\r
# Clients\r
connected_clients:12\r
blocked_clients:0\r
\r
# Memory\r
used_memory:943718400\r
used_memory_human:900.00M\r
maxmemory:1073741824\r
maxmemory_policy:allkeys-lru\r
mem_fragmentation_ratio:1.07\r
total_system_memory:8589934592\r
\r
# Stats\r
keyspace_hits:900\r
keyspace_misses:100\r
evicted_keys:17\r
expired_keys:4021\r
\r
# Replication\r
role:master\r
connected_slaves:1\r
slave0:ip=10.0.0.6,port=6379,state=online,offset=1234,lag=0\r
\r
# Keyspace\r
db0:keys=1200,expires=230,avg_ttl=86000\r
db3:keys=5,expires=0,avg_ttl=0\r
"""


@pytest.mark.parametrize('raw, expected', [
    ('12', 12), ('-1', -1), ('1.07', 1.07), ('900.00M', '900.00M'), ('allkeys-lru', 'allkeys-lru'), ('', ''),
])
def test_typed(raw, expected):
    assert typed(raw) == expected and type(typed(raw)) is type(expected)


def test_parse_info_sections_and_types():
    info = parse_info(INFO)
    assert info['server']['redis_version'] == '7.0.15'
    assert info['memory']['maxmemory'] == 1073741824
    assert info['memory']['mem_fragmentation_ratio'] == 1.07
    assert info['keyspace'] == {'db0': {'keys': 1200, 'expires': 230, 'avg_ttl': 86000},
                                'db3': {'keys': 5, 'expires': 0, 'avg_ttl': 0}}
    assert info['replication']['slave0'] == {'ip': '10.0.0.6', 'port': 6379, 'state': 'online', 'offset': 1234,
                                             'lag': 0}


@pytest.mark.parametrize('memory, expected_percent, basis', [
    ({'used_memory': 943718400, 'maxmemory': 1073741824}, 87.89, 'maxmemory'),
    ({'used_memory': 1073741824, 'maxmemory': 0, 'total_system_memory': 8589934592}, 12.5, 'total_system_memory'),
    ({'used_memory': 100, 'maxmemory': 0}, None, None),
])
def test_memory_percent(memory, expected_percent, basis):
    summary = summarize({'memory': memory}, 0.2)
    assert (summary['memory_percent'], summary['memory_percent_of']) == (expected_percent, basis)


def test_summarize_figures():
    summary = summarize(parse_info(INFO), 0.31)
    assert summary['hit_ratio_percent'] == 90.0
    assert (summary['keys'], summary['expires']) == (1205, 230)
    assert (summary['evicted_keys'], summary['expired_keys'], summary['connected_clients']) == (17, 4021, 12)
    assert summary['role'] == 'master' and summary['ping_ms'] == 0.31
    assert summarize({'stats': {'keyspace_hits': 0, 'keyspace_misses': 0}}, 1)['hit_ratio_percent'] is None


@pytest.mark.parametrize('limits, breached', [
    ({}, []),
    ({'max_memory_percent': 90}, []),
    ({'max_memory_percent': 80}, ['max_memory_percent']),
    ({'max_ping_ms': 0.1}, ['max_ping_ms']),
    ({'max_connected_clients': 12}, []),
    ({'max_connected_clients': 11}, ['max_connected_clients']),
    ({'max_evicted_keys': 0}, ['max_evicted_keys']),
    ({'min_hit_ratio_percent': 95}, ['min_hit_ratio_percent']),
    ({'min_hit_ratio_percent': 90, 'max_memory_percent': 50, 'max_ping_ms': None}, ['max_memory_percent']),
])
def test_thresholds(limits, breached):
    problems = check_thresholds('10.0.0.5:6379', summarize(parse_info(INFO), 0.31), limits)
    assert [p.split(' is ')[-2].split()[-1] for p in problems] == breached
    assert all(p.startswith('10.0.0.5:6379: ') for p in problems)


def test_threshold_message_is_readable():
    [problem] = check_thresholds('n:1', summarize(parse_info(INFO), 0.3), {'max_memory_percent': 80})
    assert problem == ('n:1: memory use (% of maxmemory, or of system memory when maxmemory is 0) is 87.89, '
                       'above max_memory_percent is 80')


@pytest.mark.parametrize('limits, message', [
    ({'max_memory_percent': 120}, 'between 0 and 100'),
    ({'max_ping_ms': -1}, 'zero or more'),
])
def test_validate_limits(limits, message):
    with pytest.raises(RedisCheckError, match=message):
        validate_limits(limits)


def test_aggregate_over_primaries():
    a = {'summary': summarize(parse_info(INFO), 0.3)}
    b = {'summary': dict(a['summary'], ping_ms=1.5, memory_percent=10.0, keyspace_hits=100, keyspace_misses=900)}
    total = aggregate([a, b])
    assert (total['nodes'], total['ping_ms'], total['memory_percent']) == (2, 1.5, 87.89)
    assert total['hit_ratio_percent'] == 50.0 and total['keys'] == 2410
