"""kubeemu over HTTP (requests) and the typed kubernetes client: discovery, verbs, status codes,
patches, selectors, watch, subresources and the controllers' semantics."""

import json
import threading

from kubeemu_testlib import BROKEN_IMAGE, IMAGES, deployment_manifest, emulator_only, wait_for

REV = "deployment.kubernetes.io/revision"


def test_discovery_documents(kube):
    version = kube.get("/version")
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
    assert "v1" in kube.get("/api")["versions"]
    core = kube.get("/api/v1")
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in core["resources"]}
    for plural in ("namespaces", "nodes", "pods", "services", "configmaps", "secrets", "events", "serviceaccounts"):
        assert plural in by_name
    assert by_name["pods"]["namespaced"] and not by_name["nodes"]["namespaced"]
    assert (by_name["pods/eviction"]["group"], by_name["pods/eviction"]["version"],
            by_name["pods/eviction"]["kind"]) == ("policy", "v1", "Eviction")
    assert "get" in by_name["pods/log"]["verbs"]
    apps = {r["name"]: r for r in kube.get("/apis/apps/v1")["resources"]}
    assert apps["deployments/scale"]["kind"] == "Scale" and apps["deployments/scale"]["group"] == "autoscaling"
    for plural in ("deployments", "replicasets", "statefulsets", "daemonsets"):
        assert plural in apps
    groups = {g["name"]: g for g in kube.get("/apis")["groups"]}
    for group in ("apps", "autoscaling", "policy", "metrics.k8s.io"):
        assert group in groups
    assert "horizontalpodautoscalers" in {r["name"] for r in kube.get("/apis/autoscaling/v2")["resources"]}
    assert "poddisruptionbudgets" in {r["name"] for r in kube.get("/apis/policy/v1")["resources"]}


def test_object_basics_and_status_codes(kube, ns):
    api = kube.api
    path = "/api/v1/namespaces/%s/configmaps" % ns
    created = api.request("POST", path, json={"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": "cfg", "labels": {"a": "1"}}, "data": {"k": "v"}})
    assert created.status_code == 201
    meta = created.json()["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"]
    dup = api.request("POST", path, json={"metadata": {"name": "cfg"}})
    assert dup.status_code == 409
    assert dup.json()["kind"] == "Status" and dup.json()["reason"] == "AlreadyExists"
    assert dup.json()["message"] == 'configmaps "cfg" already exists'
    missing = api.request("GET", path + "/nope")
    assert missing.status_code == 404 and missing.json()["reason"] == "NotFound"
    assert missing.json()["message"] == 'configmaps "nope" not found'
    stale = dict(created.json(), data={"k": "w"})
    assert api.request("PUT", path + "/cfg", json=stale).status_code == 200
    conflict = api.request("PUT", path + "/cfg", json=stale)   # same, now stale, resourceVersion
    assert conflict.status_code == 409 and conflict.json()["reason"] == "Conflict"
    assert int(api.must("GET", path + "/cfg")["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    gen = api.request("POST", path, json={"metadata": {"generateName": "gen-"}})
    assert gen.status_code == 201 and gen.json()["metadata"]["name"].startswith("gen-")
    listed = api.must("GET", path)
    assert listed["kind"] == "ConfigMapList" and listed["metadata"]["resourceVersion"]
    assert len(listed["items"]) == 2
    bad = api.request("POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, json=deployment_manifest(
        ns, "bad", IMAGES[0], labels={"app": "x"}) | {"spec": {"selector": {"matchLabels": {"app": "y"}},
                                                               "template": {"metadata": {"labels": {"app": "x"}},
                                                                            "spec": {"containers": [
                                                                                {"name": "c", "image": "i"}]}}}})
    assert bad.status_code == 422 and bad.json()["reason"] == "Invalid"
    assert bad.json()["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    nons = api.request("POST", "/api/v1/namespaces/kubeemu-no-such-ns/configmaps", json={"metadata": {"name": "x"}})
    assert nons.status_code == 404
    gone = api.request("DELETE", path + "?labelSelector=a%3D1")
    assert gone.status_code == 200 and [i["metadata"]["name"] for i in gone.json()["items"]] == ["cfg"]
    assert [i["metadata"]["name"] for i in api.must("GET", path)["items"]] == [gen.json()["metadata"]["name"]]


def test_generation_and_status_subresource(kube, ns):
    kube.apply(deployment_manifest(ns, "gen", IMAGES[0], replicas=1))
    path = "/apis/apps/v1/namespaces/%s/deployments/gen" % ns
    kube.wait_rolled_out(ns, "gen")
    kube.api.update(path, lambda o: o["metadata"]["labels"].update(extra="1"))
    assert kube.get(path)["metadata"]["generation"] == 1
    kube.api.update(path, lambda o: o["spec"].update(replicas=2))
    assert kube.get(path)["metadata"]["generation"] == 2
    # a spec change through /status is ignored; a status change through the main resource too.
    # The controllers write the status meanwhile (as on a real cluster), so the GET+PUT is retried on a
    # 409 Conflict, as client-go's retry.RetryOnConflict does.

    def spec_and_status(obj):
        obj["spec"]["replicas"] = 7
        obj["status"]["replicas"] = 99

    after = kube.api.update(path + "/status", spec_and_status)
    assert after["spec"]["replicas"] == 2
    assert kube.get(path + "/status")["spec"]["replicas"] == 2


def test_patch_flavours_keep_list_items(kube, ns):
    kube.apply(deployment_manifest(ns, "patchy", IMAGES[0], replicas=1))
    path = "/apis/apps/v1/namespaces/%s/deployments/patchy" % ns
    smp = {"spec": {"template": {"spec": {"containers": [
        {"name": "patchy", "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": IMAGES[1]}]}}}}
    out = kube.api.must("PATCH", path, data=json.dumps(smp),
                        headers={"Content-Type": "application/strategic-merge-patch+json"})
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["patchy", "sidecar"] and containers[0]["image"] == IMAGES[0]
    out = kube.api.must("PATCH", path, data=json.dumps({"spec": {"template": {"spec": {"containers": [
        {"name": "patchy", "env": [{"name": "B", "value": "2"}]}]}}}}),
        headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert [e["name"] for e in out["spec"]["template"]["spec"]["containers"][0]["env"]] == ["A", "B"]
    out = kube.api.must("PATCH", path, data=json.dumps({"metadata": {"labels": {"merged": "yes"}}}),
                        headers={"Content-Type": "application/merge-patch+json"})
    assert out["metadata"]["labels"] == {"app": "patchy", "merged": "yes"}
    out = kube.api.must("PATCH", path, data=json.dumps([
        {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": IMAGES[2]}]),
        headers={"Content-Type": "application/json-patch+json"})
    assert out["spec"]["template"]["spec"]["containers"][1]["image"] == IMAGES[2]
    failed = kube.api.request("PATCH", path, data=json.dumps([{"op": "test", "path": "/spec/replicas", "value": 5}]),
                              headers={"Content-Type": "application/json-patch+json"})
    assert failed.status_code == 422
    # server-side apply creates when missing, then updates
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    url = "/api/v1/namespaces/%s/configmaps/applied?fieldManager=test" % ns
    first = kube.api.request("PATCH", url, data=cm, headers={"Content-Type": "application/apply-patch+yaml"})
    assert first.status_code in (200, 201) and first.json()["data"] == {"a": "1"}
    second = kube.api.must("PATCH", url, data=cm.replace("'1'", "'2'"),
                           headers={"Content-Type": "application/apply-patch+yaml"})
    assert second["data"] == {"a": "2"}


def test_label_and_field_selectors(kube, ns):
    for name, labels in (("a", {"app": "web", "tier": "fe"}), ("b", {"app": "api"}), ("c", {"app": "api", "x": "1"})):
        kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns,
                                                                          "labels": labels}})
    path = "/api/v1/namespaces/%s/configmaps" % ns

    def names(query):
        return sorted(i["metadata"]["name"] for i in kube.get(path + "?" + query)["items"]
                      if i["metadata"]["name"] in "abc")
    assert names("labelSelector=app%3Dapi") == ["b", "c"]
    assert names("labelSelector=app%21%3Dapi") == ["a"]
    assert names("labelSelector=app+in+%28web%2Capi%29%2C%21x") == ["a", "b"]
    assert names("labelSelector=app+notin+%28web%29") == ["b", "c"]
    assert names("labelSelector=tier") == ["a"]
    assert names("fieldSelector=metadata.name%3Db") == ["b"]
    assert names("fieldSelector=metadata.name%21%3Db%2Cmetadata.namespace%3D" + ns) == ["a", "c"]
    assert kube.api.request("GET", path + "?fieldSelector=data.x%3D1").status_code == 400
    kube.apply(deployment_manifest(ns, "sel", IMAGES[0], replicas=2))
    kube.wait_rolled_out(ns, "sel")
    pods = kube.pods(ns, "app=sel")
    node = pods[0]["spec"]["nodeName"]
    on_node = kube.get("/api/v1/pods?fieldSelector=spec.nodeName%3D" + node + "%2Cstatus.phase%3DRunning")["items"]
    assert pods[0]["metadata"]["name"] in [p["metadata"]["name"] for p in on_node]
    assert all(p["spec"]["nodeName"] == node and p["status"]["phase"] == "Running" for p in on_node)


def test_watch_streams_from_a_resource_version(kube, ns):
    path = "/api/v1/namespaces/%s/configmaps" % ns
    rv = kube.get(path)["metadata"]["resourceVersion"]
    events = []

    def watch():
        resp = kube.api.request("GET", path + "?watch=1&labelSelector=w%%3D1&timeoutSeconds=5&resourceVersion=%s"
                                % rv, stream=True, timeout=30)
        for line in resp.iter_lines():
            if line:
                events.append(json.loads(line))
                if len(events) == 3:
                    resp.close()
                    return

    t = threading.Thread(target=watch)
    t.start()
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": ns}})
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "namespace": ns,
                                                                      "labels": {"w": "1"}}})
    kube.api.update(path + "/w", lambda o: o.update(data={"x": "y"}))
    kube.api.must("DELETE", path + "/w")
    t.join(30)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    # timeoutSeconds ends an idle watch
    resp = kube.api.request("GET", path + "?watch=true&timeoutSeconds=1&resourceVersion=%s"
                            % kube.get(path)["metadata"]["resourceVersion"], timeout=30)
    assert resp.status_code == 200 and resp.text.strip() == ""


def test_typed_client_reads_pods(kube, ns):
    from kubernetes import client, config
    kube.apply(deployment_manifest(ns, "typed", IMAGES[0], replicas=2))
    kube.wait_rolled_out(ns, "typed")
    api = client.CoreV1Api(config.new_client_from_config(config_file=kube.kubeconfig))
    pods = api.list_namespaced_pod(ns, label_selector="app=typed").items
    assert len(pods) == 2
    for pod in pods:
        assert pod.status.phase == "Running" and pod.spec.node_name
        cs = pod.status.container_statuses[0]
        assert cs.ready and cs.started and cs.image_id and cs.state.running.started_at
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    apps = client.AppsV1Api(config.new_client_from_config(config_file=kube.kubeconfig))
    dep = apps.read_namespaced_deployment("typed", ns)
    assert dep.status.available_replicas == 2
    assert {c.type: c.reason for c in dep.status.conditions}["Progressing"] == "NewReplicaSetAvailable"
    scale = apps.read_namespaced_deployment_scale("typed", ns)
    assert scale.spec.replicas == 2 and scale.status.selector == "app=typed"


def test_deployment_replicaset_pod_chain(kube, ns):
    kube.apply(deployment_manifest(ns, "chain", IMAGES[0], replicas=3))
    kube.wait_rolled_out(ns, "chain")
    dep = kube.deployment(ns, "chain")
    [rs] = kube.replicasets(ns, "app=chain")
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == "chain-" + h
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "chain", "pod-template-hash": h}
    ref = rs["metadata"]["ownerReferences"][0]
    assert ref["controller"] and ref["uid"] == dep["metadata"]["uid"] and ref["kind"] == "Deployment"
    assert rs["metadata"]["annotations"][REV] == dep["metadata"]["annotations"][REV] == "1"
    pods = kube.pods(ns, "app=chain")
    assert len(pods) == 3 and all(p["metadata"]["labels"]["pod-template-hash"] == h for p in pods)
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in pods)
    conds = {c["type"]: c for c in dep["status"]["conditions"]}
    assert conds["Available"]["status"] == "True" and conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    # a deleted pod is replaced; deleting the deployment takes the replicaset and pods with it
    victim = pods[0]["metadata"]["name"]
    kube.api.must("DELETE", "/api/v1/namespaces/%s/pods/%s" % (ns, victim))
    wait_for(lambda: len([p for p in kube.pods(ns, "app=chain") if p["metadata"]["name"] != victim]) == 3,
             what="a replacement pod")
    kube.api.must("DELETE", "/apis/apps/v1/namespaces/%s/deployments/chain" % ns)
    wait_for(lambda: not kube.replicasets(ns, "app=chain") and not kube.pods(ns, "app=chain"),
             what="the cascade delete")


def _set_image(kube, ns, name, image, cause=None):
    def mutate(o):
        if cause:
            o["metadata"].setdefault("annotations", {})["kubernetes.io/change-cause"] = cause
        o["spec"]["template"]["spec"]["containers"][0]["image"] = image
    kube.api.update("/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, name), mutate)


def test_rollback_reuses_the_old_replicaset_with_a_new_revision(kube, ns):
    kube.apply(deployment_manifest(ns, "rb", IMAGES[0], replicas=2))
    kube.wait_rolled_out(ns, "rb")
    for i, image in enumerate(IMAGES[1:], start=2):
        _set_image(kube, ns, "rb", image, "release %d" % i)
        kube.wait_rolled_out(ns, "rb")
    revs = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in kube.replicasets(ns, "app=rb")}
    assert [revs[i]["metadata"]["annotations"][REV] for i in IMAGES] == ["1", "2", "3"]
    assert revs[IMAGES[2]]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "release 3"
    old = revs[IMAGES[1]]
    # what `kubectl rollout undo` does: the old ReplicaSet's template back into the Deployment
    template = old["spec"]["template"]
    del template["metadata"]["labels"]["pod-template-hash"]
    kube.api.must("PATCH", "/apis/apps/v1/namespaces/%s/deployments/rb" % ns, data=json.dumps(
        [{"op": "replace", "path": "/spec/template", "value": template}]),
        headers={"Content-Type": "application/json-patch+json"})
    kube.wait_rolled_out(ns, "rb")
    after = {rs["metadata"]["name"]: rs for rs in kube.replicasets(ns, "app=rb")}
    assert len(after) == 3
    reused = after[old["metadata"]["name"]]
    assert reused["metadata"]["uid"] == old["metadata"]["uid"]
    assert reused["metadata"]["annotations"][REV] == "4"
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"
    assert sorted(int(rs["metadata"]["annotations"][REV]) for rs in after.values()) == [1, 3, 4]
    assert kube.deployment(ns, "rb")["metadata"]["annotations"][REV] == "4"
    assert reused["spec"]["replicas"] == 2 and after[revs[IMAGES[2]]["metadata"]["name"]]["spec"]["replicas"] == 0


def test_revision_history_limit_collects_old_replicasets(kube, ns):
    kube.apply(deployment_manifest(ns, "gc", IMAGES[0], replicas=1, revisionHistoryLimit=1))
    kube.wait_rolled_out(ns, "gc")
    for image in IMAGES[1:]:
        _set_image(kube, ns, "gc", image)
        kube.wait_rolled_out(ns, "gc")
    rss = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(kube.replicasets(ns, "app=gc")),
                   what="old replicasets beyond revisionHistoryLimit to go")
    assert sorted(rs["metadata"]["annotations"][REV] for rs in rss) == ["2", "3"]


def test_restarted_at_makes_a_new_revision(kube, ns):
    kube.apply(deployment_manifest(ns, "rs", IMAGES[0], replicas=1))
    kube.wait_rolled_out(ns, "rs")
    kube.api.must("PATCH", "/apis/apps/v1/namespaces/%s/deployments/rs" % ns, data=json.dumps(
        {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2025-01-20T10:00:00Z"}}}}}),
        headers={"Content-Type": "application/strategic-merge-patch+json"})
    kube.wait_rolled_out(ns, "rs")
    assert sorted(rs["metadata"]["annotations"][REV] for rs in kube.replicasets(ns, "app=rs")) == ["1", "2"]


def test_scale_subresource(kube, ns):
    kube.apply(deployment_manifest(ns, "sc", IMAGES[0], replicas=1))
    path = "/apis/apps/v1/namespaces/%s/deployments/sc/scale" % ns
    scale = kube.get(path)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1" and scale["spec"]["replicas"] == 1
    kube.api.must("PATCH", path, data=json.dumps({"spec": {"replicas": 3}}),
                  headers={"Content-Type": "application/merge-patch+json"})
    kube.wait_rolled_out(ns, "sc")
    assert len(kube.pods(ns, "app=sc")) == 3
    # GET+PUT of the Scale, retried on 409 Conflict: the controller may write the Deployment in between
    assert kube.api.update(path, lambda s: s["spec"].update(replicas=1))["spec"]["replicas"] == 1
    wait_for(lambda: len(kube.pods(ns, "app=sc")) == 1, what="scale down to 1")
    wait_for(lambda: kube.get(path)["status"] == {"replicas": 1, "selector": "app=sc"},
             what="the Scale status to follow")


def test_eviction_and_pdb(kube, ns):
    kube.apply(deployment_manifest(ns, "ev", IMAGES[0], replicas=3))
    kube.apply({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": "ev-pdb", "namespace": ns},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "ev"}}}})
    kube.wait_rolled_out(ns, "ev")
    pdb_path = "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/ev-pdb" % ns
    st = wait_for(lambda: (lambda s: s if s.get("currentHealthy") == 3 else None)(kube.get(pdb_path)["status"]),
                  what="the PDB status")
    assert (st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == (2, 3, 1)
    pods = kube.pods(ns, "app=ev")

    def evict(name):
        return kube.api.request("POST", "/api/v1/namespaces/%s/pods/%s/eviction" % (ns, name), json={
            "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}})
    first = evict(pods[0]["metadata"]["name"])
    assert first.status_code == 201
    # a budget with no disruption left (checked before evicting: the replacement may already be Ready)
    kube.api.must("PATCH", pdb_path, data=json.dumps({"spec": {"minAvailable": 3}}),
                  headers={"Content-Type": "application/merge-patch+json"})
    # (the eviction itself left a stale currentHealthy behind: wait for a status of the new generation)
    wait_for(lambda: (lambda p: p["status"].get("observedGeneration") == p["metadata"]["generation"] and
                      p["status"].get("currentHealthy") == 3 and p["status"].get("disruptionsAllowed") == 0)(
        kube.get(pdb_path)), what="a budget of 3 with all 3 healthy")
    pods = kube.pods(ns, "app=ev")
    blocked = evict(pods[1]["metadata"]["name"])
    assert blocked.status_code == 429
    body = blocked.json()
    assert body["kind"] == "Status" and body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
    assert kube.api.request("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, pods[1]["metadata"]["name"])) \
        .status_code == 200
    assert body["details"]["causes"][0]["message"] == \
        "The disruption budget ev-pdb needs 3 healthy pods and has 3 currently"
    assert evict("no-such-pod").status_code == 404


def test_replacement_pods_avoid_cordoned_nodes(kube, ns):
    kube.apply(deployment_manifest(ns, "place", IMAGES[0], replicas=2))
    kube.wait_rolled_out(ns, "place")
    node = kube.pods(ns, "app=place")[0]["spec"]["nodeName"]
    kube.api.must("PATCH", "/api/v1/nodes/" + node, data=json.dumps({"spec": {"unschedulable": True}}),
                  headers={"Content-Type": "application/strategic-merge-patch+json"})
    try:
        for pod in kube.pods(ns, "app=place"):
            if pod["spec"]["nodeName"] == node:
                kube.api.must("DELETE", "/api/v1/namespaces/%s/pods/%s" % (ns, pod["metadata"]["name"]))
        # the deleted pods stay Terminating for their grace period: wait until they are gone too
        pods = wait_for(lambda: (lambda ps: ps if len(ps) == 2 and all(
            p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
            for p in ps) else None)(kube.pods(ns, "app=place")),
            what="two running replacement pods (the deleted ones gone)")
        assert all(p["spec"]["nodeName"] != node for p in pods)
    finally:
        kube.api.must("PATCH", "/api/v1/nodes/" + node, data=json.dumps({"spec": {"unschedulable": None}}),
                      headers={"Content-Type": "application/strategic-merge-patch+json"})


@emulator_only
def test_broken_image_never_becomes_ready_and_the_deadline_passes(kube, ns):
    kube.apply(deployment_manifest(ns, "bad", IMAGES[0], replicas=3, progressDeadlineSeconds=2))
    kube.wait_rolled_out(ns, "bad")
    _set_image(kube, ns, "bad", BROKEN_IMAGE)

    def crashing():
        pods = [p for p in kube.pods(ns, "app=bad") if p["spec"]["containers"][0]["image"] == BROKEN_IMAGE]
        css = [p["status"].get("containerStatuses", [{}])[0] for p in pods]
        return pods if css and all(cs.get("restartCount", 0) >= 2 and cs.get("state", {}).get("waiting", {})
                                   .get("reason") == "CrashLoopBackOff" for cs in css) else None
    pods = wait_for(crashing, what="the broken pod to crash-loop")
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert all({c["type"]: c["status"] for c in p["status"]["conditions"]}["Ready"] == "False" for p in pods)
    dep = wait_for(lambda: (lambda d: d if {c["type"]: c.get("reason") for c in d["status"]["conditions"]}
                            ["Progressing"] == "ProgressDeadlineExceeded" else None)(kube.deployment(ns, "bad")),
                   what="ProgressDeadlineExceeded")
    # maxSurge 25% of 3 = 1 new pod; maxUnavailable 25% of 3 = 0: the old replicaset keeps all 3
    assert dep["status"]["updatedReplicas"] == 1 and dep["status"]["availableReplicas"] == 3
    assert dep["status"]["unavailableReplicas"] == 1


@emulator_only
def test_protobuf_bodies_are_refused(kube, ns):
    resp = kube.api.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, data=b"k8s\x00",
                            headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert resp.status_code == 415 and resp.json()["reason"] == "UnsupportedMediaType"


@emulator_only
def test_sandbox_admin_endpoints(kube):
    api = kube.api
    assert api.request("GET", "/_sandbox/healthz").status_code == 200
    cfg = api.must("PUT", "/_sandbox/config", json={"metrics": [{"selector": {"app": "x"}, "cpu": "1m"}]})
    assert cfg["metrics"][0]["cpu"] == "1m" and cfg["kubelet"]["broken_images"] == [BROKEN_IMAGE]
    for body, word in (({"kubelett": {}}, "kubelett"),
                       ({"kubelet": {"ready_delay_seconds": "soon"}}, "ready_delay_seconds"),
                       ({"metrics": [{"selector": {"app": "x"}, "cpu": "lots"}]}, "cpu"),
                       ({"pod_logs": {"lines": []}}, "pod_logs")):
        bad = api.request("PUT", "/_sandbox/config", json=body)
        assert bad.status_code == 400 and word in bad.json()["message"], bad.text
    assert api.must("GET", "/_sandbox/config")["metrics"][0]["cpu"] == "1m"   # refused input changed nothing
    from kubeemu_testlib import EMULATOR_CONFIG
    api.must("PUT", "/_sandbox/config", json={k: v for k, v in EMULATOR_CONFIG.items()})
    assert api.request("GET", "/_sandbox/nope").status_code == 404


@emulator_only
def test_sandbox_reset_keeps_resource_versions_increasing(tmp_path):
    from kubeemu import KubeEmulator
    from sandboxlib.kube import KubeAPI
    with KubeEmulator(config={"objects": [{"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": "seeded"}}]}) as emu:
        api = KubeAPI(emu.write_kubeconfig(str(tmp_path / "kc")))
        names = {n["metadata"]["name"] for n in api.must("GET", "/api/v1/namespaces")["items"]}
        assert names == {"default", "kube-system", "seeded"}
        before = int(api.must("GET", "/api/v1/namespaces")["metadata"]["resourceVersion"])
        api.must("POST", "/_sandbox/reset")
        after = api.must("GET", "/api/v1/namespaces")
        assert {n["metadata"]["name"] for n in after["items"]} == {"default", "kube-system"}
        assert int(after["metadata"]["resourceVersion"]) > before


@emulator_only
def test_hpa_scales_on_configured_metrics_and_serves_v1(kube, ns):
    dep = deployment_manifest(ns, "metered", IMAGES[0], replicas=2)
    dep["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}}
    kube.apply(dep)
    kube.apply({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "metered", "namespace": ns},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "metered"},
                         "minReplicas": 2, "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {
                             "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}})
    # 250m used of 100m requested = 250 % against 70 %: more than 5 wanted, clamped to maxReplicas
    wait_for(lambda: kube.deployment(ns, "metered")["spec"]["replicas"] == 5, what="the HPA to scale to 5")
    path = "/apis/autoscaling/%s/namespaces/" + ns + "/horizontalpodautoscalers/metered"
    hpa = wait_for(lambda: (lambda h: h if h["status"].get("currentReplicas") == 5 else None)(kube.get(path % "v2")),
                   what="the HPA status")
    assert hpa["status"]["desiredReplicas"] == 5
    assert hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 250
    conds = {c["type"]: c for c in hpa["status"]["conditions"]}
    assert conds["ScalingLimited"]["status"] == "True" and conds["ScalingLimited"]["reason"] == "TooManyReplicas"
    v1 = kube.get(path % "v1")
    assert v1["apiVersion"] == "autoscaling/v1" and v1["spec"]["targetCPUUtilizationPercentage"] == 70
    assert v1["status"]["currentCPUUtilizationPercentage"] == 250 and "metrics" not in v1["spec"]
    created = kube.api.must("POST", "/apis/autoscaling/v1/namespaces/%s/horizontalpodautoscalers" % ns, json={
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "v1made"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "metered"},
                 "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 55}})
    assert created["spec"]["targetCPUUtilizationPercentage"] == 55
    as_v2 = kube.get("/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/v1made" % ns)
    assert as_v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 55


@emulator_only
def test_pod_logs_follow_the_configuration(kube, ns):
    from kubeemu_testlib import EMULATOR_CONFIG, LOG_LINES
    kube.apply(deployment_manifest(ns, "logger", IMAGES[0], replicas=1))
    kube.wait_rolled_out(ns, "logger")
    pod = kube.pods(ns, "app=logger")[0]["metadata"]["name"]
    url = "/api/v1/namespaces/%s/pods/%s/log" % (ns, pod)
    try:
        kube.api.must("PUT", "/_sandbox/config", json={"pod_logs": EMULATOR_CONFIG["pod_logs"] + [
            {"selector": {"app": "logger"}, "image": BROKEN_IMAGE, "lines": ["only in broken pods"]},
            {"selector": {"app": "logger"}, "image": IMAGES[0], "lines": ["webhook stripe ERROR"]}]})
        resp = kube.api.request("GET", url)
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
        assert resp.text.splitlines() == LOG_LINES + ["webhook stripe ERROR"]
        assert kube.api.request("GET", url + "?tailLines=2").text.splitlines() == [LOG_LINES[-1],
                                                                                  "webhook stripe ERROR"]
        assert kube.api.request("GET", url + "?sinceSeconds=3600").text.count("\n") == 4
        stamped = kube.api.request("GET", url + "?timestamps=true&tailLines=1").text
        assert stamped.split(" ", 1)[1] == "webhook stripe ERROR\n" and stamped[:4].isdigit()
        wrong = kube.api.request("GET", url + "?container=nope")
        assert wrong.status_code == 400 and "nope" in wrong.json()["message"]
    finally:
        kube.api.must("PUT", "/_sandbox/config", json={"pod_logs": EMULATOR_CONFIG["pod_logs"]})


@emulator_only
def test_taints_node_selectors_and_pods_of_a_deleted_node(kube, ns):
    kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-extra"},
                "spec": {"taints": [{"key": "only", "value": "extra", "effect": "NoSchedule"}]}})
    try:
        dep = deployment_manifest(ns, "moving", IMAGES[0], replicas=1)
        dep["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "node-extra"}
        dep["spec"]["template"]["spec"]["tolerations"] = [{"key": "only", "operator": "Equal", "value": "extra",
                                                           "effect": "NoSchedule"}]
        kube.apply(dep)
        kube.wait_rolled_out(ns, "moving")
        assert kube.pods(ns, "app=moving")[0]["spec"]["nodeName"] == "node-extra"
        other = deployment_manifest(ns, "elsewhere", IMAGES[0], replicas=3)
        kube.apply(other)
        kube.wait_rolled_out(ns, "elsewhere")
        assert "node-extra" not in {p["spec"]["nodeName"] for p in kube.pods(ns, "app=elsewhere")}
    finally:
        kube.api.must("DELETE", "/api/v1/nodes/node-extra")
    # the pinned pod's replacement has nowhere to go: Pending, PodScheduled False Unschedulable
    pod = wait_for(lambda: (lambda ps: ps[0] if ps and not ps[0]["spec"].get("nodeName") and any(
        c.get("reason") == "Unschedulable" for c in ps[0]["status"].get("conditions", [])) else None)(
        kube.pods(ns, "app=moving")), what="the replacement to be unschedulable")
    assert pod["status"]["phase"] == "Pending"


@emulator_only
def test_broken_rollout_keeps_replicas_minus_max_unavailable_serving(kube, ns):
    kube.apply(deployment_manifest(ns, "surge", IMAGES[0], replicas=4, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}))
    kube.wait_rolled_out(ns, "surge")
    _set_image(kube, ns, "surge", BROKEN_IMAGE)

    def split():
        by_image = {}
        for rs in kube.replicasets(ns, "app=surge"):
            by_image[rs["spec"]["template"]["spec"]["containers"][0]["image"]] = rs["spec"]["replicas"]
        return by_image if by_image == {IMAGES[0]: 3, BROKEN_IMAGE: 2} else None
    wait_for(split, what="old 3 / new 2 (maxSurge 1, maxUnavailable 1 of 4)")
    dep = wait_for(lambda: (lambda d: d if d["status"].get("updatedReplicas") == 2 else None)(
        kube.deployment(ns, "surge")), what="the status to count both new pods")
    assert dep["status"]["availableReplicas"] == 3 and dep["status"]["replicas"] == 5
    assert {c["type"]: c["status"] for c in dep["status"]["conditions"]}["Available"] == "True"


def test_recreate_strategy_stops_old_pods_first(kube, ns):
    kube.apply(deployment_manifest(ns, "rec", IMAGES[0], replicas=2, strategy={"type": "Recreate"}))
    kube.wait_rolled_out(ns, "rec")
    seen = set()
    _set_image(kube, ns, "rec", IMAGES[1])

    def done():
        pods = kube.pods(ns, "app=rec")
        seen.add(tuple(sorted({p["spec"]["containers"][0]["image"] for p in pods})))
        return kube.rolled_out(ns, "rec") and {p["spec"]["containers"][0]["image"] for p in pods} == {IMAGES[1]}
    wait_for(done, interval=0.02, what="the Recreate rollout")
    assert (IMAGES[0], IMAGES[1]) not in seen   # never both images at once


def test_malformed_bodies_are_400_or_422_not_500(kube, ns):
    deploys = "/apis/apps/v1/namespaces/%s/deployments" % ns
    for body in ([], {"metadata": {"name": "x", "labels": ["a"]}},
                 {"metadata": {"name": "x"}, "spec": "three"},
                 {"metadata": {"name": "x"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
                                                      "template": {"spec": {"containers": {"name": "c"}}}}}):
        resp = kube.api.request("POST", deploys, json=body)
        assert resp.status_code == 400 and resp.json()["kind"] == "Status", (body, resp.text)
    for body in ({"metadata": {"name": "Bad_Name"}},
                 {"metadata": {"name": "x"}, "spec": {"replicas": -1, "selector": {"matchLabels": {"a": "b"}},
                                                      "template": {"metadata": {"labels": {"a": "b"}},
                                                                   "spec": {"containers": [{"name": "c"}]}}}}):
        resp = kube.api.request("POST", deploys, json=body)
        assert resp.status_code == 422 and resp.json()["reason"] == "Invalid", (body, resp.text)
    resp = kube.api.request("POST", deploys, data="{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
