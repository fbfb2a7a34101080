"""Whether a pod may run on a node: the filters kube-scheduler applies
(`pkg/scheduler/framework/plugins/{nodeunschedulable,tainttoleration,nodeaffinity}`) and the DaemonSet
controller asks of every node too (upstream both use `k8s.io/component-helpers/scheduling/corev1`), so both
controllers import them from here rather than one from the other."""

from .base import condition


def tolerates(pod, taint):
    for tol in pod["spec"].get("tolerations") or []:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and (not tol.get("key") or tol["key"] == taint.get("key")):
            return True
        if tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def feasible(pod, node):
    """Whether the pod may run on the node (also what the DaemonSet controller asks of each node)."""
    if node["spec"].get("unschedulable") and not tolerates(
            pod, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
        return False
    ready = condition(node, "Ready")
    if ready is None or ready.get("status") != "True":
        return False
    for taint in node["spec"].get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return False
    labels = node["metadata"].get("labels") or {}
    for k, v in (pod["spec"].get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and node["metadata"]["name"] not in (f.get("values") or []):
                return False
    return True
