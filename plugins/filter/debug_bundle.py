# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network_check_script filter: plugin_utils/debug_bundle.py's script of the debug bundle's network check pod."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.halobuzz.ops.plugins.plugin_utils.debug_bundle import network_check_script as _script


def network_check_script(services, k8s_namespace, uris=None, connect_timeout=3):
    """The fixed command set: DNS lookups of the Services, TCP connects to the URIs' hosts:ports."""
    if not isinstance(services, list):
        raise AnsibleFilterError('network_check_script: expected a list of Service names, got %s'
                                 % type(services).__name__)
    if not isinstance(connect_timeout, int) or not 1 <= connect_timeout <= 60:
        raise AnsibleFilterError('network_check_script: connect_timeout must be 1 to 60 seconds')
    return _script(services, k8s_namespace, [u for u in uris or [] if isinstance(u, str)], connect_timeout)


class FilterModule:
    def filters(self):
        return {
            'network_check_script': network_check_script,
        }
