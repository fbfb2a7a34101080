"""The kubelet stand-in: runs no containers, but moves each scheduled pod through the phases,
conditions and containerStatuses a real kubelet reports (kubernetes `pkg/kubelet/status/status_manager.go`,
`pkg/kubelet/kubelet_pods.go` generateAPIPodStatus), with CrashLoopBackOff for the configured broken
images; and the pod garbage collector's orphan pass (`pkg/controller/podgc/gc_controller.go`):
a pod bound to a node that no longer exists is deleted."""

import copy
import hashlib
import zlib

from ..defaults import node_ip
from ..timefmt import now_iso
from .base import NODES, PODS, Controller, pod_active


def pod_ip(pod):
    h = zlib.crc32(pod["metadata"]["uid"].encode())
    return "10.244.%d.%d" % ((h >> 8) % 250, h % 250 + 2)


def qos(pod):
    res = [cc.get("resources") or {} for cc in pod["spec"].get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    if all(r.get("limits") and r.get("limits", {}).get("cpu") and r.get("limits", {}).get("memory")
           and (not r.get("requests") or r["requests"] == r["limits"]) for r in res):
        return "Guaranteed"
    return "Burstable"


class Kubelet(Controller):
    def __init__(self, manager):
        super().__init__(manager)
        self.pods = {}   # pod uid -> {"bound": t, "restarts": n, "next": t, "started": t}

    def sync(self):
        c = self.cluster
        cfg = c.config["kubelet"]
        delay, broken = cfg["ready_delay_seconds"], set(cfg["broken_images"])
        live = set()
        nodes = {n["metadata"]["name"] for n in c.items(NODES)}
        for pod in c.items(PODS):
            uid = pod["metadata"]["uid"]
            live.add(uid)
            node = pod["spec"].get("nodeName")
            if node and node not in nodes:
                c.delete_object(PODS, pod)   # the pod garbage collector: its node is gone
                continue
            if not node or not pod_active(pod):
                continue
            st = self.pods.setdefault(uid, {"bound": self.now, "restarts": 0, "next": None})
            status = self.pod_status(pod, st, delay, broken)
            if status != pod.get("status"):
                new = copy.deepcopy(pod)
                new["status"] = status
                c.write_status(PODS, new)
        for uid in list(self.pods):
            if uid not in live:
                del self.pods[uid]

    def pod_status(self, pod, st, delay, broken):
        old = pod.get("status") or {}
        if st.get("started") is None and self.now >= st["bound"] + delay:
            st["started"] = self.now   # once started, a later ready_delay change does not undo it
        started = st.get("started") is not None
        containers = pod["spec"].get("containers") or []
        crashing = [cc["name"] for cc in containers if cc.get("image") in broken]
        ready = started and not crashing
        bound_iso = now_iso(st["bound"])
        start_iso = now_iso(st["started"] if started else self.now)

        def cond(ctype, ok, reason=None, message=None):
            prev = next((x for x in old.get("conditions") or [] if x["type"] == ctype), None)
            value = "True" if ok else "False"
            out = {"type": ctype, "status": value, "lastProbeTime": None,
                   "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == value
                   else now_iso()}
            if not ok and reason:
                out["reason"], out["message"] = reason, message
            return out

        if crashing and started:
            if st["next"] is None:
                st["restarts"], st["next"] = 1, self.now + max(delay, 0.5)
            elif self.now >= st["next"]:
                st["restarts"] += 1
                st["next"] = self.now + min(max(delay, 0.5) * (2 ** min(st["restarts"], 5)), 30)
            self.manager.wake_at(st["next"])
        elif not crashing:
            st["next"] = None
        if not started:
            self.manager.wake_at(st["bound"] + delay)
        statuses = []
        for cc in containers:
            image = cc.get("image", "")
            cid = "containerd://" + hashlib.sha256((pod["metadata"]["uid"] + cc["name"]).encode()).hexdigest()
            cs = {"name": cc["name"], "image": image,
                  "imageID": (image.split(":")[0] if "@" not in image else image.split("@")[0]) + "@sha256:"
                  + hashlib.sha256(image.encode()).hexdigest() if started else "",
                  "ready": False, "restartCount": 0, "started": False}
            if not started:
                cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
            elif cc["name"] in crashing:
                cs.update(containerID=cid, restartCount=st["restarts"],
                          state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off %ds restarting failed "
                                             "container=%s pod=%s_%s(%s)" % (
                                                 min(10 * 2 ** (st["restarts"] - 1), 300), cc["name"],
                                                 pod["metadata"]["name"], pod["metadata"]["namespace"],
                                                 pod["metadata"]["uid"])}},
                          lastState={"terminated": {"exitCode": 1, "reason": "Error", "startedAt": start_iso,
                                                    "finishedAt": start_iso, "containerID": cid}})
            else:
                cs.update(containerID=cid, ready=True, started=True, state={"running": {"startedAt": start_iso}})
            statuses.append(cs)
        not_ready = [cc["name"] for cc in containers if cc["name"] in crashing or not started]
        msg = "containers with unready status: [%s]" % " ".join(not_ready)
        status = {"phase": "Running" if started else "Pending",
                  "conditions": [cond("PodReadyToStartContainers", started),
                                 cond("Initialized", True),
                                 cond("Ready", ready, "ContainersNotReady", msg),
                                 cond("ContainersReady", ready, "ContainersNotReady", msg),
                                 cond("PodScheduled", True)],
                  "hostIP": node_ip(pod["spec"]["nodeName"]),
                  "hostIPs": [{"ip": node_ip(pod["spec"]["nodeName"])}],
                  "startTime": bound_iso, "qosClass": qos(pod), "containerStatuses": statuses}
        if started:
            status["podIP"] = pod_ip(pod)
            status["podIPs"] = [{"ip": status["podIP"]}]
        if pod["spec"].get("initContainers"):
            status["initContainerStatuses"] = [
                {"name": ic["name"], "image": ic.get("image", ""), "imageID": "", "ready": True, "restartCount": 0,
                 "started": False, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                                            "startedAt": bound_iso, "finishedAt": bound_iso}}}
                for ic in pod["spec"]["initContainers"]]
        return status
