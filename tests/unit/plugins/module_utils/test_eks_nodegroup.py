# -*- coding: utf-8 -*-
"""eks_nodegroup scaling: the plan (table) and the flow against moto in-process."""

import socket

import boto3
import botocore.config
import pytest
from moto import mock_aws

from ansible_collections.halobuzz.ops.plugins.module_utils.aws import eks_nodegroup as e

CUR = dict(minSize=3, maxSize=20, desiredSize=3)


INCIDENT = dict(minSize=12, maxSize=30, desiredSize=15)  # issue 15: mid-emergency


# Issue 15 changes one row: asking for 1 node from 3/20/3 used to lower minSize to 1; a scale-up now
# keeps 3/20/3 (lowering needs allow_scale_down, below).
@pytest.mark.parametrize("current, desired, raise_max, expected, note", [
    (CUR, 10, False, dict(minSize=3, maxSize=20, desiredSize=10), None),
    (CUR, 3, False, CUR, None),
    (CUR, 20, False, dict(minSize=3, maxSize=20, desiredSize=20), None),
    (CUR, 25, True, dict(minSize=3, maxSize=25, desiredSize=25), "maxSize raised 20 -> 25"),
    (CUR, 1, False, CUR, "desiredSize kept at 3 (asked 1)"),
    (INCIDENT, 10, False, INCIDENT, "desiredSize kept at 15 (asked 10)"),
    (INCIDENT, 10, True, INCIDENT, "desiredSize kept at 15 (asked 10)"),
    (INCIDENT, 15, False, INCIDENT, None),
    (INCIDENT, 20, False, dict(minSize=12, maxSize=30, desiredSize=20), None),
    # an inconsistent current config (desired below min) is raised to minSize, never lowers minSize
    (dict(minSize=5, maxSize=20, desiredSize=2), 3, False, dict(minSize=5, maxSize=20, desiredSize=5),
     "desiredSize kept at 5 (asked 3)"),
])
def test_plan_scaling_never_lowers(current, desired, raise_max, expected, note):
    new, notes, lowered = e.plan_scaling(current, desired, raise_max)
    assert new == expected
    assert lowered == []
    for key in ("minSize", "maxSize", "desiredSize"):
        assert new[key] >= current[key]
    assert (note in notes[0]) if note else notes == []


@pytest.mark.parametrize("current, desired, expected, lowered", [
    (INCIDENT, 10, dict(minSize=10, maxSize=30, desiredSize=10), ["desiredSize 15 -> 10", "minSize 12 -> 10"]),
    (INCIDENT, 13, dict(minSize=12, maxSize=30, desiredSize=13), ["desiredSize 15 -> 13"]),
    (INCIDENT, 15, INCIDENT, []),
    (INCIDENT, 20, dict(minSize=12, maxSize=30, desiredSize=20), []),
    (CUR, 1, dict(minSize=1, maxSize=20, desiredSize=1), ["desiredSize 3 -> 1", "minSize 3 -> 1"]),
])
def test_plan_scaling_allow_scale_down_says_what_is_lowered(current, desired, expected, lowered):
    new, notes, got = e.plan_scaling(current, desired, allow_scale_down=True)
    assert new == expected and got == lowered
    assert new["maxSize"] == current["maxSize"]  # maxSize is never lowered
    if lowered:
        assert notes[-1] == "LOWERED (allow_scale_down: true): " + ", ".join(lowered)


@pytest.mark.parametrize("desired, message", [
    (21, "maxSize is 20. Nothing was changed. Set raise_max: true"),
    (-1, "invalid"),
    (None, "invalid"),
])
def test_plan_scaling_refuses(desired, message):
    with pytest.raises(e.EksNodegroupError, match=message):
        e.plan_scaling(CUR, desired)


@pytest.mark.parametrize("tags, found", [
    ({}, []),
    ({"team": "sre"}, []),
    ({"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/halobuzz": "owned"},
     ["k8s.io/cluster-autoscaler/enabled", "k8s.io/cluster-autoscaler/halobuzz"]),
    ({"k8s.io/cluster-autoscaler/other": "owned"}, []),
])
def test_autoscaler_tags(tags, found):
    assert e.autoscaler_tags(tags, "halobuzz") == found


LABELS = {"role": "workers", "tier": "app"}
TAINTS = [{"key": "dedicated", "value": "app", "effect": "NO_SCHEDULE"}]


@pytest.fixture
def eks():
    with mock_aws():
        client = boto3.client("eks", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/eks"
        client.create_cluster(name="halobuzz", roleArn=role,
                              resourcesVpcConfig={"subnetIds": ["subnet-1"]})
        client.create_nodegroup(clusterName="halobuzz", nodegroupName="workers", nodeRole=role,
                                subnets=["subnet-1"], instanceTypes=["m5.large"],
                                scalingConfig=dict(CUR), labels=LABELS, taints=TAINTS,
                                tags={"k8s.io/cluster-autoscaler/enabled": "true"})
        yield client


def scale(client, desired, **kw):
    return e.scale_nodegroup(client, "halobuzz", "workers", desired, wait_timeout=5, **kw)


def test_scale_changes_only_scaling_and_is_idempotent(eks):
    res = scale(eks, 10)
    assert res["changed"] is True
    assert res["before"] == CUR and res["after"] == dict(minSize=3, maxSize=20, desiredSize=10)
    assert res["update_id"]
    assert "cluster-autoscaler manages" in res["warnings"][0]
    ng = eks.describe_nodegroup(clusterName="halobuzz", nodegroupName="workers")["nodegroup"]
    assert ng["labels"] == LABELS and ng["taints"] == TAINTS and ng["instanceTypes"] == ["m5.large"]
    assert scale(eks, 10)["changed"] is False


def test_lower_desired_is_kept_unless_allowed(eks):
    up = scale(eks, 12)
    assert up["after"] == dict(minSize=3, maxSize=20, desiredSize=12)
    kept = scale(eks, 5)
    assert kept["changed"] is False and kept["lowered"] == [] and kept["update_id"] is None
    assert "desiredSize kept at 12 (asked 5)" in kept["notes"][0]
    dry = scale(eks, 5, allow_scale_down=True, check_mode=True)
    assert dry["changed"] is True and dry["lowered"] == ["desiredSize 12 -> 5"]
    assert eks.describe_nodegroup(clusterName="halobuzz", nodegroupName="workers")["nodegroup"][
        "scalingConfig"]["desiredSize"] == 12
    down = scale(eks, 2, allow_scale_down=True)
    assert down["after"] == dict(minSize=2, maxSize=20, desiredSize=2)
    assert down["lowered"] == ["desiredSize 12 -> 2", "minSize 3 -> 2"]


def test_diff_header_names_what_is_lowered():
    diff = e.diff_of(INCIDENT, dict(minSize=10, maxSize=30, desiredSize=10),
                     ["desiredSize 15 -> 10", "minSize 12 -> 10"])
    assert diff["after_header"] == "scalingConfig, LOWERED: desiredSize 15 -> 10, minSize 12 -> 10"
    assert e.diff_of(INCIDENT, INCIDENT, [])["after_header"] == "scalingConfig (nothing lowered)"


def test_check_mode_changes_nothing(eks):
    res = scale(eks, 12, check_mode=True)
    assert res["changed"] is True and res["after"]["desiredSize"] == 12
    ng = eks.describe_nodegroup(clusterName="halobuzz", nodegroupName="workers")["nodegroup"]
    assert ng["scalingConfig"]["desiredSize"] == 3


def test_above_max_refused_then_raised(eks):
    with pytest.raises(e.EksNodegroupError, match="maxSize is 20"):
        scale(eks, 30)
    ng = eks.describe_nodegroup(clusterName="halobuzz", nodegroupName="workers")["nodegroup"]
    assert ng["scalingConfig"] == CUR
    assert scale(eks, 30, raise_max=True)["after"] == dict(minSize=3, maxSize=30, desiredSize=30)


@pytest.mark.parametrize("cluster, nodegroup, message", [
    ("halobuzz", "nope", "nodegroup nope not found in EKS cluster halobuzz (it has: workers)"),
    ("nope", "workers", "EKS cluster nope not found"),
])
def test_unknown_names(eks, cluster, nodegroup, message):
    with pytest.raises(e.EksNodegroupError) as err:
        e.scale_nodegroup(eks, cluster, nodegroup, 5)
    assert message in str(err.value)


def test_aws_error_is_worded():
    with socket.socket() as sock:  # a free loopback port with nobody listening once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = boto3.client("eks", region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % port,
                          aws_access_key_id="x", aws_secret_access_key="y",
                          config=botocore.config.Config(retries={"max_attempts": 1},
                                                        connect_timeout=1))
    with pytest.raises(e.EksNodegroupError, match="reading nodegroup workers of EKS cluster halobuzz failed"):
        e.scale_nodegroup(client, "halobuzz", "workers", 5)
