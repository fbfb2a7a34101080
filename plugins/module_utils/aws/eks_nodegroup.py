# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scale an EKS managed nodegroup: change scalingConfig and nothing else.

``plan_scaling`` decides the new scalingConfig. It is a scale-*up*: the desired size becomes
max(current desiredSize, asked) and minSize is never lowered, so a runbook default below what
an incident already runs (nodegroup at 12/30/15, asked 10) changes nothing. Lowering needs
``allow_scale_down`` (then, as ``eksctl scale nodegroup`` does, the desired size is set and
minSize lowered to it when below; the result's ``lowered`` and the diff header name what goes
down). maxSize is raised only when the desired size is above it *and* the caller said
``raise_max`` (otherwise refused: a desired size above the maximum is usually a typo or a
decision that deserves a second look); it is never lowered. ``scale_nodegroup`` reads the nodegroup, compares,
calls ``UpdateNodegroupConfig`` with ``scalingConfig`` only (labels, taints, instance
types, launch template and update config are left exactly as they are) and waits for the
``nodegroup_active`` waiter within a timeout. ``eks_nodegroup_scale`` is what the module of that
name runs: the client from the connection options, then ``scale_nodegroup``.

Layers: client.py (connection, botocore errors -> AwsApiError) -> this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.aws.client import AwsApiError, aws_client, aws_errors

AUTOSCALER_ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"
BUSY_STATUSES = frozenset(["CREATING", "UPDATING", "DELETING"])


class EksNodegroupError(HaloBuzzError):
    """A refusal or AWS failure, worded for the operator."""


def plan_scaling(current, desired, raise_max=False, where="nodegroup", allow_scale_down=False):
    """New scalingConfig {minSize, maxSize, desiredSize}, notes on what moved, and what is lowered.

    An emergency scale-up never lowers anything: without ``allow_scale_down`` the new desiredSize is
    max(current desiredSize, ``desired``) and minSize is never lowered (it cannot need to: EKS keeps
    minSize <= desiredSize). With ``allow_scale_down`` the desired size is set as asked and minSize is
    lowered to it when it is below; ``lowered`` then names each value that goes down. maxSize is never
    lowered; it is raised only with ``raise_max``.
    Returns ``(new, notes, lowered)``.
    """
    if desired is None or isinstance(desired, bool) or desired < 0:
        raise EksNodegroupError("desired size %r for %s is invalid: give a number of nodes >= 0"
                                % (desired, where))
    cur_min, cur_max = current.get("minSize", 0), current.get("maxSize", 1)
    cur_desired = current.get("desiredSize")
    notes, lowered = [], []
    target = desired
    if not allow_scale_down:
        floor = max(v for v in (cur_desired, cur_min, 0) if v is not None)
        if desired < floor:
            notes.append("desiredSize kept at %d (asked %d): a scale-up never lowers it; set "
                         "allow_scale_down: true to lower it" % (floor, desired))
            target = floor
    new = dict(minSize=cur_min, maxSize=cur_max, desiredSize=target)
    if target > new["maxSize"]:
        if not raise_max:
            raise EksNodegroupError(
                "refusing to scale %s to %d nodes: its maxSize is %d. Nothing was changed. "
                "Set raise_max: true to raise maxSize to %d as well, or ask for at most %d nodes."
                % (where, target, new["maxSize"], target, new["maxSize"]))
        notes.append("maxSize raised %d -> %d to contain the desired size"
                     % (new["maxSize"], target))
        new["maxSize"] = target
    if cur_desired is not None and target < cur_desired:
        lowered.append("desiredSize %d -> %d" % (cur_desired, target))
    if target < new["minSize"]:
        # Only reachable with allow_scale_down: without it target >= minSize above.
        lowered.append("minSize %d -> %d" % (new["minSize"], target))
        new["minSize"] = target
    if lowered:
        notes.append("LOWERED (allow_scale_down: true): " + ", ".join(lowered))
    return new, notes, lowered


def scaling_of(nodegroup):
    cfg = nodegroup.get("scalingConfig") or {}
    return dict(minSize=cfg.get("minSize"), maxSize=cfg.get("maxSize"),
                desiredSize=cfg.get("desiredSize"))


def autoscaler_tags(tags, cluster_name):
    """The cluster-autoscaler auto-discovery tags present on the nodegroup."""
    wanted = (AUTOSCALER_ENABLED_TAG, "k8s.io/cluster-autoscaler/%s" % cluster_name)
    return sorted(tag for tag in (tags or {}) if tag in wanted)


def summary(nodegroup):
    """What an operator checks after a scale: status, sizes, and what must not have moved."""
    return dict(
        name=nodegroup.get("nodegroupName"),
        cluster=nodegroup.get("clusterName"),
        status=nodegroup.get("status"),
        scaling_config=scaling_of(nodegroup),
        instance_types=nodegroup.get("instanceTypes") or [],
        labels=nodegroup.get("labels") or {},
        taints=nodegroup.get("taints") or [],
    )


def describe(client, cluster_name, nodegroup_name):
    """DescribeNodegroup; unknown cluster / nodegroup become clear errors."""
    try:
        with aws_errors():
            return client.describe_nodegroup(clusterName=cluster_name,
                                             nodegroupName=nodegroup_name)["nodegroup"]
    except AwsApiError as exc:
        if exc.code != "ResourceNotFoundException":
            raise EksNodegroupError("reading nodegroup %s of EKS cluster %s failed: %s; check aws_region, "
                                    "aws_endpoint_url (AWS_ENDPOINT_URL) and the AWS credentials"
                                    % (nodegroup_name, cluster_name, exc))
    try:
        with aws_errors():
            client.describe_cluster(name=cluster_name)
    except AwsApiError as exc:
        if exc.code == "ResourceNotFoundException":
            raise EksNodegroupError("EKS cluster %s not found in this account and region: check "
                                    "eks_cluster_name and the AWS region" % cluster_name)
        raise EksNodegroupError("reading EKS cluster %s failed: %s" % (cluster_name, exc))
    try:
        with aws_errors():
            names = client.list_nodegroups(clusterName=cluster_name).get("nodegroups", [])
    except AwsApiError:
        names = []
    raise EksNodegroupError("nodegroup %s not found in EKS cluster %s (it has: %s): check "
                            "nodegroup_name" % (nodegroup_name, cluster_name,
                                                ", ".join(names) or "no nodegroups"))


def diff_of(before, after, lowered):
    """The module's diff: scalingConfig before/after; the after header names what is lowered."""
    return dict(before=before, after=after, before_header="scalingConfig",
                after_header="scalingConfig, LOWERED: %s" % ", ".join(lowered) if lowered
                else "scalingConfig (nothing lowered)")


def scale_nodegroup(client, cluster_name, nodegroup_name, desired_size, raise_max=False,
                    check_mode=False, wait=True, wait_timeout=900, allow_scale_down=False):
    """Ensure the nodegroup runs at least ``desired_size`` nodes (exactly, with ``allow_scale_down``).

    Returns the module result (``warnings`` become warnings; ``lowered`` lists what goes down)."""
    where = "nodegroup %s of EKS cluster %s" % (nodegroup_name, cluster_name)
    ng = describe(client, cluster_name, nodegroup_name)
    before = scaling_of(ng)
    after, notes, lowered = plan_scaling(before, desired_size, raise_max, where, allow_scale_down)
    warnings = []
    ca_tags = autoscaler_tags(ng.get("tags"), cluster_name)
    if ca_tags:
        warnings.append(
            "cluster-autoscaler manages %s (tags %s): it may move desiredSize away from %d "
            "again; pause it or scale through its own settings if it does"
            % (where, ", ".join(ca_tags), after["desiredSize"]))
    result = dict(changed=after != before, before=before, after=after, notes=notes, lowered=lowered,
                  warnings=warnings, update_id=None, nodegroup=summary(ng))
    if not result["changed"] or check_mode:
        return result
    if ng.get("status") in BUSY_STATUSES:
        raise EksNodegroupError("%s is %s; nothing was changed. Wait until it is ACTIVE and "
                                "run again" % (where, ng.get("status")))
    try:
        with aws_errors():
            update = client.update_nodegroup_config(clusterName=cluster_name,
                                                    nodegroupName=nodegroup_name,
                                                    scalingConfig=after)
    except AwsApiError as exc:
        raise EksNodegroupError("updating the scaling of %s to %s failed: %s; nothing was changed"
                                % (where, after, exc))
    result["update_id"] = (update.get("update") or {}).get("id")
    if wait:
        delay = max(1, min(15, wait_timeout))
        try:
            with aws_errors():
                client.get_waiter("nodegroup_active").wait(
                    clusterName=cluster_name, nodegroupName=nodegroup_name,
                    WaiterConfig=dict(Delay=delay, MaxAttempts=max(1, wait_timeout // delay)))
        except AwsApiError as exc:
            raise EksNodegroupError(
                "%s did not become ACTIVE within %ds after update %s (%s): the scaling request "
                "was accepted; check `aws eks describe-update` and the nodegroup's health"
                % (where, wait_timeout, result["update_id"], exc))
    ng = describe(client, cluster_name, nodegroup_name)
    result["nodegroup"] = summary(ng)
    result["after"] = scaling_of(ng)
    return result


def eks_nodegroup_scale(params, check_mode, diff=False):
    """The eks_nodegroup_scale module: the EKS client from the connection options, then scale_nodegroup.

    In diff mode the diff is ``diff_of`` (its header says what is lowered)."""
    result = scale_nodegroup(aws_client("eks", params), params["cluster_name"], params["nodegroup_name"],
                             params["desired_size"], raise_max=params["raise_max"], check_mode=check_mode,
                             wait=params["wait"], wait_timeout=params["wait_timeout"],
                             allow_scale_down=params["allow_scale_down"])
    if diff:
        result["diff"] = diff_of(result["before"], result["after"], result["lowered"])
    return result
