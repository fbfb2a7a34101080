# -*- coding: utf-8 -*-
"""k8s_rollout_info's revision_diff: what changed between the last two revisions (template_diff, one implementation)."""

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.rollout_service import last_revisions_diff
from k8s_rollout_objects import bad_release, deployment, replicaset


def test_last_two_revisions_images_env_and_change_cause():
    dep, replicasets = bad_release()
    replicasets[1]["metadata"]["annotations"]["kubernetes.io/change-cause"] = "release v1.5.0"
    replicasets[2]["metadata"]["annotations"]["kubernetes.io/change-cause"] = "release v1.5.1"
    replicasets[2]["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "AI_MODERATION", "value": "false"},
        {"name": "MONGODB_URI", "valueFrom": {"secretKeyRef": {"name": "backend", "key": "mongodb-uri"}}}]
    diff = last_revisions_diff(dep, replicasets)
    assert (diff["from_revision"], diff["to_revision"]) == (2, 3)
    assert diff["images"] == {"api": {"before": "registry/backend:v1.5.0", "after": "registry/backend:v1.5.1"}}
    assert diff["env"]["api"]["after"] == {"AI_MODERATION": "false", "MONGODB_URI": "secret backend/mongodb-uri"}
    assert diff["change_cause"] == {"before": "release v1.5.0", "after": "release v1.5.1"}
    assert any("AI_MODERATION" in line for line in diff["lines"])


def test_one_revision_has_no_diff():
    assert last_revisions_diff(deployment(1, "registry/backend:v1.4.0"),
                               [replicaset(1, "registry/backend:v1.4.0", replicas=3)]) is None
