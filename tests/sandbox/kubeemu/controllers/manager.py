"""`Controllers`: kube-controller-manager, the scheduler and the kubelets of the emulated cluster in one
background thread. Each pass runs, under the cluster lock, the whole-cluster steps (ServiceAccounts,
node taints, scheduler, kubelet) and then every ReplicaSet, StatefulSet, DaemonSet, Deployment, HPA and
PDB through its controller, in that order; one object's failure is reported and does not stop the rest.
"""

import sys
import threading
import time
import traceback

from ..timefmt import now_iso
from .base import DEPLOY, EVENTS
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

    def on_write(self, r, obj):
        """A Deployment written through the API is synced at once (kube-controller-manager reacts on its
        watch), so no template change goes unseen between two passes."""
        if r is DEPLOY and not self._stop.is_set():
            with self.cluster.lock:
                self.now = time.time()
                current = self.cluster.find(DEPLOY, obj["metadata"]["namespace"], obj["metadata"]["name"])
                if current is not None:
                    self.guarded(self.deployments.sync, current)
