#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: redis_key_audit
short_description: Count and profile the Redis keys matching a pattern with SCAN, never KEYS
version_added: 0.1.0
description:
  - Walks the keyspace with C(SCAN cursor MATCH pattern COUNT n) on the server, or on every primary of a Redis
    Cluster, and returns the exact number of matching keys, a sample, how many have no TTL, the TTL spread
    (min/median/max seconds), the expiry range and sampled C(MEMORY USAGE).
  - Replaces the runbook's C(redis-cli KEYS payment:idempotency:*), which blocks the server for the whole
    keyspace walk. Each C(SCAN) call here touches O(scan_count) entries, so other clients wait at most a
    fraction of a millisecond; the expiry of each key (C(PEXPIRETIME) on Redis 7+, C(PTTL) before) is read
    in the same pipelined round trip as the next C(SCAN).
  - Bounded by O(max_keys) and O(max_seconds); when a bound stops it early the result says C(truncated=true).
  - No module of community.general scans by pattern (M(community.general.redis_data_info) reads one key).
  - Read-only; it runs the same in check mode.
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.redis
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_redis
  - halobuzz.ops.attributes.read_only
options:
  pattern:
    description:
      - Redis glob (C(*), C(?), C([abc]), C([^a-z]), C(\\x) escapes) of the keys to audit.
      - An invalid pattern (unclosed C([), empty C([]), trailing backslash) fails before any command is sent.
    type: str
    default: '*'
  scan_count:
    description: C(COUNT) hint of each SCAN call; larger is faster, smaller keeps each call shorter.
    type: int
    default: 1000
  max_keys:
    description: Stop after this many matching keys (C(truncated=true)).
    type: int
    default: 1000000
  max_seconds:
    description: Stop after this many seconds (C(truncated=true)).
    type: float
    default: 60
  sample_size:
    description: How many matching keys to return in RV(sample).
    type: int
    default: 10
  memory_samples:
    description: How many matching keys to measure with C(MEMORY USAGE) (0 to skip).
    type: int
    default: 100
  expiry_digest:
    description:
      - Return RV(expiry_digest), a digest over every (key, absolute expiry) pair, so that two audits prove the
        same keys with the same expiries are present (used by the cache_purge playbook). Needs Redis 7+
        (C(PEXPIRETIME)); null otherwise.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Payment idempotency keys (replaces redis-cli KEYS payment:idempotency:*)
  halobuzz.ops.redis_key_audit:
    redis_url: "{{ redis_url }}"
    pattern: "payment:idempotency:*"
  register: idempotency

- name: Idempotency keys must expire
  ansible.builtin.assert:
    that: idempotency.without_ttl == 0
    fail_msg: "{{ idempotency.without_ttl }} idempotency keys have no TTL"
'''

RETURN = r'''
cluster:
  description: Whether the server is a Redis Cluster (every primary was scanned).
  returned: success
  type: bool
pattern:
  description: The pattern audited.
  returned: success
  type: str
count:
  description: Distinct matching keys seen (all of them unless RV(truncated)).
  returned: success
  type: int
  sample: 200000
truncated:
  description: Whether O(max_keys) or O(max_seconds) stopped the walk early.
  returned: success
  type: bool
truncated_reason:
  description: Which bound stopped the walk, or null.
  returned: success
  type: str
nodes:
  description: Keys found per primary (one entry on a standalone server).
  returned: success
  type: list
  elements: dict
  sample: [{node: "10.0.0.5:6379", count: 66812}]
with_ttl:
  description: Matching keys with an expiry.
  returned: success
  type: int
without_ttl:
  description: Matching keys without an expiry.
  returned: success
  type: int
vanished:
  description: Keys that SCAN returned but that expired or were deleted before their TTL was read (not counted).
  returned: success
  type: int
ttl_seconds:
  description: Remaining TTL of the keys that have one, by the server's clock; nulls when none has a TTL.
  returned: success
  type: dict
  sample: {min: 12.5, median: 43100.2, max: 86399.9}
expiry_epoch:
  description: Earliest and latest absolute expiry (Unix seconds) among the keys with a TTL.
  returned: success
  type: dict
expiry_exact:
  description: Whether expiries were read exactly (C(PEXPIRETIME), Redis 7+) rather than derived from C(PTTL).
  returned: success
  type: bool
expiry_digest:
  description: With O(expiry_digest=true) on Redis 7+, a hex digest of the set of (key, expiry) pairs; else null.
  returned: success
  type: str
sample:
  description: Up to O(sample_size) matching keys (non-UTF-8 bytes backslash-escaped).
  returned: success
  type: list
  elements: str
memory:
  description: C(MEMORY USAGE) over up to O(memory_samples) keys and the estimate for all RV(count) keys.
  returned: success
  type: dict
  sample: {sampled: 100, sample_bytes: 8800, avg_bytes: 88.0, estimated_total_bytes: 17600000}
scan_calls:
  description: SCAN round trips made.
  returned: success
  type: int
elapsed_seconds:
  description: Wall time of the audit.
  returned: success
  type: float
'''

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import REDIS_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.service import redis_key_audit

OPTIONS = dict(
    pattern=dict(type='str', default='*'),
    scan_count=dict(type='int', default=1000),
    max_keys=dict(type='int', default=1000000, no_log=False),
    max_seconds=dict(type='float', default=60),
    sample_size=dict(type='int', default=10),
    memory_samples=dict(type='int', default=100),
    expiry_digest=dict(type='bool', default=False),
)


def main():
    module = HaloBuzzModule(REDIS_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: redis_key_audit(module.params))


if __name__ == '__main__':
    main()
