# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis triage: timed PING and INFO of each primary -> derived figures (memory %, hit ratio), threshold checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import (
    RedisCheckError, node_target, run_pipelined, translated_errors)
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.replies import parse_info

SECTIONS = ('server', 'clients', 'memory', 'stats', 'keyspace', 'replication')

# Threshold option -> (fact in the node summary, comparison, what the limit means)
THRESHOLDS = (
    ('max_memory_percent', 'memory_percent', 'max', 'memory use (% of maxmemory, or of system memory when '
                                                    'maxmemory is 0)'),
    ('max_ping_ms', 'ping_ms', 'max', 'PING round trip (ms)'),
    ('max_connected_clients', 'connected_clients', 'max', 'connected clients'),
    ('max_evicted_keys', 'evicted_keys', 'max', 'evicted keys since restart'),
    ('min_hit_ratio_percent', 'hit_ratio_percent', 'min', 'keyspace hit ratio (%)'),
)


def summarize(sections, ping_ms):
    """Derived figures an on-call SRE reads first, from parsed INFO sections of one node."""
    memory = sections.get('memory', {})
    stats = sections.get('stats', {})
    clients = sections.get('clients', {})
    used = memory.get('used_memory', 0)
    maxmemory = memory.get('maxmemory', 0) or 0
    system = memory.get('total_system_memory', 0) or 0
    if maxmemory:
        memory_percent, basis = round(100.0 * used / maxmemory, 2), 'maxmemory'
    elif system:
        memory_percent, basis = round(100.0 * used / system, 2), 'total_system_memory'
    else:
        memory_percent, basis = None, None
    hits, misses = stats.get('keyspace_hits', 0), stats.get('keyspace_misses', 0)
    keyspace = sections.get('keyspace', {})
    return dict(
        ping_ms=ping_ms,
        role=sections.get('replication', {}).get('role'),
        redis_version=sections.get('server', {}).get('redis_version'),
        used_memory=used,
        maxmemory=maxmemory,
        maxmemory_policy=memory.get('maxmemory_policy'),
        memory_percent=memory_percent,
        memory_percent_of=basis,
        connected_clients=clients.get('connected_clients'),
        blocked_clients=clients.get('blocked_clients'),
        evicted_keys=stats.get('evicted_keys'),
        expired_keys=stats.get('expired_keys'),
        keyspace_hits=hits,
        keyspace_misses=misses,
        hit_ratio_percent=round(100.0 * hits / (hits + misses), 2) if hits + misses else None,
        keys=sum(db.get('keys', 0) for db in keyspace.values() if isinstance(db, dict)),
        expires=sum(db.get('expires', 0) for db in keyspace.values() if isinstance(db, dict)),
    )


def check_thresholds(node, summary, limits):
    """Messages for every limit the node's summary breaks; limits: {option: value or None}."""
    problems = []
    for option, fact, kind, meaning in THRESHOLDS:
        limit = limits.get(option)
        value = summary.get(fact)
        if limit is None or value is None:
            continue
        if (kind == 'max' and value > limit) or (kind == 'min' and value < limit):
            problems.append('%s: %s is %s, %s %s is %s' % (
                node, meaning, value, 'above' if kind == 'max' else 'below', option, limit))
    return problems


def read_node(label, conn, clock=time.monotonic, all_sections=False):
    """PING (timed) and INFO <section> for each section on one node: {ping_ms, sections, summary}.

    ``all_sections``: one ``INFO all`` instead ("all: Return all sections (excluding module generated ones)",
    https://redis.io/docs/latest/commands/info/), for the debug bundle.
    """
    with translated_errors(node_target(conn, label), 'reading PING / INFO'):
        run_pipelined(conn, [('PING',)])  # warm the connection: the timed PING is one round trip
        started = clock()
        run_pipelined(conn, [('PING',)])
        ping_ms = round((clock() - started) * 1000.0, 3)
        texts = run_pipelined(conn, [('INFO', 'all')] if all_sections else [('INFO', name) for name in SECTIONS])
    sections = {}
    for text in texts:
        sections.update(parse_info(text))
    for name in SECTIONS:
        sections.setdefault(name, {})
    return dict(node=label, ping_ms=ping_ms, sections=sections, summary=summarize(sections, ping_ms))


def aggregate(nodes):
    """Whole-deployment figures over every primary: worst ping and memory, sums of counters."""
    summaries = [n['summary'] for n in nodes]

    def worst(key):
        values = [s[key] for s in summaries if s.get(key) is not None]
        return max(values) if values else None

    def total(key):
        return sum(s.get(key) or 0 for s in summaries)

    hits, misses = total('keyspace_hits'), total('keyspace_misses')
    return dict(
        nodes=len(nodes), ping_ms=worst('ping_ms'), memory_percent=worst('memory_percent'),
        used_memory=total('used_memory'), connected_clients=total('connected_clients'),
        evicted_keys=total('evicted_keys'), expired_keys=total('expired_keys'),
        keyspace_hits=hits, keyspace_misses=misses,
        hit_ratio_percent=round(100.0 * hits / (hits + misses), 2) if hits + misses else None,
        keys=total('keys'), expires=total('expires'),
    )


def validate_limits(limits):
    for option, value in limits.items():
        if value is not None and value < 0:
            raise RedisCheckError('%s is %s: a threshold must be zero or more' % (option, value))
    for option in ('max_memory_percent', 'min_hit_ratio_percent'):
        value = limits.get(option)
        if value is not None and value > 100:
            raise RedisCheckError('%s is %s: give a percentage between 0 and 100' % (option, value))
