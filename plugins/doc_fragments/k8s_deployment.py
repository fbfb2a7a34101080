# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The Deployment a halobuzz.ops.k8s_rollout* module acts on; auth comes from
    kubernetes.core.k8s_auth_options. Matches DEPLOYMENT_OPTIONS in module_utils/k8s/rollout_service.py."""

    DOCUMENTATION = r"""
options:
  name:
    description: Name of the Deployment.
    type: str
    required: true
    aliases: [deployment]
  namespace:
    description: Namespace of the Deployment.
    type: str
    required: true
"""
