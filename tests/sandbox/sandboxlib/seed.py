"""Put every sandbox service into the state of a scenario (see world.yml).

Each seeder resets its service and writes the scenario's data through the service's
ordinary client API (Kubernetes HTTP API, redis, pymongo, boto3); the emulators written
here also take their scenario state on a /_sandbox admin path.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from .kube import CLUSTER_SCOPED, PLURALS, KubeAPI, api_path
from .procs import SandboxError

# --------------------------------------------------------------------------- kubernetes


def _deployment_manifest(ns: str, spec: dict, image: str, change_cause: str) -> dict:
    name = spec["name"]
    labels = {"app": name, "app.kubernetes.io/part-of": "halobuzz"}
    container = {
        "name": name,
        "image": image,
        "ports": [{"containerPort": spec["port"], "name": "http"}],
        "env": [{"name": k, "value": str(v)} for k, v in spec.get("env", {}).items()],
        "resources": spec.get("resources", {}),
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": spec["port"]}, "periodSeconds": 5},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
                     "annotations": {"kubernetes.io/change-cause": change_cause}},
        "spec": {
            "replicas": spec["replicas"],
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def _set_image(image: str, change_cause: str):
    def mutate(obj: dict) -> None:
        obj["metadata"].setdefault("annotations", {})["kubernetes.io/change-cause"] = change_cause
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return mutate


def _rolled_out(dep: dict) -> bool:
    spec, status = dep.get("spec", {}), dep.get("status", {})
    want = spec.get("replicas", 1)
    return (status.get("observedGeneration", 0) >= dep["metadata"].get("generation", 0)
            and status.get("updatedReplicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("replicas", 0) == want)


def seed_kubernetes(kubeconfig: str, state: dict, settle_timeout: float = 20.0) -> None:
    kcfg = state["kubernetes"]
    ns = kcfg["namespace"]
    api = KubeAPI(kubeconfig)
    config = {"kubelet": kcfg["kubelet"], "pod_logs": kcfg["pod_logs"], "metrics": kcfg["metrics"]}
    for key in ("controllers", "network"):
        if key in kcfg:
            config[key] = kcfg[key]
    api.must("POST", "/_sandbox/reset")
    # The release history is replayed with pods Ready at once and no node under pressure; the
    # scenario's kubelet (its ready delay, its evictions) applies from the end of seeding on.
    api.must("PUT", "/_sandbox/config", json=dict(config, kubelet=dict(kcfg["kubelet"], ready_delay_seconds=0,
                                                                       node_pressure=[])))
    api.must("POST", "/api/v1/namespaces", ok=(201, 409), json={
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}})
    for node in kcfg["nodes"]:
        api.must("POST", "/api/v1/nodes", ok=(201, 409), json={
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node["name"], "labels": {"kubernetes.io/hostname": node["name"], **node["labels"]}},
            "spec": {}})
    for obj in kcfg["objects"]:
        kind = obj["kind"]
        obj = json.loads(json.dumps(obj))
        scoped_ns = None if kind in CLUSTER_SCOPED else obj["metadata"].setdefault("namespace", ns)
        api.must("POST", api_path(obj["apiVersion"], PLURALS[kind], scoped_ns), json=obj)
    deployments = {spec["name"]: spec for spec in kcfg["deployments"]}
    path = {name: api_path("apps/v1", "deployments", ns, name) for name in deployments}
    broken = set(kcfg["kubelet"].get("broken_images", [])) | set(kcfg["kubelet"].get("unpullable_images", []))
    for name, spec in deployments.items():
        first = spec["history"][0]
        api.must("POST", api_path("apps/v1", "deployments", ns),
                 json=_deployment_manifest(ns, spec, first["image"], first["change_cause"]))
    # Each release rolls out completely before the next one, as in production; the last one
    # may be a bad release that never becomes Ready.
    for step in range(1, max(len(s["history"]) for s in deployments.values())):
        moving = [n for n, s in deployments.items() if len(s["history"]) > step]
        _wait_rolled_out(api, ns, moving, settle_timeout)
        for name in moving:
            change = deployments[name]["history"][step]
            api.update(path[name], _set_image(change["image"], change["change_cause"]))
    healthy = [n for n, s in deployments.items() if s["history"][-1]["image"] not in broken]
    _wait_rolled_out(api, ns, healthy, settle_timeout)
    api.must("PUT", "/_sandbox/config", json=config)
    _wait_evicted(api, sum(e.get("evict", 1) for e in kcfg["kubelet"].get("node_pressure") or []), settle_timeout)
    _wait_rolled_out(api, ns, healthy, settle_timeout)  # the emulator re-judges young pods


def _wait_evicted(api: KubeAPI, count: int, timeout: float) -> None:
    """Wait until the kubelets have evicted the pods node_pressure asks for (Failed, reason Evicted)."""
    deadline = time.monotonic() + timeout
    while count:
        pods = api.must("GET", "/api/v1/pods", params={"fieldSelector": "status.phase=Failed"})["items"]
        if len([p for p in pods if p.get("status", {}).get("reason") == "Evicted"]) >= count:
            return
        if time.monotonic() > deadline:
            raise SandboxError(f"the kubelets did not evict {count} pod(s) within {timeout:.0f}s")
        time.sleep(0.05)


def _wait_rolled_out(api: KubeAPI, ns: str, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(names)
    while waiting:
        waiting = [name for name in waiting
                   if not _rolled_out(api.must("GET", api_path("apps/v1", "deployments", ns, name)))]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise SandboxError(f"Deployments {', '.join(waiting)} in namespace {ns} did not roll out "
                               f"within {timeout:.0f}s; see the kube log in the sandbox dir")
        time.sleep(0.05)


# --------------------------------------------------------------------------- redis

def _fill(template, rnd: random.Random, i: int):
    if isinstance(template, dict):
        return {k: _fill(v, rnd, i) for k, v in template.items()}
    if isinstance(template, str):
        return (template.replace("{i}", str(i))
                .replace("{uuid}", str(uuid.UUID(int=rnd.getrandbits(128), version=4)))
                .replace("{objectid}", "%024x" % rnd.getrandbits(96)))
    return template


def redis_entries(state: dict) -> list[tuple[str, str, int]]:
    """(key, JSON value, ttl seconds) for every key the scenario holds; deterministic."""
    out = []
    for group_no, group in enumerate(state["redis"]["keys"]):
        rnd = random.Random(f"{group['pattern']}#{group_no}")
        for i in range(group["count"]):
            key = _fill(group["pattern"], rnd, i)
            value = json.dumps(_fill(group["value"], rnd, i), sort_keys=True)
            out.append((key, value, int(group["ttl"])))
    return out


def seed_redis(redis_url: str, state: dict) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        client.flushdb()
        pipe = client.pipeline(transaction=False)
        for key, value, ttl in redis_entries(state):
            pipe.set(key, value, ex=ttl)
        pipe.execute()
    finally:
        client.close()


# --------------------------------------------------------------------------- mongodb

EPOCH = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
GIFT_TYPES = [("rose", 10), ("heart", 50), ("crown", 500), ("rocket", 2000), ("castle", 10000)]
COUNTRIES = ["NP", "NP", "NP", "IN", "BD", "AE", "GB", "US"]


def _oid(rnd: random.Random, when: dt.datetime):
    from bson import ObjectId

    return ObjectId(int(when.timestamp()).to_bytes(4, "big") + rnd.getrandbits(64).to_bytes(8, "big"))


def mongo_documents(state: dict) -> dict[str, list[dict]]:
    """users, streams and gifts as production types them (see the README for the gaps)."""
    from bson.int64 import Int64

    cfg = state["mongodb"]
    rnd = random.Random("halobuzz-mongo")
    users = []
    for i in range(cfg["users"]):
        created = EPOCH - dt.timedelta(days=rnd.randint(1, 700), seconds=rnd.randint(0, 86399))
        users.append({
            "_id": _oid(rnd, created), "username": f"user{i:05d}", "email": f"user{i:05d}@example.com",
            "country": rnd.choice(COUNTRIES), "verified": rnd.random() < 0.4,
            "roles": ["host"] if i % 10 == 0 else ["viewer"],
            "wallet": {"coins": Int64(rnd.randint(0, 5_000_000_000)), "currency": "NPR"},
            "followers": Int64(rnd.randint(0, 250_000)),
            "created_at": created, "last_seen_at": EPOCH + dt.timedelta(hours=rnd.randint(0, 600)),
        })
    hosts = [u for u in users if "host" in u["roles"]] or users[:1]
    streams = []
    for i in range(cfg["streams"]):
        started = EPOCH + dt.timedelta(hours=rnd.randint(0, 600), minutes=rnd.randint(0, 59))
        live = i % 8 == 0
        streams.append({
            "_id": _oid(rnd, started), "host_id": rnd.choice(hosts)["_id"], "title": f"Stream night #{i}",
            "status": "live" if live else "ended", "started_at": started,
            "ended_at": None if live else started + dt.timedelta(minutes=rnd.randint(10, 240)),
            "viewers_peak": Int64(rnd.randint(5, 40_000)), "agora_channel": f"hb-{i:04d}",
            "tags": rnd.sample(["music", "talk", "gaming", "dance", "nepal", "comedy"], 2),
        })
    gifts = []
    for i in range(cfg["gifts"]):
        stream = rnd.choice(streams)
        sent = stream["started_at"] + dt.timedelta(seconds=rnd.randint(1, 3600))
        kind, coins = rnd.choice(GIFT_TYPES)
        minor = coins * 10  # 1 coin = 0.10 NPR
        gifts.append({
            "_id": _oid(rnd, sent), "stream_id": stream["_id"], "sender_id": rnd.choice(users)["_id"],
            "receiver_id": stream["host_id"], "gift": kind, "coins": Int64(coins),
            # production: amount is Decimal128("1000.00"); nx-27017 rejects Decimal128.
            "amount": f"{minor // 100}.{minor % 100:02d}", "amount_minor": Int64(minor),
            "currency": "NPR", "sent_at": sent,
        })
    corrupt = cfg.get("corrupt") or {}
    for gift in gifts[: corrupt.get("gifts_bad_amount", 0)]:
        if rnd.random() < 0.5:
            gift["amount"], gift["amount_minor"] = "-" + gift["amount"], Int64(-int(gift["amount_minor"]))
        else:
            del gift["amount"], gift["amount_minor"]
    for user in users[: corrupt.get("users_null_wallet", 0)]:
        user["wallet"] = None
    deleted = corrupt.get("streams_deleted", 0)
    if deleted:
        streams = streams[deleted:]
    return {"users": users, "streams": streams, "gifts": gifts}


def seed_mongodb(mongodb_uri: str, state: dict) -> None:
    import pymongo

    client = pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        db = client[state["mongodb"]["database"]]
        for name, docs in mongo_documents(state).items():
            db.drop_collection(name)
            if docs:
                db[name].insert_many(docs, ordered=True)
        db.users.create_index("username", unique=True)
        db.gifts.create_index([("stream_id", 1), ("sent_at", -1)])
        db.streams.create_index("status")
    finally:
        client.close()


# --------------------------------------------------------------------------- vault

def vault_config(state: dict, secrets: dict, endpoints: dict) -> dict:
    """The Vault emulator's CONFIG: users with their sandbox passwords, policies, KV data."""
    vcfg = state["vault"]
    values = {"mongodb_uri": endpoints["MONGODB_URI"], "redis_url": endpoints["REDIS_URL"],
              "mongodb_password": secrets["mongodb_password"], "staging_password": secrets["staging_password"]}

    def render(obj):
        if isinstance(obj, dict):
            return {k: render(v) for k, v in obj.items()}
        if isinstance(obj, str):
            for key, val in values.items():
                obj = obj.replace("{" + key + "}", val)
        return obj

    return {
        "root_token": secrets["vault_root_token"],
        "ldap_users": {name: {"password": secrets["ldap_passwords"][name], "policies": user["policies"]}
                       for name, user in vcfg["ldap_users"].items()},
        "policies": vcfg["policies"],
        "approle": {"roles": {}},
        "token_roles": vcfg.get("token_roles") or {},
        "kv": render(vcfg["kv"]),
    }


def seed_vault(vault_addr: str, config: dict) -> None:
    resp = requests.post(vault_addr.rstrip("/") + "/_sandbox/reset", json=config, timeout=10,
                         headers={"X-Vault-Token": config["root_token"]})
    if resp.status_code not in (200, 204):
        raise SandboxError(f"Vault emulator reset answered {resp.status_code}: {resp.text[:200]}")


# --------------------------------------------------------------------------- aws

def seed_aws(endpoint_url: str, state: dict) -> None:
    import boto3

    acfg = state["aws"]
    ng = acfg["nodegroup"]
    kwargs = {"endpoint_url": endpoint_url, "region_name": acfg["region"],
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    eks = boto3.client("eks", **kwargs)
    if _nodegroup_as_seeded(eks, acfg):
        return  # every scenario has the same nodegroup: nothing to reset
    resp = requests.post(endpoint_url.rstrip("/") + "/moto-api/reset", timeout=10)
    resp.raise_for_status()
    # Subnet ids as an EKS console shows them; moto's EKS does not look them up in EC2, and
    # creating a VPC first would double the (cold) seeding time.
    subnets = [f"subnet-0{n}a1b2c3d4e5f6a7b8" for n in range(3)]
    account = "123456789012"
    eks.create_cluster(
        name=acfg["cluster"], version=acfg["kubernetes_version"],
        roleArn=f"arn:aws:iam::{account}:role/halobuzz-eks-cluster",
        resourcesVpcConfig={"subnetIds": subnets}, tags={"app": "halobuzz"})
    eks.create_nodegroup(
        clusterName=acfg["cluster"], nodegroupName=ng["name"], scalingConfig=ng["scaling"],
        subnets=subnets, instanceTypes=ng["instance_types"], amiType="AL2023_x86_64_STANDARD",
        nodeRole=f"arn:aws:iam::{account}:role/halobuzz-eks-workers",
        labels=ng["labels"], taints=[{"key": t["key"], "value": t["value"], "effect": t["effect"]} for t in ng["taints"]],
        capacityType="ON_DEMAND", tags={"app": "halobuzz"})


def _nodegroup_as_seeded(eks, acfg: dict) -> bool:
    """True when the cluster and its nodegroup exist exactly as world.yml seeds them."""
    ng = acfg["nodegroup"]
    try:
        clusters = eks.list_clusters()["clusters"]
        if clusters != [acfg["cluster"]] or eks.list_nodegroups(clusterName=acfg["cluster"])["nodegroups"] != [ng["name"]]:
            return False
        live = eks.describe_nodegroup(clusterName=acfg["cluster"], nodegroupName=ng["name"])["nodegroup"]
    except eks.exceptions.ResourceNotFoundException:
        return False
    return (live.get("scalingConfig") == ng["scaling"] and live.get("labels") == ng["labels"]
            and live.get("taints") == ng["taints"] and live.get("instanceTypes") == ng["instance_types"]
            and live.get("status") == "ACTIVE")


# --------------------------------------------------------------------------- web emulators

def seed_web(endpoints: dict, state: dict) -> None:
    api = endpoints["HALOBUZZ_API_URL"].rstrip("/")
    body = {"metrics": state["metrics"], "providers": state["providers"],
            "namespace": state["kubernetes"]["namespace"], "deployment": "backend",
            "redis_url": endpoints.get("REDIS_URL")}
    resp = requests.put(api + "/_sandbox/scenario", json=body, timeout=10)
    if resp.status_code != 200:
        raise SandboxError(f"web emulator scenario switch answered {resp.status_code}: {resp.text[:200]}")


# --------------------------------------------------------------------------- all

def _jobs(state: dict, endpoints: dict, secrets: dict) -> dict:
    return {
        "redis": lambda: seed_redis(endpoints["REDIS_URL"], state),
        "mongodb": lambda: seed_mongodb(endpoints["MONGODB_URI"], state),
        "aws": lambda: seed_aws(endpoints["AWS_ENDPOINT_URL"], state),
        "web": lambda: seed_web(endpoints, state),
        "vault": lambda: seed_vault(endpoints["VAULT_ADDR"], vault_config(state, secrets, endpoints)),
        "kube": lambda: seed_kubernetes(endpoints["KUBECONFIG"], state),
    }


def seed_one(name: str, state: dict, endpoints: dict, secrets: dict) -> float:
    """Seed one component; returns the seconds it took. Errors become one SandboxError."""
    began = time.monotonic()
    try:
        _jobs(state, endpoints, secrets)[name]()
    except SandboxError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported as one line naming the component
        raise SandboxError(f"seeding {name} for scenario {state['scenario']!r} failed: "
                           f"{type(exc).__name__}: {exc}") from exc
    return time.monotonic() - began


def apply(state: dict, endpoints: dict, secrets: dict, skip: set[str]) -> dict[str, float]:
    """Seed every running component in parallel; returns seconds spent per component."""
    names = [name for name in _jobs(state, endpoints, secrets) if name not in skip]
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {name: pool.submit(seed_one, name, state, endpoints, secrets) for name in names}
        return collect(futures)


def collect(futures: dict) -> dict[str, float]:
    """Wait for every seeding future; raise the first error after all have finished."""
    timings, errors = {}, []
    for name, future in futures.items():
        try:
            timings[name] = future.result()
        except Exception as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)
    if errors:
        raise errors[0]
    return timings
