"""playbooks/debug_bundle.yml against the sandbox (issue 18, "debug bundle"): one run, one scenario.

The run is made to carry every secret the sandbox holds where a careless bundle would pick it up, and the
network check to fail, in one playbook run (each run costs a minute or more on the shared machine):
- a Deployment `bundle-probe` whose pods get DB_PASSWORD from a Secret (valueFrom.secretKeyRef: kubectl describe
  shows the Secret's name only), a plain MONGO_URL with a password in it and a plain API_TOKEN (a secret-looking
  name): the sandbox's MongoDB password and Vault root token;
- log lines quoting a connection URI with the on-call's LDAP password (kubeemu pod_logs);
- MongoDB unreachable from inside the cluster (kubeemu `network.unreachable`, the world's network section), so
  the network check pod ends Failed - and must still be deleted.
Then: the bundle is 0600, its manifest lists every part with a true size and sha256, the archive's sha256 is
the one returned and written beside it; the WHOLE extracted bundle and the run's stdout at -v hold none of the
sandbox's secrets (`sandbox_secrets`); no network check pod is left.
`--check` (no pod, nothing written) is tests/integration/test_check_mode.py's case.
"""
from __future__ import annotations

import base64
import hashlib
import json
import tarfile
import urllib.parse
from pathlib import Path

import pytest

from sandbox_support import run_playbook, wait_for
from sandboxlib.kube import KubeAPI

NS = 'halobuzz'
PROBE = 'bundle-probe'
IMAGE = 'registry.halobuzz.com/backend:v1.5.1'


def _secret_values(secrets: dict) -> list[str]:
    values = []
    for value in secrets.values():
        values.extend(_secret_values(value) if isinstance(value, dict) else [str(value)])
    return [v for v in values if len(v) >= 8]


def _probe_objects(secrets: dict) -> list[tuple[str, dict]]:
    password = secrets['mongodb_password']
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': PROBE, 'namespace': NS},
              'data': {'password': base64.b64encode(password.encode()).decode()}}
    env = [{'name': 'DB_PASSWORD', 'valueFrom': {'secretKeyRef': {'name': PROBE, 'key': 'password'}}},
           {'name': 'MONGO_URL', 'value': 'mongodb://halobuzz_app:%s@mongodb-0.mongodb:27017/halobuzz'
            % urllib.parse.quote(password, safe='')},
           {'name': 'API_TOKEN', 'value': secrets['vault_root_token']},
           {'name': 'NODE_ENV', 'value': 'production'}]
    deployment = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': PROBE, 'namespace': NS},
                  'spec': {'replicas': 2, 'selector': {'matchLabels': {'app': PROBE}},
                           'template': {'metadata': {'labels': {'app': PROBE}},
                                        'spec': {'containers': [{'name': 'app', 'image': IMAGE, 'env': env}]}}}}
    return [('/api/v1/namespaces/%s/secrets' % NS, secret),
            ('/apis/apps/v1/namespaces/%s/deployments' % NS, deployment)]


def _check_pods(api: KubeAPI) -> list[str]:
    pods = api.must('GET', '/api/v1/namespaces/%s/pods?labelSelector=app.kubernetes.io/name%%3Ddebug-bundle-network-check'
                    % NS)['items']
    return [p['metadata']['name'] for p in pods]


@pytest.fixture(name='planted')
def planted_fixture(sandbox_env, scenario, sandbox_secrets):
    """The probe Deployment, log lines quoting a credential and MongoDB unreachable; the config restored after."""
    scenario('healthy')
    api = KubeAPI(sandbox_env['KUBECONFIG'])
    config = api.must('GET', '/_sandbox/config')
    mongo = urllib.parse.urlsplit(sandbox_env['MONGODB_URI'])
    oncall = sandbox_secrets['ldap_passwords']['oncall']
    lines = ['2026-11-29T05:00:00.000Z INFO  probe started',
             '2026-11-29T05:00:01.000Z ERROR MongoNetworkError: connect mongodb://oncall:%s@%s:%d/halobuzz timed out'
             % (oncall, mongo.hostname, mongo.port),
             '2026-11-29T05:00:02.000Z CRITICAL giving up after 3 attempts']
    api.must('PUT', '/_sandbox/config', json={
        'pod_logs': config['pod_logs'] + [{'namespace': NS, 'selector': {'app': PROBE}, 'lines': lines}],
        'network': dict(config['network'], unreachable=['%s:%d' % (mongo.hostname, mongo.port)])})
    try:
        for path, body in _probe_objects(sandbox_secrets):
            api.must('POST', path, json=body)

        def ready():
            dep = api.must('GET', '/apis/apps/v1/namespaces/%s/deployments/%s' % (NS, PROBE))
            return (dep.get('status') or {}).get('readyReplicas') == 2
        wait_for(ready, 'the probe Deployment to have 2 Ready pods', timeout=60)
        yield mongo
    finally:
        api.must('PUT', '/_sandbox/config', json={'pod_logs': config['pod_logs'], 'network': config['network']})
        api.request('DELETE', '/apis/apps/v1/namespaces/%s/deployments/%s' % (NS, PROBE))
        api.request('DELETE', '/api/v1/namespaces/%s/secrets/%s' % (NS, PROBE))


def test_bundle_has_every_part_no_secret_and_leaves_no_pod(planted, sandbox_env, sandbox_secrets, tmp_path):
    records = tmp_path / 'records'
    env = dict(sandbox_env, HALOBUZZ_RECORDS_DIR=str(records))
    # -e prometheus_url= : the key-metrics snapshot is metrics_snapshot's test; here it is a part left out
    result = run_playbook('debug_bundle', '-v', '-e', 'deployment=%s' % PROBE, '-e', 'incident_id=INC-BUNDLE-1',
                          '-e', 'severity=P1', '-e', 'prometheus_url=', env=env)
    assert result.recap['localhost']['changed'] == 0 and result.recap['localhost']['failed'] == 0

    (archive,) = records.glob('debug-bundle-%s-*.tar.gz' % PROBE)
    assert archive.stat().st_mode & 0o777 == 0o600 and records.stat().st_mode & 0o777 == 0o700
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert Path(str(archive) + '.sha256').read_text() == '%s  %s\n' % (digest, archive.name)
    assert digest in result.stdout  # the summary names it

    extracted = tmp_path / 'bundle'
    with tarfile.open(archive) as tar:
        assert all(member.mode == 0o600 and member.isfile() for member in tar.getmembers())
        tar.extractall(extracted, filter='data')
    (top,) = extracted.iterdir()
    manifest = json.loads((top / 'manifest.json').read_text())
    files = sorted(str(p.relative_to(top)) for p in top.rglob('*') if p.is_file() and p.name != 'manifest.json')
    assert sorted(part['name'] for part in manifest['parts']) == files
    for part in manifest['parts']:
        data = (top / part['name']).read_bytes()
        assert (part['size'], part['sha256']) == (len(data), hashlib.sha256(data).hexdigest()), part['name']
    assert (manifest['deployment'], manifest['incident_id'], manifest['severity']) == (PROBE, 'INC-BUNDLE-1', 'P1')
    assert manifest['omitted'] == {'metrics': 'prometheus_url is empty'}
    names = set(files)
    pods = [p['metadata']['name'] for p in KubeAPI(sandbox_env['KUBECONFIG']).must(
        'GET', '/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s' % (NS, PROBE))['items']]
    for pod in pods:
        assert {'pods/%s/describe.txt' % pod, 'pods/%s/app.log' % pod} <= names
    assert {'events.json', 'pods.json', 'errors.txt', 'error_matches.json', 'redis_info.json',
            'mongodb_server_status.json', 'network_check.txt', 'network_check.json'} <= names
    assert any(name.startswith('records/') and name.endswith('-debug_bundle.jsonl') for name in names)

    describe = (top / 'pods' / pods[0] / 'describe.txt').read_text()
    assert "DB_PASSWORD:\t<set to the key 'password' in secret '%s'>" % PROBE in describe
    assert 'MONGO_URL:\tmongodb://mongodb-0.mongodb:27017' in describe and 'NODE_ENV:\tproduction' in describe
    errors = (top / 'errors.txt').read_text()
    assert 'MongoNetworkError' in errors and 'CRITICAL giving up' in errors and 'INFO' not in errors
    assert 'redis_version' in json.loads((top / 'redis_info.json').read_text())['nodes'][0]['sections']['server']
    assert 'persistence' in json.loads((top / 'redis_info.json').read_text())['nodes'][0]['sections']  # INFO all

    # the network check ran, failed on MongoDB (unreachable), and its pod is gone
    mongo = planted
    check = (top / 'network_check.txt').read_text().splitlines()
    assert 'FAIL nc -z -w 3 %s %d' % (mongo.hostname, mongo.port) in check
    assert 'OK nslookup backend.%s.svc.cluster.local' % NS in check
    assert json.loads((top / 'network_check.json').read_text())['phase'] == 'Failed'
    assert _check_pods(KubeAPI(sandbox_env['KUBECONFIG'])) == []

    # no secret of the sandbox anywhere in the bundle or on the screen (-v), nor in the run record
    secrets = _secret_values(sandbox_secrets) + [urllib.parse.quote(sandbox_secrets['mongodb_password'], safe='')]
    texts = {str(p.relative_to(tmp_path)): p.read_bytes().decode('utf-8', 'replace')
             for p in list(extracted.rglob('*')) + list(records.glob('*.jsonl')) + list(records.glob('*.md'))
             if p.is_file()}
    texts['stdout'], texts['stderr'] = result.stdout, result.stderr
    leaks = [(where, secret[:4] + '...') for where, text in texts.items() for secret in secrets if secret in text]
    assert leaks == []
