"""halobuzz.ops redis_info, redis_key_audit and redis_purge main(): documentation matches the argspec; every
refusal happens before a connection (plugins/module_utils/redis/service.py); what the result carries."""
import contextlib
import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.halobuzz.ops.plugins.doc_fragments.redis import ModuleDocFragment
from ansible_collections.halobuzz.ops.plugins.module_utils.redis import service
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import REDIS_CONNECTION
from ansible_collections.halobuzz.ops.plugins.modules import redis_info, redis_key_audit, redis_purge

MODULES = {'redis_info': redis_info, 'redis_key_audit': redis_key_audit, 'redis_purge': redis_purge}
URL = 'redis://127.0.0.1:1/0'


class FakeTarget(object):
    cluster = False

    def primaries(self):
        return [('127.0.0.1:1', object())]


@pytest.fixture
def connections(monkeypatch):
    """The connections service.py opens (none, unless a test lets it through)."""
    opened = []

    @contextlib.contextmanager
    def connected(params):
        opened.append(params['redis_url'])
        yield FakeTarget()
    monkeypatch.setattr(service, 'connected', connected)
    return opened


def run(capsys, name, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            MODULES[name].main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('name', sorted(MODULES))
def test_documentation_matches_the_argspec(name):
    module = MODULES[name]
    doc = yaml.safe_load(module.DOCUMENTATION)
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert set(REDIS_CONNECTION.argument_spec) == set(fragment)
    assert set(module.OPTIONS) == set(doc['options'])
    documented = dict(doc['options'], **fragment)
    for option, spec in dict(REDIS_CONNECTION.argument_spec, **module.OPTIONS).items():
        assert spec.get('default') == documented[option].get('default'), option
        assert spec.get('choices') == documented[option].get('choices'), option
        assert spec['type'] == documented[option]['type'], option
    assert 'halobuzz.ops.attributes.action_group_redis' in doc['extends_documentation_fragment']
    assert yaml.safe_load(module.RETURN) and yaml.safe_load(module.EXAMPLES)


@pytest.mark.parametrize('name, args, message', [
    ('redis_purge', dict(flush='db'), 'refusing flush: db without allow_flush: true, nothing was deleted. Purge by '
                                      'pattern instead, or set allow_flush: true to empty the database(s)'),
    ('redis_purge', dict(patterns=[]), 'patterns is empty: list the key patterns to delete'),
    ('redis_purge', dict(patterns=['a:*'], batch_size=0), 'batch_size and scan_count must be above 0 and '
                                                          'rate_limit 0 or more (got 0, 1000, 0.0)'),
    ('redis_purge', dict(patterns=['payment:*']), "refusing to purge, nothing was deleted: 'payment:*' could delete"),
    ('redis_purge', dict(patterns=['a:*'], protected_patterns=['a[']), 'protected_patterns: invalid key pattern'),
    ('redis_purge', dict(patterns=['a:*'], flush='db', allow_flush=True), 'mutually exclusive: patterns|flush'),
    ('redis_purge', dict(), 'one of the following is required: patterns, flush'),
    ('redis_purge', dict(patterns=['a:*'], host='cache'), 'mutually exclusive: redis_url|host'),
    ('redis_key_audit', dict(scan_count=0), 'scan_count is 0: give a number above 0'),
    ('redis_key_audit', dict(memory_samples=-1), 'memory_samples is -1: give 0 or more'),
    ('redis_key_audit', dict(pattern='a['), "pattern: invalid key pattern 'a['"),
    ('redis_info', dict(max_memory_percent=120), 'max_memory_percent is 120.0: give a percentage between 0 and 100'),
    ('redis_info', dict(max_ping_ms=-1), 'max_ping_ms is -1.0: a threshold must be zero or more'),
])
def test_refused_before_connecting(capsys, connections, name, args, message):
    result = run(capsys, name, dict(args, redis_url=URL))
    assert result['failed'] and message in result['msg']
    assert connections == []
    if name == 'redis_info':
        assert result['problems'] == []


@pytest.mark.parametrize('diff', [False, True])
def test_purge_returns_the_diff_only_in_diff_mode(capsys, connections, monkeypatch, diff):
    counts = dict(changed=True, deleted=2, would_delete=2, flushed=None, patterns={'a:*': dict(matched=2, deleted=2)},
                  protected_patterns=['payment:idempotency:*'], diff=dict(before={'a:*': 2}, after={'a:*': 0}))
    purged = []

    def purge(target, patterns, protected, check_mode, flush_mode, batch_size, scan_count, rate_limit):
        purged.append((patterns, protected, check_mode, flush_mode, batch_size, scan_count, rate_limit))
        return dict(counts)
    monkeypatch.setattr(service, 'purge', purge)
    result = run(capsys, 'redis_purge', dict(redis_url=URL, patterns=['a:*'], _ansible_diff=diff))
    assert purged == [(['a:*'], ['payment:idempotency:*'], False, None, 500, 1000, 0.0)]
    assert connections == [URL] and result['cluster'] is False and result['deleted'] == 2
    assert ('diff' in result) is diff


def test_info_thresholds_fail_with_the_whole_result(capsys, connections, monkeypatch):
    summary = dict(ping_ms=0.2, memory_percent=95.0, connected_clients=3, evicted_keys=0, hit_ratio_percent=None)
    monkeypatch.setattr(service, 'read_node', lambda label, conn: dict(node=label, ping_ms=0.2, sections={},
                                                                       summary=summary))
    result = run(capsys, 'redis_info', dict(redis_url=URL, max_memory_percent=90))
    assert result['failed'] and result['msg'].startswith('Redis thresholds exceeded: 127.0.0.1:1: memory use')
    assert result['problems'] == [result['msg'][len('Redis thresholds exceeded: '):]]
    assert result['cluster'] is False and result['summary']['nodes'] == 1 and len(result['nodes']) == 1
    result = run(capsys, 'redis_info', dict(redis_url=URL, max_memory_percent=96))
    assert not result.get('failed') and result['problems'] == [] and result['changed'] is False


def test_audit_result(capsys, connections, monkeypatch):
    monkeypatch.setattr(service, 'audit_keys', lambda nodes, pattern, *args: dict(pattern=pattern, count=0))
    result = run(capsys, 'redis_key_audit', dict(redis_url=URL, pattern='a:*'))
    assert (result['pattern'], result['count'], result['changed'], result['cluster']) == ('a:*', 0, False, False)


def test_a_missing_redis_library_is_reported_once_for_all(capsys, connections, monkeypatch):
    monkeypatch.setattr(REDIS_CONNECTION, 'libraries', [('redis', "ModuleNotFoundError: No module named 'redis'")])
    for name, args in (('redis_info', {}), ('redis_key_audit', {}), ('redis_purge', dict(patterns=['a:*']))):
        result = run(capsys, name, dict(args, redis_url=URL))
        assert result['failed'] and 'Failed to import the required Python library (redis)' in result['msg']
    assert connections == []


@pytest.mark.parametrize('protected', [[], ['session:*'], ['payment:idempotency:0*']])
def test_no_protected_patterns_value_lets_a_purge_reach_the_idempotency_keys(capsys, connections, protected):
    """Issue 15: protected_patterns only adds to the built-in payment:idempotency:*; '*' is refused whatever it says."""
    result = run(capsys, 'redis_purge', dict(redis_url=URL, patterns=['*'], protected_patterns=protected))
    assert result['failed'] and result['msg'].startswith("refusing to purge, nothing was deleted: '*' could delete")
    assert "the built-in protected pattern 'payment:idempotency:*' (always protected; protected_patterns cannot " \
           "remove it)" in result['msg']
    assert connections == []


@pytest.mark.parametrize('given, guarded', [
    ([], ['payment:idempotency:*']),
    (['session:*'], ['payment:idempotency:*', 'session:*']),
    (['payment:idempotency:*', 'session:*'], ['payment:idempotency:*', 'session:*']),
])
def test_purge_guards_the_builtin_and_the_given_patterns(capsys, connections, monkeypatch, given, guarded):
    purged = []

    def purge(target, patterns, protected, *args):
        purged.append(protected)
        return dict(changed=False, deleted=0, would_delete=0, flushed=None, patterns={}, protected_patterns=protected)
    monkeypatch.setattr(service, 'purge', purge)
    result = run(capsys, 'redis_purge', dict(redis_url=URL, patterns=['stream:cache:*'], protected_patterns=given))
    assert purged == [guarded] and result['protected_patterns'] == guarded
