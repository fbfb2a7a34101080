# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PodDisruptionBudget-aware node drain: plan, pre-check, cordon, evict, wait, undo.

The rules follow kubectl (``k8s.io/kubectl/pkg/drain``):

* pod filters, in kubectl's order (``filters.go``): DaemonSet-managed pods are ignored
  (``--ignore-daemonsets``); mirror pods (annotation ``kubernetes.io/config.mirror``)
  are skipped, the API server cannot delete them; pods with an ``emptyDir`` volume are
  refused unless ``delete_emptydir_data`` (``--delete-emptydir-data``) says their
  scratch data may go; pods that declare no controller are refused unless ``force``
  (``--force``), because nothing recreates them; finished pods (Succeeded/Failed) are
  always removable.
* eviction (``drain.go`` ``evictPods``): the ``pods/eviction`` subresource; 404 means
  the pod is already gone; 429 TooManyRequests means a PodDisruptionBudget forbids it
  *now*, so the eviction is retried after a pause until the overall deadline.

What this adds to kubectl and to ``kubernetes.core.k8s_drain`` (which fails on the
first 429, kubernetes.core#797, can wait without bound, #711, and leaves the node
cordoned when it fails):

* a pre-check *before* cordoning: every PodDisruptionBudget covering a pod to evict is
  read; the drain is refused, naming the budgets, when it could not finish: a budget
  that allows no disruption now, a pod covered by more than one budget (the eviction
  API rejects those), or more pods of one budget on the node that nothing will
  replace than the budget allows to disrupt;
* after evicting, it waits until every evicted workload has as many Ready pods on other
  nodes as it had Ready pods before the drain;
* on any failure after it cordoned the node, it uncordons the node again and says so.

Everything talks to Kubernetes through a small ``api`` object (``DrainApi`` in
``drain_service.py``) that returns plain dictionaries shaped like the API's JSON and raises
``KubeApiError``; the functions here are tested against a fake.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import KubeApiError
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.labels import selector_matches
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pods import (
    controller_of,
    is_ready,
    is_terminating,
    pod_ref,
)

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# Controllers that create a replacement for an evicted pod, and whose readiness we wait for.
REPLACING_KINDS = frozenset(["ReplicaSet", "StatefulSet", "ReplicationController"])
FINISHED_PHASES = frozenset(["Succeeded", "Failed"])


class DrainError(HaloBuzzError):
    """A drain that cannot start or could not finish; the message says what to do."""


def classify_pod(pod, delete_emptydir_data=False, force=False):
    """kubectl's filters for one pod: ("evict"|"skip"|"error", reason)."""
    meta = pod.get("metadata") or {}
    phase = (pod.get("status") or {}).get("phase")
    finished = phase in FINISHED_PHASES
    ctrl = controller_of(pod)
    if ctrl and ctrl.get("kind") == "DaemonSet" and not finished:
        return "skip", "DaemonSet-managed pod (its DaemonSet runs it on every node)"
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return "skip", "mirror pod (static pod of the kubelet; the API server cannot evict it)"
    volumes = (pod.get("spec") or {}).get("volumes") or []
    if not finished and any("emptyDir" in vol for vol in volumes):
        if not delete_emptydir_data:
            return "error", ("has emptyDir local storage (set delete_emptydir_data: true to "
                             "evict it and lose that scratch data)")
    if not finished and ctrl is None and not force:
        return "error", ("declares no controller, so nothing would recreate it (set force: true "
                         "to evict it anyway)")
    return "evict", "finished pod" if finished else "evictable"


def plan_pods(pods, delete_emptydir_data=False, force=False):
    """Split a node's pods into (to_evict, skipped, errors); the last two as (ref, reason)."""
    to_evict, skipped, errors = [], [], []
    for pod in sorted(pods, key=pod_ref):
        verdict, reason = classify_pod(pod, delete_emptydir_data, force)
        if verdict == "evict":
            to_evict.append(pod)
        elif verdict == "skip":
            skipped.append((pod_ref(pod), reason))
        else:
            errors.append((pod_ref(pod), reason))
    return to_evict, skipped, errors


def pdbs_for_pod(pod, pdbs):
    meta = pod.get("metadata") or {}
    return [
        pdb for pdb in pdbs
        if (pdb.get("metadata") or {}).get("namespace") == meta.get("namespace")
        and selector_matches((pdb.get("spec") or {}).get("selector"), meta.get("labels"))
    ]


def pdb_ref(pdb):
    meta = pdb.get("metadata") or {}
    return "%s/%s" % (meta.get("namespace"), meta.get("name"))


def _unhealthy_pod_may_go(pod, pdb):
    """The eviction API lets a not-Ready pod go despite the budget (unhealthyPodEvictionPolicy)."""
    if is_ready(pod):
        return False
    status = pdb.get("status") or {}
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    desired = status.get("desiredHealthy", 0)
    return desired > 0 and status.get("currentHealthy", 0) >= desired


def precheck(node_name, to_evict, pdbs):
    """Why the drain could not finish within the budgets: a list of sentences (empty = go).

    Evictions run one at a time and each evicted workload is replaced elsewhere, so a
    budget that allows one disruption lets every replaced pod go in turn; what can never
    finish is a budget at zero now, a pod under two budgets, or more irreplaceable pods
    (no ReplicaSet/StatefulSet/ReplicationController behind them) than the budget allows.
    """
    problems = []
    per_pdb = {}
    for pod in to_evict:
        if (pod.get("status") or {}).get("phase") in FINISHED_PHASES or is_terminating(pod):
            continue
        covering = pdbs_for_pod(pod, pdbs)
        if len(covering) > 1:
            problems.append(
                "pod %s is covered by more than one PodDisruptionBudget (%s); the eviction API "
                "refuses such pods" % (pod_ref(pod), ", ".join(sorted(pdb_ref(p) for p in covering))))
            continue
        for pdb in covering:
            per_pdb.setdefault(pdb_ref(pdb), (pdb, []))[1].append(pod)
    for ref in sorted(per_pdb):
        pdb, pods = per_pdb[ref]
        status = pdb.get("status") or {}
        allowed = status.get("disruptionsAllowed", 0)
        blocked = [p for p in pods if not _unhealthy_pod_may_go(p, pdb)]
        figures = "disruptionsAllowed %s, currentHealthy %s, desiredHealthy %s" % (
            allowed, status.get("currentHealthy", 0), status.get("desiredHealthy", 0))
        if blocked and allowed <= 0:
            problems.append(
                "PodDisruptionBudget %s allows no disruption now (%s) and covers %s on node %s"
                % (ref, figures, ", ".join(pod_ref(p) for p in blocked), node_name))
            continue
        unreplaced = [p for p in blocked
                      if (controller_of(p) or {}).get("kind") not in REPLACING_KINDS]
        if len(unreplaced) > allowed:
            problems.append(
                "PodDisruptionBudget %s allows %s disruption(s) (%s) but node %s holds %d of its "
                "pods that nothing would replace: %s"
                % (ref, allowed, figures, node_name, len(unreplaced),
                   ", ".join(pod_ref(p) for p in unreplaced)))
    return problems


def is_gone_from_node(api, pod, node_name):
    meta = pod["metadata"]
    try:
        current = api.read_pod(meta["namespace"], meta["name"])
    except KubeApiError as exc:
        if exc.status == 404:
            return True
        raise
    cur_meta = current.get("metadata") or {}
    return (cur_meta.get("uid") != meta.get("uid")
            or (current.get("spec") or {}).get("nodeName") != node_name)


def ready_elsewhere(pods, controller_uid, node_name):
    """Ready, not terminating pods of one controller on nodes other than node_name."""
    return [p for p in pods
            if (controller_of(p) or {}).get("uid") == controller_uid and is_ready(p)
            and not is_terminating(p) and (p.get("spec") or {}).get("nodeName") != node_name]


def workload_baseline(api, to_evict):
    """{(namespace, controller uid): (label, Ready pods before the drain)} for replaced pods."""
    baseline = {}
    for pod in to_evict:
        ctrl = controller_of(pod)
        if not ctrl or ctrl.get("kind") not in REPLACING_KINDS:
            continue
        key = (pod["metadata"]["namespace"], ctrl["uid"])
        if key in baseline:
            continue
        pods = api.list_namespaced_pods(key[0])
        ready = [p for p in pods if (controller_of(p) or {}).get("uid") == ctrl["uid"]
                 and is_ready(p) and not is_terminating(p)]
        baseline[key] = ("%s %s/%s" % (ctrl["kind"], key[0], ctrl["name"]), len(ready))
    return baseline


class Clock:
    """Monotonic time and sleep; unit tests pass a fake."""

    def now(self):
        return time.monotonic()

    def sleep(self, seconds):
        time.sleep(seconds)


def evict_with_retry(api, pod, deadline, retry_delay, clock, grace_period=None, log=None):
    """Evict one pod; retry 429 (a budget says not now) until deadline. Returns attempts."""
    meta = pod["metadata"]
    attempts = 0
    while True:
        attempts += 1
        try:
            api.evict(meta["namespace"], meta["name"], grace_period)
            return attempts
        except KubeApiError as exc:
            if exc.status == 404:
                return attempts
            if exc.status != 429:
                raise DrainError("evicting pod %s failed: %s" % (pod_ref(pod), exc))
            if clock.now() + retry_delay > deadline:
                raise DrainError(
                    "evicting pod %s was still refused after %d attempts when the timeout ran "
                    "out (429 TooManyRequests: %s)" % (pod_ref(pod), attempts, exc.message or exc.reason))
            if log is not None:
                log.append("eviction of %s refused (%s); retrying in %ss"
                           % (pod_ref(pod), exc.message or exc.reason, retry_delay))
            clock.sleep(retry_delay)


def wait_for_replacements(api, node_name, evicted, baseline, deadline, poll, clock):
    """Wait until the evicted pods left the node and their workloads are Ready elsewhere."""
    while True:
        pending = [pod_ref(p) for p in evicted if not is_gone_from_node(api, p, node_name)]
        short = []
        by_ns = {}
        for (namespace, uid), (label, wanted) in sorted(baseline.items()):
            if namespace not in by_ns:
                by_ns[namespace] = api.list_namespaced_pods(namespace)
            have = len(ready_elsewhere(by_ns[namespace], uid, node_name))
            if have < wanted:
                short.append("%s has %d of %d pods Ready on other nodes" % (label, have, wanted))
        if not pending and not short:
            return
        if clock.now() + poll > deadline:
            raise DrainError("timed out waiting for the evicted workloads: %s" % "; ".join(
                (["still on the node: " + ", ".join(pending)] if pending else []) + short))
        clock.sleep(poll)


def drain_node(api, node_name, check_mode=False, delete_emptydir_data=False, force=False,
               timeout=300, retry_delay=5, poll=2, grace_period=None, clock=None):
    """Drain one node; returns a result dict (changed, before, after, evicted, ...).

    Raises DrainError with a message for the operator; when it fails after cordoning the
    node itself, the node is uncordoned first and the message says so.
    """
    clock = clock or Clock()
    try:
        node = api.read_node(node_name)
    except KubeApiError as exc:
        if exc.status == 404:
            raise DrainError("node %s not found: check the node name (kubectl get nodes)" % node_name)
        raise DrainError("reading node %s failed: %s" % (node_name, exc))
    was_cordoned = bool((node.get("spec") or {}).get("unschedulable"))
    try:
        pods = [p for p in api.list_pods_on_node(node_name)
                if (p.get("spec") or {}).get("nodeName") == node_name]
        to_evict, skipped, errors = plan_pods(pods, delete_emptydir_data, force)
        if errors:
            raise DrainError("refusing to drain node %s; nothing was changed. Pods that cannot be "
                             "evicted: %s" % (node_name, "; ".join("%s %s" % e for e in errors)))
        namespaces = sorted(set(p["metadata"]["namespace"] for p in to_evict))
        pdbs = [pdb for ns in namespaces for pdb in api.list_pdbs(ns)]
    except KubeApiError as exc:
        raise DrainError("listing the pods and PodDisruptionBudgets of node %s failed: %s"
                         % (node_name, exc))
    problems = precheck(node_name, to_evict, pdbs)
    if problems:
        raise DrainError("refusing to drain node %s: the drain could not finish within the "
                         "disruption budgets. %s. Nothing was cordoned or evicted; scale the "
                         "workload up or relax the budget, then run again."
                         % (node_name, ". ".join(problems)))
    names = [pod_ref(p) for p in to_evict]
    result = dict(
        node=node_name,
        changed=(not was_cordoned) or bool(to_evict),
        before=dict(unschedulable=was_cordoned, evictable_pods=names),
        after=dict(unschedulable=True, evictable_pods=[]),
        evicted=names,
        left_on_node=[dict(pod=ref, reason=reason) for ref, reason in skipped],
        pdbs=sorted(set(pdb_ref(pdb) for p in to_evict for pdb in pdbs_for_pod(p, pdbs))),
        eviction_retries=[],
    )
    if check_mode or not result["changed"]:
        return result
    deadline = clock.now() + timeout
    cordoned_here = False
    try:
        if not was_cordoned:
            api.set_unschedulable(node_name, True)
            cordoned_here = True
        baseline = workload_baseline(api, to_evict)
        for pod in to_evict:
            evict_with_retry(api, pod, deadline, retry_delay, clock, grace_period,
                             result["eviction_retries"])
        wait_for_replacements(api, node_name, to_evict, baseline, deadline, poll, clock)
    except (DrainError, KubeApiError) as exc:
        msg = "draining node %s failed: %s" % (node_name, exc)
        if cordoned_here:
            try:
                api.set_unschedulable(node_name, False)
                msg += ". Node %s was uncordoned again (schedulable, as before)" % node_name
            except KubeApiError as undo_exc:
                msg += (". Uncordoning node %s failed too (%s): it is still cordoned; run "
                        "kubectl uncordon %s" % (node_name, undo_exc, node_name))
        elif was_cordoned:
            msg += ". Node %s was already cordoned before this run and stays cordoned" % node_name
        raise DrainError(msg)
    return result
