"""Issue #4's "Done when" list, step by step, with the real clients and command-line tools.

Runs against the session's sandbox, or against real services with HALOBUZZ_USE_ENV=1 (the
endpoints then come from the environment, and the sandbox is not touched).
"""
from __future__ import annotations

import os
import subprocess

import boto3
import hvac
import pymongo
import pytest
import requests


@pytest.fixture(scope="module")
def env(sandbox_env, request):
    if os.environ.get("HALOBUZZ_USE_ENV") != "1":
        request.getfixturevalue("scenario")("healthy")
    return sandbox_env


def tool(argv, env):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ, **env))


def test_kubectl_get_pods(env):
    result = tool(["kubectl", "get", "pods", "-n", "halobuzz"], env)
    assert result.returncode == 0, result.stderr
    backend = [line for line in result.stdout.splitlines() if line.startswith("backend-")]
    assert len(backend) >= 3 and all(" Running " in line for line in backend), result.stdout


def test_redis_cli_ping(env):
    result = tool(["redis-cli", "-u", env["REDIS_URL"], "ping"], env)
    assert (result.returncode, result.stdout.strip()) == (0, "PONG")


def test_pymongo_ping(env):
    client = pymongo.MongoClient(env["MONGODB_URI"], serverSelectionTimeoutMS=5000)
    try:
        assert client.admin.command("ping")["ok"] == 1.0
        assert client.get_default_database().name == "halobuzz"
    finally:
        client.close()


def test_vault_ldap_oncall_alone_reads_no_production_secret(env):
    client = hvac.Client(url=env["VAULT_ADDR"])
    login = client.auth.ldap.login(username=env["SANDBOX_ONCALL_USER"], password=env["SANDBOX_ONCALL_PASSWORD"])
    assert login["auth"]["client_token"]
    # Issue 15: the requester alone cannot read production (two-person break glass, enforced by Vault)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version(path="production/mongodb", mount_point="secret",
                                                 raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version(path="ops/root-credentials", mount_point="secret",
                                                 raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        hvac.Client(url=env["VAULT_ADDR"]).auth.ldap.login(username=env["SANDBOX_ONCALL_USER"], password="wrong")


def test_boto3_describe_nodegroup(env):
    eks = boto3.client("eks", endpoint_url=env.get("AWS_ENDPOINT_URL"), region_name=env.get("AWS_DEFAULT_REGION"),
                       aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                       aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"))
    group = eks.describe_nodegroup(clusterName="halobuzz", nodegroupName="workers")["nodegroup"]
    assert group["scalingConfig"] == {"desiredSize": 3, "minSize": 3, "maxSize": 20}
    assert group["labels"] and group["taints"] and group["instanceTypes"]


def test_prometheus_query(env):
    resp = requests.get(env["PROMETHEUS_URL"] + "/api/v1/query",
                        params={"query": 'rate(http_requests_total{status=~"5.."}[5m])'}, timeout=10)
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "success"
    assert body["data"]["resultType"] == "vector" and body["data"]["result"]
    float(body["data"]["result"][0]["value"][1])


def test_curl_healthz(env):
    result = tool(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", env["HEALTHZ_URL"]], env)
    assert result.stdout == "200"
