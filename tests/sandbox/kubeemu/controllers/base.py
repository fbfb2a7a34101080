"""What the controllers share: the resources they work on, pod and owner helpers, and `Controller`,
the base that gives each one the cluster, the manager's clock, events and pod creation/deletion
(kube-controller-manager's `pkg/controller/controller_utils.go`: PodControl, FilterActivePods,
`metav1.GetControllerOf`).
"""

import copy

from ..resources import BY_KEY
from ..timefmt import parse_iso

PODS, NODES, RS, DEPLOY, STS, DS, PDB, HPA, NS, SA, EVENTS = (
    BY_KEY[k] for k in ("pods", "nodes", "apps/replicasets", "apps/deployments", "apps/statefulsets",
                        "apps/daemonsets", "policy/poddisruptionbudgets", "autoscaling/horizontalpodautoscalers",
                        "namespaces", "serviceaccounts", "events"))


def controller_of(obj):
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owned_by(obj, owner):
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"]["uid"]


def owner_ref(owner):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def condition(obj, ctype):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def pod_ready(pod):
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def pod_active(pod):
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and \
        not pod["metadata"].get("deletionTimestamp")


def pod_available(pod, min_ready_seconds, now):
    c = condition(pod, "Ready")
    if c is None or c.get("status") != "True":
        return False
    if not min_ready_seconds:
        return True
    since = parse_iso(c.get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def omit_zero(status, keys):
    for k in keys:
        if not status.get(k):
            status.pop(k, None)
    return status


class Controller:
    """One controller. The manager (`Controllers`) calls `sync()` once per pass when `resource` is None,
    otherwise `sync(obj)` for every object of `resource`; all under the cluster lock."""

    resource = None

    def __init__(self, manager):
        self.manager = manager
        self.cluster = manager.cluster

    @property
    def now(self):
        """The time the current pass started (one clock for every controller in a pass)."""
        return self.manager.now

    def sync(self, obj=None):
        raise NotImplementedError

    def event(self, obj, reason, message, component, etype="Normal"):
        self.cluster.record_event(obj, reason, message, component, etype)

    def owned_pods(self, owner):
        ns = owner["metadata"]["namespace"]
        return [p for p in self.cluster.items(PODS, ns) if owned_by(p, owner) and pod_active(p)]

    def new_pod(self, owner, template, name=None, extra_labels=None, node=None):
        meta = copy.deepcopy(template.get("metadata") or {})
        meta.pop("creationTimestamp", None)
        meta["namespace"] = owner["metadata"]["namespace"]
        meta["ownerReferences"] = [owner_ref(owner)]
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = owner["metadata"]["name"] + "-"
        meta.setdefault("labels", {}).update(extra_labels or {})
        spec = copy.deepcopy(template.get("spec") or {})
        if node:
            spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                        "values": [node]}]}]}}}
        pod = self.cluster.create(PODS, owner["metadata"]["namespace"], {"metadata": meta, "spec": spec})
        self.event(owner, "SuccessfulCreate", "Created pod: %s" % pod["metadata"]["name"],
                   owner["kind"].lower() + "-controller")
        return pod

    def delete_pod(self, owner, pod):
        self.cluster.delete_object(PODS, pod)
        self.event(owner, "SuccessfulDelete", "Deleted pod: %s" % pod["metadata"]["name"],
                   owner["kind"].lower() + "-controller")
