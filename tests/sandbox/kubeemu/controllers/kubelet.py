"""The kubelet stand-in: runs no containers, but moves each scheduled pod through the phases,
conditions and containerStatuses a real kubelet reports (kubernetes `pkg/kubelet/status/status_manager.go`,
`pkg/kubelet/kubelet_pods.go` generateAPIPodStatus):

- CrashLoopBackOff for the configured `broken_images` (the container runs and exits 1, restarts back off);
- Pending pods whose containers wait in ErrImagePull, then ImagePullBackOff ("Back-off pulling image"),
  for `unpullable_images` (`pkg/kubelet/images/image_manager.go` EnsureImageExists: ErrImagePull on a
  failed pull, ErrImagePullBackOff while the back-off lasts);
- graceful termination: a pod with a deletionTimestamp keeps running for its deletionGracePeriodSeconds
  (times `grace_period_scale` in the sandbox, at least MIN_GRACE_SECONDS) before the kubelet deletes it
  with grace 0 (`pkg/kubelet/status/status_manager.go` canBeDeleted / syncPod: Delete with
  GracePeriodSeconds 0 and a UID precondition);
- node-pressure eviction (`pkg/kubelet/eviction/eviction_manager.go`, `helpers.go` evictionMessage): for a
  `node_pressure` entry the node reports MemoryPressure/DiskPressure and the kubelet fails `evict` of its
  pods (largest usage above request first) with phase Failed, reason Evicted and a DisruptionTarget
  condition; the Failed pods stay until pod GC (terminated-pod-gc-threshold 12500);
- a network check pod (restartPolicy Never, the fixed `sh -c` command set of `../netcheck.py`) runs to
  completion: Pending (ContainerCreating), Running for `network.run_seconds`, then Succeeded (exit 0) or
  Failed (exit 1) with the container `terminated` (reason Completed / Error, exitCode) and Ready False
  reason PodCompleted (`pkg/kubelet/kubelet_pods.go` getPhase: with restartPolicy Never a pod whose
  containers have all terminated is Succeeded when every exit code is 0, else Failed;
  `pkg/kubelet/status/generate.go` GeneratePodReadyCondition: PodCompleted); its output is what
  `pods/log` serves for it;
- and the pod garbage collector's orphan pass (`pkg/controller/podgc/gc_controller.go`): a pod bound to a
  node that no longer exists is deleted (force, grace 0)."""

import copy
import hashlib
import zlib

from ..cluster import MIN_GRACE_SECONDS
from ..defaults import node_ip
from ..netcheck import parse_script, run_checks
from ..resources import BY_KEY
from ..quantity import MEMORY, parse_quantity
from ..subresources import pod_usage
from ..timefmt import now_iso
from .base import NODES, PODS, Controller, pod_active

PRESSURE = {"memory": ("MemoryPressure", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
                       "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            "ephemeral-storage": ("DiskPressure", "KubeletHasDiskPressure", "kubelet has disk pressure",
                                  "KubeletHasNoDiskPressure", "kubelet has no disk pressure")}


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
        delay, broken, unpullable = cfg["ready_delay_seconds"], set(cfg["broken_images"]), \
            set(cfg["unpullable_images"])
        live = set()
        nodes = {n["metadata"]["name"] for n in c.items(NODES)}
        self.node_pressure(cfg["node_pressure"])
        for pod in c.items(PODS):
            uid = pod["metadata"]["uid"]
            live.add(uid)
            node = pod["spec"].get("nodeName")
            if node and node not in nodes:
                c.delete_object(PODS, pod, grace=0)   # the pod garbage collector: its node is gone
                continue
            if node and pod["metadata"].get("deletionTimestamp"):
                self.terminate(pod, cfg["grace_period_scale"])
                continue
            if not node or not pod_active(pod):
                continue
            st = self.pods.setdefault(uid, {"bound": self.now, "restarts": 0, "next": None})
            checks = parse_script(pod)
            if checks is not None:
                status = self.check_pod_status(pod, st, delay, checks)
            else:
                status = self.pod_status(pod, st, delay, broken, unpullable)
            if status != pod.get("status"):
                new = copy.deepcopy(pod)
                new["status"] = status
                c.write_status(PODS, new)
        for uid in list(self.pods):
            if uid not in live:
                del self.pods[uid]
        for key in list(c.container_output):
            if key[0] not in live:
                del c.container_output[key]

    def terminate(self, pod, scale):
        """The containers get the grace period (scaled) to stop; then the pod object goes."""
        st = self.pods.setdefault(pod["metadata"]["uid"], {"bound": self.now, "restarts": 0, "next": None})
        if st.get("kill_at") is None:
            grace = pod["metadata"].get("deletionGracePeriodSeconds") or 0
            st["kill_at"] = self.now + max(grace * scale, MIN_GRACE_SECONDS)
        elif pod["metadata"].get("deletionGracePeriodSeconds") is not None:   # shortened by a later delete
            st["kill_at"] = min(st["kill_at"], self.now + max(pod["metadata"]["deletionGracePeriodSeconds"] * scale,
                                                              MIN_GRACE_SECONDS))
        if self.now >= st["kill_at"]:
            self.cluster.delete_object(PODS, pod, grace=0)
        else:
            self.manager.wake_at(st["kill_at"])

    def node_pressure(self, entries):
        """Node conditions for the configured pressure, and the eviction of `evict` pods per entry (once)."""
        c = self.cluster
        wanted = {(e["node"], e["resource"]): e for e in entries}
        done = getattr(self, "evicted", {})
        self.evicted = {k: v for k, v in done.items() if k in wanted}
        for node in c.items(NODES):
            name = node["metadata"]["name"]
            conds = copy.deepcopy((node.get("status") or {}).get("conditions") or [])
            for resource, (ctype, reason_on, msg_on, reason_off, msg_off) in PRESSURE.items():
                on = (name, resource) in wanted
                cur = next((x for x in conds if x.get("type") == ctype), None)
                if cur is None and not on:
                    continue
                if cur is None or (cur.get("status") == "True") != on:
                    conds = [x for x in conds if x.get("type") != ctype] + [{
                        "type": ctype, "status": "True" if on else "False", "reason": reason_on if on else reason_off,
                        "message": msg_on if on else msg_off, "lastHeartbeatTime": now_iso(self.now),
                        "lastTransitionTime": now_iso(self.now)}]
            if conds != (node.get("status") or {}).get("conditions"):
                new = copy.deepcopy(node)
                new.setdefault("status", {})["conditions"] = conds
                c.write_status(NODES, new)
        for key, entry in wanted.items():
            count = self.evicted.get(key, 0)
            if count >= entry["evict"]:
                continue
            victims = self.rank_victims(key[0], key[1])[:entry["evict"] - count]
            for pod in victims:
                self.evict(pod, key[1])
            self.evicted[key] = count + len(victims)

    def rank_victims(self, node, resource):
        """Pods whose usage exceeds their request first, the largest excess first (rankMemoryPressure)."""
        def excess(pod):
            usage = sum(m for _, _, m in pod_usage(self.cluster, pod) or [])
            request = sum(parse_quantity(((cc.get("resources") or {}).get("requests") or {}).get("memory", "0"),
                                         MEMORY) for cc in pod["spec"].get("containers") or [])
            return (usage <= request, -(usage - request), pod["metadata"]["name"])
        pods = [p for p in self.cluster.items(PODS) if p["spec"].get("nodeName") == node and pod_active(p)
                and (p.get("status") or {}).get("phase") == "Running"]
        return sorted(pods, key=excess) if resource == "memory" else sorted(pods, key=lambda p: p["metadata"]["name"])

    def evict(self, pod, resource):
        """eviction_manager.evictPod: the pod is killed and its status set Failed/Evicted (not deleted)."""
        threshold = {"memory": "100Mi", "ephemeral-storage": "10%"}[resource]
        message = "The node was low on resource: %s. Threshold quantity: %s, available: %s. " % (
            resource, threshold, "87020Ki" if resource == "memory" else "9%")
        new = copy.deepcopy(pod)
        status = new.setdefault("status", {})
        stamp = now_iso(self.now)
        status.update(phase="Failed", reason="Evicted", message=message)
        replaced = ("Ready", "ContainersReady", "DisruptionTarget")
        conds = [x for x in status.get("conditions") or [] if x.get("type") not in replaced]
        msg = "containers with unready status: [%s]" % " ".join(cc["name"] for cc in pod["spec"]["containers"])
        conds += [{"type": "DisruptionTarget", "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp,
                   "reason": "TerminationByKubelet", "message": message},
                  {"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": stamp,
                   "reason": "PodFailed", "message": ""},
                  {"type": "ContainersReady", "status": "False", "lastProbeTime": None, "lastTransitionTime": stamp,
                   "reason": "PodFailed", "message": msg}]
        status["conditions"] = conds
        for cs in status.get("containerStatuses") or []:
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", stamp)
            cs.update(ready=False, started=False, state={"terminated": {
                "exitCode": 137, "reason": "ContainerStatusUnknown" if not cs.get("containerID") else "Error",
                "startedAt": started, "finishedAt": stamp, "containerID": cs.get("containerID", "")}})
        self.cluster.write_status(PODS, new)
        self.event(pod, "Evicted", message, "kubelet", "Warning")

    def pod_status(self, pod, st, delay, broken, unpullable=frozenset()):
        old = pod.get("status") or {}
        if st.get("started") is None and self.now >= st["bound"] + delay:
            st["started"] = self.now   # once started, a later ready_delay change does not undo it
        started = st.get("started") is not None
        containers = pod["spec"].get("containers") or []
        missing = [cc["name"] for cc in containers if cc.get("image") in unpullable]
        crashing = [cc["name"] for cc in containers if cc.get("image") in broken and cc["name"] not in missing]
        ready = started and not crashing and not missing
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
        if missing and started:
            # a pull fails (ErrImagePull), then the kubelet backs off (ImagePullBackOff) and tries again,
            # the back-off doubling (10 s to 300 s on a node; scaled like CrashLoopBackOff here)
            base = max(delay, 0.5)
            if st.get("pull_next") is None:
                st["pull_reason"], st["pulls"], st["pull_next"] = "ErrImagePull", 1, self.now + base
                self.event(pod, "Failed", "Failed to pull image \"%s\": %s" % (
                    next(cc["image"] for cc in containers if cc["name"] == missing[0]),
                    self.pull_error(next(cc["image"] for cc in containers if cc["name"] == missing[0]))),
                    "kubelet", "Warning")
            elif self.now >= st["pull_next"]:
                if st["pull_reason"] == "ErrImagePull":
                    st["pull_reason"] = "ImagePullBackOff"
                    st["pull_next"] = self.now + min(base * (2 ** min(st["pulls"], 5)), 30)
                else:
                    st["pull_reason"], st["pulls"], st["pull_next"] = "ErrImagePull", st["pulls"] + 1, self.now + base
            self.manager.wake_at(st["pull_next"])
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
            elif cc["name"] in missing:
                cs["imageID"] = ""
                cs["state"] = {"waiting": {"reason": st["pull_reason"], "message": (
                    self.pull_error(image) if st["pull_reason"] == "ErrImagePull"
                    else 'Back-off pulling image "%s"' % image)}}
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
        not_ready = [cc["name"] for cc in containers if cc["name"] in crashing or cc["name"] in missing
                     or not started]
        msg = "containers with unready status: [%s]" % " ".join(not_ready)
        status = {"phase": "Running" if started and not missing else "Pending",
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

    def check_pod_status(self, pod, st, delay, checks):
        """A network check pod: ContainerCreating, Running for network.run_seconds, then terminated."""
        c = self.cluster
        net = c.config["network"]
        meta = pod["metadata"]
        cc = pod["spec"]["containers"][0]
        status = self.pod_status(pod, st, delay, set(), set())   # Pending/ContainerCreating, then Running
        if st.get("started") is None:
            return status
        done_at = st["started"] + net["run_seconds"]
        if self.now < done_at:
            self.manager.wake_at(done_at)
            return status
        if "exit_code" not in st:
            services = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in c.items(BY_KEY["services"])}
            lines, st["exit_code"] = run_checks(checks, meta["namespace"], services, net)
            st["finished"] = self.now
            c.container_output[(meta["uid"], cc["name"])] = lines
        code, stamp = st["exit_code"], now_iso(st["finished"])
        cs = status["containerStatuses"][0]
        cs.update(ready=False, started=False, state={"terminated": {
            "exitCode": code, "reason": "Completed" if code == 0 else "Error",
            "startedAt": now_iso(st["started"]), "finishedAt": stamp, "containerID": cs.get("containerID", "")}})
        status["phase"] = "Succeeded" if code == 0 else "Failed"
        for cond in status["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(status="False", reason="PodCompleted", message="", lastTransitionTime=stamp)
            elif cond["type"] == "PodReadyToStartContainers":
                cond.update(status="False", lastTransitionTime=stamp)
        return status

    @staticmethod
    def pull_error(image):
        """What containerd answers for a tag the registry does not have (the kubelet passes it on)."""
        return ('rpc error: code = NotFound desc = failed to pull and unpack image "%s": failed to resolve '
                'reference "%s": %s: not found' % (image, image, image))
