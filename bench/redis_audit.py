#!/usr/bin/env python3
"""Bench: SCAN-based key audit (halobuzz.ops.redis_key_audit) vs `redis-cli --scan | wc -l` and KEYS.

Seeds 1M keys on a private redis-server (free loopback port, temp dir, stopped at the end):
200k payment:idempotency:* with TTLs among 800k others. Then, in one run, alternately:
  - `redis-cli --scan --pattern 'payment:idempotency:*' | wc -l` (count only, no TTLs)
  - the audit (exact count + PEXPIRETIME of every key + sampled MEMORY USAGE), as the module runs it
and, in a separate process, a client PINGing in a loop: its latency (max, p99) while idle, during the
audit and during `KEYS payment:idempotency:*`. The server's own view comes from SLOWLOG (every command
slower than 1 ms). CPU seconds (server + client) are printed beside wall time: on a shared, loaded machine
wall time is mostly scheduler waits. Prints figures; asserts nothing about time (goal: audit <= 0.5x redis-cli, PING max <= 5 ms).

  PYTHONPATH=.collections:tests/integration:tests/sandbox .venv/bin/python bench/redis_audit.py [--total 1000000] [--matching 200000] [--rounds 3]
"""
import argparse
import multiprocessing
import os
import resource
import statistics
import subprocess
import time

import redis

# .collections and tests/integration are on PYTHONPATH (the Makefile's bench target sets it).
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.keys import audit_keys
from redis_servers import REDIS_CLI, RedisServer

PATTERN = 'payment:idempotency:*'


def seed(client, total, matching):
    started = time.monotonic()
    others = total - matching
    client.execute_command('DEBUG', 'POPULATE', others // 2, 'stream:cache', 64)
    client.execute_command('DEBUG', 'POPULATE', others - others // 2, 'session', 64)
    script = ("for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do "
              "redis.call('SET', 'payment:idempotency:' .. i, 'x', 'EX', 3600 + i % 86400) end")
    for start in range(0, matching, 20000):
        client.eval(script, 0, start, min(start + 20000, matching) - 1)
    return time.monotonic() - started


def pinger(port, stop, out):
    client = redis.Redis(port=port)
    client.ping()
    samples = []
    while not stop.is_set():
        t0 = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - t0) * 1000.0)
        time.sleep(0.0005)
    out.send(samples)


def with_pinger(port, action):
    stop = multiprocessing.Event()
    recv, send = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.Process(target=pinger, args=(port, stop, send))
    proc.start()
    time.sleep(0.3)
    try:
        started = time.monotonic()
        value = action()
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        samples = recv.recv()
        proc.join()
    samples.sort()
    return value, elapsed, dict(n=len(samples), max=samples[-1], p99=samples[int(len(samples) * 0.99) - 1],
                                median=statistics.median(samples))


def server_cpu(client):
    info = client.info('cpu')
    return info['used_cpu_user'] + info['used_cpu_sys']


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def slowest_command(client):
    """(ms, command) of the slowest command the server logged since the last reset, or (0, None)."""
    entries = client.slowlog_get(128)
    client.slowlog_reset()
    if not entries:
        return 0.0, None
    worst = max(entries, key=lambda e: e['duration'])
    return worst['duration'] / 1000.0, worst['command'].decode(errors='replace').split(' ')[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--total', type=int, default=1000000)
    parser.add_argument('--matching', type=int, default=200000)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--scan-count', type=int, default=1000)
    args = parser.parse_args()
    server = RedisServer('--enable-debug-command', 'yes', '--slowlog-log-slower-than', '1000').start()
    try:
        client = server.client()
        seconds = seed(client, args.total, args.matching)
        print('seeded %d keys (%d matching %s) in %.1f s on redis-server %s, port %d; load average %s'
              % (client.dbsize(), args.matching, PATTERN, seconds, client.info('server')['redis_version'],
                 server.port, ' '.join('%.1f' % x for x in os.getloadavg())))
        cli_cmd = "%s -p %d --scan --pattern '%s' | wc -l" % (REDIS_CLI, server.port, PATTERN)
        cli_times, audit_times = [], []
        cli_cpu, audit_cpu = [], []
        for round_no in range(1, args.rounds + 1):
            server0, child0, started = server_cpu(client), children_cpu(), time.monotonic()
            counted = int(subprocess.run(cli_cmd, shell=True, capture_output=True, text=True, check=True).stdout)
            cli_times.append(time.monotonic() - started)
            cli_split = (server_cpu(client) - server0, children_cpu() - child0)
            cli_cpu.append(sum(cli_split))
            client.slowlog_reset()
            server0, own0 = server_cpu(client), time.process_time()
            result, elapsed, ping = with_pinger(server.port, lambda: audit_keys(
                [('bench', client)], PATTERN, scan_count=args.scan_count))
            audit_times.append(elapsed)
            audit_split = (server_cpu(client) - server0, time.process_time() - own0)
            audit_cpu.append(sum(audit_split))
            slow_ms, slow_cmd = slowest_command(client)
            print('round %d: redis-cli --scan | wc -l: %.2f s wall, CPU %.2f s = server %.2f + client %.2f (%d keys)'
                  % (round_no, cli_times[-1], cli_cpu[-1], cli_split[0], cli_split[1], counted))
            print('         audit: %.2f s wall, CPU %.2f s = server %.2f + client %.2f (count %d, %d without TTL, '
                  'TTL min/median/max %s/%s/%s s, %d SCAN calls): ratio wall %.2f, CPU %.2f'
                  % (elapsed, audit_cpu[-1], audit_split[0], audit_split[1], result['count'], result['without_ttl'],
                     result['ttl_seconds']['min'],
                     result['ttl_seconds']['median'], result['ttl_seconds']['max'], result['scan_calls'],
                     elapsed / cli_times[-1], audit_cpu[-1] / cli_cpu[-1]))
            print('         PING during audit: max %.2f ms, p99 %.2f ms, median %.3f ms (%d pings); '
                  'server slowest command %.2f ms (%s); load average %.1f'
                  % (ping['max'], ping['p99'], ping['median'], ping['n'], slow_ms, slow_cmd or '-',
                     os.getloadavg()[0]))
        _none, _idle, idle = with_pinger(server.port, lambda: time.sleep(2.0))
        client.slowlog_reset()
        keys, keys_time, keys_ping = with_pinger(server.port, lambda: len(client.keys(PATTERN)))
        keys_slow, _cmd = slowest_command(client)
        cli_med, audit_med = statistics.median(cli_times), statistics.median(audit_times)
        print('PING idle (noise floor of this machine): max %.2f ms, p99 %.2f ms' % (idle['max'], idle['p99']))
        print('PING during KEYS %s (%d keys, %.2f s): max %.2f ms, p99 %.2f ms; server: KEYS ran %.1f ms'
              % (PATTERN, keys, keys_time, keys_ping['max'], keys_ping['p99'], keys_slow))
        print('RESULT audit median %.2f s vs redis-cli median %.2f s: ratio %.2f (goal <= 0.50); CPU (server+client) '
              'median %.2f s vs %.2f s: ratio %.2f'
              % (audit_med, cli_med, audit_med / cli_med, statistics.median(audit_cpu), statistics.median(cli_cpu),
                 statistics.median(audit_cpu) / statistics.median(cli_cpu)))
    finally:
        server.stop()


if __name__ == '__main__':
    main()
