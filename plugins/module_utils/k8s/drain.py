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
from concurrent.futures import ThreadPoolExecutor

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


def can_ignore_pdb(pod):
    """The eviction API lets this pod go without looking at any budget: Succeeded, Failed, Pending or
    already terminating (kubernetes ``pkg/registry/core/pod/storage/eviction.go`` ``canIgnorePDB``), so
    a Pending pod stuck in ImagePullBackOff never blocks a drain (issue 13 bug 1)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in FINISHED_PHASES or phase == "Pending" or is_terminating(pod)


def precheck(node_name, to_evict, pdbs):  # pylint: disable=too-many-locals
    """Why the drain could not finish within the budgets: a list of sentences (empty = go).

    Each evicted workload is replaced elsewhere and a refused eviction is retried, so a budget that
    allows one disruption lets every replaced pod go in turn; what can never
    finish is a budget at zero now, a pod under two budgets, or more irreplaceable pods
    (no ReplicaSet/StatefulSet/ReplicationController behind them) than the budget allows.
    """
    problems = []
    per_pdb = {}
    for pod in to_evict:
        if can_ignore_pdb(pod):
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


def is_gone_from_node(api, pod, node_names):
    """The pod was deleted (404, or a new pod of that name has another uid) or is no longer on a node
    being drained (``node_names`` None: on any node)."""
    meta = pod["metadata"]
    try:
        current = api.read_pod(meta["namespace"], meta["name"])
    except KubeApiError as exc:
        if exc.status == 404:
            return True
        raise
    cur_meta = current.get("metadata") or {}
    return (cur_meta.get("uid") != meta.get("uid")
            or (node_names is not None and (current.get("spec") or {}).get("nodeName") not in node_names))


def ready_elsewhere(pods, controller_uid, node_names):
    """Ready, not terminating pods of one controller on nodes other than those drained (any node when
    ``node_names`` is None)."""
    return [p for p in pods
            if (controller_of(p) or {}).get("uid") == controller_uid and is_ready(p)
            and not is_terminating(p) and (p.get("spec") or {}).get("nodeName") not in (node_names or ())]


def workload_baseline(api, to_evict):
    """{(namespace, controller uid): (label, Ready pods before the drain, controller ref)} for replaced pods."""
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
        baseline[key] = ("%s %s/%s" % (ctrl["kind"], key[0], ctrl["name"]), len(ready), ctrl)
    return baseline


def wanted_now(api, namespace, ctrl, before):
    """Ready pods to wait for: as many as before the drain, but never more than the controller's current
    spec.replicas (an HPA may scale the workload down meanwhile: issue 13 bug 6); 0 once it is gone."""
    try:
        controller = api.read_controller(namespace, ctrl["kind"], ctrl["name"])
    except KubeApiError as exc:
        if exc.status == 404:
            return 0
        raise
    if (controller.get("metadata") or {}).get("uid") not in (None, ctrl.get("uid")):
        return 0
    replicas = (controller.get("spec") or {}).get("replicas", 1)
    return min(before, replicas)


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


# Past a pod's grace period the kubelet kills it; allow this much more for the kubelet and the API server
# to record the deletion before calling the pod stuck.
GRACE_SLACK = 30


def grace_seconds(pod, grace_period=None):
    """The grace period the pod is deleted with: the eviction's own, else the pod's
    terminationGracePeriodSeconds (default 30, as the API server defaults it)."""
    if grace_period is not None:
        return grace_period
    return int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))


def wait_pod_gone(api, pod, node_names, deadline, poll, clock, grace_period=None):
    """Wait until an evicted pod has left the drained nodes, for at most its grace period (plus a margin)
    and never past the drain's deadline (kubectl drain.go waitForDelete, per pod)."""
    grace = grace_seconds(pod, grace_period)
    started = clock.now()
    limit = min(deadline, started + grace + GRACE_SLACK)
    while not is_gone_from_node(api, pod, node_names):
        if clock.now() + poll > limit:
            raise DrainError("pod %s is still on node %s %ds after its eviction (grace period %ss)"
                             % (pod_ref(pod), (pod.get("spec") or {}).get("nodeName"),
                                clock.now() - started, grace))
        clock.sleep(poll)


def evict_and_wait(api, pod, node_names, deadline, retry_delay, poll, clock, grace_period, log):
    """One pod's whole eviction: evict (with 429 retries), then wait for it to go."""
    evict_with_retry(api, pod, deadline, retry_delay, clock, grace_period, log)
    wait_pod_gone(api, pod, node_names, deadline, poll, clock, grace_period)


def evict_all(api, to_evict, node_names, deadline, retry_delay, poll, clock, grace_period, log,
              max_parallel=5):
    """Evict the pods in parallel, at most ``max_parallel`` at a time (kubectl drain.go evictPods runs
    one goroutine per pod); the first failure is raised once every started eviction has finished."""
    if not to_evict:
        return
    errors = []
    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(to_evict)))) as pool:
        futures = [pool.submit(evict_and_wait, api, pod, node_names, deadline, retry_delay, poll, clock,
                               grace_period, log) for pod in to_evict]
        for future in futures:
            try:
                future.result()
            except (DrainError, KubeApiError) as exc:
                errors.append(str(exc))
    if errors:
        raise DrainError("; ".join(errors))


def wait_for_replacements(api, node_names, baseline, deadline, poll, clock):
    """Wait until every evicted workload has its pods Ready on other nodes (see wanted_now)."""
    while True:
        short = []
        by_ns = {}
        for (namespace, uid), (label, before, ctrl) in sorted(baseline.items(), key=lambda item: item[0]):
            if namespace not in by_ns:
                by_ns[namespace] = api.list_namespaced_pods(namespace)
            wanted = wanted_now(api, namespace, ctrl, before)
            have = len(ready_elsewhere(by_ns[namespace], uid, node_names))
            if have < wanted:
                short.append("%s has %d of %d pods Ready on other nodes" % (label, have, wanted))
        if not short:
            return
        if clock.now() + poll > deadline:
            raise DrainError("timed out waiting for the evicted workloads: %s" % "; ".join(short))
        clock.sleep(poll)


def _read_nodes(api, node_names):
    nodes = {}
    for name in node_names:
        try:
            nodes[name] = api.read_node(name)
        except KubeApiError as exc:
            if exc.status == 404:
                raise DrainError("node %s not found: check the node name (kubectl get nodes)" % name)
            raise DrainError("reading node %s failed: %s" % (name, exc))
    return nodes


def _plan(api, node_names, delete_emptydir_data, force):
    to_evict, skipped, errors = [], [], []
    try:
        for name in node_names:
            pods = [p for p in api.list_pods_on_node(name) if (p.get("spec") or {}).get("nodeName") == name]
            evict, skip, error = plan_pods(pods, delete_emptydir_data, force)
            to_evict += evict
            skipped += skip
            errors += error
        if errors:
            raise DrainError("refusing to drain node %s; nothing was changed. Pods that cannot be "
                             "evicted: %s" % (", ".join(node_names), "; ".join("%s %s" % e for e in errors)))
        namespaces = sorted(set(p["metadata"]["namespace"] for p in to_evict))
        pdbs = [pdb for ns in namespaces for pdb in api.list_pdbs(ns)]
    except KubeApiError as exc:
        raise DrainError("listing the pods and PodDisruptionBudgets of node %s failed: %s"
                         % (", ".join(node_names), exc))
    return to_evict, skipped, pdbs


def drain_nodes(api, node_names, check_mode=False, delete_emptydir_data=False, force=False,
                timeout=300, retry_delay=5, poll=2, grace_period=None, clock=None, max_parallel=5):
    """Drain nodes as ``kubectl drain n1 n2`` does: pre-check all, cordon all first (so evicted pods do not
    land on the next node to drain: issue 13 bug 5), then evict; returns a result dict.

    Raises DrainError with a message for the operator; when it fails after cordoning nodes itself,
    those nodes are uncordoned first and the message says so.
    """
    clock = clock or Clock()
    node_names = list(dict.fromkeys(node_names))
    label = ", ".join(node_names)
    nodes = _read_nodes(api, node_names)
    was_cordoned = dict((name, bool((nodes[name].get("spec") or {}).get("unschedulable")))
                        for name in node_names)
    to_evict, skipped, pdbs = _plan(api, node_names, delete_emptydir_data, force)
    problems = precheck(label, to_evict, pdbs)
    if problems:
        raise DrainError("refusing to drain node %s: the drain could not finish within the "
                         "disruption budgets. %s. Nothing was cordoned or evicted; scale the "
                         "workload up or relax the budget, then run again."
                         % (label, ". ".join(problems)))
    names = [pod_ref(p) for p in to_evict]
    result = dict(
        node=label,
        nodes=node_names,
        changed=(not all(was_cordoned.values())) or bool(to_evict),
        before=dict(unschedulable=all(was_cordoned.values()), unschedulable_nodes=was_cordoned,
                    evictable_pods=names),
        after=dict(unschedulable=True, unschedulable_nodes=dict((n, True) for n in node_names),
                   evictable_pods=[]),
        evicted=names,
        left_on_node=[dict(pod=ref, reason=reason) for ref, reason in skipped],
        pdbs=sorted(set(pdb_ref(pdb) for p in to_evict for pdb in pdbs_for_pod(p, pdbs))),
        eviction_retries=[],
    )
    if check_mode or not result["changed"]:
        return result
    deadline = clock.now() + timeout
    cordoned_here = []
    try:
        for name in node_names:
            if not was_cordoned[name]:
                api.set_unschedulable(name, True)
                cordoned_here.append(name)
        baseline = workload_baseline(api, to_evict)
        evict_all(api, to_evict, node_names, deadline, retry_delay, poll, clock, grace_period,
                  result["eviction_retries"], max_parallel)
        wait_for_replacements(api, node_names, baseline, deadline, poll, clock)
    except (DrainError, KubeApiError) as exc:
        raise DrainError(_undo_cordon(api, "draining node %s failed: %s" % (label, exc),
                                      cordoned_here, [n for n in node_names if was_cordoned[n]]))
    return result


def _undo_cordon(api, msg, cordoned_here, cordoned_before):
    for name in cordoned_here:
        try:
            api.set_unschedulable(name, False)
            msg += ". Node %s was uncordoned again (schedulable, as before)" % name
        except KubeApiError as undo_exc:
            msg += (". Uncordoning node %s failed too (%s): it is still cordoned; run "
                    "kubectl uncordon %s" % (name, undo_exc, name))
    for name in cordoned_before:
        msg += ". Node %s was already cordoned before this run and stays cordoned" % name
    return msg


def drain_node(api, node_name, **options):
    """Drain one node (drain_nodes with one name)."""
    return drain_nodes(api, [node_name], **options)


def evict_pod(api, namespace, name, check_mode=False, timeout=300, retry_delay=5, poll=2, grace_period=None,
              clock=None):
    """Replace one pod by eviction, so its PodDisruptionBudget is honoured (a plain DELETE bypasses it:
    issue 13 bug 7): evict with 429 retries, wait for the pod to go within its grace period, then for its
    controller to have its Ready pods back (wanted_now). Returns a result dict."""
    clock = clock or Clock()
    ref = "%s/%s" % (namespace, name)
    try:
        pod = api.read_pod(namespace, name)
    except KubeApiError as exc:
        if exc.status == 404:
            return dict(changed=False, pod=ref, evicted=[], eviction_retries=[], before=dict(pod=None),
                        after=dict(pod=None), msg="pod %s does not exist (already replaced); nothing to do" % ref)
        raise DrainError("reading pod %s failed: %s" % (ref, exc))
    ctrl = controller_of(pod)
    if not ctrl or ctrl.get("kind") not in REPLACING_KINDS:
        raise DrainError("refusing to evict pod %s: %s, so nothing would replace it. Nothing was changed."
                         % (ref, "it declares no controller" if not ctrl else "its controller is a %s" % ctrl["kind"]))
    node = (pod.get("spec") or {}).get("nodeName")
    before = dict(pod=ref, node=node, uid=pod["metadata"].get("uid"), terminating=is_terminating(pod))
    result = dict(changed=not is_terminating(pod), pod=ref, before=before, after=dict(pod=None),
                  evicted=[] if is_terminating(pod) else [ref], eviction_retries=[],
                  controller="%s %s/%s" % (ctrl["kind"], namespace, ctrl["name"]))
    if check_mode:
        result["msg"] = ("would evict pod %s from node %s; %s replaces it" % (ref, node, result["controller"])
                         if result["changed"] else "pod %s is already terminating" % ref)
        return result
    deadline = clock.now() + timeout
    try:
        baseline = workload_baseline(api, [pod])
        if result["changed"]:
            evict_with_retry(api, pod, deadline, retry_delay, clock, grace_period, result["eviction_retries"])
        wait_pod_gone(api, pod, None, deadline, poll, clock, grace_period)
        wait_for_replacements(api, None, baseline, deadline, poll, clock)
    except (DrainError, KubeApiError) as exc:
        raise DrainError("replacing pod %s by eviction failed: %s" % (ref, exc))
    result["msg"] = "evicted pod %s from node %s; %s has its pods Ready again" % (ref, node, result["controller"])
    return result
