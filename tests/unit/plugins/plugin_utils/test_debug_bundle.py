"""The debug bundle's pure parts (plugins/plugin_utils/debug_bundle.py) and the action's gathering
(plugins/action/debug_bundle.py gather_parts): no secret reaches a part, the manifest and the sha256 are true,
every file is 0600."""
import datetime
import hashlib
import json
import os
import stat
import tarfile

import pytest

from ansible_collections.halobuzz.ops.plugins.action.debug_bundle import gather_parts
from ansible_collections.halobuzz.ops.plugins.plugin_utils import debug_bundle as bundle

WHEN = datetime.datetime(2026, 11, 29, 5, 15, 0, tzinfo=datetime.timezone.utc)
PASSWORD = 'S3cret%2Fpw'  # percent-encoded '/': the decoded form must be masked too
MONGODB_URI = 'mongodb://app:%s@db-0:27017,db-1:27017/halobuzz?authSource=admin' % PASSWORD


@pytest.mark.parametrize('uri, expected', [
    (MONGODB_URI, {MONGODB_URI, 'app:' + PASSWORD, PASSWORD, 'S3cret/pw'}),
    ('redis://:tok3n-xyz@cache:6379/0', {'redis://:tok3n-xyz@cache:6379/0', ':tok3n-xyz', 'tok3n-xyz'}),
    ('redis://cache:6379/0', {'redis://cache:6379/0'}),
    ('', set()),
])
def test_secrets_of_a_uri_are_the_uri_its_userinfo_and_password(uri, expected):
    assert set(bundle.secrets_of([uri])) == expected


@pytest.mark.parametrize('text, expected', [
    ('connect %s failed' % MONGODB_URI, 'connect ******** failed'),
    ('retry with S3cret/pw', 'retry with ********'),
    ('upstream redis://u:other@10.0.0.9:6379/1 down', 'upstream redis://10.0.0.9:6379 down'),
    ('GET https://api.halobuzz.com/v1/feed 200', 'GET https://api.halobuzz.com/v1/feed 200'),
    ('hook https://hooks.slack.com/x?token=abc', 'hook https://hooks.slack.com'),
])
def test_scrub_masks_known_secrets_and_reduces_credential_urls(text, expected):
    assert bundle.scrub(text, bundle.secrets_of([MONGODB_URI])) == expected


POD = {
    'metadata': {'name': 'backend-1', 'namespace': 'halobuzz', 'labels': {'app': 'backend'},
                 'ownerReferences': [{'kind': 'ReplicaSet', 'name': 'backend-abc'}]},
    'spec': {'nodeName': 'node-1', 'containers': [{
        'name': 'backend', 'image': 'registry.halobuzz.com/backend:v1.5.1',
        'envFrom': [{'secretRef': {'name': 'backend-env'}}],
        'env': [{'name': 'NODE_ENV', 'value': 'production'},
                {'name': 'JWT_SECRET', 'value': 'plain-jwt-value'},
                {'name': 'MONGODB_URI', 'value': MONGODB_URI},
                {'name': 'DB_PASSWORD', 'valueFrom': {'secretKeyRef': {'name': 'mongodb', 'key': 'password'}}},
                {'name': 'POD_NAME', 'valueFrom': {'fieldRef': {'fieldPath': 'metadata.name'}}}]}]},
    'status': {'phase': 'Running', 'podIP': '10.244.0.7', 'qosClass': 'Burstable',
               'conditions': [{'type': 'Ready', 'status': 'False'}],
               'containerStatuses': [{'name': 'backend', 'ready': False, 'restartCount': 3,
                                      'state': {'waiting': {'reason': 'CrashLoopBackOff'}},
                                      'lastState': {'terminated': {'exitCode': 1, 'reason': 'Error'}}}]},
}


def test_describe_shows_secret_env_by_name_only_as_kubectl_describe_does():
    text = bundle.describe_pod(POD, [{'type': 'Warning', 'reason': 'BackOff', 'message': 'Back-off restarting',
                                      'count': 4, 'last_seen': '2026-11-29T05:00:00Z'}])
    assert "DB_PASSWORD:\t<set to the key 'password' in secret 'mongodb'>\tOptional: false" in text
    assert 'backend-env\tSecret\tOptional: false' in text
    assert 'NODE_ENV:\tproduction' in text
    assert 'JWT_SECRET:\t<hidden' in text and 'plain-jwt-value' not in text
    assert 'MONGODB_URI:\tmongodb://db-0:27017,db-1:27017' in text and PASSWORD not in text
    assert 'POD_NAME:\t (v1:metadata.name)' in text
    assert 'State:\tWaiting' in text and 'Reason:\tCrashLoopBackOff' in text and 'Restart Count:\t3' in text
    assert 'Last State:\tTerminated' in text and 'Exit Code:\t1' in text
    assert 'Ready\tFalse' in text and 'Warning\tBackOff' in text and 'Controlled By:\tReplicaSet/backend-abc' in text


def test_error_lines_name_pod_container_and_previous_instance():
    pods = [{'name': 'p1', 'containers': [{'name': 'c', 'log': 'INFO ok\nERROR boom\n',
                                           'previous_log': 'CRITICAL oom\n'}]}]
    assert bundle.error_lines(pods) == ['p1/c (previous): CRITICAL oom', 'p1/c: ERROR boom']


@pytest.mark.parametrize('uri, targets', [
    (MONGODB_URI, [('db-0', 27017), ('db-1', 27017)]),
    ('mongodb://db/halobuzz', [('db', 27017)]),
    ('mongodb+srv://u:p@cluster0.example.net/db', []),
    ('redis://:pw@127.0.0.1:6380/0', [('127.0.0.1', 6380)]),
    ('rediss://cache', [('cache', 6379)]),
    ('redis://u:p@[::1]:6379', []),
    ('http://x:1', []),
    (None, []),
])
def test_uri_targets_never_carry_credentials(uri, targets):
    assert bundle.uri_targets(uri) == targets


def test_network_check_script_is_the_fixed_command_set():
    script = bundle.network_check_script(['streaming', 'backend', 'Bad_Name'], 'halobuzz', [MONGODB_URI], 3)
    assert script.splitlines() == bundle.CHECK_HEAD + [
        'check nslookup backend.halobuzz.svc.cluster.local', 'check nslookup streaming.halobuzz.svc.cluster.local',
        'check nc -z -w 3 db-0 27017', 'check nc -z -w 3 db-1 27017'] + bundle.CHECK_TAIL
    assert PASSWORD not in script


def _members(path):
    with tarfile.open(path) as tar:
        return {m.name.split('/', 1)[1]: (m, tar.extractfile(m).read()) for m in tar.getmembers()}


def test_write_bundle_is_private_and_its_manifest_and_sha256_are_true(tmp_path):
    dest = tmp_path / 'records'
    written = bundle.write_bundle(str(dest), [('a.txt', 'hello\n'), ('b.json', {'k': 1}), ('c.png', b'\x89PNG')],
                                  {'deployment': 'backend'}, 'backend', WHEN)
    path = written['path']
    assert os.path.basename(path) == 'debug-bundle-backend-20261129T051500Z.tar.gz'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(written['sha256_path']).st_mode) == 0o600
    data = open(path, 'rb').read()
    assert hashlib.sha256(data).hexdigest() == written['sha256']
    assert open(written['sha256_path']).read() == '%s  %s\n' % (written['sha256'], os.path.basename(path))
    members = _members(path)
    manifest = json.loads(members.pop('manifest.json')[1])
    assert [p['name'] for p in manifest['parts']] == ['a.txt', 'b.json', 'c.png'] == sorted(members)
    for part in manifest['parts']:
        member, content = members[part['name']]
        assert (part['size'], part['sha256']) == (len(content), hashlib.sha256(content).hexdigest())
        assert member.mode == 0o600
    assert not [n for n in os.listdir(dest) if n.endswith('.tmp')]


def test_recent_records_takes_the_newest_pairs(tmp_path):
    for stamp in ('20261129T010000Z', '20261129T020000Z', '20261129T030000Z'):
        (tmp_path / ('%s-rollback.jsonl' % stamp)).write_text('{}\n')
        (tmp_path / ('%s-rollback.md' % stamp)).write_text('# r\n')
    (tmp_path / 'debug-bundle-backend-x.tar.gz').write_bytes(b'x')
    names = [name for name, _content in bundle.recent_records(str(tmp_path), 2)]
    assert names == ['20261129T030000Z-rollback.jsonl', '20261129T030000Z-rollback.md',
                     '20261129T020000Z-rollback.jsonl', '20261129T020000Z-rollback.md']


def _args(**given):
    args = dict(secrets=[MONGODB_URI], omitted={}, pods=[POD], events=[], pod_logs=None, redis=None, mongodb=None,
                metrics=None, network=None, records=0)
    args.update(given)
    return args


def test_gather_parts_leaves_no_secret_and_names_what_is_missing(tmp_path):
    logs = {'pods': [{'name': 'backend-1', 'containers': [{'name': 'backend', 'log': 'ERROR lost %s\n' % MONGODB_URI,
                                                           'previous_log': 'CRITICAL pw S3cret/pw\n'}]}],
            'matches': [{'message': 'ERROR lost %s' % MONGODB_URI, 'count': 2}], 'window': {}}
    mongodb = {'failed': True, 'msg': 'cannot reach MongoDB at db-0:27017,db-1:27017'}
    parts, omitted = gather_parts(_args(pod_logs=logs, mongodb=mongodb, redis={'nodes': [], 'summary': {}},
                                        network={'log': 'OK nslookup backend\n', 'pod': 'debug-net-1'}),
                                  str(tmp_path))
    names = [name for name, _content in parts]
    assert names == ['pods/backend-1/describe.txt', 'events.json', 'pods/backend-1/backend.log',
                     'pods/backend-1/backend.previous.log', 'pods.json', 'errors.txt', 'error_matches.json',
                     'redis_info.json', 'network_check.txt', 'network_check.json']
    text = ''.join(content if isinstance(content, str) else '' for _name, content in parts)
    assert PASSWORD not in text and 'S3cret/pw' not in text and 'plain-jwt-value' not in text
    assert omitted == {'mongodb': 'failed: cannot reach MongoDB at db-0:27017,db-1:27017',
                       'metrics': 'not collected'}
    assert '"log"' not in dict(parts)['pods.json']  # raw log text lives in the .log parts only


def test_gather_parts_takes_the_snapshot_folder_once(tmp_path):
    folder = tmp_path / 'metrics'
    folder.mkdir()
    (folder / 'metrics.json').write_text('{"metrics": []}\n')
    (folder / 'latency.png').write_bytes(b'\x89PNG')
    parts, _omitted = gather_parts(_args(pods=[], metrics={'metrics': [], 'folder': str(folder)}), str(tmp_path))
    assert [name for name, _content in parts if name.startswith('metrics/')] == ['metrics/latency.png', 'metrics/metrics.json']
    parts, _omitted = gather_parts(_args(pods=[], metrics={'metrics': [{'name': 'x'}], 'folder': None}), str(tmp_path))
    assert [name for name, _content in parts if name.startswith('metrics/')] == ['metrics/metrics.json']


def test_two_parts_of_one_name_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match='same name: a.txt'):
        bundle.write_bundle(str(tmp_path / 'out'), [('a.txt', 'x'), ('a.txt', 'y')], {}, 'backend', WHEN)
    assert not (tmp_path / 'out').exists()
