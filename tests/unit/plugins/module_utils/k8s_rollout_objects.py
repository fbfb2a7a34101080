# -*- coding: utf-8 -*-
"""Builders for Deployment / ReplicaSet / Pod dicts shaped like the Kubernetes API's JSON."""

import copy

UID = "0b7c3c1e-5a4e-4c55-9a0e-6f2f3c2a9d11"


def template(image, extra_labels=None, annotations=None, hash_label=None):
    labels = {"app": "backend"}
    labels.update(extra_labels or {})
    if hash_label:
        labels["pod-template-hash"] = hash_label
    meta = {"labels": labels, "creationTimestamp": None}
    if annotations:
        meta["annotations"] = annotations
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "api", "image": image, "ports": [{"containerPort": 8080}]}],
                 "restartPolicy": "Always"},
    }


def replicaset(revision, image, name=None, owner_uid=UID, created=None, controller=True,
               annotations=None, replicas=0):
    name = name or "backend-%s" % image.rsplit(":", 1)[-1].replace(".", "")
    rs_annotations = {"deployment.kubernetes.io/revision": str(revision)} if revision is not None else {}
    rs_annotations.update(annotations or {})
    return {
        "metadata": {
            "name": name, "namespace": "halobuzz", "uid": "uid-" + name,
            "creationTimestamp": created or "2026-11-0%dT10:00:00Z" % (revision or 9),
            "annotations": rs_annotations,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "backend",
                                 "uid": owner_uid, "controller": controller}],
        },
        "spec": {"replicas": replicas, "template": template(image, hash_label=name.rsplit("-", 1)[-1])},
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


def deployment(revision, image, annotations=None, paused=False, replicas=3, status=None,
               generation=4, limit=10):
    dep_annotations = {"deployment.kubernetes.io/revision": str(revision)}
    dep_annotations.update(annotations or {})
    return {
        "metadata": {"name": "backend", "namespace": "halobuzz", "uid": UID,
                     "generation": generation, "annotations": dep_annotations},
        "spec": {"replicas": replicas, "paused": paused, "revisionHistoryLimit": limit,
                 "selector": {"matchLabels": {"app": "backend"}}, "template": template(image)},
        "status": copy.deepcopy(status) if status is not None else {
            "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas},
    }


def bad_release():
    """The sandbox's bad-release world: v1.4.0 (1), v1.5.0 (2), v1.5.1 (3, live)."""
    return deployment(3, "registry/backend:v1.5.1"), [
        replicaset(1, "registry/backend:v1.4.0"),
        replicaset(2, "registry/backend:v1.5.0"),
        replicaset(3, "registry/backend:v1.5.1", replicas=3),
    ]


def pods_of(rs, count, ready=True, phase="Running", prefix=None, terminating=False):
    """``count`` pods controlled by ReplicaSet ``rs``, Ready or not."""
    meta = rs["metadata"]
    pods = []
    for index in range(count):
        pod_meta = {"name": "%s-%s%d" % (meta["name"], prefix or "p", index), "namespace": "halobuzz",
                    "labels": dict(rs["spec"]["template"]["metadata"]["labels"]),
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": meta["name"],
                                         "uid": meta["uid"], "controller": True}]}
        if terminating:
            pod_meta["deletionTimestamp"] = "2026-11-28T21:00:00Z"
        pods.append({"metadata": pod_meta, "spec": {"nodeName": "node-1"},
                     "status": {"phase": phase, "conditions": [
                         {"type": "Ready", "status": "True" if ready else "False"}]}})
    return pods
