"""Every playbook, given wrong or missing input, fails the way an on-call engineer can act on at 3 a.m.

For each case of the table: the run fails (rc != 0); the output carries the expected phrases (the
input named, what to do); no Python traceback and no MODULE FAILURE; no secret in stdout, stderr or
the run record (the sandbox's LDAP password, the Slack webhook URL, and passwords planted in the
case's own URLs); and nothing changed - the recap says changed=0 and a snapshot of the world
(Deployments' generation, replicas, template env and annotations; nodes' cordons; HPAs; the EKS
nodegroup's scaling; Redis keys and their expiries, less the ones due to expire meanwhile; MongoDB counts; Vault's break-glass records) is the
same before and after.

Endpoints come from `sandbox_env` (real services with HALOBUZZ_USE_ENV=1: the world is then not
reset, the cases still hold). "Unreachable" is a free loopback port nobody listens on.
"""
from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pymongo
import pytest
import redis
import requests
from kubernetes import client as k8s_client, config as k8s_config

from sandbox_support import REPO, use_real_env

boto3 = pytest.importorskip("boto3")

NAMESPACE = "halobuzz"
ARCHIVES = REPO / "tests" / "fixtures" / "mongodump" / "archives"
PLANTED = "h10-planted-Secr3t"  # a password put into a URL by a case; must never be printed
BREAK_GLASS = ("-e", "reason=bad input test", "-e", "approved_by=teamlead")
MONGO_FAST = "serverSelectionTimeoutMS=2000&connectTimeoutMS=2000"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# (id, playbook, extra args, environment overrides, phrases expected in the output)
# Placeholders: {closed} a loopback host:port nobody listens on, {planted} PLANTED, {archives} ARCHIVES,
# {tmp} the test's tmp_path, {requester} the LDAP user break_glass logs in as.
CASES = [
    # rollback
    ("rollback-revision-not-a-number", "rollback", ("-e", "to_revision=abc"), {},
     ("argument 'to_revision'", "cannot be converted to an int")),
    ("rollback-revision-not-in-history", "rollback", ("-e", "to_revision=999"), {},
     ("revision 999 is not in the rollout history", "pick one of the available revisions")),
    ("rollback-healthz-url-empty", "rollback", (), {"HEALTHZ_URL": ""},
     ("healthz_url must be the http(s) URL", "HEALTHZ_URL", "Nothing was changed")),
    # db_rollback
    ("db-rollback-archive-missing-input", "db_rollback", (), {},
     ("missing required arguments: backup_archive",)),
    ("db-rollback-archive-path-missing", "db_rollback",
     ("-e", "backup_archive={tmp}/no-such.archive", "-e", "safety_backup_dir={tmp}/safety"), {},
     ("no-such.archive does not exist", "give the path of a mongodump archive", "nothing was written")),
    ("db-rollback-archive-corrupt", "db_rollback",
     ("-e", "backup_archive={archives}/bad-format.archive", "-e", "safety_backup_dir={tmp}/safety"), {},
     ("bad-format.archive", "not valid Extended JSON", "nothing was written")),
    ("db-rollback-mongodb-unreachable", "db_rollback",
     ("-e", "backup_archive={archives}/test.bar.archive", "-e", "safety_backup_dir={tmp}/safety"),
     {"MONGODB_URI": "mongodb://halobuzz:{planted}@{closed}/halobuzz?" + MONGO_FAST},
     ("cannot reach MongoDB at {closed}", "check mongodb_uri")),
    # maintenance
    ("maintenance-action-unknown", "maintenance",
     ("-e", "maintenance_action=pause", "-e", '{"maintenance_nodes": ["node-1"]}'), {},
     ("value of maintenance_action must be one of: start, finish, got: pause",)),
    ("maintenance-action-missing", "maintenance", ("-e", '{"maintenance_nodes": ["node-1"]}'), {},
     ("missing required arguments: maintenance_action",)),
    ("maintenance-node-unknown", "maintenance",
     ("-e", "maintenance_action=start", "-e", '{"maintenance_nodes": ["nope"]}'), {},
     ("Node(s) nope not found: check maintenance_nodes", "Nothing was changed")),
    ("maintenance-nodes-not-a-list", "maintenance",
     ("-e", "maintenance_action=start", "-e", "maintenance_nodes=node-1"), {},
     ("maintenance_nodes must be a list of node names", '{"maintenance_nodes": ["node-1", "node-2"]}')),
    # scale_up
    ("scale-up-replicas-not-a-number", "scale_up", ("-e", "scale_replicas=abc"), {},
     ("argument 'scale_replicas'", "cannot be converted to an int")),
    ("scale-up-aws-unreachable", "scale_up", (), {"AWS_ENDPOINT_URL": "http://{closed}", "AWS_MAX_ATTEMPTS": "1"},
     ("reading nodegroup workers of EKS cluster halobuzz failed", "check aws_region, aws_endpoint_url")),
    # break_glass (VAULT_LDAP_PASSWORD is how AWX hands the password over: it must not leak either)
    ("break-glass-incident-missing", "break_glass", BREAK_GLASS, {"VAULT_LDAP_PASSWORD": "{oncall_password}"},
     ("missing required arguments: incident_id",)),
    # issue 15: a typed approved_by is no approval (two-person break glass, enforced by Vault)
    ("break-glass-no-approval", "break_glass",
     ("-e", "incident_id=INC-H10", "-e", "reason=x", "-e", "approved_by={requester}"), {},
     ("no approval for incident INC-H10", "break_glass_action=approve")),
    ("break-glass-self-approval", "break_glass",
     ("-e", "break_glass_action=approve", "-e", "incident_id=INC-H10", "-e", "requester={requester}@halobuzz.com"),
     {}, ("cannot approve your own access", "Another approver must approve")),
    ("break-glass-approve-requester-missing", "break_glass",
     ("-e", "break_glass_action=approve", "-e", "incident_id=INC-H10"), {}, ("requester is missing",)),
    ("break-glass-action-unknown", "break_glass", ("-e", "break_glass_action=steal") + BREAK_GLASS, {},
     ("break_glass_action", "open, approve")),
    ("break-glass-incident-id-path", "break_glass", ("-e", "incident_id=../x") + BREAK_GLASS, {},
     ("incident_id '../x' must be 1-64 letters",)),
    ("break-glass-vault-unreachable", "break_glass", ("-e", "incident_id=INC-H10") + BREAK_GLASS,
     {"VAULT_ADDR": "http://{closed}"},
     ("Cannot reach Vault at http://{closed}", "Check vault_addr (or VAULT_ADDR)")),
    ("break-glass-wrong-password", "break_glass", ("-e", "incident_id=INC-H10") + BREAK_GLASS,
     {"VAULT_LDAP_PASSWORD": "{planted}"},
     ("Vault refused logging in as LDAP user", "VAULT_LDAP_PASSWORD")),
    ("break-glass-output-dir-missing", "break_glass",
     ("-e", "incident_id=INC-H10", "-e", "secret_output_file={tmp}/no-such-dir/mongodb.json") + BREAK_GLASS, {},
     ("secret_output_file", "no-such-dir does not exist", "nothing was asked of Vault")),
    # cache_purge
    ("cache-purge-pattern-reaches-payment-keys", "cache_purge", ("-e", '{"purge_patterns": ["payment:*"]}'), {},
     ("refusing to purge, nothing was deleted", "Narrow the purge pattern")),
    ("cache-purge-redis-unreachable", "cache_purge", (), {"REDIS_URL": "redis://:{planted}@{closed}/0"},
     ("cannot reach Redis at {closed}", "redis_url")),
    ("cache-purge-redis-url-not-redis", "cache_purge", (), {"REDIS_URL": "http://:{planted}@{closed}/0"},
     ("scheme must be redis:// or rediss://",)),
    ("cache-purge-redis-url-empty", "cache_purge", (), {"REDIS_URL": ""},
     ("redis_url is empty", "REDIS_URL", "Nothing was deleted")),
    # redis_check
    ("redis-check-threshold-not-a-number", "redis_check", ("-e", "redis_check_max_memory_percent=abc"), {},
     ("argument 'redis_check_max_memory_percent'", "cannot be converted to a float")),
    ("redis-check-redis-unreachable", "redis_check", (), {"REDIS_URL": "redis://{closed}/0"},
     ("cannot reach Redis at {closed}", "redis_url")),
    # the incident_response entry points
    ("service-down-deployment-unknown", "service_down", ("-e", "deployment=nope"), {},
     ("Deployment 'nope' not found in namespace 'halobuzz'", "Deployments there:")),
    ("db-connection-lost-mongodb-unreachable", "db_connection_lost", (),
     {"MONGODB_URI": "mongodb://halobuzz:{planted}@{closed}/halobuzz?" + MONGO_FAST},
     ("MongoDB does not answer", "cannot reach MongoDB at {closed}")),
    ("db-connection-lost-bad-type-with-credentials", "db_connection_lost", ("-e", "incident_response_log_tail=abc"),
     {"MONGODB_URI": "mongodb://halobuzz:{planted}@{closed}/halobuzz"},
     ("argument 'incident_response_log_tail'", "cannot be converted to an int")),
    ("payment-failures-prometheus-unreachable", "payment_failures", (), {"PROMETHEUS_URL": "http://{closed}"},
     ("Prometheus at http://{closed} did not answer the payment success ratio", "Check prometheus_url")),
    ("payment-failures-redis-url-empty", "payment_failures", (), {"REDIS_URL": ""},
     ("redis_url is empty", "REDIS_URL", "Nothing was changed")),
    ("payment-failures-bad-type-with-credentials", "payment_failures",
     ("-e", "incident_response_payment_success_threshold=abc"), {"REDIS_URL": "redis://:{planted}@{closed}/0"},
     ("argument 'incident_response_payment_success_threshold'", "cannot be converted to a float")),
    ("high-error-rate-replicas-not-a-number", "high_error_rate", ("-e", "incident_response_scale_replicas=abc"), {},
     ("argument 'incident_response_scale_replicas'", "cannot be converted to an int")),
    ("high-error-rate-prometheus-url-empty", "high_error_rate", (), {"PROMETHEUS_URL": ""},
     ("prometheus_url must be the http(s) base URL", "PROMETHEUS_URL", "Nothing was changed")),
    ("ai-moderation-action-unknown", "ai_moderation_fallback", ("-e", "ai_moderation_action=pause"), {},
     ("value of ai_moderation_action must be one of: fallback, restore, got: pause",)),
    ("ai-moderation-engine-unknown", "ai_moderation_fallback", ("-e", "incident_response_ai_engine_deployment=nope"),
     {}, ("Deployment 'nope' not found in namespace 'halobuzz'",)),
    ("memory-leak-threshold-not-a-number", "memory_leak", ("-e", "incident_response_memory_limit_percent=abc"), {},
     ("argument 'incident_response_memory_limit_percent'", "cannot be converted to a float")),
    ("memory-leak-deployment-unknown", "memory_leak", ("-e", "deployment=nope"), {},
     ("Deployment 'nope' not found in namespace 'halobuzz'",)),
]


@pytest.fixture(scope="module")
def world(sandbox_env, scenario):
    """Clients for the snapshot; the sandbox starts from `healthy` (a real world is taken as it is)."""
    if not use_real_env():
        scenario("healthy")
    k8s_config.load_kube_config(config_file=sandbox_env.get("KUBECONFIG"))
    clients = {
        "apps": k8s_client.AppsV1Api(), "core": k8s_client.CoreV1Api(), "hpa": k8s_client.AutoscalingV2Api(),
        "redis": redis.Redis.from_url(sandbox_env["REDIS_URL"], socket_timeout=10),
        "mongo": pymongo.MongoClient(sandbox_env["MONGODB_URI"], serverSelectionTimeoutMS=10000),
        # credentials from sandbox_env when it has them (a private sandbox), else boto3's usual chain
        "eks": boto3.client("eks", endpoint_url=sandbox_env.get("AWS_ENDPOINT_URL") or None,
                            region_name=sandbox_env.get("AWS_DEFAULT_REGION", "us-east-1"),
                            aws_access_key_id=sandbox_env.get("AWS_ACCESS_KEY_ID"),
                            aws_secret_access_key=sandbox_env.get("AWS_SECRET_ACCESS_KEY")),
    }
    yield clients
    clients["redis"].close()
    clients["mongo"].close()


def _vault_token(env):
    secrets_file = Path(env.get("HALOBUZZ_SANDBOX_DIR", "/nonexistent")) / "secrets.json"
    return json.loads(secrets_file.read_text())["vault_root_token"] if secrets_file.is_file() else None


def _break_glass_records(env):
    """Paths of the break-glass access records in Vault (sandbox: its root token); None without a token."""
    token = _vault_token(env)
    if not token:
        return None

    def listing(path):
        response = requests.request("LIST", "%s/v1/secret/metadata/%s" % (env["VAULT_ADDR"], path),
                                    headers={"X-Vault-Token": token}, timeout=10)
        return [] if response.status_code == 404 else response.json()["data"]["keys"]

    return sorted(incident + record for incident in listing("audit/break-glass")
                  for record in listing("audit/break-glass/" + incident))


def snapshot(world, env):
    deployments = {
        d.metadata.name: (d.metadata.generation, d.spec.replicas, d.spec.template.metadata.annotations,
                          [(c.name, c.image, [(e.name, e.value) for e in c.env or []])
                           for c in d.spec.template.spec.containers])
        for d in world["apps"].list_namespaced_deployment(NAMESPACE).items}
    nodes = {n.metadata.name: bool(n.spec.unschedulable) for n in world["core"].list_node().items}
    hpas = {h.metadata.name: (h.metadata.generation, h.spec.min_replicas, h.spec.max_replicas)
            for h in world["hpa"].list_namespaced_horizontal_pod_autoscaler(NAMESPACE).items}
    nodegroup = world["eks"].describe_nodegroup(clusterName="halobuzz", nodegroupName="workers")["nodegroup"]
    database = world["mongo"].get_default_database()
    counts = {name: database[name].estimated_document_count()
              for name in sorted(database.list_collection_names()) if not name.startswith("system.")}
    return dict(deployments=deployments, nodes=nodes, hpas=hpas, nodegroup=nodegroup["scalingConfig"],
                mongo=counts, vault=_break_glass_records(env))


def redis_expiries(client, limit=200000):
    """{key: absolute expiry (epoch seconds) or None}; None for a keyspace too big to compare."""
    if client.dbsize() > limit:
        return None
    keys = list(client.scan_iter(count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.pttl(key)
    now = time.time()
    return {key: (None if ttl < 0 else now + ttl / 1000.0) for key, ttl in zip(keys, pipe.execute()) if ttl != -2}


def _same_expiry(first, second, margin):
    if first is None or second is None:
        return first is second
    return abs(first - second) <= margin


def assert_redis_unchanged(before, after, margin=5.0):
    """Every key not due to expire meanwhile is still there with the same expiry; no key appeared."""
    if before is None or after is None:
        return
    now = time.time()
    gone = [k for k, at in before.items() if k not in after and (at is None or at > now + margin)]
    moved = [k for k, at in before.items() if k in after and not _same_expiry(at, after[k], margin)]
    new = [k for k in after if k not in before]
    assert not gone and not moved and not new, "Redis changed: %d keys gone, %d TTLs changed, %d new (%r)" % (
        len(gone), len(moved), len(new), (gone + moved + new)[:5])


def _fill(text, values):
    for name, value in values.items():
        text = text.replace("{%s}" % name, value)
    return text


def run_record_text(stdout):
    """The run record's .md and .jsonl named at the end of the output (the callback writes both)."""
    match = re.search(r"Run record: (\S+)\.md", stdout)
    if not match:
        return ""
    return "".join(Path(match.group(1) + ext).read_text() for ext in (".md", ".jsonl")
                   if Path(match.group(1) + ext).is_file())


def assert_failed_clearly(result, phrases, secrets):
    output = result.stdout + result.stderr
    tail = output[-5000:]
    assert result.rc != 0, tail
    assert "Traceback (most recent call last)" not in output, tail
    assert "MODULE FAILURE" not in output, tail
    for phrase in phrases:
        assert phrase in output, "%r not in the output:\n%s" % (phrase, tail)
    record = run_record_text(result.stdout)
    for secret in secrets:
        assert secret not in output, "a secret is printed:\n%s" % tail
        assert secret not in record, "a secret is in the run record"


@pytest.mark.parametrize("playbook, args, overrides, phrases",
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_bad_input_fails_clearly_and_changes_nothing(world, sandbox_env, run_playbook, tmp_path,
                                                     playbook, args, overrides, phrases):
    values = {"closed": "127.0.0.1:%d" % _closed_port(), "planted": PLANTED, "archives": str(ARCHIVES),
              "tmp": str(tmp_path), "oncall_password": sandbox_env.get("SANDBOX_ONCALL_PASSWORD", ""),
              "requester": sandbox_env.get("SANDBOX_ONCALL_USER") or sandbox_env.get("VAULT_LDAP_USERNAME", "")}
    env = dict(sandbox_env)
    env.update({name: _fill(value, values) for name, value in overrides.items()})
    secrets = [s for s in (PLANTED, sandbox_env.get("SANDBOX_ONCALL_PASSWORD"), sandbox_env.get("SLACK_WEBHOOK_URL"))
               if s]
    before, keys_before = snapshot(world, sandbox_env), redis_expiries(world["redis"])

    result = run_playbook(playbook, *[_fill(arg, values) for arg in args], env=env, check=False)

    assert_failed_clearly(result, [_fill(p, values) for p in phrases], secrets)
    assert result.recap.get("localhost", {}).get("changed", 0) == 0, result.stdout[-3000:]
    assert snapshot(world, sandbox_env) == before
    assert_redis_unchanged(keys_before, redis_expiries(world["redis"]))
    assert not (tmp_path / "safety").exists() or not any((tmp_path / "safety").iterdir())


def test_ai_moderation_switch_done_but_slack_unreachable_says_what_to_tell(
        world, sandbox_env, scenario, run_playbook):
    """The fallback itself is the protective change and completes; the failed alert is reported without
    the webhook URL (a credential), naming slack_webhook_url and the message to pass on by hand."""
    scenario("healthy")
    webhook = "http://127.0.0.1:%d/services/T0H10/B0H10/%s" % (_closed_port(), PLANTED)
    env = dict(sandbox_env, SLACK_WEBHOOK_URL=webhook)

    # healthy: the ai-engine works, so the health gate (issue 19) only falls back when forced
    result = run_playbook("ai_moderation_fallback", "-e", "ai_moderation_force=true", env=env, check=False)

    assert_failed_clearly(result, ["The Slack alert was not sent", "Check slack_webhook_url",
                                   "tell the team by hand: AI moderation disabled - manual review required"],
                          [webhook, PLANTED, sandbox_env["SLACK_WEBHOOK_URL"]])
    backend = world["apps"].read_namespaced_deployment("backend", NAMESPACE)
    assert {e.name: e.value for e in backend.spec.template.spec.containers[0].env}["AI_MODERATION"] == "false"
