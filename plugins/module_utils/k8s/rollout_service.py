# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""API calls and the undo/restart/wait flows behind halobuzz.ops.k8s_rollout(_info).

The client is kubernetes.core's (``get_api_client``), so the modules take exactly the
kubernetes.core auth options and environment (K8S_AUTH_*). Requests go to fixed API
paths through its dynamic client, the way kubernetes.core.k8s_rollback patches, which
spares a discovery round trip per task. Every API failure becomes a RolloutError naming
the call that failed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import time

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.rollout import (
    RolloutError,
    history,
    images_of,
    label_selector,
    live_replicaset,
    pod_problems,
    replica_counts,
    restart_patch,
    revision_of,
    rollback_record,
    rollout_status,
    select_target,
    summary,
    undo_patch,
    RESTARTED_AT_ANNOTATION,
)

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def argument_spec(**options):
    """kubernetes.core's auth options plus the deployment's name and namespace."""
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        name=dict(type="str", required=True, aliases=["deployment"]),
        namespace=dict(type="str", required=True),
    )
    spec.update(options)
    return spec


def connect(module, service_class):
    """A service_class(dynamic client, namespace, name) from kubernetes.core's client,
    or fail_json saying why the API cannot be reached."""
    try:
        client = get_api_client(module=module)
    except Exception as error:  # ConfigException, CoreException, connection errors
        module.fail_json(msg="Could not create a Kubernetes API client (kubeconfig %s, context %s): %s"
                         % (module.params.get("kubeconfig") if isinstance(module.params.get("kubeconfig"), str)
                            else "from the environment", module.params.get("context") or "default",
                            _api_message(error)))
    return service_class(client.client, module.params["namespace"], module.params["name"])


def _api_message(error):
    """The Status message of an API error body, else its status and reason."""
    body = getattr(error, "body", None)
    if body:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return "%s %s: %s" % (getattr(error, "status", ""), getattr(error, "reason", ""), message)
    status = getattr(error, "status", None)
    if status is not None:
        return "%s %s" % (status, getattr(error, "reason", ""))
    return str(error)


class RolloutService:
    """Reads and patches one Deployment through a kubernetes DynamicClient."""

    def __init__(self, dynamic_client, namespace, name, sleep=time.sleep, clock=time.monotonic):
        self.client = dynamic_client
        self.namespace = namespace
        self.name = name
        self.sleep = sleep
        self.clock = clock

    # -- raw calls -------------------------------------------------------------------
    def _request(self, what, method, path, missing_ok=False, **params):
        try:
            response = self.client.request(method, path, **params)
        except Exception as error:  # ApiException, urllib3 and socket errors alike
            if missing_ok and getattr(error, "status", None) == 404:
                raise _NotFound(what)
            raise RolloutError("Kubernetes API call failed while %s (%s %s): %s"
                               % (what, method.upper(), path, _api_message(error)))
        return response.to_dict() if hasattr(response, "to_dict") else response

    @property
    def _deployment_path(self):
        return "/apis/apps/v1/namespaces/%s/deployments/%s" % (self.namespace, self.name)

    def get_deployment(self):
        what = "reading Deployment %s/%s" % (self.namespace, self.name)
        try:
            return self._request(what, "get", self._deployment_path, missing_ok=True)
        except _NotFound:
            pass
        try:
            self._request("reading Namespace %s" % self.namespace, "get",
                          "/api/v1/namespaces/%s" % self.namespace, missing_ok=True)
        except _NotFound:
            raise RolloutError(
                "namespace %r does not exist, so Deployment %r cannot be found; check the "
                "namespace variable/option and the kubeconfig context"
                % (self.namespace, self.name))
        listing = self._request("listing Deployments in namespace %s" % self.namespace, "get",
                                "/apis/apps/v1/namespaces/%s/deployments" % self.namespace)
        names = sorted(item["metadata"]["name"] for item in listing.get("items") or [])
        raise RolloutError(
            "Deployment %r not found in namespace %r; Deployments there: %s. Check the "
            "deployment/name option." % (self.name, self.namespace, ", ".join(names) or "none"))

    def list_replicasets(self, deployment):
        listing = self._request(
            "listing the ReplicaSets of Deployment %s/%s" % (self.namespace, self.name), "get",
            "/apis/apps/v1/namespaces/%s/replicasets" % self.namespace,
            label_selector=label_selector(deployment))
        return listing.get("items") or []

    def list_pods(self, deployment):
        listing = self._request(
            "listing the pods of Deployment %s/%s" % (self.namespace, self.name), "get",
            "/api/v1/namespaces/%s/pods" % self.namespace,
            label_selector=label_selector(deployment))
        return listing.get("items") or []

    def patch(self, what, body, content_type):
        return self._request(what, "patch", self._deployment_path, body=body, content_type=content_type)

    # -- flows -----------------------------------------------------------------------
    def wait(self, timeout, interval):
        """Poll until kubectl's rollout status says done; RolloutError on deadline/timeout."""
        deadline = self.clock() + timeout
        while True:
            deployment = self.get_deployment()
            done, message = rollout_status(deployment)
            if done:
                return deployment, message
            if self.clock() >= deadline:
                counts = replica_counts(deployment)
                problems = pod_problems(self.list_pods(deployment))
                raise RolloutError(
                    "timed out after %ss waiting for Deployment %s/%s to roll out: %s; "
                    "%d/%d replicas ready, %d updated, %d available. %s"
                    % (timeout, self.namespace, self.name, message, counts["ready"],
                       counts["desired"], counts["updated"], counts["available"],
                       "Pods not ready: " + " | ".join(problems) if problems
                       else "No failing pod reported a reason."))
            self.sleep(interval)

    def info(self):
        deployment = self.get_deployment()
        replicasets = self.list_replicasets(deployment)
        live = live_replicaset(deployment, replicasets)
        try:
            done, message = rollout_status(deployment)
        except RolloutError as error:
            done, message = False, str(error)
        spec = deployment.get("spec") or {}
        return {
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
        }

    def undo(self, to_revision=None, check_mode=False, wait=True, timeout=300, interval=1):
        deployment = self.get_deployment()
        replicasets = self.list_replicasets(deployment)
        target, reason = select_target(deployment, replicasets, to_revision)
        before = summary(deployment)
        result = dict(action="undo", before=before, to_revision=to_revision,
                      restored_revision=revision_of(target) if target else None,
                      replicaset=target["metadata"]["name"] if target else None)
        if reason:
            result.update(changed=False, after=before, msg=reason)
            return result
        patch = undo_patch(deployment, target)
        revisions = [entry["revision"] for entry in history(deployment, replicasets)]
        after = {"revision": max(revisions) + 1, "images": images_of(patch[0]["value"])}
        result.update(changed=True, patch=patch, after=after)
        if check_mode:
            result["msg"] = ("would roll back %s/%s from revision %s to revision %s (%s)"
                             % (self.namespace, self.name, before["revision"],
                                result["restored_revision"], result["replicaset"]))
            return result
        self.patch("restoring revision %s into Deployment %s/%s"
                   % (result["restored_revision"], self.namespace, self.name), patch, JSON_PATCH)
        result["msg"] = ("rolled back %s/%s from revision %s to revision %s (%s)"
                         % (self.namespace, self.name, before["revision"],
                            result["restored_revision"], result["replicaset"]))
        return self._finish(result, wait, timeout, interval)

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
        self.patch("restarting Deployment %s/%s" % (self.namespace, self.name), patch,
                   STRATEGIC_MERGE_PATCH)
        result["msg"] = "restarted %s/%s (restartedAt %s)" % (self.namespace, self.name, now)
        return self._finish(result, wait, timeout, interval)

    def _finish(self, result, wait, timeout, interval):
        if wait:
            deployment, message = self.wait(timeout, interval)
            result["after"] = dict(result["after"], **summary(deployment))
            result["rollout"] = dict(replica_counts(deployment), complete=True, message=message)
        return result


class _NotFound(Exception):
    pass
