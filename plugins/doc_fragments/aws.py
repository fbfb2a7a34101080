# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # AWS connection and credential options of halobuzz.ops modules (argument spec:
    # AWS_CONNECTION in plugins/module_utils/aws/client.py). Options left out fall back to boto3's own
    # chain: environment, shared config and credentials files, instance/IRSA roles.
    DOCUMENTATION = r"""
options:
  region:
    description:
      - AWS region of the resources.
      - Falls back to the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variables.
    type: str
    aliases: [aws_region]
  endpoint_url:
    description:
      - URL of the AWS API endpoint, for a VPC endpoint or an AWS API emulator.
      - Falls back to the E(AWS_ENDPOINT_URL) environment variable; the public endpoint when unset.
    type: str
    aliases: [aws_endpoint_url]
  profile:
    description:
      - Named profile of the shared AWS config and credentials files.
      - Cannot be combined with O(access_key), O(secret_key) or O(session_token).
      - Falls back to the E(AWS_PROFILE) environment variable.
    type: str
    aliases: [aws_profile]
  access_key:
    description:
      - AWS access key id. Falls back to E(AWS_ACCESS_KEY_ID).
    type: str
    aliases: [aws_access_key_id]
  secret_key:
    description:
      - AWS secret access key. Falls back to E(AWS_SECRET_ACCESS_KEY).
    type: str
    aliases: [aws_secret_access_key]
  session_token:
    description:
      - AWS session token of temporary credentials. Falls back to E(AWS_SESSION_TOKEN).
    type: str
    aliases: [aws_session_token]
requirements:
  - boto3 >= 1.28.0
"""
