"""The node lifecycle controller's taint for a cordoned node: `spec.unschedulable` adds (and removing it
takes away) the `node.kubernetes.io/unschedulable:NoSchedule` taint (kubernetes
`pkg/controller/nodelifecycle/node_lifecycle_controller.go`, doNoScheduleTaintingPass)."""

import copy

from ..timefmt import now_iso
from .base import NODES, Controller

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeLifecycleController(Controller):
    def sync(self):
        taint = UNSCHEDULABLE_TAINT
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
