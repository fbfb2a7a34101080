# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes connection of every halobuzz.ops k8s module, and the one way they call the API.

The options are kubernetes.core's (``AUTH_ARG_SPEC``, documented by its doc fragment
``kubernetes.core.k8s_auth_options``) and the client is built by kubernetes.core's own
``get_api_client``, so one ``module_defaults`` block or one ``K8S_AUTH_*`` variable serves every task.
Requests go to fixed API paths through the dynamic client (as kubernetes.core.k8s_rollback patches), which
spares a discovery round trip per task; every failure becomes a ``KubeApiError`` carrying the API's
Status (code, reason, message).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import traceback

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.common.connection import Connection
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
    AUTH_ARG_SPEC,
    extract_sensitive_values_from_kubeconfig,
)

try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def _mask_kubeconfig_secrets(module):
    # As kubernetes.core's AnsibleK8SModule: an inline kubeconfig's tokens and keys never reach the output.
    kubeconfig = module.params.get("kubeconfig")
    if isinstance(kubeconfig, dict):
        module.no_log_values.update(extract_sensitive_values_from_kubeconfig(kubeconfig))


K8S_CONNECTION = Connection(
    argument_spec=AUTH_ARG_SPEC,
    libraries=[("kubernetes", KUBERNETES_IMPORT_ERROR)],
    on_start=_mask_kubeconfig_secrets,
)


class KubeApiError(HaloBuzzError):
    """An error answer from the Kubernetes API, or no answer at all (``status`` None)."""

    def __init__(self, status, reason, message):
        if status is None:
            text = message
        elif message:
            text = "%s %s: %s" % (status, reason, message)
        else:
            text = "%s %s" % (status, reason)
        super(KubeApiError, self).__init__(text)
        self.status = status
        self.reason = reason
        self.message = message


def api_error(error):
    """A KubeApiError for whatever the client raised: the Status message of an API error body (else the body
    itself), else its code and reason; urllib3 and socket errors (no answer) keep their own text."""
    status = getattr(error, "status", None)
    if status is None:
        return KubeApiError(None, None, str(error))
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    message = body or None
    if body:
        try:
            message = json.loads(body).get("message") or body
        except (ValueError, AttributeError):
            pass
    return KubeApiError(status, getattr(error, "reason", ""), message)


def describe_kubeconfig(params):
    """Which kubeconfig and context a client was built from, without an inline kubeconfig's secrets."""
    kubeconfig = params.get("kubeconfig")
    return "kubeconfig %s, context %s" % (
        kubeconfig if isinstance(kubeconfig, str) else "from the environment", params.get("context") or "default")


class KubeClient:
    """Plain-dictionary requests to the API server; every failure is a KubeApiError."""

    def __init__(self, dynamic_client):
        self.dynamic = dynamic_client

    def request(self, method, path, **params):
        try:
            response = self.dynamic.request(method, path, **params)
        except Exception as error:  # ApiException, urllib3 and socket errors alike
            raise api_error(error)
        return response.to_dict() if hasattr(response, "to_dict") else response

    def request_text(self, path, query):
        """GET a plain-text answer (``pods/log``) as a string. ``query`` is a list of (name, value) pairs
        sent as they are (the dynamic client only forwards the list-call parameters it knows). The body is
        never parsed: a log whose text happens to be JSON stays text."""
        try:
            response = self.dynamic.request("get", path, query_params=list(query), serialize=False,
                                            header_params={"Accept": "text/plain, */*"})
        except Exception as error:  # ApiException, urllib3 and socket errors alike
            raise api_error(error)
        data = response.data if hasattr(response, "data") else response
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")


def connect(params):
    """A KubeClient from the kubernetes.core auth options in ``params`` (or K8S_AUTH_* / KUBECONFIG)."""
    auth = dict((option, params.get(option)) for option in AUTH_ARG_SPEC)
    try:
        client = get_api_client(**auth)
    except Exception as error:  # ConfigException, CoreException, connection errors
        raise HaloBuzzError("Could not create a Kubernetes API client (%s): %s"
                            % (describe_kubeconfig(params), api_error(error)))
    return KubeClient(client.client)
