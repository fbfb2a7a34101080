# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The undo/restart/wait flows and the entry points of halobuzz.ops.k8s_rollout and k8s_rollout_info.

Calls go through ``client.KubeClient`` (kubernetes.core's client, fixed API paths); every API failure
becomes a RolloutError naming the call that failed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import (
    JSON_PATCH,
    STRATEGIC_MERGE_PATCH,
    KubeApiError,
    connect,
)
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.names import api_path, check_name, check_namespace
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pods import describe_problem, pod_problems
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.template_diff import diff_lines, template_diff
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.rollout import (
    RESTARTED_AT_ANNOTATION,
    RolloutError,
    history,
    images_of,
    label_selector,
    live_replicaset,
    new_replicaset_pods,
    owned_replicasets,
    pods_ready_problem,
    replica_counts,
    restart_patch,
    revision_diff,
    revision_of,
    rollback_record,
    rollout_status,
    select_target,
    summary,
    template_without_hash,
    undo_patch,
)

# The Deployment a module acts on (doc fragment halobuzz.ops.k8s_deployment).
DEPLOYMENT_OPTIONS = dict(
    name=dict(type="str", required=True, aliases=["deployment"]),
    namespace=dict(type="str", required=True),
)


def rollout(params, check_mode):
    """k8s_rollout: undo to a revision or restart, then (optionally) wait; the result dict."""
    if params["action"] == "restart" and params["to_revision"] is not None:
        raise RolloutError("to_revision applies to action=undo only; drop it for action=restart")
    _check_target(params)
    service = RolloutService(connect(params), params["namespace"], params["name"])
    common = dict(check_mode=check_mode, wait=params["wait"],
                  timeout=params["wait_timeout"], interval=params["wait_sleep"])
    if params["action"] == "restart":
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return service.restart(now, **common)
    return service.undo(params["to_revision"], **common)


def rollout_info(params):
    """k8s_rollout_info: the Deployment's rollout state and history (and its pods when asked); changes nothing."""
    _check_target(params)
    service = RolloutService(connect(params), params["namespace"], params["name"])
    return dict(service.info(include_pods=params.get("pods", False)), changed=False)


def _check_target(params):
    # Before any call (issue 13 bug 8): a name with '/' or '..' must never reach another object's path.
    check_namespace(params["namespace"], "namespace (k8s_namespace)")
    check_name(params["name"], "Deployment", "name (deployment)")


class RolloutService:
    """Reads and patches one Deployment through a ``client.KubeClient``."""

    def __init__(self, client, namespace, name, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.sleep = sleep
        self.clock = clock

    # -- raw calls -------------------------------------------------------------------
    def _request(self, what, method, path, missing_ok=False, **params):
        try:
            return self.client.request(method, path, **params)
        except KubeApiError as error:
            if missing_ok and error.status == 404:
                raise _NotFound(what)
            raise RolloutError("Kubernetes API call failed while %s (%s %s): %s"
                               % (what, method.upper(), path, error))

    @property
    def _deployment_path(self):
        return api_path("/apis/apps/v1/namespaces/%s/deployments/%s", self.namespace, self.name)

    def get_deployment(self):
        what = "reading Deployment %s/%s" % (self.namespace, self.name)
        try:
            return self._request(what, "get", self._deployment_path, missing_ok=True)
        except _NotFound:
            pass
        try:
            self._request("reading Namespace %s" % self.namespace, "get",
                          api_path("/api/v1/namespaces/%s", self.namespace), missing_ok=True)
        except _NotFound:
            raise RolloutError(
                "namespace %r does not exist, so Deployment %r cannot be found; check the "
                "k8s_namespace variable (namespace option) and the kubeconfig context"
                % (self.namespace, self.name))
        listing = self._request("listing Deployments in namespace %s" % self.namespace, "get",
                                api_path("/apis/apps/v1/namespaces/%s/deployments", self.namespace))
        names = sorted(item["metadata"]["name"] for item in listing.get("items") or [])
        raise RolloutError(
            "Deployment %r not found in namespace %r; Deployments there: %s. Check the "
            "deployment/name option." % (self.name, self.namespace, ", ".join(names) or "none"))

    def _list_selected(self, kind, template, deployment):
        listing = self._request(
            "listing the %s of Deployment %s/%s" % (kind, self.namespace, self.name), "get",
            api_path(template, self.namespace), label_selector=label_selector(deployment))
        return listing.get("items") or []

    def list_replicasets(self, deployment):
        return self._list_selected("ReplicaSets", "/apis/apps/v1/namespaces/%s/replicasets", deployment)

    def list_pods(self, deployment):
        return self._list_selected("pods", "/api/v1/namespaces/%s/pods", deployment)

    def patch(self, what, body, content_type):
        return self._request(what, "patch", self._deployment_path, body=body, content_type=content_type)

    # -- flows -----------------------------------------------------------------------
    def _deadline_counts(self, deployment, changed):
        """Whether a ProgressDeadlineExceeded condition is about the change this run made.

        ``changed`` is (generation the patch produced, clock at the patch) or None (no change: the
        condition is current). After a change the condition counts only once the controller has observed
        that generation and progressDeadlineSeconds have passed since the change: before that it may be
        the old release's (progress.go keeps a condition when it sees neither progress nor completion).
        """
        if changed is None:
            return True
        generation, started = changed
        observed = ((deployment.get("status") or {}).get("observedGeneration") or 0)
        limit = (deployment.get("spec") or {}).get("progressDeadlineSeconds", 600)
        return observed >= generation and self.clock() - started >= limit

    def wait(self, timeout, interval, changed=None):
        """Poll until kubectl's rollout status says done and every pod of the Deployment's new ReplicaSet
        is Ready; RolloutError on a (current) progress deadline or on timeout."""
        deadline = self.clock() + timeout
        while True:
            deployment = self.get_deployment()
            done, message = rollout_status(deployment, self._deadline_counts(deployment, changed))
            replicasets = pods = None
            if done:
                replicasets = self.list_replicasets(deployment)
                pods = self.list_pods(deployment)
                problem = pods_ready_problem(deployment, replicasets, pods)
                if problem is None:
                    return deployment, message
                message = "waiting for every pod of the new ReplicaSet to be Ready: " + problem
            if self.clock() >= deadline:
                counts = replica_counts(deployment)
                if pods is None:
                    replicasets = self.list_replicasets(deployment)
                    pods = self.list_pods(deployment)
                serving = new_replicaset_pods(deployment, replicasets, pods)
                problems = [describe_problem(p) for p in
                            pod_problems(serving or pods, include_terminating=False)]
                raise RolloutError(
                    "timed out after %ss waiting for Deployment %s/%s to roll out: %s; "
                    "%d/%d replicas ready, %d updated, %d available. %s"
                    % (timeout, self.namespace, self.name, message, counts["ready"],
                       counts["desired"], counts["updated"], counts["available"],
                       "Pods not ready: " + " | ".join(problems) if problems
                       else "No failing pod reported a reason."))
            self.sleep(interval)

    def look(self, deployment, replicasets):
        """The rollout state now (no waiting): replica counts, complete, message."""
        try:
            done, message = rollout_status(deployment)
        except RolloutError as error:
            done, message = False, str(error)
        if done:
            problem = pods_ready_problem(deployment, replicasets, self.list_pods(deployment))
            if problem:
                done, message = False, problem
        return dict(replica_counts(deployment), complete=done, message=message)

    def info(self, include_pods=False):
        """The rollout state; with include_pods also the pods the Deployment's selector matches, as the API
        lists them (one module run where a role would otherwise add a k8s_info task, ~2 s each)."""
        deployment = self.get_deployment()
        replicasets = self.list_replicasets(deployment)
        live = live_replicaset(deployment, replicasets)
        try:
            done, message = rollout_status(deployment)
        except RolloutError as error:
            done, message = False, str(error)
        spec = deployment.get("spec") or {}
        result = {
            "deployment": dict(
                name=self.name, namespace=self.namespace,
                revision=revision_of(deployment),
                images=images_of(spec.get("template")),
                paused=bool(spec.get("paused")),
                revision_history_limit=spec.get("revisionHistoryLimit", 10),
                label_selector=label_selector(deployment),
                replicas=replica_counts(deployment),
                rollout_complete=done, rollout_message=message,
            ),
            "history": history(deployment, replicasets),
            "live_revision": revision_of(live) if live else None,
            "rollback_record": rollback_record(deployment, replicasets),
            "revision_diff": last_revisions_diff(deployment, replicasets),
        }
        if include_pods:
            result["pods"] = self.list_pods(deployment)
        return result

    def undo(self, to_revision=None, check_mode=False, wait=True, timeout=300, interval=1):
        deployment = self.get_deployment()
        replicasets = self.list_replicasets(deployment)
        target, reason = select_target(deployment, replicasets, to_revision)
        before = summary(deployment)
        entries = history(deployment, replicasets)
        result = dict(action="undo", before=before, to_revision=to_revision,
                      restored_revision=revision_of(target) if target else None,
                      replicaset=target["metadata"]["name"] if target else None,
                      history=entries, label_selector=label_selector(deployment),
                      replicas=replica_counts(deployment))
        if reason:
            result.update(changed=False, after=before, msg=reason)
            if wait and not check_mode:
                # Nothing changed, so nothing to wait for (as kubectl rollout undo): one look at what is live.
                result["rollout"] = self.look(deployment, replicasets)
            return result
        patch = undo_patch(deployment, target)
        template = [op["value"] for op in patch if op["path"] == "/spec/template"][0]
        after = {"revision": max(entry["revision"] for entry in entries) + 1, "images": images_of(template)}
        # What the undo changes besides images (issue 19): env (Secrets by name only), resources, change-cause.
        changes = revision_diff(deployment, target)
        result.update(changed=True, patch=patch, template_diff=changes,
                      before=_with_changes(before, changes, "before"), after=_with_changes(after, changes, "after"))
        what = ("%s/%s from revision %s to revision %s (%s)"
                % (self.namespace, self.name, before["revision"], result["restored_revision"], result["replicaset"]))
        detail = "; ".join(changes["lines"])
        if check_mode:
            result["msg"] = "would roll back %s%s" % (what, ": " + detail if detail else "")
            return result
        started = self.clock()
        try:
            patched = self.client.request("patch", self._deployment_path, body=patch, content_type=JSON_PATCH)
        except KubeApiError as error:
            if error.status == 409:
                raise RolloutError(
                    "Deployment %s/%s changed underneath this rollback (it was read at resourceVersion %s "
                    "and someone changed it before the undo was sent, e.g. a concurrent deploy); nothing was "
                    "changed by this run. Look at what changed (kubectl rollout history deployment/%s -n %s), "
                    "then rerun the rollback." % (self.namespace, self.name,
                                                  deployment["metadata"].get("resourceVersion"),
                                                  self.name, self.namespace))
            raise RolloutError("Kubernetes API call failed while restoring revision %s into Deployment %s/%s "
                               "(PATCH %s): %s" % (result["restored_revision"], self.namespace, self.name,
                                                   self._deployment_path, error))
        result["msg"] = "rolled back %s%s" % (what, ": " + detail if detail else "")
        return self._finish(result, wait, timeout, interval, (_generation(patched, deployment), started))

    def restart(self, now, check_mode=False, wait=True, timeout=300, interval=1):
        deployment = self.get_deployment()
        patch = restart_patch(deployment, now)
        annotations = ((deployment["spec"]["template"].get("metadata") or {}).get("annotations") or {})
        before = dict(summary(deployment), restarted_at=annotations.get(RESTARTED_AT_ANNOTATION))
        after = dict(before, revision=(before["revision"] or 0) + 1, restarted_at=now)
        result = dict(action="restart", changed=True, before=before, after=after, patch=patch)
        if check_mode:
            result["msg"] = "would restart %s/%s (restartedAt %s)" % (self.namespace, self.name, now)
            return result
        started = self.clock()
        patched = self.patch("restarting Deployment %s/%s" % (self.namespace, self.name), patch,
                             STRATEGIC_MERGE_PATCH)
        result["msg"] = "restarted %s/%s (restartedAt %s)" % (self.namespace, self.name, now)
        return self._finish(result, wait, timeout, interval, (_generation(patched, deployment), started))

    def _finish(self, result, wait, timeout, interval, changed):
        if wait:
            deployment, message = self.wait(timeout, interval, changed)
            result["after"] = dict(result["after"], **summary(deployment))
            result["rollout"] = dict(replica_counts(deployment), complete=True, message=message)
        return result


def last_revisions_diff(deployment, replicasets):
    """What changed from the second-newest revision to the newest (issue 19's "what changed between the last
    two revisions"): ``template_diff`` of their ReplicaSets (images, env with Secrets by reference only,
    resources, change-cause) with ``from_revision``, ``to_revision`` and ``lines``; None with fewer than two."""
    revisions = sorted(((revision_of(rs), rs) for rs in owned_replicasets(deployment, replicasets)
                        if revision_of(rs) is not None), key=lambda pair: pair[0])
    if len(revisions) < 2:
        return None
    (old_revision, old), (new_revision, new) = revisions[-2], revisions[-1]

    def comparable(rs):
        return {"metadata": {"annotations": (rs.get("metadata") or {}).get("annotations") or {}},
                "spec": {"template": template_without_hash((rs.get("spec") or {}).get("template"))}}
    diff = template_diff(comparable(old), comparable(new))
    return dict(diff, from_revision=old_revision, to_revision=new_revision, lines=diff_lines(diff))


def _with_changes(state, changes, side):
    """``state`` ({revision, images}) plus the env, resources and change-cause that differ, on ``side``."""
    state = dict(state)
    for kind in ("env", "resources"):
        if changes[kind]:
            state[kind] = dict((name, change[side]) for name, change in changes[kind].items())
    if changes["change_cause"]:
        state["change_cause"] = changes["change_cause"][side]
    return state


def _generation(patched, read):
    """The generation the patch produced (from the API's answer), else one more than the one read."""
    generation = ((patched or {}).get("metadata") or {}).get("generation")
    return generation if generation else ((read.get("metadata") or {}).get("generation") or 0) + 1


class _NotFound(HaloBuzzError):
    """A 404 that the caller turns into a message naming what exists instead."""
