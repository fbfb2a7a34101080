"""The node lifecycle controller's NoSchedule taints (kubernetes
`pkg/controller/nodelifecycle/node_lifecycle_controller.go`, doNoScheduleTaintingPass, nodeConditionToTaintKeyStatusMap):
`spec.unschedulable` adds (and removing it takes away) `node.kubernetes.io/unschedulable:NoSchedule`;
a MemoryPressure/DiskPressure condition True adds `node.kubernetes.io/memory-pressure` /
`disk-pressure` (TaintNodesByCondition)."""

import copy

from ..timefmt import now_iso
from .base import NODES, Controller, condition

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
CONDITION_TAINTS = {"MemoryPressure": "node.kubernetes.io/memory-pressure",
                    "DiskPressure": "node.kubernetes.io/disk-pressure"}


class NodeLifecycleController(Controller):
    def sync(self):
        for node in self.cluster.items(NODES):
            want = {UNSCHEDULABLE_TAINT["key"]: bool(node["spec"].get("unschedulable"))}
            for ctype, key in CONDITION_TAINTS.items():
                cond = condition(node, ctype)
                want[key] = cond is not None and cond.get("status") == "True"
            taints = node["spec"].get("taints") or []
            keys = {t.get("key") for t in taints}
            if all((key in keys) == on for key, on in want.items()):
                continue
            new = copy.deepcopy(node)
            rest = [t for t in taints if t.get("key") not in want or want[t.get("key")]]
            rest += [{"key": key, "effect": "NoSchedule", "timeAdded": now_iso()}
                     for key, on in want.items() if on and key not in keys]
            if rest:
                new["spec"]["taints"] = rest
            else:
                new["spec"].pop("taints", None)
            self.cluster.write(NODES, new)
