#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: redis_info
short_description: Redis triage facts (PING latency, INFO) with thresholds that fail the task
version_added: 0.1.0
description:
  - Times a C(PING) and reads C(INFO) sections C(server), C(clients), C(memory), C(stats), C(keyspace) and
    C(replication) from the server, or from every primary of a Redis Cluster, and returns them as typed facts
    (numbers are numbers), with the figures the runbook's triage looks at first (memory used against
    C(maxmemory), evicted and expired keys, keyspace hit ratio, connected clients).
  - Optional thresholds (for example O(max_memory_percent=90)) fail the task with a message naming the node,
    the figure and the limit, so the module serves scheduled checks as well as triage.
  - Why not M(community.general.redis_info)? It returns INFO of one node as untyped text values, has no
    latency figure, no thresholds and no Cluster fan-out, and does not share this collection's connection
    options (O(redis_url), TLS, Cluster detection).
  - Read-only; it runs the same in check mode.
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.redis
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_redis
  - halobuzz.ops.attributes.read_only
options:
  max_memory_percent:
    description:
      - Fail when C(used_memory) is above this percentage of C(maxmemory) (of C(total_system_memory) when
        C(maxmemory) is 0) on any node.
    type: float
  max_ping_ms:
    description: Fail when a PING round trip takes longer than this many milliseconds on any node.
    type: float
  max_connected_clients:
    description: Fail when any node has more connected clients than this.
    type: int
  max_evicted_keys:
    description: Fail when any node has evicted more keys than this since its start.
    type: int
  min_hit_ratio_percent:
    description: Fail when a node's keyspace hit ratio (hits / (hits + misses)) is below this percentage.
    type: float
  all_sections:
    description:
      - Read every section with one C(INFO all) (all sections except module-generated ones, U(https://redis.io/docs/latest/commands/info/))
        instead of the six above, for a debug bundle.
    type: bool
    default: false
    version_added: 0.1.0
'''

EXAMPLES = r'''
- name: Redis triage (the runbook's redis-cli ping / INFO stats), fail above 90 % memory
  halobuzz.ops.redis_info:
    redis_url: "{{ redis_url }}"
    max_memory_percent: 90
  register: redis

- name: Show the figures
  ansible.builtin.debug:
    msg: "{{ redis.summary.memory_percent }} % memory, hit ratio {{ redis.summary.hit_ratio_percent }} %"
'''

RETURN = r'''
cluster:
  description: Whether the server is a Redis Cluster (every primary was read).
  returned: success
  type: bool
summary:
  description: Figures over every primary (worst ping and memory, sums of counters).
  returned: success
  type: dict
  sample: {nodes: 1, ping_ms: 0.21, memory_percent: 12.5, used_memory: 1048576, connected_clients: 3,
           evicted_keys: 0, expired_keys: 10, keyspace_hits: 90, keyspace_misses: 10, hit_ratio_percent: 90.0,
           keys: 1200, expires: 200}
nodes:
  description: One entry per primary, with the parsed INFO sections and that node's summary.
  returned: success
  type: list
  elements: dict
  contains:
    node:
      description: C(host:port).
      type: str
    ping_ms:
      description: One timed PING round trip on a warm connection.
      type: float
    summary:
      description: >-
        ping_ms, role, redis_version, used_memory, maxmemory, maxmemory_policy, memory_percent,
        memory_percent_of (maxmemory or total_system_memory), connected_clients, blocked_clients,
        evicted_keys, expired_keys, keyspace_hits, keyspace_misses, hit_ratio_percent (null before any read),
        keys, expires.
      type: dict
    sections:
      description: >-
        INFO sections (server, clients, memory, stats, keyspace, replication; every section of C(INFO all) with
        O(all_sections)), field -> typed value;
        keyspace entries are dicts such as C({"db0": {"keys": 3, "expires": 1, "avg_ttl": 0}}).
      type: dict
problems:
  description: Every threshold that was exceeded (the task fails when this is not empty).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import REDIS_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.service import redis_info

OPTIONS = dict(
    max_memory_percent=dict(type='float'),
    max_ping_ms=dict(type='float'),
    max_connected_clients=dict(type='int'),
    max_evicted_keys=dict(type='int', no_log=False),
    min_hit_ratio_percent=dict(type='float'),
    all_sections=dict(type='bool', default=False),
)


def main():
    module = HaloBuzzModule(REDIS_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: redis_info(module.params))


if __name__ == '__main__':
    main()
