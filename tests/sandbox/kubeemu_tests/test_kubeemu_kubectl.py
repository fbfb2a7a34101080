"""kubectl 1.32 against the cluster: get, describe, scale, set image, rollout, cordon/drain/uncordon,
logs, top — the commands the runbook uses."""

import re

from kubeemu_testlib import (BROKEN_IMAGE, IMAGES, LOG_LINES, deployment_manifest, emulator_only,
                             statefulset_and_daemonset, wait_for)


def _history(kube, ns, name):
    out = kube.kubectl("-n", ns, "rollout", "history", "deployment/" + name).stdout
    return [int(line.split()[0]) for line in out.splitlines() if line[:1].isdigit()]


def test_get_every_resource(kube, ns):
    kube.apply(deployment_manifest(ns, "kc", IMAGES[0], replicas=2))
    kube.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kc", "namespace": ns},
                "spec": {"selector": {"app": "kc"}, "ports": [{"port": 80}]}})
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kc", "namespace": ns},
                "data": {"a": "1"}})
    kube.api.must("POST", "/api/v1/namespaces/%s/secrets" % ns, json={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kc"}, "stringData": {"password": "x"}})
    kube.apply({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "kc", "namespace": ns},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "kc"}}}})
    kube.apply({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "kc", "namespace": ns},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "kc"},
                         "minReplicas": 2, "maxReplicas": 5}})
    for manifest in statefulset_and_daemonset(ns, IMAGES[0]):
        kube.apply(manifest)
    kube.wait_rolled_out(ns, "kc")
    wait_for(lambda: kube.get("/apis/apps/v1/namespaces/%s/statefulsets/db" % ns)["status"].get("readyReplicas") == 2,
             what="the statefulset's two pods")
    dsst = wait_for(lambda: (lambda s: s if s.get("desiredNumberScheduled") and s.get("numberReady") ==
                             s["desiredNumberScheduled"] else None)(
        kube.get("/apis/apps/v1/namespaces/%s/daemonsets/agent" % ns)["status"]), what="the daemonset's pods")
    for resource, expect in (("deployments", r"kc\s+2/2\s+2\s+2"), ("replicasets", r"kc-\w+\s+2\s+2\s+2"),
                             ("pods", r"kc-\w+-\w+\s+1/1\s+Running"), ("services", r"kc\s+ClusterIP"),
                             ("configmaps", r"kc\s+1"), ("secrets", r"kc\s+Opaque\s+1"),
                             ("serviceaccounts", r"default"), ("events", r"Scheduled|SuccessfulCreate"),
                             ("statefulsets", r"db\s+2/2"),
                             ("daemonsets", r"agent\s+%d" % dsst["desiredNumberScheduled"]),
                             ("hpa", r"kc\s+Deployment/kc"), ("pdb", r"kc\s+N/A\s+1\s+1")):
        out = wait_for(lambda: (lambda o: o if re.search(expect, o) else None)(
            kube.kubectl("-n", ns, "get", resource).stdout), timeout=20,
            what="kubectl get %s ~ %s" % (resource, expect))
        assert re.search(expect, out)
    assert "db-0" in kube.kubectl("-n", ns, "get", "pods").stdout
    assert ns in kube.kubectl("get", "namespaces").stdout
    assert re.search(r"Ready", kube.kubectl("get", "nodes").stdout)
    every = kube.kubectl("get", "pods", "-A", "-l", "app=kc", "-o", "name").stdout.split()
    assert len(every) == 2 and all(p.startswith("pod/kc-") for p in every)
    node = kube.pods(ns, "app=kc")[0]["spec"]["nodeName"]
    on_node = kube.kubectl("-n", ns, "get", "pods", "-l", "app in (kc)", "--field-selector",
                           "spec.nodeName=%s,status.phase=Running" % node, "-o", "name").stdout.split()
    assert on_node and all(p.startswith("pod/kc-") for p in on_node)
    assert kube.kubectl("-n", ns, "get", "pods", "-l", "app=nothing", "-o", "name").stdout.strip() == ""
    wide = kube.kubectl("-n", ns, "get", "pods", "-o", "wide", "-l", "app=kc").stdout
    assert node in wide


def test_rollout_set_image_history_undo_restart_scale(kube, ns):
    kube.apply(deployment_manifest(ns, "web", IMAGES[0], replicas=2))
    kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    for image in IMAGES[1:]:
        kube.kubectl("-n", ns, "set", "image", "deployment/web", "web=" + image)
        out = kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s").stdout
        assert 'deployment "web" successfully rolled out' in out
    assert _history(kube, ns, "web") == [1, 2, 3]
    kube.kubectl("-n", ns, "rollout", "undo", "deployment/web")
    kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert _history(kube, ns, "web") == [1, 3, 4]
    assert kube.deployment(ns, "web")["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGES[1]
    kube.kubectl("-n", ns, "rollout", "undo", "deployment/web", "--to-revision=1")
    kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert _history(kube, ns, "web") == [3, 4, 5]
    assert kube.deployment(ns, "web")["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGES[0]
    detail = kube.kubectl("-n", ns, "rollout", "history", "deployment/web", "--revision=4").stdout
    assert IMAGES[1] in detail
    kube.kubectl("-n", ns, "rollout", "restart", "deployment/web")
    kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert _history(kube, ns, "web") == [3, 4, 5, 6]
    kube.kubectl("-n", ns, "scale", "deployment/web", "--replicas=4")
    kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert len(kube.pods(ns, "app=web")) == 4
    described = kube.kubectl("-n", ns, "describe", "deployment", "web").stdout
    assert re.search(r"Replicas:\s+4 desired \| 4 updated \| 4 total \| 4 available \| 0 unavailable", described)
    assert re.search(r"Progressing\s+True\s+NewReplicaSetAvailable", described)
    assert re.search(r"NewReplicaSet:\s+web-\w+ \(4/4 replicas created\)", described)
    assert "ScalingReplicaSet" in described


def test_cordon_drain_uncordon_and_a_blocked_drain(kube, ns):
    kube.apply(deployment_manifest(ns, "dr", IMAGES[0], replicas=3))
    kube.apply({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "dr", "namespace": ns},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "dr"}}}})
    kube.wait_rolled_out(ns, "dr")
    wait_for(lambda: kube.get("/apis/policy/v1/namespaces/%s/poddisruptionbudgets/dr" % ns)["status"]
             .get("disruptionsAllowed") == 1, what="the PDB to allow one disruption")
    first = kube.pods(ns, "app=dr")[0]["spec"]["nodeName"]
    second = None
    try:
        kube.kubectl("cordon", first)
        assert kube.get("/api/v1/nodes/" + first)["spec"]["unschedulable"] is True
        assert "SchedulingDisabled" in kube.kubectl("get", "node", first).stdout
        out = kube.kubectl("drain", first, "--ignore-daemonsets", "--pod-selector=app=dr", "--timeout=60s").stdout
        assert "drained" in out
        pods = wait_for(lambda: (lambda ps: ps if len(ps) == 3 and all(
            p["status"].get("phase") == "Running" for p in ps) else None)(kube.pods(ns, "app=dr")),
            what="replacements for the drained pods")
        assert all(p["spec"]["nodeName"] != first for p in pods)
        kube.wait_rolled_out(ns, "dr")
        # now no disruption is allowed: the drain is refused with the API's 429 and evicts nothing
        kube.api.must("PATCH", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/dr" % ns,
                      data='{"spec":{"minAvailable":3}}', headers={"Content-Type": "application/merge-patch+json"})
        wait_for(lambda: (lambda p: p["status"].get("observedGeneration") == p["metadata"]["generation"] and
                          p["status"].get("currentHealthy") == 3 and p["status"].get("disruptionsAllowed") == 0)(
            kube.get("/apis/policy/v1/namespaces/%s/poddisruptionbudgets/dr" % ns)), what="the PDB to allow none")
        second = pods[0]["spec"]["nodeName"]
        before = sorted(p["metadata"]["name"] for p in kube.pods(ns, "app=dr"))
        blocked = kube.kubectl("drain", second, "--ignore-daemonsets", "--pod-selector=app=dr", "--timeout=5s",
                               check=False)
        assert blocked.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in blocked.stderr
        assert sorted(p["metadata"]["name"] for p in kube.pods(ns, "app=dr")) == before
    finally:
        kube.kubectl("uncordon", first)
        if second:
            kube.kubectl("uncordon", second)
    assert not kube.get("/api/v1/nodes/" + first)["spec"].get("unschedulable")


@emulator_only
def test_logs_and_top(kube, ns):
    kube.apply(deployment_manifest(ns, "logger", IMAGES[0], replicas=1))
    kube.apply(deployment_manifest(ns, "metered", IMAGES[0], replicas=2))
    kube.wait_rolled_out(ns, "logger")
    kube.wait_rolled_out(ns, "metered")
    out = kube.kubectl("-n", ns, "logs", "deployment/logger").stdout
    assert out.splitlines() == LOG_LINES
    assert kube.kubectl("-n", ns, "logs", "deployment/logger", "--tail=1").stdout.splitlines() == LOG_LINES[-1:]
    assert "MongoNetworkError" in kube.kubectl("-n", ns, "logs", "deployment/logger", "--since=1h").stdout
    pod = kube.pods(ns, "app=logger")[0]["metadata"]["name"]
    assert kube.kubectl("-n", ns, "logs", pod, "-c", "logger").stdout.splitlines() == LOG_LINES
    top = kube.kubectl("-n", ns, "top", "pods").stdout
    rows = [line.split() for line in top.splitlines()[1:]]
    assert len(rows) == 2 and all(r[0].startswith("metered-") and r[1:] == ["250m", "512Mi"] for r in rows)
    assert kube.kubectl("top", "nodes").returncode == 0


@emulator_only
def test_broken_release_stalls_rollout_status_and_undo_recovers(kube, ns):
    kube.apply(deployment_manifest(ns, "backend", IMAGES[0], replicas=3, progressDeadlineSeconds=2))
    kube.wait_rolled_out(ns, "backend")
    kube.kubectl("-n", ns, "set", "image", "deployment/backend", "backend=" + BROKEN_IMAGE)
    stalled = kube.kubectl("-n", ns, "rollout", "status", "deployment/backend", "--timeout=30s", check=False)
    assert stalled.returncode != 0
    assert 'deployment "backend" exceeded its progress deadline' in stalled.stderr
    assert "CrashLoopBackOff" in kube.kubectl("-n", ns, "get", "pods").stdout
    kube.kubectl("-n", ns, "rollout", "undo", "deployment/backend")
    out = kube.kubectl("-n", ns, "rollout", "status", "deployment/backend", "--timeout=60s").stdout
    assert 'successfully rolled out' in out
    assert _history(kube, ns, "backend") == [2, 3]


def test_statefulset_and_daemonset_rollouts(kube, ns):
    for manifest in statefulset_and_daemonset(ns, IMAGES[0]):
        kube.apply(manifest)
    for target in ("statefulset/db", "daemonset/agent"):
        kube.kubectl("-n", ns, "rollout", "status", target, "--timeout=60s")
    assert sorted(p["metadata"]["name"] for p in kube.pods(ns, "app=db")) == ["db-0", "db-1"]
    agents = kube.pods(ns, "app=agent")
    desired = kube.get("/apis/apps/v1/namespaces/%s/daemonsets/agent" % ns)["status"]["desiredNumberScheduled"]
    assert len({p["spec"]["nodeName"] for p in agents}) == len(agents) == desired >= 1
    if kube.emulator is not None:
        assert desired == len(kube.get("/api/v1/nodes")["items"])
    for target, container in (("statefulset/db", "db"), ("daemonset/agent", "agent")):
        kube.kubectl("-n", ns, "set", "image", target, "%s=%s" % (container, IMAGES[1]))
        out = kube.kubectl("-n", ns, "rollout", "status", target, "--timeout=90s").stdout
        assert "complete" in out or "successfully rolled out" in out
    for sel in ("app=db", "app=agent"):
        assert {p["spec"]["containers"][0]["image"] for p in kube.pods(ns, sel)} == {IMAGES[1]}
    kube.kubectl("-n", ns, "scale", "statefulset/db", "--replicas=1")
    wait_for(lambda: [p["metadata"]["name"] for p in kube.pods(ns, "app=db")] == ["db-0"],
             what="the statefulset to scale down from the highest ordinal")


def test_typed_create_commands_and_autoscale(kube, ns):
    """kubectl's typed commands send protobuf bodies (kubeemu decodes these kinds)."""
    extra = ns + "-typed"
    try:
        kube.kubectl("create", "namespace", extra)
        assert kube.get("/api/v1/namespaces/" + extra)["status"]["phase"] == "Active"
    finally:
        kube.kubectl("delete", "namespace", extra, "--wait=false", check=False)
    kube.kubectl("-n", ns, "create", "configmap", "flags", "--from-literal=AI_MODERATION=false")
    assert kube.get("/api/v1/namespaces/%s/configmaps/flags" % ns)["data"] == {"AI_MODERATION": "false"}
    kube.kubectl("-n", ns, "create", "secret", "generic", "creds", "--from-literal=token=s3cr3t")
    assert kube.get("/api/v1/namespaces/%s/secrets/creds" % ns)["data"] == {"token": "czNjcjN0"}
    kube.apply(deployment_manifest(ns, "backend", IMAGES[0], replicas=1))
    kube.kubectl("-n", ns, "autoscale", "deployment", "backend", "--min=3", "--max=20", "--cpu-percent=70")
    hpa = kube.get("/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/backend" % ns)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    # the HPA raises the deployment to its minimum
    wait_for(lambda: kube.deployment(ns, "backend")["spec"]["replicas"] == 3, what="the HPA's minReplicas")


@emulator_only
def test_unsupported_protobuf_create_is_refused_with_a_way_out(kube, ns):
    out = kube.kubectl("-n", ns, "create", "deployment", "web", "--image=" + IMAGES[0], check=False)
    assert out.returncode != 0
    assert "UnsupportedMediaType" in out.stderr or "unknown format" in out.stderr
    assert "kubectl create -f" in out.stderr


def test_apply_and_create_from_manifests(kube, ns, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text("""apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: %s}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: %s
        env: [{name: MAINTENANCE_MODE, value: "false"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: api-flags, namespace: %s}
data: {AI_MODERATION: "true"}
""" % (ns, IMAGES[0], ns))
    out = kube.kubectl("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/api created" in out and "configmap/api-flags created" in out
    kube.wait_rolled_out(ns, "api")
    manifest.write_text(manifest.read_text().replace("replicas: 2", "replicas: 3"))
    assert "deployment.apps/api configured" in kube.kubectl("apply", "-f", str(manifest)).stdout
    assert "configmap/api-flags unchanged" in kube.kubectl("apply", "-f", str(manifest)).stdout
    kube.wait_rolled_out(ns, "api")
    assert kube.deployment(ns, "api")["spec"]["replicas"] == 3
    kube.kubectl("-n", ns, "set", "env", "deployment/api", "MAINTENANCE_MODE=true")
    env = kube.deployment(ns, "api")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MAINTENANCE_MODE", "value": "true"}]
    again = kube.kubectl("create", "-f", str(manifest), check=False)
    assert again.returncode != 0 and "AlreadyExists" in again.stderr
