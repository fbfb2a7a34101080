"""The pod_ready / pod_terminating Jinja tests are k8s/pods.py's judgement, not a copy."""
import pytest

from ansible_collections.halobuzz.ops.plugins.test import pods as pod_tests


TESTS = pod_tests.TestModule().tests()


@pytest.mark.parametrize('pod, ready, terminating', [
    ({'status': {'conditions': [{'type': 'Ready', 'status': 'True'}]}}, True, False),
    ({'status': {'conditions': [{'type': 'Ready', 'status': 'False'}]}}, False, False),
    ({'status': {'phase': 'Pending'}}, False, False),
    ({'metadata': {'deletionTimestamp': '2026-01-01T00:00:00Z'},
      'status': {'conditions': [{'type': 'Ready', 'status': 'True'}]}}, True, True),
    (None, False, False),
])
def test_pod_tests(pod, ready, terminating):
    assert TESTS['pod_ready'](pod) is ready
    assert TESTS['pod_terminating'](pod) is terminating
