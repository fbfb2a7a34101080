# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection judges about a pod, written once: Ready, terminating, its controller, and the
problems of the pods that are not Ready, with the reasons kubectl shows.

Used by the k8s modules (rollout waits, drains) and the ``halobuzz.ops.pod_problems`` filter alike.
Pure functions over pods as the API returns them (``kubectl get pod -o json``).

Reasons follow kubectl's pod printer (``k8s.io/kubernetes/pkg/printers/internalversion/printers.go``,
``printPod``): a container's ``waiting`` or ``terminated`` reason (``CrashLoopBackOff``,
``ImagePullBackOff``, ``OOMKilled``, ...), an init container's prefixed ``Init:``; a container that runs
but is not Ready after a crash reports its last termination; a pod being deleted is ``terminating``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def pod_ref(pod):
    """``namespace/name``."""
    meta = _meta(pod)
    return "%s/%s" % (meta.get("namespace"), meta.get("name"))


def controller_of(obj):
    """The ownerReference with controller: true (metav1.GetControllerOf), or None."""
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_ready(pod):
    """The pod's Ready condition is True (what a Service and a rollout count)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def is_terminating(pod):
    """The pod is being deleted (a deletionTimestamp is set; the kubelet is stopping it)."""
    return bool(_meta(pod).get("deletionTimestamp"))


def _container_reason(status, prefix=""):
    state = status.get("state") or {}
    for phase in ("waiting", "terminated"):
        if phase in state:
            detail = state[phase] or {}
            reason = prefix + (detail.get("reason") or phase)
            return "%s (%s)" % (reason, detail["message"]) if detail.get("message") else reason
    last = (status.get("lastState") or {}).get("terminated") or {}
    if last.get("reason") and not status.get("ready"):
        return "last terminated: %s%s" % (prefix, last["reason"])
    return None if status.get("ready") else "not ready"


def _init_reasons(status):
    # An init container that finished is no problem; one still waiting to start behind the others neither.
    reasons = []
    for container in status.get("initContainerStatuses") or []:
        state = container.get("state") or {}
        if (state.get("terminated") or {}).get("exitCode") == 0:
            continue
        if (state.get("waiting") or {}).get("reason") == "PodInitializing":
            continue
        if "running" in state or not state:
            continue
        reason = _container_reason(container, prefix="Init:")
        if reason:
            reasons.append(reason)
    return reasons


def _fallback_reason(status):
    if status.get("reason"):
        return status["reason"]
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True" and condition.get("reason"):
            return "%s: %s" % (condition.get("type"), condition["reason"])
    return "not ready"


def pod_problem(pod):
    """The problem of one pod, or None when it is Ready and not terminating:
    ``{name, node, phase, reasons, restarts}``."""
    status = pod.get("status") or {}
    deleting = is_terminating(pod)
    if is_ready(pod) and not deleting:
        return None
    containers = status.get("containerStatuses") or []
    reasons = sorted(set(_init_reasons(status)) | set(
        reason for reason in (_container_reason(s) for s in containers) if reason))
    if deleting:
        reasons.append("terminating")
    return {
        "name": _meta(pod).get("name"),
        "node": (pod.get("spec") or {}).get("nodeName"),
        "phase": status.get("phase"),
        "reasons": reasons or [_fallback_reason(status)],
        "restarts": sum(int(s.get("restartCount") or 0)
                        for s in containers + (status.get("initContainerStatuses") or [])),
    }


def pod_problems(pods, include_terminating=True):
    """The problems of the pods that are not Ready (and, unless ``include_terminating`` is false, of those
    being deleted), in name order."""
    problems = []
    for pod in sorted(pods or [], key=lambda item: _meta(item).get("name") or ""):
        if not include_terminating and is_terminating(pod):
            continue
        problem = pod_problem(pod)
        if problem is not None:
            problems.append(problem)
    return problems


def describe_problem(problem):
    """One line for a message: ``backend-7d9c-x2x9q: CrashLoopBackOff, 7 restarts``."""
    text = "%s: %s" % (problem["name"], "; ".join(problem["reasons"]))
    if problem["restarts"]:
        text += ", %d restarts" % problem["restarts"]
    return text
