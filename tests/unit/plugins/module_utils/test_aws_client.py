# -*- coding: utf-8 -*-
"""The AWS layer (plugins/module_utils/aws/client.py): botocore errors become AwsApiError, client errors AwsConnectionError."""

import botocore.exceptions
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.aws.client import (
    AwsApiError,
    AwsConnectionError,
    aws_client,
    aws_errors,
)


@pytest.mark.parametrize("exc, text, code", [
    (botocore.exceptions.ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "No node group"}},
                                     "DescribeNodegroup"),
     "ResourceNotFoundException: No node group", "ResourceNotFoundException"),
    (botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1/"),
     'Could not connect to the endpoint URL: "http://127.0.0.1:1/"', None),
    (botocore.exceptions.WaiterError(name="NodegroupActive", reason="Max attempts exceeded", last_response={}),
     "Waiter NodegroupActive failed: Max attempts exceeded", None),
])
def test_botocore_errors_become_aws_api_errors(exc, text, code):
    with pytest.raises(AwsApiError) as caught:
        with aws_errors():
            raise exc
    assert (str(caught.value), caught.value.code) == (text, code)


def test_other_errors_pass_through():
    with pytest.raises(KeyError):
        with aws_errors():
            raise KeyError("a bug stays a bug")


@pytest.mark.parametrize("params, message", [
    (dict(), "no AWS region given"),
    (dict(region="us-east-1", profile="no-such-profile-h12"), "creating the AWS eks client failed"),
])
def test_aws_client_errors(monkeypatch, params, message):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent-h12/config")
    with pytest.raises(AwsConnectionError, match=message):
        aws_client("eks", params)
