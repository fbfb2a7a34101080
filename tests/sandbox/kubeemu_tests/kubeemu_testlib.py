"""Helpers for kubeemu's tests (the fixtures are in conftest.py): the Kube wrapper (API session,
kubectl), manifests, polling, and the emulator's test configuration.

Against a real cluster the tests need three schedulable nodes or fewer (they use what is there),
pull access to registry.k8s.io/pause, and permission to cordon/drain one node.
"""

import os
import subprocess
import time

import pytest

from sandboxlib.kube import KubeAPI

USE_ENV = os.environ.get("HALOBUZZ_USE_ENV") == "1"
emulator_only = pytest.mark.skipif(USE_ENV, reason="emulator-only behaviour (sandbox configuration or /_sandbox)")

KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")
BROKEN_IMAGE = "registry.halobuzz.com/backend:v1.5.1"
# three distinct images that run anywhere, so revision tests work on a real cluster too
IMAGES = ["registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10"]
LOG_LINES = ["2025-01-20T10:00:00Z INFO backend started",
             "2025-01-20T10:00:05Z ERROR MongoNetworkError: connection timed out",
             "2025-01-20T10:00:06Z INFO webhook delivered"]
EMULATOR_CONFIG = {
    "kubelet": {"ready_delay_seconds": 0.2, "broken_images": [BROKEN_IMAGE]},
    # the HPA's clock shortened for the tests (a cluster's 15 s / 300 s are the emulator's defaults)
    "controllers": {"lag_seconds": 0.1, "hpa_sync_period_seconds": 0.5, "hpa_downscale_stabilization_seconds": 5},
    "pod_logs": [{"selector": {"app": "logger"}, "container": None, "lines": LOG_LINES}],
    "metrics": [{"selector": {"app": "metered"}, "cpu": "250m", "memory": "512Mi"}],
}
NODES = ["node-1", "node-2", "node-3"]


def wait_for(fn, timeout=30.0, interval=0.1, what="the condition"):
    """Poll fn() until it returns something truthy; fail naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (KeyError, IndexError, TypeError) as exc:  # object not there yet
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail("timed out waiting for %s (last: %r)" % (what, last))


class Kube:
    def __init__(self, kubeconfig, emulator=None):
        self.kubeconfig = kubeconfig
        self.emulator = emulator
        self.api = KubeAPI(kubeconfig)

    def kubectl(self, *args, check=True, timeout=60):
        proc = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig] + list(args), capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail("kubectl %s failed (%d): %s%s" % (" ".join(args), proc.returncode, proc.stdout,
                                                          proc.stderr))
        return proc

    def apply(self, manifest):
        """POST a manifest (JSON) the way the launcher does; returns the created object."""
        from sandboxlib.kube import api_path
        plural = {"Deployment": "deployments", "PodDisruptionBudget": "poddisruptionbudgets",
                  "ConfigMap": "configmaps", "Pod": "pods", "Service": "services", "Node": "nodes",
                  "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Namespace": "namespaces",
                  "HorizontalPodAutoscaler": "horizontalpodautoscalers"}[manifest["kind"]]
        ns = manifest["metadata"].get("namespace")
        return self.api.must("POST", api_path(manifest["apiVersion"], plural, ns), json=manifest)

    def get(self, path):
        return self.api.must("GET", path)

    def deployment(self, ns, name):
        return self.get("/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, name))

    def replicasets(self, ns, selector):
        return self.get("/apis/apps/v1/namespaces/%s/replicasets?labelSelector=%s" % (ns, selector))["items"]

    def pods(self, ns, selector=""):
        return self.get("/api/v1/namespaces/%s/pods?labelSelector=%s" % (ns, selector))["items"]

    def rolled_out(self, ns, name):
        d = self.deployment(ns, name)
        st, want = d.get("status", {}), d["spec"].get("replicas", 1)
        return st.get("observedGeneration", 0) >= d["metadata"]["generation"] and \
            st.get("updatedReplicas", 0) == want == st.get("availableReplicas", 0) == st.get("replicas", 0)

    def wait_rolled_out(self, ns, name, timeout=60):
        return wait_for(lambda: self.rolled_out(ns, name), timeout, what="deployment %s/%s to roll out" % (ns, name))


def deployment_manifest(ns, name, image, replicas=3, labels=None, **spec):
    labels = labels or {"app": name}
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": name, "image": image}]}}}}
    body["spec"].update(spec)
    return body


def statefulset_and_daemonset(ns, image):
    """StatefulSet `db` (2 replicas, service db) and DaemonSet `agent`, both labelled app=<name>."""
    sts = deployment_manifest(ns, "db", image, replicas=2)
    sts.update(kind="StatefulSet")
    sts["spec"]["serviceName"] = "db"
    ds = deployment_manifest(ns, "agent", image)
    ds.update(kind="DaemonSet")
    del ds["spec"]["replicas"]
    return [sts, ds]
