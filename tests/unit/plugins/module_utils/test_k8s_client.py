"""KubeApiError from what the kubernetes client raises (plugins/module_utils/k8s/client.py)."""
import json

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import api_error


class ApiException(Exception):
    def __init__(self, status, reason, body):
        super().__init__(status)
        self.status, self.reason, self.body = status, reason, body


@pytest.mark.parametrize('error, text, message', [
    (ApiException(429, 'Too Many Requests', json.dumps({'kind': 'Status', 'message': 'would violate the budget'})),
     '429 Too Many Requests: would violate the budget', 'would violate the budget'),
    (ApiException(502, 'Bad Gateway', b'<html>upstream down</html>'),
     '502 Bad Gateway: <html>upstream down</html>', '<html>upstream down</html>'),
    (ApiException(403, 'Forbidden', None), '403 Forbidden', None),
    (ConnectionRefusedError('[Errno 111] Connection refused'), '[Errno 111] Connection refused',
     '[Errno 111] Connection refused'),
])
def test_api_error_keeps_what_the_server_said(error, text, message):
    converted = api_error(error)
    assert str(converted) == text
    assert converted.message == message
