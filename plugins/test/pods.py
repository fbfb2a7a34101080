# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests that judge a pod the way the k8s modules and the pod_problems filter do (one implementation)."""

from __future__ import annotations

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pods import is_ready, is_terminating


def pod_ready(pod):
    """The pod's Ready condition is True."""
    return is_ready(pod or {})


def pod_terminating(pod):
    """The pod is being deleted (deletionTimestamp set)."""
    return is_terminating(pod or {})


class TestModule:
    def tests(self):
        return {
            'pod_ready': pod_ready,
            'pod_terminating': pod_terminating,
        }
