# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS connection options (documented in doc_fragments/aws.py) and the boto3 client built from them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import env_fallback

AWS_ARG_SPEC = dict(
    region=dict(type="str", aliases=["aws_region"],
                fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url"],
                      fallback=(env_fallback, ["AWS_ENDPOINT_URL"])),
    profile=dict(type="str", aliases=["aws_profile"], fallback=(env_fallback, ["AWS_PROFILE"])),
    access_key=dict(type="str", aliases=["aws_access_key_id"], no_log=True),
    secret_key=dict(type="str", aliases=["aws_secret_access_key"], no_log=True),
    session_token=dict(type="str", aliases=["aws_session_token"], no_log=True),
)

AWS_MUTUALLY_EXCLUSIVE = [["profile", "access_key"], ["profile", "secret_key"],
                          ["profile", "session_token"]]
AWS_REQUIRED_TOGETHER = [["access_key", "secret_key"]]


class AwsConnectionError(Exception):
    """The client could not be built (unknown profile, no region, ...)."""


def aws_client(service, params):
    """A boto3 client for service from the AWS_ARG_SPEC options in params."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.session.Session(
            aws_access_key_id=params.get("access_key"),
            aws_secret_access_key=params.get("secret_key"),
            aws_session_token=params.get("session_token"),
            profile_name=params.get("profile"),
            region_name=params.get("region"),
        )
        if not session.region_name:
            raise AwsConnectionError("no AWS region given: set the region option (aws_region) "
                                     "or AWS_REGION / AWS_DEFAULT_REGION")
        return session.client(service, endpoint_url=params.get("endpoint_url") or None)
    except botocore.exceptions.BotoCoreError as exc:
        raise AwsConnectionError("creating the AWS %s client failed: %s" % (service, exc))
