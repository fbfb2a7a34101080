"""The Deployment controller: a ReplicaSet per pod template, named `<name>-<pod-template-hash>`, with
revisions, RollingUpdate / Recreate / paused / proportional scaling, `revisionHistoryLimit` clean-up, the
status counts and the Available/Progressing conditions, closely enough that kubectl and kubernetes.core
see the same conditions, revisions and counts as on a real cluster (kubernetes
`pkg/controller/deployment/sync.go`, `rolling.go`, `recreate.go`, `progress.go`, and
`pkg/controller/deployment/util/deployment_util.go`)."""

import copy

from ..defaults import HASH_LABEL, pod_template_hash, resolve_int_or_percent, templates_equal
from ..timefmt import now_iso, parse_iso
from .base import DEPLOY, PODS, RS, Controller, condition, omit_zero, owned_by, owner_ref

REV = "deployment.kubernetes.io/revision"
REV_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
SKIP_COPY = {"kubectl.kubernetes.io/last-applied-configuration", REV, REV_HISTORY, DESIRED, MAX_REPLICAS,
             "deprecated.deployment.rollback.to"}
REVISION_HISTORY_CHARS = 2000


def revision(rs):
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REV, "0"))
    except ValueError:
        return 0


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


class DeploymentController(Controller):
    resource = DEPLOY

    def sync(self, d):
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
            # recreate.go oldPodsRunning: any old pod not Succeeded/Failed counts, Terminating ones included
            old_pods = any(owned_by(p, rs) and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                           for rs in old_rss for p in c.items(PODS, ns))
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
