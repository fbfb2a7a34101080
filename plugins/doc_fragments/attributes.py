# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The attributes every halobuzz.ops module declares, written once (as community.hashi_vault's
    doc_fragments/attributes.py). A module extends C(halobuzz.ops.attributes), the action group of its
    system (C(halobuzz.ops.attributes.action_group_<system>), matching meta/runtime.yml) and, when it only
    reads, C(halobuzz.ops.attributes.read_only); it states C(check_mode)/C(diff_mode) support itself otherwise."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
"""

    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Read only; runs the same in check mode.
  diff_mode:
    support: none
"""

    ACTION_GROUP_K8S = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/halobuzz.ops.k8s) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - halobuzz.ops.k8s
"""

    ACTION_GROUP_MONGODB = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/halobuzz.ops.mongodb) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - halobuzz.ops.mongodb
"""

    ACTION_GROUP_REDIS = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/halobuzz.ops.redis) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - halobuzz.ops.redis
"""

    ACTION_GROUP_VAULT = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/halobuzz.ops.vault) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - halobuzz.ops.vault
"""

    ACTION_GROUP_AWS = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/halobuzz.ops.aws) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - halobuzz.ops.aws
"""

    ACTION_GROUP_PROMETHEUS = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/halobuzz.ops.prometheus) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - halobuzz.ops.prometheus
"""
