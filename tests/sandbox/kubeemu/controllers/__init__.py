"""The emulated cluster's controllers, one module per controller:

    manager.py      Controllers: the loop that runs them all, in order, once per tick
    base.py         what they share: Controller (events, owned pods, new_pod/delete_pod), pod helpers
    namespace.py    ServiceAccounts (a `default` ServiceAccount per namespace)
    node.py         node lifecycle (the unschedulable taint of a cordoned node)
    scheduler.py    the scheduler
    kubelet.py      the kubelet stand-in (and the pod GC of pods whose node is gone)
    replicaset.py   ReplicaSet
    deployment.py   Deployment
    statefulset.py  StatefulSet
    daemonset.py    DaemonSet
    hpa.py          HorizontalPodAutoscaler (conversion v1 <-> v2: ../hpa_conversion.py)
    pdb.py          disruption controller (PodDisruptionBudget status)
"""

from .manager import Controllers

__all__ = ["Controllers"]
