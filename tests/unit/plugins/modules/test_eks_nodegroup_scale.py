"""halobuzz.ops.eks_nodegroup_scale and k8s_node_drain main(): documentation matches the argspec;
eks_nodegroup_scale end to end against moto in-process (check, diff, errors, no secrets out)."""
import json

import boto3
import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from moto import mock_aws

from ansible_collections.halobuzz.ops.plugins.doc_fragments.aws import ModuleDocFragment
from ansible_collections.halobuzz.ops.plugins.module_utils.aws.client import AWS_CONNECTION
from ansible_collections.halobuzz.ops.plugins.modules import eks_nodegroup_scale as module
from ansible_collections.halobuzz.ops.plugins.modules import k8s_node_drain

SECRET = "s3cr3t-key-value"
BASE = dict(cluster_name="halobuzz", nodegroup_name="workers", desired_size=10, region="ap-south-1",
            access_key="AKIDTEST", secret_key=SECRET, wait_timeout=5)


def test_documentation_matches_the_argspec():
    fragment = set(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    assert fragment == set(AWS_CONNECTION.argument_spec)
    own = set(yaml.safe_load(module.DOCUMENTATION)["options"])
    assert own == {"cluster_name", "nodegroup_name", "desired_size", "raise_max", "allow_scale_down", "wait",
                   "wait_timeout"}
    drain = set(yaml.safe_load(k8s_node_drain.DOCUMENTATION)["options"])
    assert drain == {"name", "max_parallel", "delete_emptydir_data", "force", "timeout", "retry_delay", "poll_interval",
                     "grace_period"}
    for mod in (module, k8s_node_drain):
        assert yaml.safe_load(mod.RETURN) and yaml.safe_load(mod.EXAMPLES)


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        eks = boto3.client("eks", region_name="ap-south-1")
        role = "arn:aws:iam::123456789012:role/eks"
        eks.create_cluster(name="halobuzz", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
        eks.create_nodegroup(clusterName="halobuzz", nodegroupName="workers", nodeRole=role,
                             subnets=["subnet-1"], scalingConfig=dict(minSize=3, maxSize=20, desiredSize=3),
                             labels={"role": "workers"})
        yield eks


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr().out
    assert SECRET not in out
    return json.loads(out)


@pytest.mark.parametrize("extra, changed, desired_after", [
    (dict(_ansible_check_mode=True, _ansible_diff=True), True, 3),
    (dict(_ansible_diff=True), True, 10),
])
def test_scale(aws, capsys, extra, changed, desired_after):
    res = run(capsys, dict(BASE, **extra))
    assert res["changed"] is changed
    assert res["diff"]["before"]["desiredSize"] == 3 and res["diff"]["after"]["desiredSize"] == 10
    ng = aws.describe_nodegroup(clusterName="halobuzz", nodegroupName="workers")["nodegroup"]
    assert ng["scalingConfig"]["desiredSize"] == desired_after
    assert ng["labels"] == {"role": "workers"}


@pytest.mark.parametrize("extra, message", [
    (dict(nodegroup_name="nope"), "nodegroup nope not found in EKS cluster halobuzz"),
    (dict(desired_size=21), "Set raise_max: true"),
    (dict(profile="x"), "parameters are mutually exclusive"),
])
def test_errors(aws, capsys, extra, message):
    res = run(capsys, dict(BASE, **extra))
    assert res["failed"] is True and message in res["msg"]


@pytest.mark.parametrize("extra, changed, after, header", [
    (dict(desired_size=2, _ansible_check_mode=True, _ansible_diff=True), False,
     dict(minSize=3, maxSize=20, desiredSize=3), "scalingConfig (nothing lowered)"),
    (dict(desired_size=2, allow_scale_down=True, _ansible_check_mode=True, _ansible_diff=True), True,
     dict(minSize=2, maxSize=20, desiredSize=2), "scalingConfig, LOWERED: desiredSize 3 -> 2, minSize 3 -> 2"),
])
def test_scale_down_only_when_allowed_and_the_diff_says_so(aws, capsys, extra, changed, after, header):
    res = run(capsys, dict(BASE, **extra))
    assert res["changed"] is changed
    assert res["diff"]["after"] == after and res["diff"]["after_header"] == header
    ng = aws.describe_nodegroup(clusterName="halobuzz", nodegroupName="workers")["nodegroup"]
    assert ng["scalingConfig"] == dict(minSize=3, maxSize=20, desiredSize=3)  # check mode


def test_no_diff_key_without_diff_mode(aws, capsys):
    res = run(capsys, dict(BASE, _ansible_check_mode=True))
    assert "diff" not in res and res["lowered"] == []
