"""world.yml and the seed data derived from it (no services needed)."""
from __future__ import annotations

import datetime as dt

import pytest
from bson import ObjectId
from bson.int64 import Int64

from sandboxlib import seed, world
from sandboxlib.procs import SandboxError

DOC = world.load()
NAMES = world.scenario_names(DOC)
REQUIRED = ["healthy", "bad-release", "db-corruption", "payment-failures", "high-error-rate",
            "stream-latency", "ai-moderation-down", "memory-leak"]
# Issue 13 ("Done when": the playbooks pass in scenarios with ... replicas 1): the one scenario whose backend
# runs a single replica (tests/integration/test_single_replica.py); every other scenario keeps the world's 3,
# which the runbook's procedures and their tests assume (PDB minAvailable 2, HPA min 3, 3/3 pods Ready).
SINGLE_REPLICA = {"bad-release-single-replica"}


def test_every_required_scenario_exists():
    assert set(REQUIRED) <= set(NAMES)


def test_unknown_scenario_is_a_clear_error():
    with pytest.raises(SandboxError, match="unknown scenario 'nope': choose one of healthy"):
        world.resolve("nope", DOC)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_is_complete(name):
    state = world.resolve(name, DOC)
    m = state["metrics"]
    assert set(m) == {"api", "payments", "streams", "gifts", "moderation", "mongodb", "memory_ramp"}, name
    assert sum(m["api"]["routes"].values()) == pytest.approx(1.0), name
    assert set(m["api"]["latency_seconds"]) == set(m["streams"]["latency_seconds"]) == {"p50", "p95", "p99"}
    for quantiles in (m["api"]["latency_seconds"], m["streams"]["latency_seconds"]):
        assert 0 < quantiles["p50"] <= quantiles["p95"] <= quantiles["p99"], name
    assert all(0 <= p["success_ratio"] <= 1 for p in m["payments"].values()), name
    assert set(m["memory_ramp"]) <= {d["name"] for d in state["kubernetes"]["deployments"]}, name
    assert set(state["providers"]) == {"stripe", "khalti", "agora", "cdn"}
    assert set(state["providers"].values()) <= {"up", "degraded", "down"}
    backend = next(d for d in state["kubernetes"]["deployments"] if d["name"] == "backend")
    assert [h["image"].rsplit(":", 1)[1] for h in backend["history"]] == ["v1.4.0", "v1.5.0", "v1.5.1"]
    assert backend["replicas"] == (1 if name in SINGLE_REPLICA else 3), name


def test_the_emulator_query_table_is_gone():
    """The real Prometheus evaluates PromQL now: no list of canned queries is left (issue 17)."""
    assert "prometheus_queries" not in DOC and "prometheus" not in DOC["world"]


def test_deep_merge_replaces_lists_and_merges_mappings():
    merged = world.deep_merge({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}


@pytest.mark.parametrize("name, broken, provider_states", [
    ("healthy", [], {"stripe": "up", "agora": "up"}),
    ("bad-release", ["registry.halobuzz.com/backend:v1.5.1"], {"stripe": "up"}),
    ("payment-failures", [], {"stripe": "degraded", "khalti": "up"}),
    ("stream-latency", [], {"agora": "degraded", "cdn": "degraded"}),
    ("ai-moderation-down", ["registry.halobuzz.com/ai-engine:v0.9.3"], {"stripe": "up"}),
    ("bad-release-single-replica", ["registry.halobuzz.com/backend:v1.5.1"], {"stripe": "up"}),
])
def test_scenario_specifics(name, broken, provider_states):
    state = world.resolve(name, DOC)
    assert state["kubernetes"]["kubelet"]["broken_images"] == broken
    for provider, expected in provider_states.items():
        assert state["providers"][provider] == expected


@pytest.mark.parametrize("name, needle", [
    ("db-corruption", "MongoNetworkError"), ("payment-failures", "webhook"), ("high-error-rate", "ERROR"),
])
def test_planted_log_lines(name, needle):
    logs = world.resolve(name, DOC)["kubernetes"]["pod_logs"]
    backend = next(entry for entry in logs if entry["selector"] == {"app": "backend"})
    assert any(needle in line for line in backend["lines"])


def test_redis_entries_are_deterministic_and_typed():
    state = world.resolve("payment-failures", DOC)
    first, second = seed.redis_entries(state), seed.redis_entries(state)
    assert first == second
    keys = [key for key, _, _ in first]
    assert len(keys) == len(set(keys))
    idem = [(k, v, ttl) for k, v, ttl in first if k.startswith("payment:idempotency:")]
    assert len(idem) == 225 and all(ttl > 0 for _, _, ttl in idem)
    assert sum('"failed"' in v for _, v, _ in idem) == 40
    assert any(k.startswith("stream:cache:") for k in keys) and any(k.startswith("session:") for k in keys)


def test_mongo_documents_are_production_typed():
    docs = seed.mongo_documents(world.resolve("healthy", DOC))
    assert {k: len(v) for k, v in docs.items()} == {"users": 200, "streams": 60, "gifts": 600}
    user, gift = docs["users"][0], docs["gifts"][0]
    assert isinstance(user["_id"], ObjectId) and isinstance(user["created_at"], dt.datetime)
    assert isinstance(user["wallet"]["coins"], Int64) and isinstance(gift["amount_minor"], Int64)
    assert gift["amount"] == f"{gift['amount_minor'] // 100}.{gift['amount_minor'] % 100:02d}"
    stream_ids = {s["_id"] for s in docs["streams"]}
    assert all(g["stream_id"] in stream_ids for g in docs["gifts"])


def test_db_corruption_corrupts_what_it_says():
    docs = seed.mongo_documents(world.resolve("db-corruption", DOC))
    bad_gifts = [g for g in docs["gifts"] if "amount_minor" not in g or g["amount_minor"] < 0]
    assert len(bad_gifts) == 80
    assert sum(u["wallet"] is None for u in docs["users"]) == 30
    assert len(docs["streams"]) == 35


def test_vault_config_puts_real_endpoints_and_passwords_in():
    state = world.resolve("healthy", DOC)
    secrets = {"vault_root_token": "root", "mongodb_password": "pw", "staging_password": "spw",
               "ldap_passwords": {"oncall": "o", "teamlead": "t", "developer": "d"}}
    cfg = seed.vault_config(state, secrets, {"MONGODB_URI": "mongodb://127.0.0.1:1/halobuzz",
                                             "REDIS_URL": "redis://127.0.0.1:2/0"})
    assert cfg["kv"]["secret"]["production/mongodb"] == {
        "uri": "mongodb://127.0.0.1:1/halobuzz", "username": "halobuzz_app", "password": "pw"}
    assert cfg["ldap_users"]["oncall"]["password"] == "o"
    assert "default" not in cfg["policies"], "Vault attaches `default` to every token: never widen it"
    # Issue 15: no LDAP user reads production; only the token role `breakglass` mints a reader.
    readers = {name for name, pol in cfg["policies"].items() if "secret/data/production/*" in pol["path"]}
    assert readers == {"breakglass-production-read"}
    for user in ("oncall", "teamlead", "developer"):
        assert not readers & set(cfg["ldap_users"][user]["policies"]), user
    assert cfg["token_roles"]["breakglass"]["allowed_policies"] == ["breakglass-production-read"]
    assert "auth/token/create/breakglass" in cfg["policies"]["breakglass-approver"]["path"]


def test_single_replica_scenario_differs_from_the_world_only_in_the_backend_count():
    """The single-replica scenario restates the deployments (lists replace on a merge): apart from the
    backend's replicas they must stay the world's, so that a change to the world reaches it too."""
    world_deployments = world.resolve("healthy", DOC)["kubernetes"]["deployments"]
    for name in SINGLE_REPLICA:
        deployments = world.resolve(name, DOC)["kubernetes"]["deployments"]
        assert [dict(d, replicas=None) for d in deployments] == [dict(d, replicas=None) for d in world_deployments]
        assert [d["replicas"] for d in deployments] == [1, 2, 2]
