"""Background controllers: deployment, replicaset, statefulset, daemonset, scheduler, kubelet, PDB, HPA.

They follow kube-controller-manager's algorithms (pkg/controller/deployment/{rolling,sync}.go,
deployment/util) closely enough that kubectl and kubernetes.core see the same conditions,
revisions and counts as on a real cluster.
"""

import copy
import hashlib
import sys
import threading
import time
import traceback
import zlib

from .cluster import now_iso, parse_iso
from .defaults import HASH_LABEL, node_ip, pod_template_hash, resolve_int_or_percent, templates_equal
from .resources import BY_KEY
from .selectors import selector_matches

REV = "deployment.kubernetes.io/revision"
REV_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
SKIP_COPY = {"kubectl.kubernetes.io/last-applied-configuration", REV, REV_HISTORY, DESIRED, MAX_REPLICAS,
             "deprecated.deployment.rollback.to"}
REVISION_HISTORY_CHARS = 2000

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


def revision(rs):
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REV, "0"))
    except ValueError:
        return 0


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


def set_condition(status, cond):
    """deploymentutil.SetDeploymentCondition: same status+reason keeps the old one."""
    conds = status.setdefault("conditions", [])
    current = next((c for c in conds if c["type"] == cond["type"]), None)
    if current is not None and current["status"] == cond["status"] and current.get("reason") == cond.get("reason"):
        return
    if current is not None and current["status"] == cond["status"]:
        cond["lastTransitionTime"] = current["lastTransitionTime"]
    status["conditions"] = [c for c in conds if c["type"] != cond["type"]] + [cond]


def new_condition(ctype, status, reason, message):
    t = now_iso()
    return {"type": ctype, "status": status, "lastUpdateTime": t, "lastTransitionTime": t, "reason": reason,
            "message": message}


def omit_zero(status, keys):
    for k in keys:
        if not status.get(k):
            status.pop(k, None)
    return status


class Controllers:
    """Runs every controller once per tick in one background thread."""

    def __init__(self, cluster, tick=0.1):
        self.cluster = cluster
        self.tick = tick
        self._stop = threading.Event()
        self._thread = None
        self.kubelet = {}   # pod uid -> {"bound": t, "restarts": n, "next": t}
        self.now = time.time()
        self.due = 0.0      # the next time a kubelet state changes without any write
        self._events_gc = 0.0
        cluster.write_hooks.append(self.on_write)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="kubeemu-controllers", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self):
        """Sync when something changed, when a kubelet deadline is due, and at least every second."""
        seen, last = None, 0.0
        while not self._stop.wait(self.tick):
            c = self.cluster
            state = (c.rv, c.config_version)
            now = time.time()
            if state == seen and now < self.due and now - last < 1.0:
                continue
            seen, last = state, now   # taken before the sync: its own writes call for another pass
            self.sync_once()

    def sync_once(self):
        c = self.cluster
        with c.lock:
            self.now = time.time()
            self.due = float("inf")
            for step in (self.sync_namespaces, self.sync_nodes, self.schedule, self.run_kubelet):
                self.guarded(step)
            for r, sync in ((RS, self.sync_replicaset), (STS, self.sync_statefulset), (DS, self.sync_daemonset),
                            (DEPLOY, self.sync_deployment), (HPA, self.sync_hpa), (PDB, self.sync_pdb)):
                for obj in c.items(r):
                    self.guarded(sync, obj)
            if self.now - self._events_gc > 10:
                self.guarded(self.collect_events)

    def guarded(self, fn, obj=None):
        """One object's sync failing (an emulator bug) is reported and must not stop the others."""
        try:
            return fn(obj) if obj is not None else fn()
        except Exception:  # noqa: BLE001 - report and go on, as a controller's worker would requeue
            what = "%s %s/%s" % (obj.get("kind"), obj["metadata"].get("namespace"), obj["metadata"]["name"]) \
                if obj is not None else fn.__name__
            sys.stderr.write("kubeemu: controller error syncing %s:\n%s" % (what, traceback.format_exc()))
            return None

    EVENT_TTL, MAX_EVENTS = 3600, 5000

    def collect_events(self):
        """Events expire after an hour (kube-apiserver's --event-ttl); at most MAX_EVENTS are kept."""
        self._events_gc = self.now
        events = sorted(self.cluster.items(EVENTS), key=lambda e: e.get("lastTimestamp") or "")
        cutoff = now_iso(self.now - self.EVENT_TTL)
        for i, ev in enumerate(events):
            if (ev.get("lastTimestamp") or "") < cutoff or i < len(events) - self.MAX_EVENTS:
                self.cluster.delete_object(EVENTS, ev)

    def on_write(self, r, obj):
        if r is DEPLOY and not self._stop.is_set():
            with self.cluster.lock:
                self.now = time.time()
                current = self.cluster.find(DEPLOY, obj["metadata"]["namespace"], obj["metadata"]["name"])
                if current is not None:
                    self.guarded(self.sync_deployment, current)

    def event(self, obj, reason, message, component, etype="Normal"):
        self.cluster.record_event(obj, reason, message, component, etype)

    # ---- namespaces and nodes -------------------------------------------------------------------
    def sync_namespaces(self):
        c = self.cluster
        for ns in c.items(NS):
            name = ns["metadata"]["name"]
            if c.find(SA, name, "default") is None:
                c.create(SA, name, {"metadata": {"name": "default"}})

    def sync_nodes(self):
        taint = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        for node in self.cluster.items(NODES):
            taints = node["spec"].get("taints") or []
            has = any(t.get("key") == taint["key"] for t in taints)
            cordoned = bool(node["spec"].get("unschedulable"))
            if cordoned != has:
                new = copy.deepcopy(node)
                if cordoned:
                    new["spec"]["taints"] = taints + [dict(taint, timeAdded=now_iso())]
                else:
                    rest = [t for t in taints if t.get("key") != taint["key"]]
                    if rest:
                        new["spec"]["taints"] = rest
                    else:
                        new["spec"].pop("taints", None)
                self.cluster.write(NODES, new)

    # ---- scheduler ------------------------------------------------------------------------------
    @staticmethod
    def tolerates(pod, taint):
        for tol in pod["spec"].get("tolerations") or []:
            if tol.get("effect") and tol["effect"] != taint.get("effect"):
                continue
            if tol.get("operator") == "Exists" and (not tol.get("key") or tol["key"] == taint.get("key")):
                return True
            if tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
                return True
        return False

    def feasible(self, pod, node):
        if node["spec"].get("unschedulable") and not self.tolerates(
                pod, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
            return False
        ready = condition(node, "Ready")
        if ready is None or ready.get("status") != "True":
            return False
        for taint in node["spec"].get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not self.tolerates(pod, taint):
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

    def schedule(self):
        c = self.cluster
        nodes = c.items(NODES)
        pods = c.items(PODS)
        load = {}
        for p in pods:
            if p["spec"].get("nodeName"):
                load[p["spec"]["nodeName"]] = load.get(p["spec"]["nodeName"], 0) + 1
        for pod in pods:
            if pod["spec"].get("nodeName") or not pod_active(pod):
                continue
            candidates = [n for n in nodes if self.feasible(pod, n)]
            new = copy.deepcopy(pod)
            status = new.setdefault("status", {})
            if not candidates:
                msg = "0/%d nodes are available: %d node(s) were unschedulable or had untolerated taints. " \
                      "preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling." % (
                          len(nodes), len(nodes), len(nodes), len(nodes))
                cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                        "lastTransitionTime": now_iso(), "reason": "Unschedulable", "message": msg}
                old = condition(pod, "PodScheduled")
                if old is None or old.get("message") != msg:
                    status["conditions"] = [cond]
                    c.write_status(PODS, new)
                    self.event(pod, "FailedScheduling", msg, "default-scheduler", "Warning")
                continue
            node = min(candidates, key=lambda n: (load.get(n["metadata"]["name"], 0), n["metadata"]["name"]))
            name = node["metadata"]["name"]
            load[name] = load.get(name, 0) + 1
            new["spec"]["nodeName"] = name
            status["conditions"] = [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                     "lastTransitionTime": now_iso()}]
            stored = c.write(PODS, new)
            if stored is not None:
                c.write_status(PODS, new)
                self.event(pod, "Scheduled", "Successfully assigned %s/%s to %s" % (
                    pod["metadata"]["namespace"], pod["metadata"]["name"], name), "default-scheduler")

    # ---- kubelet --------------------------------------------------------------------------------
    @staticmethod
    def pod_ip(pod):
        h = zlib.crc32(pod["metadata"]["uid"].encode())
        return "10.244.%d.%d" % ((h >> 8) % 250, h % 250 + 2)

    @staticmethod
    def qos(pod):
        res = [cc.get("resources") or {} for cc in pod["spec"].get("containers") or []]
        if not any(r.get("requests") or r.get("limits") for r in res):
            return "BestEffort"
        if all(r.get("limits") and r.get("limits", {}).get("cpu") and r.get("limits", {}).get("memory")
               and (not r.get("requests") or r["requests"] == r["limits"]) for r in res):
            return "Guaranteed"
        return "Burstable"

    def run_kubelet(self):
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
            st = self.kubelet.setdefault(uid, {"bound": self.now, "restarts": 0, "next": None})
            status = self.pod_status(pod, st, delay, broken)
            if status != pod.get("status"):
                new = copy.deepcopy(pod)
                new["status"] = status
                c.write_status(PODS, new)
        for uid in list(self.kubelet):
            if uid not in live:
                del self.kubelet[uid]

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
            self.due = min(self.due, st["next"])
        elif not crashing:
            st["next"] = None
        if not started:
            self.due = min(self.due, st["bound"] + delay)
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
                  "startTime": bound_iso, "qosClass": self.qos(pod), "containerStatuses": statuses}
        if started:
            status["podIP"] = self.pod_ip(pod)
            status["podIPs"] = [{"ip": status["podIP"]}]
        if pod["spec"].get("initContainers"):
            status["initContainerStatuses"] = [
                {"name": ic["name"], "image": ic.get("image", ""), "imageID": "", "ready": True, "restartCount": 0,
                 "started": False, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                                            "startedAt": bound_iso, "finishedAt": bound_iso}}}
                for ic in pod["spec"]["initContainers"]]
        return status

    # ---- replicasets ----------------------------------------------------------------------------
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

    @staticmethod
    def deletion_rank(pod):
        phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get((pod.get("status") or {}).get("phase"), 0)
        restarts = sum(cs.get("restartCount", 0) for cs in (pod.get("status") or {}).get("containerStatuses") or [])
        return (bool(pod["spec"].get("nodeName")), phase, pod_ready(pod), -restarts,
                [-ord(ch) for ch in pod["metadata"]["creationTimestamp"]])

    def sync_replicaset(self, rs):
        spec = rs["spec"]
        pods = self.owned_pods(rs)
        want = spec.get("replicas", 1)
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self.new_pod(rs, spec["template"]))
        elif len(pods) > want:
            victims = sorted(pods, key=self.deletion_rank)[:len(pods) - want]
            for pod in victims:
                self.delete_pod(rs, pod)
            pods = [p for p in pods if p not in victims]
        min_ready = spec.get("minReadySeconds", 0)
        status = {"replicas": len(pods),
                  "fullyLabeledReplicas": len([p for p in pods if selector_matches(
                      {"matchLabels": (spec["template"].get("metadata") or {}).get("labels") or {}},
                      p["metadata"].get("labels"))]),
                  "readyReplicas": len([p for p in pods if pod_ready(p)]),
                  "availableReplicas": len([p for p in pods if pod_available(p, min_ready, self.now)]),
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        omit_zero(status, ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
        new = copy.deepcopy(rs)
        new["status"] = status
        self.cluster.write_status(RS, new)

    # ---- deployments ----------------------------------------------------------------------------
    def sync_deployment(self, d):
        c = self.cluster
        d = copy.deepcopy(d)
        ns, spec = d["metadata"]["namespace"], d["spec"]
        status = copy.deepcopy(d.get("status") or {})
        rss = sorted((rs for rs in c.items(RS, ns) if owned_by(rs, d)),
                     key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"]))
        new_rs = next((rs for rs in rss if templates_equal(rs["spec"]["template"], spec["template"])), None)
        old_rss = [rs for rs in rss if rs is not new_rs]
        replicas = spec.get("replicas", 1)
        surge, unavail = self.rolling_params(d)
        if spec.get("paused") or self.is_scaling_event(d, rss):
            new_rs = self.sync_revision(d, new_rs, old_rss, status, create=False)
            self.scale(d, new_rs, old_rss, surge)
        elif (spec.get("strategy") or {}).get("type") == "Recreate":
            new_rs = self.sync_revision(d, new_rs, old_rss, status, create=False)
            active_old = [rs for rs in old_rss if rs["spec"].get("replicas", 0) > 0]
            for rs in active_old:
                self.scale_rs(d, rs, 0, surge)
            old_pods = any(self.owned_pods(rs) for rs in old_rss)
            if not active_old and not old_pods:
                if new_rs is None:
                    new_rs = self.sync_revision(d, new_rs, old_rss, status, create=True)
                if new_rs["spec"].get("replicas", 0) != replicas:
                    new_rs = self.scale_rs(d, new_rs, replicas, surge)
        else:
            new_rs = self.sync_revision(d, new_rs, old_rss, status, create=True)
            if not self.reconcile_new(d, new_rs, old_rss, surge):
                if not self.reconcile_old(d, new_rs, old_rss, unavail) and self.complete(d, status):
                    self.cleanup(d, old_rss)
        self.sync_status(d, status, new_rs, [x for x in (c.items(RS, ns)) if owned_by(x, d)], unavail)

    def rolling_params(self, d):
        strategy = d["spec"].get("strategy") or {}
        replicas = d["spec"].get("replicas", 1)
        if strategy.get("type") != "RollingUpdate":
            return 0, 0
        ru = strategy.get("rollingUpdate") or {}
        try:
            surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), replicas, True)
            unavail = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False)
        except ValueError:
            return 1, 0
        if surge == 0 and unavail == 0:
            unavail = 1
        if unavail > replicas:
            unavail = replicas
        return surge, unavail

    def is_scaling_event(self, d, rss):
        for rs in rss:
            if rs["spec"].get("replicas", 0) > 0:
                desired = (rs["metadata"].get("annotations") or {}).get(DESIRED)
                if desired is not None and desired != str(d["spec"].get("replicas", 1)):
                    return True
        return False

    def sync_revision(self, d, new_rs, old_rss, status, create):
        c = self.cluster
        max_old = max([revision(rs) for rs in old_rss] or [0])
        new_revision = str(max_old + 1)
        if new_rs is not None:
            rs = copy.deepcopy(new_rs)
            ann = rs["metadata"].setdefault("annotations", {})
            for k, v in (d["metadata"].get("annotations") or {}).items():
                if k not in SKIP_COPY:
                    ann[k] = v
            old_rev = ann.get(REV)
            if revision(rs) < max_old + 1:
                ann[REV] = new_revision
                if old_rev:
                    history = ann.get(REV_HISTORY)
                    history = history + "," + old_rev if history else old_rev
                    while len(history) > REVISION_HISTORY_CHARS and "," in history:
                        history = history.split(",", 1)[1]
                    ann[REV_HISTORY] = history
            if rs != new_rs:
                rs = c.write(RS, rs)
            self.set_deploy_revision(d, rs)
            if condition(d, "Progressing") is None and d["spec"].get("progressDeadlineSeconds") is not None:
                set_condition(status, new_condition("Progressing", "True", "FoundNewReplicaSet",
                                                    'Found new replica set "%s"' % rs["metadata"]["name"]))
            return rs
        if not create:
            return None
        template = copy.deepcopy(d["spec"]["template"])
        collisions = (d.get("status") or {}).get("collisionCount") or 0
        while True:
            h = pod_template_hash(template, collisions)
            name = "%s-%s" % (d["metadata"]["name"], h)
            if c.find(RS, d["metadata"]["namespace"], name) is None:
                break
            collisions += 1
            status["collisionCount"] = collisions
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        replicas = d["spec"].get("replicas", 1)
        surge, _ = self.rolling_params(d)
        new_replicas = self.new_rs_replicas(d, old_rss, 0, surge)
        ann = {k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k not in SKIP_COPY}
        ann.update({REV: new_revision, DESIRED: str(replicas), MAX_REPLICAS: str(replicas + surge)})
        labels = dict((template["metadata"].get("labels") or {}))
        rs = {"metadata": {"name": name, "namespace": d["metadata"]["namespace"], "labels": labels,
                           "annotations": ann, "ownerReferences": [owner_ref(d)]},
              "spec": {"replicas": new_replicas, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                       "selector": selector, "template": template}}
        if not rs["spec"]["minReadySeconds"]:
            del rs["spec"]["minReadySeconds"]
        rs = c.create(RS, d["metadata"]["namespace"], rs)
        if new_replicas:
            self.event(d, "ScalingReplicaSet", "Scaled up replica set %s to %d" % (name, new_replicas),
                       "deployment-controller")
        self.set_deploy_revision(d, rs)
        if d["spec"].get("progressDeadlineSeconds") is not None:
            set_condition(status, new_condition("Progressing", "True", "NewReplicaSetCreated",
                                                'Created new replica set "%s"' % name))
        return c.find(RS, d["metadata"]["namespace"], name)

    def set_deploy_revision(self, d, rs):
        rev = (rs["metadata"].get("annotations") or {}).get(REV)
        ann = d["metadata"].setdefault("annotations", {})
        if rev and ann.get(REV) != rev:
            ann[REV] = rev
            stored = self.cluster.write(DEPLOY, d)
            if stored is not None:
                d["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]

    def new_rs_replicas(self, d, old_rss, current_new, surge):
        replicas = d["spec"].get("replicas", 1)
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return replicas
        current = current_new + sum(rs["spec"].get("replicas", 0) for rs in old_rss)
        max_total = replicas + surge
        if current >= max_total:
            return current_new
        return current_new + min(max_total - current, replicas - current_new)

    def scale_rs(self, d, rs, size, surge):
        replicas = d["spec"].get("replicas", 1)
        new = copy.deepcopy(rs)
        ann = new["metadata"].setdefault("annotations", {})
        ann[DESIRED], ann[MAX_REPLICAS] = str(replicas), str(replicas + surge)
        before = new["spec"].get("replicas", 0)
        new["spec"]["replicas"] = size
        if new == rs:
            return rs
        stored = self.cluster.write(RS, new)
        if before != size:
            self.event(d, "ScalingReplicaSet", "Scaled %s replica set %s to %d from %d" % (
                "up" if size > before else "down", rs["metadata"]["name"], size, before), "deployment-controller")
        return stored or rs

    def reconcile_new(self, d, new_rs, old_rss, surge):
        replicas = d["spec"].get("replicas", 1)
        current = new_rs["spec"].get("replicas", 0)
        if current == replicas:
            return False
        target = replicas if current > replicas else self.new_rs_replicas(d, old_rss, current, surge)
        if target == current:
            return False
        self.scale_rs(d, new_rs, target, surge)
        return True

    def reconcile_old(self, d, new_rs, old_rss, unavail):
        c = self.cluster
        surge, _ = self.rolling_params(d)
        active = [rs for rs in old_rss if rs["spec"].get("replicas", 0) > 0]
        if not active:
            return False
        all_rss = old_rss + [new_rs]
        all_count = sum(rs["spec"].get("replicas", 0) for rs in all_rss)
        min_available = d["spec"].get("replicas", 1) - unavail
        new_unavailable = new_rs["spec"].get("replicas", 0) - (new_rs.get("status") or {}).get("availableReplicas", 0)
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        total = 0
        for rs in sorted(active, key=lambda x: x["metadata"]["creationTimestamp"]):
            if total >= max_scaled_down:
                break
            unhealthy = rs["spec"]["replicas"] - (rs.get("status") or {}).get("availableReplicas", 0)
            if unhealthy <= 0:
                continue
            count = min(max_scaled_down - total, unhealthy)
            self.scale_rs(d, rs, rs["spec"]["replicas"] - count, surge)
            total += count
        available = sum((c.find(RS, rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs)
                        .get("status", {}).get("availableReplicas", 0) for rs in all_rss)
        if available > min_available:
            budget, done = available - min_available, 0
            for rs in sorted(active, key=lambda x: x["metadata"]["creationTimestamp"]):
                rs = c.find(RS, rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
                if done >= budget:
                    break
                if rs["spec"].get("replicas", 0) == 0:
                    continue
                count = min(rs["spec"]["replicas"], budget - done)
                self.scale_rs(d, rs, rs["spec"]["replicas"] - count, surge)
                done += count
            total += done
        return total > 0

    def scale(self, d, new_rs, old_rss, surge):
        """dc.scale: a scaling event (or a paused deployment)."""
        replicas = d["spec"].get("replicas", 1)
        all_rss = ([new_rs] if new_rs else []) + old_rss
        active = [rs for rs in all_rss if rs["spec"].get("replicas", 0) > 0]
        target = active[0] if len(active) == 1 else (
            max(all_rss, key=lambda x: x["metadata"]["creationTimestamp"]) if not active and all_rss else None)
        if target is not None:
            self.scale_rs(d, target, replicas, surge)
            return
        if new_rs is not None and new_rs["spec"].get("replicas", 0) == replicas and \
                (new_rs.get("status") or {}).get("availableReplicas", 0) == replicas:
            for rs in old_rss:
                self.scale_rs(d, rs, 0, surge)
            return
        if not active:
            return
        allowed = replicas + surge if replicas > 0 else 0
        current = sum(rs["spec"]["replicas"] for rs in active)
        to_add = allowed - current
        active.sort(key=lambda x: (-x["spec"]["replicas"], x["metadata"]["creationTimestamp"]))
        sizes, added = {}, 0
        for rs in active:
            share = int(round(to_add * rs["spec"]["replicas"] / float(current))) if current else 0
            if to_add > 0:
                share = min(share, to_add - added)
            else:
                share = max(share, to_add - added)
            sizes[rs["metadata"]["name"]] = rs["spec"]["replicas"] + share
            added += share
        first = active[0]["metadata"]["name"]
        sizes[first] = max(0, sizes[first] + to_add - added)
        for rs in active:
            self.scale_rs(d, rs, sizes[rs["metadata"]["name"]], surge)

    def complete(self, d, status):
        replicas = d["spec"].get("replicas", 1)
        return status.get("updatedReplicas", 0) == replicas and status.get("replicas", 0) == replicas and \
            status.get("availableReplicas", 0) == replicas and \
            status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)

    def cleanup(self, d, old_rss):
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        diff = len(old_rss) - limit
        if diff <= 0:
            return
        for rs in sorted(old_rss, key=revision)[:diff]:
            st = rs.get("status") or {}
            if st.get("replicas", 0) or rs["spec"].get("replicas", 0) or \
                    rs["metadata"].get("generation", 1) > st.get("observedGeneration", 0):
                continue
            self.cluster.delete_object(RS, rs)

    def sync_status(self, d, status, new_rs, rss, unavail):
        c = self.cluster
        d = c.find(DEPLOY, d["metadata"]["namespace"], d["metadata"]["name"]) or d
        replicas = d["spec"].get("replicas", 1)
        old_status = d.get("status") or {}
        st = lambda rs, k: (rs.get("status") or {}).get(k, 0)  # noqa: E731
        if new_rs is not None:
            new_rs = next((rs for rs in rss if rs["metadata"]["uid"] == new_rs["metadata"]["uid"]), new_rs)
        available = sum(st(rs, "availableReplicas") for rs in rss)
        total_spec = sum(rs["spec"].get("replicas", 0) for rs in rss)
        status.update({"observedGeneration": d["metadata"].get("generation", 1),
                       "replicas": sum(st(rs, "replicas") for rs in rss),
                       "updatedReplicas": st(new_rs, "replicas") if new_rs else 0,
                       "readyReplicas": sum(st(rs, "readyReplicas") for rs in rss),
                       "availableReplicas": available,
                       "unavailableReplicas": max(0, total_spec - available)})
        if available >= replicas - unavail:
            set_condition(status, new_condition("Available", "True", "MinimumReplicasAvailable",
                                                "Deployment has minimum availability."))
        else:
            set_condition(status, new_condition("Available", "False", "MinimumReplicasUnavailable",
                                                "Deployment does not have minimum availability."))
        deadline = d["spec"].get("progressDeadlineSeconds")
        cur = next((x for x in old_status.get("conditions") or [] if x["type"] == "Progressing"), None)
        rs_name = new_rs["metadata"]["name"] if new_rs else None
        complete_before = status["replicas"] == status["updatedReplicas"] and cur is not None and \
            cur.get("reason") == "NewReplicaSetAvailable"
        if deadline is None:
            status["conditions"] = [x for x in status.get("conditions", []) if x["type"] != "Progressing"]
        elif not complete_before:
            old_old = old_status.get("replicas", 0) - old_status.get("updatedReplicas", 0)
            new_old = status["replicas"] - status["updatedReplicas"]
            progressing = status["updatedReplicas"] > old_status.get("updatedReplicas", 0) or new_old < old_old or \
                status["readyReplicas"] > old_status.get("readyReplicas", 0) or \
                available > old_status.get("availableReplicas", 0)
            if self.complete(d, status):
                set_condition(status, new_condition(
                    "Progressing", "True", "NewReplicaSetAvailable",
                    'ReplicaSet "%s" has successfully progressed.' % rs_name))
            elif progressing:
                cond = new_condition("Progressing", "True", "ReplicaSetUpdated",
                                     'ReplicaSet "%s" is progressing.' % rs_name if rs_name else
                                     'Deployment "%s" is progressing.' % d["metadata"]["name"])
                pcur = next((x for x in status.get("conditions", []) if x["type"] == "Progressing"), None)
                if pcur is not None and pcur["status"] == "True":
                    cond["lastTransitionTime"] = pcur["lastTransitionTime"]
                status["conditions"] = [x for x in status.get("conditions", []) if x["type"] != "Progressing"] + [cond]
            else:
                pcur = next((x for x in status.get("conditions", []) if x["type"] == "Progressing"), None)
                if pcur is not None and \
                        pcur.get("reason") not in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
                    since = parse_iso(pcur.get("lastUpdateTime"))
                    if since is not None and since + deadline < self.now:
                        set_condition(status, new_condition(
                            "Progressing", "False", "ProgressDeadlineExceeded",
                            'ReplicaSet "%s" has timed out progressing.' % rs_name))
                        self.event(d, "ProgressDeadlineExceeded", "Deployment %s has timed out progressing."
                                   % d["metadata"]["name"], "deployment-controller", "Warning")
        omit_zero(status, ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                           "unavailableReplicas", "collisionCount"))
        new = copy.deepcopy(d)
        new["status"] = status
        c.write_status(DEPLOY, new)

    # ---- statefulsets ---------------------------------------------------------------------------
    def sync_statefulset(self, sts):
        name, spec = sts["metadata"]["name"], sts["spec"]
        want = spec.get("replicas", 1)
        rev = "%s-%s" % (name, pod_template_hash(spec["template"]))
        pods = {p["metadata"]["name"]: p for p in self.owned_pods(sts)}
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for i in range(want):
            pname = "%s-%d" % (name, i)
            if pname in pods:
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

    # ---- daemonsets -----------------------------------------------------------------------------
    DS_TOLERATIONS = [{"key": k, "operator": "Exists", "effect": e} for k, e in (
        ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"))]

    def sync_daemonset(self, ds):
        spec = ds["spec"]
        rev = pod_template_hash(spec["template"])
        tmpl = copy.deepcopy(spec["template"])
        tols = tmpl["spec"].setdefault("tolerations", [])
        for t in self.DS_TOLERATIONS:
            if t not in tols:
                tols.append(t)
        probe = {"spec": tmpl["spec"], "metadata": {}}
        eligible = {n["metadata"]["name"] for n in self.cluster.items(NODES) if self.feasible(probe, n)}
        by_node = {}
        for p in self.owned_pods(ds):
            node = p["spec"].get("nodeName") or self._affinity_node(p)
            if node not in eligible or node in by_node:
                self.delete_pod(ds, p)
            else:
                by_node[node] = p
        for node in sorted(eligible - set(by_node)):
            by_node[node] = self.new_pod(ds, tmpl, extra_labels={"controller-revision-hash": rev}, node=node)
        stale = [p for p in by_node.values() if p["metadata"]["labels"].get("controller-revision-hash") != rev]
        if stale and (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" and \
                all(pod_ready(p) for p in by_node.values()):
            self.delete_pod(ds, stale[0])
            del by_node[stale[0]["spec"].get("nodeName") or self._affinity_node(stale[0])]
        pods = list(by_node.values())
        ready = len([p for p in pods if pod_ready(p)])
        status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(eligible),
                  "numberMisscheduled": 0, "numberReady": ready,
                  "numberAvailable": ready, "numberUnavailable": len(eligible) - ready,
                  "updatedNumberScheduled": len([p for p in pods
                                                 if p["metadata"]["labels"].get("controller-revision-hash") == rev]),
                  "observedGeneration": ds["metadata"].get("generation", 1)}
        omit_zero(status, ("numberAvailable", "numberUnavailable", "updatedNumberScheduled"))
        new = copy.deepcopy(ds)
        new["status"] = status
        self.cluster.write_status(DS, new)

    @staticmethod
    def _affinity_node(pod):
        terms = ((((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
                  .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
        for term in terms:
            for f in term.get("matchFields") or []:
                if f.get("key") == "metadata.name" and f.get("values"):
                    return f["values"][0]
        return None

    # ---- PDB and HPA ----------------------------------------------------------------------------
    def sync_pdb(self, pdb):
        from .policy import pdb_status
        new = copy.deepcopy(pdb)
        new["status"] = pdb_status(self.cluster, pdb)
        self.cluster.write_status(PDB, new)

    def sync_hpa(self, hpa):
        from .hpa import sync_hpa
        sync_hpa(self.cluster, hpa, self.now)
