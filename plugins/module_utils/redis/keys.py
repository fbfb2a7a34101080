# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis keys by pattern, on the server: SCAN-based audits, purges with pipelined UNLINK, flushes.

Patterns are checked first by patterns.py (grammar, protected-key guard); this file sends the commands,
and re-checks every key SCAN returned against the protected patterns (the built-in payment:idempotency:*
always among them) before each UNLINK batch: a purge stops before the batch that holds a protected key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re
import statistics
import time

from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import (
    ReplyStream, RedisCheckError, node_target, pack_commands, pack_key_commands, run_pipelined, translated_errors)
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.patterns import (
    ProtectedMatcher, parse_pattern, with_builtin)
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.replies import parse_info


def ttl_stats(values):
    """min/median/max of a list of numbers, or all None for an empty list."""
    if not values:
        return dict(min=None, median=None, max=None)
    return dict(min=min(values), median=statistics.median(values), max=max(values))


def _expiry_command(conn):
    """('PEXPIRETIME', exact=True) on Redis 7+, else ('PTTL', False); plus the server clock in ms."""
    info, now = run_pipelined(conn, [('INFO', 'server'), ('TIME',)])
    match = re.search(br'redis_version:(\d+)', info)
    now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
    if match and int(match.group(1)) >= 7:
        return 'PEXPIRETIME', True, now_ms
    return 'PTTL', False, now_ms


class KeyAudit(object):
    """What one audit has seen: distinct keys, absolute expiries (ms), keys without TTL, a sample.

    Work is done per SCAN batch with comprehensions: an audit of 200k keys must not pay a
    Python method call per key.
    """

    def __init__(self, sample_size, digest):
        self.keys = set()
        self.expiries_ms = []
        self.without_ttl = 0
        self.vanished = 0
        self.sample = []
        self.sample_size = sample_size
        self.digest = 0 if digest else None

    def add_batch(self, node_index, keys, replies, exact, now_ms):
        if not keys:
            return
        if exact:
            expiries = [r for r in replies if r >= 0]
        else:
            expiries = [now_ms + r for r in replies if r >= 0]
        self.expiries_ms.extend(expiries)
        missing = replies.count(-2)
        self.without_ttl += replies.count(-1)
        if missing:
            self.vanished += missing
            self.keys.difference_update(k for k, r in zip(keys, replies) if r == -2)
        if len(self.sample) < self.sample_size:
            self.sample.extend((node_index, k) for k, r in zip(keys, replies) if r != -2)
            del self.sample[self.sample_size:]
        if self.digest is not None:
            for key, reply in zip(keys, replies):
                if reply != -2:
                    expire_at = reply if (exact or reply < 0) else now_ms + reply
                    h = hashlib.blake2b(key + b'\0' + str(expire_at).encode(), digest_size=8).digest()
                    self.digest ^= int.from_bytes(h, 'big')


def _scan_command(cursor, pattern, scan_count):
    return pack_commands([('SCAN', cursor, 'MATCH', pattern, 'COUNT', scan_count)])


def audit_keys(nodes, pattern, scan_count=1000, max_keys=1000000, max_seconds=60.0, sample_size=10,
               memory_samples=100, expiry_digest=False, clock=time.monotonic, wall_clock=time.time):
    """SCAN MATCH every primary; PEXPIRETIME (PTTL before Redis 7) of each key sent with the next SCAN.

    nodes: [(label, redis.Redis)]. SCAN's own order is the hash-table order, so the first keys seen
    are a spread-out sample. Returns the audit facts (see redis_key_audit RETURN).
    """
    parse_pattern(pattern)
    started = clock()
    acc = KeyAudit(max(sample_size, memory_samples), expiry_digest)
    per_node = []
    truncated_reason = None
    scan_calls = 0
    exact_all = True
    server_offset = None
    for index, (label, conn) in enumerate(nodes):
        with translated_errors(node_target(conn, label), 'auditing keys matching %r' % pattern):
            command, exact, server_ms = _expiry_command(conn)
            node_started = clock()
            if server_offset is None:
                server_offset = server_ms / 1000.0 - wall_clock()
            exact_all = exact_all and exact
            before = len(acc.keys)
            with ReplyStream(conn) as stream:
                # Two requests in flight: [SCAN c(k+1), expiry of batch k] is sent as soon as the
                # reply to SCAN c(k) arrives, then the expiries of batch k-1 (already on the wire)
                # are read and tallied while the server works on the next request.
                stream.send(_scan_command(b'0', pattern, scan_count))
                previous = []
                while True:
                    cursor, batch = stream.read(1)[0]
                    scan_calls += 1
                    pending = [k for k in batch if k not in acc.keys]
                    acc.keys.update(pending)
                    done = cursor in (b'0', 0, '0')
                    if not done and len(acc.keys) >= max_keys:
                        truncated_reason = 'max_keys (%d) reached' % max_keys
                    elif not done and clock() - started >= max_seconds:
                        truncated_reason = 'max_seconds (%s) reached' % max_seconds
                    last = done or truncated_reason is not None
                    stream.send((b'' if last else _scan_command(cursor, pattern, scan_count))
                                + pack_key_commands(command, pending))
                    now_ms = server_ms + int((clock() - node_started) * 1000)  # PTTL is relative to now
                    acc.add_batch(index, previous, stream.read(len(previous)), exact, now_ms)
                    previous = pending
                    if last:
                        now_ms = server_ms + int((clock() - node_started) * 1000)
                        acc.add_batch(index, previous, stream.read(len(previous)), exact, now_ms)
                        break
            per_node.append(dict(node=label, count=len(acc.keys) - before))
        if truncated_reason:
            break
    now_s = wall_clock() + (server_offset or 0.0)  # the server's clock: TTLs are relative to it
    expiry = ttl_stats(acc.expiries_ms)
    ttl = dict((k, None if v is None else round(v / 1000.0 - now_s, 3)) for k, v in expiry.items())
    return dict(
        pattern=pattern,
        count=len(acc.keys),
        truncated=truncated_reason is not None,
        truncated_reason=truncated_reason,
        nodes=per_node,
        with_ttl=len(acc.expiries_ms),
        without_ttl=acc.without_ttl,
        vanished=acc.vanished,
        ttl_seconds=ttl,
        expiry_epoch=dict(min=None if expiry['min'] is None else expiry['min'] / 1000.0,
                          max=None if expiry['max'] is None else expiry['max'] / 1000.0),
        expiry_exact=exact_all,
        expiry_digest=('%016x' % acc.digest) if acc.digest is not None and exact_all else None,
        sample=[k.decode('utf-8', 'backslashreplace') for _node, k in acc.sample[:sample_size]],
        memory=_sample_memory(nodes, acc.sample[:memory_samples], len(acc.keys)),
        scan_calls=scan_calls,
        elapsed_seconds=round(clock() - started, 3),
    )


def _sample_memory(nodes, picks, count):
    """MEMORY USAGE of the reservoir keys, pipelined per node."""
    sizes = []
    for index, (label, conn) in enumerate(nodes):
        keys = [k for i, k in picks if i == index]
        if not keys:
            continue
        with translated_errors(node_target(conn, label), 'sampling MEMORY USAGE'):
            sizes.extend(r for r in run_pipelined(conn, [('MEMORY', 'USAGE', k) for k in keys]) if r is not None)
    if not sizes:
        return dict(sampled=0, sample_bytes=0, avg_bytes=None, estimated_total_bytes=None)
    avg = float(sum(sizes)) / len(sizes)
    return dict(sampled=len(sizes), sample_bytes=sum(sizes), avg_bytes=round(avg, 1),
                estimated_total_bytes=int(avg * count))


def scan_keys(conn, pattern, scan_count):
    """Yield lists of keys, one per SCAN call, over one node."""
    cursor = b'0'
    while True:
        cursor, keys = run_pipelined(conn, [('SCAN', cursor, 'MATCH', pattern, 'COUNT', scan_count)])[0]
        yield keys
        if cursor in (b'0', 0, '0'):
            return


def count_keys(nodes, patterns, scan_count=1000, stop_at_first=False):
    """{pattern: distinct matching keys over every primary}; stop_at_first stops at the first key found."""
    counts = {}
    for pattern in patterns:
        seen = set()
        for label, conn in nodes:
            with translated_errors(node_target(conn, label), 'counting keys matching %r' % pattern):
                for keys in scan_keys(conn, pattern, scan_count):
                    seen.update(keys)
                    if stop_at_first and seen:
                        break
            if stop_at_first and seen:
                break
        counts[pattern] = len(seen)
    return counts


def _protected_key_error(hit, matcher, pattern, label, batch, deleted, check_mode):
    key, protected = hit
    done = ('deleted nothing (check mode)' if check_mode else
            'nothing of this batch of %d keys was deleted; %d keys were deleted before it, each checked and none '
            'protected' % (len(batch), deleted))
    return RedisCheckError(
        "stopped the purge: SCAN MATCH %r on %s returned %r, which %s guards; %s. The pattern check said %r "
        "cannot match a protected key, so SCAN and the check disagree: stop, report it, and purge with a "
        "narrower pattern" % (pattern, label, key.decode('utf-8', 'backslashreplace'), matcher.describe(protected),
                              done, pattern))


def purge_keys(nodes, patterns, check_mode, batch_size=500, scan_count=1000, rate_limit=0,
               clock=time.monotonic, sleep=time.sleep, protected_patterns=()):
    """SCAN MATCH + pipelined UNLINK per primary. Returns {pattern: {matched, deleted}}.

    The caller has already proved (check_purge_patterns) that no pattern can match a protected key; still,
    before each UNLINK batch every key of the batch is re-checked against the protected patterns (the
    built-in ones are always added, whatever protected_patterns says), and the first protected key stops
    the purge with RedisCheckError before that batch is sent. Check mode re-checks every key SCAN returns.
    Check mode counts distinct keys (a key matching two patterns counts once, for the first); a real
    run counts what UNLINK removed, so it keeps no set of keys in memory however many it deletes.
    rate_limit: at most this many keys per second (0 = as fast as the server answers).
    """
    matcher = ProtectedMatcher(protected_patterns)
    result = dict((p, dict(matched=0, deleted=0)) for p in patterns)
    started = clock()
    sent = [0]
    deleted = [0]

    def unlink(conn, label, pattern, keys):
        if not keys:
            return
        hit = matcher.first_protected(keys)
        if hit is not None:
            raise _protected_key_error(hit, matcher, pattern, label, keys, deleted[0], False)
        removed = sum(run_pipelined(conn, keys, pack_key_commands('UNLINK', keys)))
        result[pattern]['deleted'] += removed
        result[pattern]['matched'] += removed
        deleted[0] += removed
        sent[0] += len(keys)
        if rate_limit:
            ahead = sent[0] / float(rate_limit) - (clock() - started)
            if ahead > 0:
                sleep(ahead)

    if rate_limit:
        batch_size = max(1, min(batch_size, int(rate_limit)))
    for label, conn in nodes:
        seen = set()
        for pattern in patterns:
            with translated_errors(node_target(conn, label), 'purging keys matching %r' % pattern):
                batch = []
                for keys in scan_keys(conn, pattern, scan_count):
                    if check_mode:
                        hit = matcher.first_protected(keys)
                        if hit is not None:
                            raise _protected_key_error(hit, matcher, pattern, label, keys, 0, True)
                        new = [k for k in keys if k not in seen]
                        seen.update(new)
                        result[pattern]['matched'] += len(new)
                        continue
                    batch.extend(keys)
                    while len(batch) >= batch_size:
                        unlink(conn, label, pattern, batch[:batch_size])
                        batch = batch[batch_size:]
                unlink(conn, label, pattern, batch)
    return result


def keyspace_size(nodes, all_dbs):
    """Keys that FLUSHDB (this db) or FLUSHALL (every db) would remove, over every primary."""
    total = 0
    for label, conn in nodes:
        with translated_errors(node_target(conn, label), 'counting keys (DBSIZE / INFO keyspace)'):
            if all_dbs:
                keyspace = parse_info(run_pipelined(conn, [('INFO', 'keyspace')])[0]).get('keyspace', {})
                total += sum(v.get('keys', 0) for v in keyspace.values() if isinstance(v, dict))
            else:
                total += int(run_pipelined(conn, [('DBSIZE',)])[0])
    return total


def db_numbers(nodes):
    """Database numbers that hold keys on any primary (FLUSHALL's protected-key check covers each)."""
    dbs = set([0])
    for label, conn in nodes:
        with translated_errors(node_target(conn, label), 'reading INFO keyspace'):
            keyspace = parse_info(run_pipelined(conn, [('INFO', 'keyspace')])[0]).get('keyspace', {})
        dbs.update(int(name[2:]) for name in keyspace if name.startswith('db') and name[2:].isdigit())
    return sorted(dbs)


def flush(nodes, all_dbs):
    """FLUSHDB ASYNC / FLUSHALL ASYNC on every primary."""
    for label, conn in nodes:
        with translated_errors(node_target(conn, label), 'flushing'):
            run_pipelined(conn, [('FLUSHALL' if all_dbs else 'FLUSHDB', 'ASYNC')])


def purge(target, patterns, protected_patterns, check_mode, flush_mode=None, batch_size=500, scan_count=1000,
          rate_limit=0):
    """The whole redis_purge decision. target: a connected RedisTarget. Returns the module result.

    Every refusal happens before the first deletion: the caller (service.redis_purge) has refused a
    flush without allow_flush and any pattern that could match a protected key; a flush is refused
    here while a database to be flushed holds a protected key. The built-in protected patterns are
    added to protected_patterns here too, so no caller can leave them out.
    """
    protected_patterns = with_builtin(protected_patterns)
    result = dict(changed=False, deleted=0, would_delete=0, flushed=None, patterns={},
                  protected_patterns=list(protected_patterns))
    nodes = target.primaries()
    if flush_mode:
        all_dbs = flush_mode == 'all'
        for db in (db_numbers(nodes) if all_dbs else [target.target['db']]):
            found = count_keys(target.primaries(db), protected_patterns, scan_count, stop_at_first=True)
            present = sorted(p for p, n in found.items() if n)
            if present:
                raise RedisCheckError(
                    "refusing %s on %s, nothing was deleted: db %s holds keys matching protected_patterns %s. "
                    "Purge by pattern instead (patterns: ['stream:cache:*'])"
                    % ('FLUSHALL' if all_dbs else 'FLUSHDB', target.label, db, ', '.join(present)))
        size = keyspace_size(nodes, all_dbs)
        result.update(changed=size > 0, would_delete=size, diff=dict(before=dict(keys=size), after=dict(keys=0)))
        if size and not check_mode:
            flush(nodes, all_dbs)
            result.update(deleted=size, flushed=flush_mode)
        return result
    counts = purge_keys(nodes, patterns, check_mode, batch_size, scan_count, rate_limit,
                        protected_patterns=protected_patterns)
    matched = sum(c['matched'] for c in counts.values())
    deleted = sum(c['deleted'] for c in counts.values())
    result.update(
        patterns=counts, deleted=deleted, would_delete=matched, changed=(matched if check_mode else deleted) > 0,
        diff=dict(before=dict((p, c['matched']) for p, c in counts.items()),
                  after=dict((p, 0 if check_mode else c['matched'] - c['deleted']) for p, c in counts.items())))
    return result
