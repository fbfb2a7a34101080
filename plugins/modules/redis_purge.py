#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: redis_purge
short_description: Delete Redis keys by pattern with SCAN + UNLINK, never touching protected keys
version_added: 0.1.0
description:
  - Deletes the keys matching O(patterns) with C(SCAN MATCH) and pipelined C(UNLINK) batches on the server or on
    every primary of a Redis Cluster, optionally at most O(rate_limit) keys per second.
  - C(payment:idempotency:*) (the payment idempotency keys) is always protected. It is built into the module,
    not a default of O(protected_patterns); no option or variable can remove it, and O(protected_patterns) only
    adds patterns to it.
  - Before anything is deleted, each pattern is checked against the protected patterns (the built-in one and
    O(protected_patterns)) by an exact analysis of the two globs; a pattern that could match any protected key
    (for example C(*), C(payment:*) or C(p?yment:*)) is refused with an example key, and nothing is deleted.
  - Then, before each C(UNLINK) batch, every key of the batch is matched again against the protected patterns
    (Redis glob semantics, as C(SCAN MATCH)); a protected key stops the purge with an error before that batch is
    sent, so nothing of it is deleted (earlier batches, each checked, may have been). Check mode re-checks every
    key it counts.
  - C(FLUSHDB) / C(FLUSHALL) (O(flush)) run only with O(allow_flush=true) and only when no key of any
    database to be flushed matches a protected pattern (the built-in one included).
  - Why not M(community.general.redis)? Its C(flush) command empties the server with C(FLUSHALL) by default,
    which is how the runbook's C(redis-cli FLUSHDB) lost the payment idempotency keys (so webhook retries can
    charge twice), and no community module deletes by pattern.
  - A second run finds nothing to delete and reports C(changed=false).
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.redis
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_redis
attributes:
  check_mode:
    support: full
    details: Scans and reports how many keys would be deleted (RV(would_delete)); deletes nothing.
  diff_mode:
    support: full
    details: Key counts per pattern before and after.
options:
  patterns:
    description:
      - Redis globs of the keys to delete. Required unless O(flush) is given.
    type: list
    elements: str
  protected_patterns:
    description:
      - More keys that must never be deleted, in addition to the built-in C(payment:idempotency:*). A purge pattern
        that could match one of them is refused, and a key matching one of them stops the purge.
      - This list only adds. A list without C(payment:idempotency:*), or an empty list, still protects it; there
        is no way to switch the guard off.
    type: list
    elements: str
    default: []
  flush:
    description:
      - V(db) runs C(FLUSHDB ASYNC), V(all) runs C(FLUSHALL ASYNC) (every database), on every primary.
      - Refused unless O(allow_flush=true), and refused while any key matches O(protected_patterns).
      - The protected-key check and the flush are two steps; a protected key written between them is lost.
        Prefer O(patterns).
    type: str
    choices: [db, all]
  allow_flush:
    description: Must be V(true) for O(flush) to run.
    type: bool
    default: false
  batch_size:
    description: Keys per pipelined UNLINK batch.
    type: int
    default: 500
  scan_count:
    description: C(COUNT) hint of each SCAN call.
    type: int
    default: 1000
  rate_limit:
    description: At most this many keys deleted per second (0 for no limit).
    type: float
    default: 0
'''

EXAMPLES = r'''
- name: Clear the stream cache (the runbook's stream-latency fix), never the idempotency keys
  halobuzz.ops.redis_purge:
    redis_url: "{{ redis_url }}"
    patterns: ["stream:cache:*"]
    rate_limit: 20000

- name: Clear the stream cache and the sessions; keep feature flags too (payment:idempotency:* is always kept)
  halobuzz.ops.redis_purge:
    redis_url: "{{ redis_url }}"
    patterns: ["stream:cache:*", "session:*"]
    protected_patterns: ["feature:*"]

- name: Empty a scratch database, only when it holds no protected key
  halobuzz.ops.redis_purge:
    redis_url: "redis://cache.internal:6379/3"
    flush: db
    allow_flush: true
'''

RETURN = r'''
deleted:
  description: Keys deleted (0 in check mode).
  returned: success
  type: int
  sample: 800000
would_delete:
  description: Keys that matched (what check mode would delete); for O(flush), the keys in the flushed databases.
  returned: success
  type: int
patterns:
  description: Per pattern, keys matched and deleted.
  returned: success
  type: dict
  sample: {"stream:cache:*": {matched: 800000, deleted: 800000}}
flushed:
  description: V(db) or V(all) when a flush ran, else null.
  returned: success
  type: str
protected_patterns:
  description: The patterns that were guarded, the built-in C(payment:idempotency:*) first.
  returned: success
  type: list
  elements: str
  sample: ["payment:idempotency:*", "session:*"]
cluster:
  description: Whether the server is a Redis Cluster (every primary was purged).
  returned: success
  type: bool
'''

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import REDIS_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.service import redis_purge

OPTIONS = dict(
    patterns=dict(type='list', elements='str'),
    protected_patterns=dict(type='list', elements='str', default=[]),
    flush=dict(type='str', choices=['db', 'all']),
    allow_flush=dict(type='bool', default=False),
    batch_size=dict(type='int', default=500),
    scan_count=dict(type='int', default=1000),
    rate_limit=dict(type='float', default=0),
)


def main():
    module = HaloBuzzModule(REDIS_CONNECTION, argument_spec=OPTIONS, mutually_exclusive=[['patterns', 'flush']],
                            required_one_of=[['patterns', 'flush']], supports_check_mode=True)
    module.run(lambda: redis_purge(module.params, module.check_mode, module._diff))


if __name__ == '__main__':
    main()
