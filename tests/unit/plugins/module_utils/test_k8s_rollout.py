# -*- coding: utf-8 -*-
"""Table-driven tests of the rollout logic (kubectl rollout history/undo/status semantics)."""

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s import rollout as ro
from k8s_rollout_objects import UID, bad_release, deployment, replicaset, template

V140, V150, V151 = "registry/backend:v1.4.0", "registry/backend:v1.5.0", "registry/backend:v1.5.1"


def after_rollback(from_revision, to_revision, live_image, replicasets):
    """The world after this collection rolled back: the restored RS renumbered newest."""
    target = next(rs for rs in replicasets if ro.revision_of(rs) == to_revision)
    newest = max(ro.revision_of(rs) for rs in replicasets) + 1
    target["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(newest)
    dep = deployment(newest, live_image, annotations={
        ro.ROLLED_BACK_FROM_ANNOTATION: str(from_revision),
        ro.ROLLED_BACK_TO_ANNOTATION: str(to_revision),
        ro.ROLLED_BACK_RS_ANNOTATION: target["metadata"]["name"],
    })
    return dep, replicasets


@pytest.mark.parametrize("value, expected", [
    ("3", 3), (" 12 ", 12), ("0", 0), (None, None), ("", None), ("x", None), ("-1", None), (7, 7),
])
def test_parse_revision(value, expected):
    assert ro.parse_revision(value) == expected


@pytest.mark.parametrize("left, right, equal", [
    (template(V150), template(V150, hash_label="abc"), True),
    (template(V150, hash_label="abc"), template(V150, hash_label="def"), True),
    (template(V150), template(V151), False),
    (template(V150), template(V150, extra_labels={"tier": "api"}), False),
    (template(V150, annotations={}), template(V150), True),
    (template(V150, annotations={"kubectl.kubernetes.io/restartedAt": "t"}), template(V150), False),
])
def test_templates_equal_ignores_hash_and_empty_maps(left, right, equal):
    assert ro.templates_equal(left, right) is equal


def test_template_without_hash_does_not_touch_input():
    original = template(V150, hash_label="abc")
    stripped = ro.template_without_hash(original)
    assert "pod-template-hash" not in stripped["metadata"]["labels"]
    assert original["metadata"]["labels"]["pod-template-hash"] == "abc"


def test_images_of_lists_every_container():
    tpl = template(V150)
    tpl["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1.30"})
    tpl["spec"]["initContainers"] = [{"name": "migrate", "image": "registry/migrate:v3"}]
    assert ro.images_of(tpl) == {"init:migrate": "registry/migrate:v3", "api": V150, "sidecar": "envoy:1.30"}


@pytest.mark.parametrize("rs, owned", [
    (replicaset(1, V140), True),
    (replicaset(1, V140, owner_uid="another-uid"), False),
    (replicaset(1, V140, controller=False), False),
])
def test_owned_replicasets_match_controller_uid(rs, owned):
    dep = bad_release()[0]
    assert (ro.owned_replicasets(dep, [rs]) == [rs]) is owned


def test_history_is_sorted_and_marks_live():
    dep, rss = bad_release()
    rss.reverse()
    rss.append(replicaset(None, "registry/backend:v0.9", name="backend-norev"))
    rss.append(replicaset(4, "registry/other:v1", name="other-1", owner_uid="x"))
    rss[0]["metadata"]["annotations"][ro.CHANGE_CAUSE_ANNOTATION] = "deploy v1.5.1"
    entries = ro.history(dep, rss)
    assert [(e["revision"], e["images"]["api"], e["live"]) for e in entries] == [
        (1, V140, False), (2, V150, False), (3, V151, True)]
    assert entries[2]["change_cause"] == "deploy v1.5.1"
    assert entries[2]["replicaset"] == "backend-v151"
    assert entries[2]["created"] == "2026-11-03T10:00:00Z"


def test_live_replicaset_is_oldest_matching_template():
    dep, rss = bad_release()
    twin = replicaset(5, V151, name="backend-twin", created="2026-11-05T10:00:00Z")
    assert ro.live_replicaset(dep, rss + [twin])["metadata"]["name"] == "backend-v151"
    assert ro.live_replicaset(deployment(9, "registry/backend:v2"), rss) is None


# (description, world builder, to_revision, expected target revision or None, reason fragment)
SELECT_CASES = [
    ("previous of bad-release", bad_release, None, 2, None),
    ("to_revision 0 means previous", bad_release, 0, 2, None),
    ("explicit revision", bad_release, 1, 1, None),
    ("explicit live revision is a no-op", bad_release, 3, 3, "already matches revision 3"),
    ("second plain undo does not flip back",
     lambda: after_rollback(3, 2, V150, bad_release()[1]), None, 4, "would re-deploy the release"),
    ("renumbered restored revision is recognised",
     lambda: after_rollback(3, 1, V140, bad_release()[1]), 1, 4, "already live"),
    ("explicit revision after a rollback still works",
     lambda: after_rollback(3, 2, V150, bad_release()[1]), 3, 3, None),
    ("stale record (new release since) is ignored",
     lambda: (deployment(5, V151, annotations={ro.ROLLED_BACK_FROM_ANNOTATION: "3",
                                               ro.ROLLED_BACK_TO_ANNOTATION: "2",
                                               ro.ROLLED_BACK_RS_ANNOTATION: "backend-v150"}),
              [replicaset(1, V140), replicaset(4, V150), replicaset(5, V151)]),
     None, 4, None),
]


@pytest.mark.parametrize("world, to_revision, expected, reason",
                         [case[1:] for case in SELECT_CASES], ids=[case[0] for case in SELECT_CASES])
def test_select_target(world, to_revision, expected, reason):
    dep, rss = world()
    target, why = ro.select_target(dep, rss, to_revision)
    assert ro.revision_of(target) == expected
    if reason is None:
        assert why is None
    else:
        assert reason in why


@pytest.mark.parametrize("world, to_revision, fragments", [
    (bad_release, 99, ["revision 99 is not in the rollout history", "available revisions: 1, 2, 3",
                       "revisionHistoryLimit (10)"]),
    (lambda: after_rollback(3, 2, V150, bad_release()[1]), 5,
     ["revision 5 is not", "available revisions: 1, 3, 4"]),
    (bad_release, -1, ["to_revision must be a revision number"]),
    (lambda: (deployment(1, V140), [replicaset(1, V140)]), None, ["no previous revision", "revision 1 only"]),
    (lambda: (deployment(1, V140), []), None, ["no revision in its rollout history"]),
    (lambda: (deployment(3, V151, paused=True), bad_release()[1]), None, ["is paused", "rollout resume"]),
])
def test_select_target_errors(world, to_revision, fragments):
    dep, rss = world()
    with pytest.raises(ro.RolloutError) as caught:
        ro.select_target(dep, rss, to_revision)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_undo_patch_follows_kubectl():
    dep, rss = bad_release()
    dep["metadata"]["annotations"].update({
        ro.LAST_APPLIED_ANNOTATION: "{...}", ro.CHANGE_CAUSE_ANNOTATION: "deploy v1.5.1",
        ro.ROLLED_BACK_TO_ANNOTATION: "7"})
    target = rss[1]
    target["metadata"]["annotations"].update({
        ro.CHANGE_CAUSE_ANNOTATION: "deploy v1.5.0", ro.DESIRED_REPLICAS_ANNOTATION: "3",
        ro.ROLLED_BACK_FROM_ANNOTATION: "stale", "team": "core"})
    patch = ro.undo_patch(dep, target)
    assert [op["path"] for op in patch] == ["/spec/template", "/metadata/annotations"]
    assert all(op["op"] == "replace" for op in patch)
    assert "pod-template-hash" not in patch[0]["value"]["metadata"]["labels"]
    assert patch[0]["value"]["spec"]["containers"][0]["image"] == V150
    assert patch[1]["value"] == {
        # kept from the Deployment (kubectl annotationsToSkip)
        ro.REVISION_ANNOTATION: "3", ro.LAST_APPLIED_ANNOTATION: "{...}",
        # copied from the ReplicaSet
        ro.CHANGE_CAUSE_ANNOTATION: "deploy v1.5.0", "team": "core",
        # this collection's record, never copied from the ReplicaSet
        ro.ROLLED_BACK_FROM_ANNOTATION: "3", ro.ROLLED_BACK_TO_ANNOTATION: "2",
        ro.ROLLED_BACK_RS_ANNOTATION: "backend-v150",
    }
    assert "pod-template-hash" in target["spec"]["template"]["metadata"]["labels"]


def test_restart_patch():
    dep = bad_release()[0]
    assert ro.restart_patch(dep, "2026-11-26T22:00:00Z") == {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-26T22:00:00Z"}}}}}
    with pytest.raises(ro.RolloutError, match="paused"):
        ro.restart_patch(deployment(3, V151, paused=True), "t")


def _status(**values):
    base = {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
            "availableReplicas": 3}
    base.update(values)
    return base


@pytest.mark.parametrize("status, done, fragment", [
    (_status(), True, "successfully rolled out"),
    (_status(observedGeneration=3), False, "spec update to be observed"),
    (_status(updatedReplicas=1, replicas=4), False, "1 out of 3 new replicas"),
    (_status(replicas=5), False, "2 old replicas are pending termination"),
    (_status(availableReplicas=2), False, "2 of 3 updated replicas are available"),
])
def test_rollout_status(status, done, fragment):
    result, message = ro.rollout_status(deployment(3, V151, status=status))
    assert result is done
    assert fragment in message


def test_rollout_status_progress_deadline_fails():
    status = _status(availableReplicas=0, conditions=[{
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "backend-v151" has timed out progressing.'}])
    with pytest.raises(ro.RolloutError, match="exceeded its progress deadline"):
        ro.rollout_status(deployment(3, V151, status=status))


@pytest.mark.parametrize("selector, expected", [
    ({"matchLabels": {"app": "backend", "tier": "api"}}, "app=backend,tier=api"),
    ({"matchLabels": {"app": "backend"}, "matchExpressions": [
        {"key": "env", "operator": "In", "values": ["prod", "stage"]},
        {"key": "canary", "operator": "DoesNotExist"},
        {"key": "zone", "operator": "NotIn", "values": ["a"]},
        {"key": "owner", "operator": "Exists"}]},
     "app=backend,env in (prod,stage),!canary,zone notin (a),owner"),
])
def test_label_selector(selector, expected):
    dep = deployment(1, V140)
    dep["spec"]["selector"] = selector
    assert ro.label_selector(dep) == expected


def test_rollback_record_only_while_live():
    dep, rss = after_rollback(3, 2, V150, bad_release()[1])
    assert ro.rollback_record(dep, rss) == {"from": 3, "to": 2, "replicaset": "backend-v150"}
    dep["spec"]["template"] = template("registry/backend:v1.6.0")
    assert ro.rollback_record(dep, rss) is None
    assert UID in dep["metadata"]["uid"]
