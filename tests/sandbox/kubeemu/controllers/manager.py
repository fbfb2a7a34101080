"""`Controllers`: kube-controller-manager, the scheduler and the kubelets of the emulated cluster in one
background thread, never inside an API request: a write is seen `controllers.lag_seconds` after it is
stored (an informer's watch delivery and the workqueue; never zero), so a client reads
`status.observedGeneration < metadata.generation` right after its write and must wait, as on a cluster
(kube-controller-manager's controllers are informer-driven workers, `pkg/controller/deployment/
deployment_controller.go` enqueueDeployment / worker). Each pass runs, under the cluster lock, the whole-cluster steps (ServiceAccounts,
node taints, scheduler, kubelet) and then every ReplicaSet, StatefulSet, DaemonSet, Deployment, HPA and
PDB through its controller, in that order; one object's failure is reported and does not stop the rest.
"""

import sys
import threading
import time
import traceback

from ..timefmt import now_iso
from .base import EVENTS
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .hpa import HorizontalPodAutoscalerController
from .kubelet import Kubelet
from .namespace import ServiceAccountsController
from .node import NodeLifecycleController
from .pdb import DisruptionController
from .replicaset import ReplicaSetController
from .scheduler import Scheduler
from .statefulset import StatefulSetController


class Controllers:
    """Runs every controller once per tick in one background thread."""

    EVENT_TTL, MAX_EVENTS = 3600, 5000

    def __init__(self, cluster, tick=0.1):
        self.cluster = cluster
        self.tick = tick
        self._stop = threading.Event()
        self._thread = None
        self.now = time.time()
        self.due = 0.0      # the next time a kubelet state changes without any write
        self._events_gc = 0.0
        self.serviceaccounts = ServiceAccountsController(self)
        self.nodes = NodeLifecycleController(self)
        self.scheduler = Scheduler(self)
        self.kubelet = Kubelet(self)
        self.replicasets = ReplicaSetController(self)
        self.statefulsets = StatefulSetController(self)
        self.daemonsets = DaemonSetController(self)
        self.deployments = DeploymentController(self)
        self.hpas = HorizontalPodAutoscalerController(self)
        self.pdbs = DisruptionController(self)
        # the sync order of a pass: whole-cluster steps, then one sync per object of each kind
        self.cluster_steps = (self.serviceaccounts, self.nodes, self.scheduler, self.kubelet)
        self.object_controllers = (self.replicasets, self.statefulsets, self.daemonsets, self.deployments,
                                   self.hpas, self.pdbs)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="kubeemu-controllers", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        with self.cluster.lock:
            self.cluster.cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def lag(self):
        return self.cluster.config["controllers"]["lag_seconds"]

    def _run(self):
        """Sync `lag` after something changed, when a timer (kubelet, HPA, grace period) is due, and at least
        every second; writes during a pass call for another pass, `lag` later."""
        seen, last = None, 0.0
        c = self.cluster
        while not self._stop.is_set():
            with c.lock:
                now = time.time()
                if (c.rv, c.config_version) == seen and now < self.due and now - last < 1.0:
                    c.cond.wait(max(0.005, min(self.due - now, 1.0 - (now - last))))
                    continue
                changed = (c.rv, c.config_version) != seen
            if changed and self._stop.wait(max(self.lag, self.tick if seen is None else 0.0)):
                return
            with c.lock:
                seen, last = (c.rv, c.config_version), time.time()   # before the sync: its writes call again
            self.sync_once()

    def wake_at(self, t):
        """Ask for a pass at time t even if nothing is written before (a kubelet deadline)."""
        self.due = min(self.due, t)

    def sync_once(self):
        c = self.cluster
        with c.lock:
            self.now = time.time()
            self.due = float("inf")
            for step in self.cluster_steps:
                self.guarded(step.sync)
            for controller in self.object_controllers:
                for obj in c.items(controller.resource):
                    self.guarded(controller.sync, obj)
            if self.now - self._events_gc > 10:
                self.guarded(self.collect_events)

    def guarded(self, fn, obj=None):
        """One object's sync failing (an emulator bug) is reported and must not stop the others."""
        try:
            return fn(obj) if obj is not None else fn()
        except Exception:  # noqa: BLE001 - report and go on, as a controller's worker would requeue
            what = "%s %s/%s" % (obj.get("kind"), obj["metadata"].get("namespace"), obj["metadata"]["name"]) \
                if obj is not None else fn.__qualname__
            sys.stderr.write("kubeemu: controller error syncing %s:\n%s" % (what, traceback.format_exc()))
            return None

    def collect_events(self):
        """Events expire after an hour (kube-apiserver's --event-ttl); at most MAX_EVENTS are kept."""
        self._events_gc = self.now
        events = sorted(self.cluster.items(EVENTS), key=lambda e: e.get("lastTimestamp") or "")
        cutoff = now_iso(self.now - self.EVENT_TTL)
        for i, ev in enumerate(events):
            if (ev.get("lastTimestamp") or "") < cutoff or i < len(events) - self.MAX_EVENTS:
                self.cluster.delete_object(EVENTS, ev)
