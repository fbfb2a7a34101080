# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Redis modules call: one function per module, from its parameters to its result.

Each checks the module's own inputs before connecting, connects (client.py), does the work (info.py,
keys.py, with patterns checked by patterns.py) and returns the result dict, or raises RedisCheckError
with the message the user sees.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from functools import partial

from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import RedisCheckError, connected
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.info import (
    THRESHOLDS, aggregate, check_thresholds, read_node, validate_limits)
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.keys import audit_keys, purge
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.patterns import (
    check_purge_patterns, validate_patterns, with_builtin)


def redis_info(params):
    """redis_info: PING/INFO of every primary; a broken threshold fails with the whole result."""
    limits = dict((option, params[option]) for option, _fact, _kind, _meaning in THRESHOLDS)
    try:
        validate_limits(limits)
        with connected(params) as target:
            reader = partial(read_node, all_sections=True) if params.get('all_sections') else read_node
            nodes = [reader(label, conn) for label, conn in target.primaries()]
    except RedisCheckError as error:
        raise RedisCheckError(str(error), problems=[])
    problems = []
    for node in nodes:
        problems.extend(check_thresholds(node['node'], node['summary'], limits))
    result = dict(changed=False, cluster=target.cluster, summary=aggregate(nodes), nodes=nodes, problems=problems)
    if problems:
        raise RedisCheckError('Redis thresholds exceeded: ' + '; '.join(problems), **result)
    return result


def redis_key_audit(params):
    """redis_key_audit: SCAN the keys matching params['pattern'] on every primary."""
    for option in ('scan_count', 'max_keys', 'max_seconds'):
        if params[option] <= 0:
            raise RedisCheckError('%s is %s: give a number above 0' % (option, params[option]))
    for option in ('sample_size', 'memory_samples'):
        if params[option] < 0:
            raise RedisCheckError('%s is %s: give 0 or more' % (option, params[option]))
    validate_patterns([params['pattern']], 'pattern')
    with connected(params) as target:
        result = audit_keys(target.primaries(), params['pattern'], params['scan_count'], params['max_keys'],
                            params['max_seconds'], params['sample_size'], params['memory_samples'],
                            params['expiry_digest'])
    return dict(result, changed=False, cluster=target.cluster)


def redis_purge(params, check_mode, diff_mode=False):
    """redis_purge: every refusal (bad input, flush without allow_flush, a pattern that could reach a
    protected key) happens before connecting; the key counts go in ``diff`` only in diff mode.

    protected_patterns only adds to the built-in payment:idempotency:* (patterns.with_builtin): an empty
    list, or one without it, still protects it; the result's protected_patterns is the full list guarded."""
    if params['batch_size'] <= 0 or params['scan_count'] <= 0 or params['rate_limit'] < 0:
        raise RedisCheckError('batch_size and scan_count must be above 0 and rate_limit 0 or more (got %s, %s, %s)'
                              % (params['batch_size'], params['scan_count'], params['rate_limit']))
    if params['flush'] and not params['allow_flush']:
        raise RedisCheckError('refusing flush: %s without allow_flush: true, nothing was deleted. Purge by pattern '
                              'instead, or set allow_flush: true to empty the database(s)' % params['flush'])
    if params['patterns'] is not None and not params['patterns']:
        raise RedisCheckError('patterns is empty: list the key patterns to delete, e.g. ["stream:cache:*"]')
    validate_patterns(params['protected_patterns'], 'protected_patterns')
    protected = with_builtin(params['protected_patterns'])
    if params['patterns']:
        check_purge_patterns(params['patterns'], protected)
    with connected(params) as target:
        result = purge(target, params['patterns'] or [], protected, check_mode, params['flush'],
                       params['batch_size'], params['scan_count'], params['rate_limit'])
    diff = result.pop('diff', None)
    if diff_mode and diff is not None:
        result['diff'] = diff
    return dict(result, cluster=target.cluster)
