# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout history, revision selection, undo and restart patches, rollout status.

Pure functions over Deployment / ReplicaSet / Pod dictionaries as the Kubernetes API
returns them; no client, no I/O. They follow kubectl's own rules:

* history (``kubectl rollout history``): the ReplicaSets whose *controller*
  ownerReference has the Deployment's uid; the revision is the
  ``deployment.kubernetes.io/revision`` annotation (ReplicaSets without a parsable one
  are skipped, as kubectl does); the live ReplicaSet is the oldest one whose pod
  template equals the Deployment's, ignoring the ``pod-template-hash`` label
  (kubectl ``deploymentutil.FindNewReplicaSet``).
* undo (``kubectl rollout undo [--to-revision]``, polymorphichelpers/rollback.go):
  target = the named revision, or the second-highest revision; a paused Deployment is
  refused; a target whose template is already live is skipped; the patch is a JSON
  patch replacing ``/spec/template`` (hash label removed) and ``/metadata/annotations``
  (the Deployment keeps its own values of the annotations kubectl skips, every other
  annotation comes from the ReplicaSet).
* status (``kubectl rollout status``, polymorphichelpers/rollout_status.go).
* restart (``kubectl rollout restart``): the ``kubectl.kubernetes.io/restartedAt``
  template annotation.

One addition of this collection: the undo patch records the rollback in three
Deployment annotations (``halobuzz.com/rolled-back-from-revision``,
``halobuzz.com/rolled-back-to-revision``, ``halobuzz.com/rolled-back-to-replicaset``).
While that rollback is still live (the live ReplicaSet is the recorded one), a plain
"previous" undo refuses to pick the revision rolled back from (kubectl would flip back
to the bad release), and ``to_revision`` naming the revision already restored (whose
number kubectl has since renumbered) is recognised as done; see ``select_target``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.labels import selector_string
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pods import controller_of, is_ready, is_terminating
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.template_diff import (
    CHANGE_CAUSE_ANNOTATION,
    diff_lines,
    template_diff,
)

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = "pod-template-hash"
ROLLED_BACK_FROM_ANNOTATION = "halobuzz.com/rolled-back-from-revision"
ROLLED_BACK_TO_ANNOTATION = "halobuzz.com/rolled-back-to-revision"
ROLLED_BACK_RS_ANNOTATION = "halobuzz.com/rolled-back-to-replicaset"
# The controller copies Deployment annotations onto ReplicaSets; an undo must not bring
# a stale record back from a ReplicaSet, so these are never copied from one.
OWN_ANNOTATIONS = frozenset([
    ROLLED_BACK_FROM_ANNOTATION, ROLLED_BACK_TO_ANNOTATION, ROLLED_BACK_RS_ANNOTATION,
])

# kubectl rollback.go annotationsToSkip: kept from the Deployment, never copied from the RS.
ANNOTATIONS_TO_SKIP = frozenset([
    LAST_APPLIED_ANNOTATION,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    DEPRECATED_ROLLBACK_TO,
])


class RolloutError(HaloBuzzError):
    """A rollout step cannot be done; the message says what, to what, and what next."""


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def _annotations(obj):
    return _meta(obj).get("annotations") or {}


def parse_revision(value):
    """Return the revision number in an annotation value, or None when absent/invalid."""
    if value is None:
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def revision_of(obj):
    return parse_revision(_annotations(obj).get(REVISION_ANNOTATION))


def _prune(value):
    """Drop None, empty dicts and empty lists recursively.

    kubectl compares templates with apimachinery's semantic DeepEqual, for which an
    empty map or slice equals a nil one; JSON from the API may carry either.
    """
    if isinstance(value, dict):
        pruned = {}
        for key, item in value.items():
            item = _prune(item)
            if item is None or item == {} or item == []:
                continue
            pruned[key] = item
        return pruned
    if isinstance(value, list):
        return [_prune(item) for item in value]
    return value


def template_without_hash(template):
    """A deep copy of a pod template without the pod-template-hash label."""
    result = copy.deepcopy(template or {})
    labels = (result.get("metadata") or {}).get("labels")
    if labels and HASH_LABEL in labels:
        del labels[HASH_LABEL]
    return result


def templates_equal(template1, template2):
    """kubectl equalIgnoreHash: equal pod templates, ignoring the pod-template-hash label."""
    return _prune(template_without_hash(template1)) == _prune(template_without_hash(template2))


def images_of(template):
    """{container name: image} of a pod template (init containers prefixed ``init:``)."""
    spec = (template or {}).get("spec") or {}
    images = {}
    for container in spec.get("initContainers") or []:
        images["init:%s" % container.get("name")] = container.get("image")
    for container in spec.get("containers") or []:
        images[container.get("name")] = container.get("image")
    return images


def is_controlled_by(obj, owner):
    """True when obj's controller ownerReference points at owner's uid."""
    uid = _meta(owner).get("uid")
    return bool(uid) and (controller_of(obj) or {}).get("uid") == uid


def _created_key(replicaset):
    # RFC 3339 UTC timestamps sort lexically; ties broken by name as kubectl does.
    meta = _meta(replicaset)
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")


def owned_replicasets(deployment, replicasets):
    """The ReplicaSets the Deployment controls (kubectl deploymentutil.ListReplicaSets)."""
    return [rs for rs in replicasets if is_controlled_by(rs, deployment)]


def live_replicaset(deployment, replicasets):
    """The oldest owned ReplicaSet whose template equals the Deployment's, or None."""
    template = (deployment.get("spec") or {}).get("template")
    for rs in sorted(owned_replicasets(deployment, replicasets), key=_created_key):
        if templates_equal((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def history(deployment, replicasets):
    """Rollout history, oldest revision first.

    Each entry: revision, replicaset, images, change_cause, created, live, replicas,
    ready_replicas.
    """
    live = live_replicaset(deployment, replicasets)
    live_name = _meta(live).get("name") if live else None
    entries = []
    for rs in owned_replicasets(deployment, replicasets):
        revision = revision_of(rs)
        if revision is None:
            continue
        meta = _meta(rs)
        status = rs.get("status") or {}
        entries.append({
            "revision": revision,
            "replicaset": meta.get("name"),
            "images": images_of((rs.get("spec") or {}).get("template")),
            "change_cause": _annotations(rs).get(CHANGE_CAUSE_ANNOTATION),
            "created": meta.get("creationTimestamp"),
            "live": meta.get("name") == live_name,
            "replicas": status.get("replicas", 0),
            "ready_replicas": status.get("readyReplicas", 0),
        })
    entries.sort(key=lambda entry: entry["revision"])
    return entries


def _describe(deployment):
    meta = _meta(deployment)
    return "Deployment %s/%s" % (meta.get("namespace"), meta.get("name"))


def _not_found_message(deployment, to_revision, entries):
    limit = (deployment.get("spec") or {}).get("revisionHistoryLimit", 10)
    available = ", ".join(str(entry["revision"]) for entry in entries) or "none"
    return (
        "revision %d is not in the rollout history of %s; available revisions: %s. "
        "A rollback renumbers the revision it restores as the newest one, and "
        "spec.revisionHistoryLimit (%s) garbage-collects older ReplicaSets. "
        "Run halobuzz.ops.k8s_rollout_info (or kubectl rollout history) and pick one of "
        "the available revisions." % (to_revision, _describe(deployment), available, limit)
    )


def rollback_record(deployment, replicasets):
    """This collection's record of the rollback that is live, or None.

    {"from": int, "to": int, "replicaset": name} from the Deployment annotations, only
    while the live ReplicaSet is still the one that rollback restored.
    """
    annotations = _annotations(deployment)
    recorded_rs = annotations.get(ROLLED_BACK_RS_ANNOTATION)
    live = live_replicaset(deployment, replicasets)
    if not recorded_rs or live is None or _meta(live).get("name") != recorded_rs:
        return None
    return {
        "from": parse_revision(annotations.get(ROLLED_BACK_FROM_ANNOTATION)),
        "to": parse_revision(annotations.get(ROLLED_BACK_TO_ANNOTATION)),
        "replicaset": recorded_rs,
    }


def select_target(deployment, replicasets, to_revision=None):
    """Choose the ReplicaSet to roll back to; returns (replicaset, reason).

    ``reason`` is None when the returned ReplicaSet should be rolled back to, or a
    sentence saying why nothing will be done (the ReplicaSet returned is then the live
    one).

    to_revision (int >= 1): that revision, else RolloutError listing the revisions --
    unless the live rollback recorded by this collection restored exactly that revision
    (kubectl renumbered it as the newest one, so its old number is gone): done.
    to_revision None/0: kubectl's "previous" = the second-highest revision -- unless the
    live rollback recorded by this collection came from exactly that revision: undoing
    "to previous" again would re-deploy the release that was rolled back (kubectl flips
    back and forth; this does not).
    """
    name, namespace = _meta(deployment).get("name"), _meta(deployment).get("namespace")
    if to_revision is not None and to_revision < 0:
        raise RolloutError(
            "to_revision must be a revision number (>= 1), or 0/omitted for the previous "
            "revision; got %d for %s" % (to_revision, _describe(deployment)))
    if (deployment.get("spec") or {}).get("paused"):
        raise RolloutError(
            "%s is paused and cannot be rolled back; resume it first with "
            "'kubectl rollout resume deployment/%s -n %s' and try again"
            % (_describe(deployment), name, namespace))
    by_revision = {}
    for rs in owned_replicasets(deployment, replicasets):
        revision = revision_of(rs)
        if revision is not None:
            by_revision[revision] = rs
    record = rollback_record(deployment, replicasets)
    live = live_replicaset(deployment, replicasets)

    if to_revision:
        if to_revision not in by_revision:
            if record and record["to"] == to_revision:
                return live, (
                    "revision %d is already live: this collection restored it as revision "
                    "%s (ReplicaSet %s)" % (to_revision, revision_of(live), record["replicaset"]))
            raise RolloutError(_not_found_message(deployment, to_revision, history(deployment, replicasets)))
        target = by_revision[to_revision]
    else:
        revisions = sorted(by_revision)
        if len(revisions) < 2:
            raise RolloutError(
                "no previous revision to roll back to: %s has %s in its rollout history"
                % (_describe(deployment),
                   "revision %d only" % revisions[0] if revisions else "no revision"))
        previous = revisions[-2]
        if record and record["from"] == previous:
            return live, (
                "not rolling back to revision %d: the live revision %s is this "
                "collection's rollback away from revision %d (annotation %s), and a plain "
                "undo would re-deploy the release that was rolled back. Give to_revision "
                "to choose a revision explicitly."
                % (previous, revision_of(deployment), previous, ROLLED_BACK_FROM_ANNOTATION))
        target = by_revision[previous]

    if templates_equal((target.get("spec") or {}).get("template"),
                       (deployment.get("spec") or {}).get("template")):
        return target, (
            "current template already matches revision %d" % revision_of(target))
    return target, None


def undo_annotations(deployment, replicaset):
    """The Deployment annotations after an undo (kubectl rollback.go), plus this
    collection's record of the rollback."""
    deployment_annotations = _annotations(deployment)
    annotations = {}
    for key in ANNOTATIONS_TO_SKIP:
        if key in deployment_annotations:
            annotations[key] = deployment_annotations[key]
    for key, value in _annotations(replicaset).items():
        if key not in ANNOTATIONS_TO_SKIP and key not in OWN_ANNOTATIONS:
            annotations[key] = value
    current = revision_of(deployment)
    if current is not None:
        annotations[ROLLED_BACK_FROM_ANNOTATION] = str(current)
    annotations[ROLLED_BACK_TO_ANNOTATION] = str(revision_of(replicaset))
    annotations[ROLLED_BACK_RS_ANNOTATION] = _meta(replicaset).get("name")
    return annotations


def undo_patch(deployment, replicaset):
    """JSON patch (RFC 6902) restoring the ReplicaSet's template, as kubectl sends it, plus a
    resourceVersion precondition.

    The patch replaces ``/metadata/resourceVersion`` with the version this undo read: the API server
    uses a resourceVersion in the patched object as a precondition of the update (apiserver
    ``pkg/registry/generic/registry/store.go`` ``Update``: a version other than the stored one is a
    409 Conflict, and ``endpoints/handlers/patch.go`` does not retry a patch that names one), so a deploy
    that changed the Deployment after the read makes this undo fail instead of silently overwriting it.
    kubectl's rollback.go sends no precondition; this is deliberate.
    """
    ops = []
    version = _meta(deployment).get("resourceVersion")
    if version:
        ops.append({"op": "replace", "path": "/metadata/resourceVersion", "value": version})
    return ops + [
        {"op": "replace", "path": "/spec/template",
         "value": template_without_hash((replicaset.get("spec") or {}).get("template"))},
        {"op": "replace", "path": "/metadata/annotations",
         "value": undo_annotations(deployment, replicaset)},
    ]


def restart_patch(deployment, now):
    """Strategic merge patch for ``kubectl rollout restart`` at ``now`` (RFC 3339)."""
    if (deployment.get("spec") or {}).get("paused"):
        raise RolloutError(
            "%s is paused and cannot be restarted; resume it first with "
            "'kubectl rollout resume deployment/%s -n %s'"
            % (_describe(deployment), _meta(deployment).get("name"),
               _meta(deployment).get("namespace")))
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: now}}}}}


def progress_deadline_exceeded(deployment):
    """The Progressing condition's message when it says ProgressDeadlineExceeded, else None."""
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return condition.get("message") or "no message"
    return None


def rollout_status(deployment, deadline_counts=True):
    """kubectl DeploymentStatusViewer.Status (kubectl ``pkg/polymorphichelpers/rollout_status.go``):
    returns (done, message).

    Raises RolloutError when the Progressing condition says ProgressDeadlineExceeded, unless
    ``deadline_counts`` is false: right after a change the controller may write the new observedGeneration
    and keep the old timed-out condition (kubernetes ``pkg/controller/deployment/progress.go``
    ``syncRolloutStatus`` keeps the current condition when it sees neither progress nor completion), so
    the caller says whether such a condition can be trusted yet (see ``RolloutService.wait``).
    """
    meta = _meta(deployment)
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name")
    if (meta.get("generation") or 0) > (status.get("observedGeneration") or 0):
        return False, "waiting for deployment spec update to be observed"
    exceeded = progress_deadline_exceeded(deployment)
    if exceeded is not None:
        if deadline_counts:
            raise RolloutError("deployment %r exceeded its progress deadline: %s" % (name, exceeded))
        return False, ("waiting for deployment %r to make progress (its ProgressDeadlineExceeded condition "
                       "predates this change)" % name)
    desired = spec.get("replicas")
    updated = status.get("updatedReplicas") or 0
    replicas = status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    if desired is not None and updated < desired:
        return False, ("waiting for deployment %r rollout to finish: %d out of %d new "
                       "replicas have been updated" % (name, updated, desired))
    if replicas > updated:
        return False, ("waiting for deployment %r rollout to finish: %d old replicas are "
                       "pending termination" % (name, replicas - updated))
    if available < updated:
        return False, ("waiting for deployment %r rollout to finish: %d of %d updated "
                       "replicas are available" % (name, available, updated))
    return True, "deployment %r successfully rolled out" % name


FINISHED_PHASES = frozenset(["Succeeded", "Failed"])


def new_replicaset_pods(deployment, replicasets, pods):
    """The pods that serve the Deployment's current template: controlled by its live (new) ReplicaSet,
    not being deleted, not finished (a Failed/Evicted pod keeps no deletionTimestamp until pod GC)."""
    live = live_replicaset(deployment, replicasets)
    if live is None:
        return []
    return [pod for pod in pods if is_controlled_by(pod, live) and not is_terminating(pod)
            and (pod.get("status") or {}).get("phase") not in FINISHED_PHASES]


def pods_ready_problem(deployment, replicasets, pods):
    """None when the live ReplicaSet of this Deployment has spec.replicas pods, every one Ready; else
    a sentence. Pods of other Deployments that the selector also matches do not count (their
    controller is another ReplicaSet), nor do finished or terminating pods."""
    desired = (deployment.get("spec") or {}).get("replicas", 1)
    serving = new_replicaset_pods(deployment, replicasets, pods)
    ready = [pod for pod in serving if is_ready(pod)]
    if len(serving) == desired and len(ready) == desired:
        return None
    live = live_replicaset(deployment, replicasets)
    return ("%d of %d pods of ReplicaSet %s Ready (%d running)"
            % (len(ready), desired, _meta(live).get("name") if live else "(none yet)", len(serving)))


def replica_counts(deployment):
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    return {
        "desired": spec.get("replicas", 1),
        "updated": status.get("updatedReplicas") or 0,
        "ready": status.get("readyReplicas") or 0,
        "available": status.get("availableReplicas") or 0,
        "total": status.get("replicas") or 0,
    }


def label_selector(deployment):
    """The Deployment's spec.selector as a label selector string for a list call."""
    return selector_string((deployment.get("spec") or {}).get("selector"))


def summary(deployment):
    """{revision, images} of a Deployment: the before/after of the diff."""
    return {
        "revision": revision_of(deployment),
        "images": images_of((deployment.get("spec") or {}).get("template")),
    }


def revision_diff(deployment, replicaset):
    """What an undo to ``replicaset`` changes in ``deployment`` (``template_diff.template_diff``: images, env,
    resources, change-cause; the change-cause is the ReplicaSet's, which the undo copies onto the Deployment),
    plus ``lines``: one short sentence per difference."""
    diff = template_diff(deployment, {"metadata": {"annotations": _annotations(replicaset)},
                                      "spec": {"template": template_without_hash(
                                          (replicaset.get("spec") or {}).get("template"))}})
    return dict(diff, lines=diff_lines(diff))
