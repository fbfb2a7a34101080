"""The StatefulSet controller: pods `<name>-<ordinal>` created in order (OrderedReady waits for the lower
ordinals to be Ready; Parallel does not), removed highest ordinal first, and a RollingUpdate that replaces
the highest stale ordinal at or above the partition once every pod is Ready (kubernetes
`pkg/controller/statefulset/stateful_set_control.go`). The revision is the template hash, not a
ControllerRevision."""

import copy

from ..defaults import pod_template_hash
from .base import PODS, STS, Controller, omit_zero, owned_by, pod_available, pod_ready


class StatefulSetController(Controller):
    resource = STS

    def sync(self, sts):
        name, spec = sts["metadata"]["name"], sts["spec"]
        want = spec.get("replicas", 1)
        rev = "%s-%s" % (name, pod_template_hash(spec["template"]))
        pods = {p["metadata"]["name"]: p for p in self.owned_pods(sts)}
        # a Terminating pod still holds its name: the ordinal is recreated once it is gone
        # (stateful_set_control.go: "Pod is terminating ... waiting for it to be deleted")
        terminating = {p["metadata"]["name"] for p in self.cluster.items(PODS, sts["metadata"]["namespace"])
                       if owned_by(p, sts) and p["metadata"].get("deletionTimestamp")}
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for i in range(want):
            pname = "%s-%d" % (name, i)
            if pname in pods:
                continue
            if pname in terminating:
                if ordered:
                    break
                continue
            if ordered and not all(pod_ready(pods.get("%s-%d" % (name, j), {"status": {}})) for j in range(i)):
                break
            tmpl = copy.deepcopy(spec["template"])
            tmpl["spec"].setdefault("hostname", pname)
            if spec.get("serviceName"):
                tmpl["spec"].setdefault("subdomain", spec["serviceName"])
            pods[pname] = self.new_pod(sts, tmpl, name=pname, extra_labels={
                "controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": pname,
                "apps.kubernetes.io/pod-index": str(i)})
        extra = sorted((p for p in pods.values() if int(p["metadata"]["name"].rsplit("-", 1)[1]) >= want),
                       key=lambda p: -int(p["metadata"]["name"].rsplit("-", 1)[1]))
        if extra:
            self.delete_pod(sts, extra[0])
            del pods[extra[0]["metadata"]["name"]]
        elif (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            partition = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0)
            stale = sorted((p for p in pods.values() if p["metadata"]["labels"].get("controller-revision-hash") != rev
                            and int(p["metadata"]["name"].rsplit("-", 1)[1]) >= partition),
                           key=lambda p: -int(p["metadata"]["name"].rsplit("-", 1)[1]))
            if stale and all(pod_ready(p) for p in pods.values()):
                self.delete_pod(sts, stale[0])
                del pods[stale[0]["metadata"]["name"]]
        plist = list(pods.values())
        updated = len([p for p in plist if p["metadata"]["labels"].get("controller-revision-hash") == rev])
        old = sts.get("status") or {}
        current_rev = old.get("currentRevision") or rev
        if updated == want and len(plist) == want:
            current_rev = rev
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(plist),
                  "readyReplicas": len([p for p in plist if pod_ready(p)]),
                  "currentReplicas": len([p for p in plist
                                          if p["metadata"]["labels"].get("controller-revision-hash") == current_rev]),
                  "updatedReplicas": updated, "currentRevision": current_rev, "updateRevision": rev,
                  "collisionCount": 0,
                  "availableReplicas": len([p for p in plist if pod_available(p, spec.get("minReadySeconds", 0),
                                                                              self.now)])}
        omit_zero(status, ("readyReplicas", "currentReplicas", "updatedReplicas"))
        new = copy.deepcopy(sts)
        new["status"] = status
        self.cluster.write_status(STS, new)
