# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS connection of halobuzz.ops modules: options, the boto3 client built from them, and the one
place where botocore's exceptions become the collection's own (amazon.aws' errors.py idea).

The options are documented in doc_fragments/aws.py. Callers wrap their AWS calls in ``aws_errors()`` and
catch ``AwsApiError``, which carries AWS's error code, so that no botocore type leaves this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import traceback

from ansible.module_utils.basic import env_fallback

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.common.connection import Connection

try:
    import boto3
    import botocore.exceptions
    BOTO3_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by HaloBuzzModule with missing_required_lib
    BOTO3_IMPORT_ERROR = traceback.format_exc()

AWS_CONNECTION = Connection(
    argument_spec=dict(
        region=dict(type="str", aliases=["aws_region"],
                    fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
        endpoint_url=dict(type="str", aliases=["aws_endpoint_url"],
                          fallback=(env_fallback, ["AWS_ENDPOINT_URL"])),
        profile=dict(type="str", aliases=["aws_profile"], fallback=(env_fallback, ["AWS_PROFILE"])),
        access_key=dict(type="str", aliases=["aws_access_key_id"], no_log=True),
        secret_key=dict(type="str", aliases=["aws_secret_access_key"], no_log=True),
        session_token=dict(type="str", aliases=["aws_session_token"], no_log=True),
    ),
    libraries=[("boto3", BOTO3_IMPORT_ERROR)],
    mutually_exclusive=[["profile", "access_key"], ["profile", "secret_key"], ["profile", "session_token"]],
    required_together=[["access_key", "secret_key"]],
)


class AwsConnectionError(HaloBuzzError):
    """The client could not be built (unknown profile, no region, ...)."""


class AwsApiError(HaloBuzzError):
    """An AWS call (or waiter) failed: ``str()`` is AWS's "Code: Message" (botocore's text when AWS did not
    answer); ``code`` is AWS's error code, None when there is no answer."""

    def __init__(self, message, code=None):
        super(AwsApiError, self).__init__(message)
        self.code = code


@contextlib.contextmanager
def aws_errors():
    """Run AWS calls in the ``with`` body; any botocore error (API, transport, waiter) becomes AwsApiError."""
    try:
        yield
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        error = getattr(exc, "response", {}).get("Error", {})
        if error:
            raise AwsApiError("%s: %s" % (error.get("Code"), error.get("Message")), code=error.get("Code"))
        raise AwsApiError(str(exc))


def aws_client(service, params):
    """A boto3 client for service from the AWS_CONNECTION options in params."""
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
