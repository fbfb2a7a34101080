import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.halobuzz.ops.plugins.filter.incident import (
    label_selector,
    matching_lines,
    memory_bytes,
    pod_problems,
    prometheus_scalar,
)


@pytest.mark.parametrize('quantity, expected', [
    ('512Mi', 512 * 2 ** 20), ('2Gi', 2 * 2 ** 30), ('1.5Gi', int(1.5 * 2 ** 30)), ('1000', 1000), ('1M', 10 ** 6),
])
def test_memory_bytes(quantity, expected):
    assert memory_bytes(quantity) == expected


@pytest.mark.parametrize('quantity', ['lots', '12Xi', '', '-1Mi'])
def test_memory_bytes_refuses_garbage(quantity):
    with pytest.raises(AnsibleFilterError, match='not a Kubernetes memory quantity'):
        memory_bytes(quantity)


def pod(name, ready, statuses=(), deleting=False, phase='Running', node='node-1'):
    metadata = {'name': name}
    if deleting:
        metadata['deletionTimestamp'] = '2026-01-01T00:00:00Z'
    return {'metadata': metadata, 'spec': {'nodeName': node},
            'status': {'phase': phase, 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}],
                       'containerStatuses': list(statuses)}}


CRASHING = {'name': 'backend', 'ready': False, 'restartCount': 7,
            'state': {'waiting': {'reason': 'CrashLoopBackOff'}}, 'lastState': {'terminated': {'reason': 'Error'}}}
OOM = {'name': 'backend', 'ready': False, 'restartCount': 2, 'state': {'running': {}},
       'lastState': {'terminated': {'reason': 'OOMKilled'}}}
HEALTHY = {'name': 'backend', 'ready': True, 'restartCount': 0, 'state': {'running': {}}}


@pytest.mark.parametrize('pods, expected', [
    ([pod('a', True, [HEALTHY])], []),
    ([pod('a', False, [CRASHING])],
     [{'name': 'a', 'node': 'node-1', 'phase': 'Running', 'reasons': ['CrashLoopBackOff'], 'restarts': 7}]),
    ([pod('b', False, [OOM])],
     [{'name': 'b', 'node': 'node-1', 'phase': 'Running', 'reasons': ['last terminated: OOMKilled'], 'restarts': 2}]),
    ([pod('c', True, [HEALTHY], deleting=True)],
     [{'name': 'c', 'node': 'node-1', 'phase': 'Running', 'reasons': ['terminating'], 'restarts': 0}]),
    ([pod('d', False, [], phase='Pending', node=None)],
     [{'name': 'd', 'node': None, 'phase': 'Pending', 'reasons': ['not ready'], 'restarts': 0}]),
    (None, []),
])
def test_pod_problems(pods, expected):
    assert pod_problems(pods) == expected


def vector(*values):
    return {'status': 'success', 'data': {'resultType': 'vector',
                                          'result': [{'metric': {}, 'value': [1700000000, str(v)]} for v in values]}}


@pytest.mark.parametrize('response, default, expected', [
    (vector(0.08), None, 0.08),
    ({'status': 'success', 'data': {'resultType': 'scalar', 'result': [1700000000, '3']}}, None, 3.0),
    (vector(), 0.0, 0.0),
])
def test_prometheus_scalar(response, default, expected):
    assert prometheus_scalar(response, default) == expected


@pytest.mark.parametrize('response, message', [
    (vector(), 'no series'),
    (vector(1, 2), 'returned 2 series'),
    ({'status': 'error', 'error': 'parse error at char 5'}, 'parse error at char 5'),
    ({'status': 'success', 'data': {'resultType': 'matrix', 'result': []}}, 'expected a vector'),
    ('not json', 'did not succeed'),
])
def test_prometheus_scalar_errors(response, message):
    with pytest.raises(AnsibleFilterError, match=message):
        prometheus_scalar(response)


@pytest.mark.parametrize('text, pattern, limit, expected', [
    ('a ERROR 1\nb INFO\nc ERROR 2\n', 'ERROR', 20, ['a ERROR 1', 'c ERROR 2']),
    (['x MongoNetworkError', 'y', 'z MongoNetworkError'], 'MongoNetworkError', 1, ['z MongoNetworkError']),
    ('ERROR\nCRITICAL\nINFO', 'ERROR|CRITICAL', 0, ['ERROR', 'CRITICAL']),
    ('', 'ERROR', 20, []),
])
def test_matching_lines(text, pattern, limit, expected):
    assert matching_lines(text, pattern, limit) == expected


def test_matching_lines_rejects_bad_regex():
    with pytest.raises(AnsibleFilterError, match='not a valid regular expression'):
        matching_lines('x', '(unclosed')


@pytest.mark.parametrize('selector, expected', [
    ({'matchLabels': {'app': 'backend', 'tier': 'api'}}, 'app=backend,tier=api'),
    ({'matchLabels': {'app': 'backend'}, 'matchExpressions': [{'key': 'track', 'operator': 'NotIn', 'values': ['canary']}]},
     'app=backend,track notin (canary)'),
    ({}, ''),
])
def test_label_selector(selector, expected):
    assert label_selector(selector) == expected


def test_label_selector_refuses_garbage():
    with pytest.raises(AnsibleFilterError, match='expected a LabelSelector'):
        label_selector('app=backend')
