# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every halobuzz.ops Prometheus module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The argument spec of these options: PROMETHEUS_CONNECTION in plugins/module_utils/prometheus/client.py.

    DOCUMENTATION = r'''
options:
  prometheus_url:
    description:
      - Base URL of Prometheus' HTTP API, C(http(s)://host[:port][/prefix]) (the API is under C(/api/v1/)).
      - The playbooks pass the inventory variable C(prometheus_url) here; when omitted, the C(PROMETHEUS_URL)
        environment variable is used.
      - A URL carrying credentials (C(user:password@)) is refused; messages show only its scheme, host and port.
    type: str
    required: true
  validate_certs:
    description: Verify the server certificate of an C(https://) URL. Only switch off against a test server.
    type: bool
    default: true
  ca_cert:
    description: CA bundle (PEM) to verify the server certificate with; the system store when omitted.
    type: path
  timeout:
    description: Seconds to wait for each answer of Prometheus before failing with a clear error.
    type: int
    default: 30
notes:
  - Unreachable servers, HTTP errors and invalid queries fail the task with a message that names the query,
    the server (scheme, host, port) and what to check, never with a traceback.
'''
