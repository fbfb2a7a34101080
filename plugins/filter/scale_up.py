# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scale_up_plan filter: k8s/scale_up.py's plan_scale_up for the scale_up role (one implementation)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.scale_up import ScaleUpError, plan_scale_up


def scale_up_plan(deployment, hpas, min_replicas, max_replicas, cpu_percent, replicas, allow_scale_down=False):
    """New HPA spec and Deployment replicas of an emergency scale-up; nothing lowered unless allowed."""
    if not isinstance(allow_scale_down, bool):
        raise AnsibleFilterError('scale_up_plan: allow_scale_down must be true or false, got %r'
                                 % (allow_scale_down,))
    try:
        return plan_scale_up(deployment, hpas, min_replicas, max_replicas, cpu_percent, replicas,
                             allow_scale_down)
    except ScaleUpError as error:
        raise AnsibleFilterError('scale_up_plan: %s' % error)


class FilterModule:
    def filters(self):
        return {
            'scale_up_plan': scale_up_plan,
        }
