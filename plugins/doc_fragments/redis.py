# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection and authentication options shared by every halobuzz.ops Redis module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The argument spec of these options: REDIS_CONNECTION in plugins/module_utils/redis/client.py.

    DOCUMENTATION = r'''
options:
  redis_url:
    description:
      - Where Redis is, as C(redis://[[username]:password@]host[:port][/db]) or C(rediss://...) for TLS.
      - Mutually exclusive with O(host), O(port) and O(db).
      - Credentials in the URL are used unless O(username) / O(password) are given.
      - The playbooks pass the inventory variable C(redis_url) here.
      - It may carry a password, so it is masked in results (C(no_log)), and messages show only its scheme, host and
        port, whatever the input.
    type: str
  host:
    description: Redis host name or address, when O(redis_url) is not used; C(localhost) when omitted.
    type: str
  port:
    description: Redis TCP port, when O(redis_url) is not used; C(6379) when omitted.
    type: int
  db:
    description: Database number, when O(redis_url) is not used; C(0) when omitted. Redis Cluster has only database 0.
    type: int
  username:
    description: ACL user name (Redis 6+). Overrides a user name in O(redis_url).
    type: str
  password:
    description: Password (C(AUTH)). Overrides a password in O(redis_url). Never logged.
    type: str
  tls:
    description:
      - Connect with TLS. Defaults to V(true) for a C(rediss://) URL and V(false) otherwise.
    type: bool
  tls_ca_cert:
    description: CA bundle (PEM) to verify the server certificate with; the system store when omitted.
    type: path
  tls_verify:
    description: Verify the server certificate and host name. Only switch off against a test server.
    type: bool
    default: true
  cluster:
    description:
      - V(auto) asks the server (C(INFO cluster)) and uses Redis Cluster when C(cluster_enabled:1),
        so that every primary is reached.
      - V(enabled) or V(disabled) skip the detection.
    type: str
    choices: [auto, enabled, disabled]
    default: auto
  socket_timeout:
    description: Seconds to wait for a reply before giving up with a clear error.
    type: float
    default: 5.0
  socket_connect_timeout:
    description: Seconds to wait for a TCP (and TLS) connection before giving up with a clear error.
    type: float
    default: 5.0
requirements:
  - redis (Python library, redis-py) >= 5.0
notes:
  - Connection failures, wrong passwords, TLS mismatches and timeouts fail the task with a message that
    names C(host:port) and what to check, never with a traceback.
'''
