"""`--check --diff` is an honest dry run for every playbook in playbooks/ (CI runs them so on a schedule).

For each playbook, from the scenario it naturally starts from and with the inputs it needs:
snapshot the world (Kubernetes objects of namespace halobuzz, Redis keys and expiries, MongoDB
content, Vault's secret/audit/ listing, the EKS nodegroup's scalingConfig, the Slack receiver's
messages), run the playbook with --check --diff, assert it succeeded and previewed a change
where the scenario calls for one, snapshot again and assert nothing changed. The incident playbooks' summaries
of these dry runs must say what they would do and claim no change (issue 19, oncall_summary_support).

Every endpoint comes from `sandbox_env`; the scenarios and the Vault root token exist only in the
sandbox, so with HALOBUZZ_USE_ENV=1 these tests are skipped (by `scenario` / `sandbox_secrets`).
A test that finds every playbook listed here also fails when a playbook is added without a case.
"""
from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import vault_approvals
from oncall_summary_support import SUMMARY_PLAYBOOKS, assert_dry_run_summary
from prometheus_operator import MONITORING, install_operator_crd
from sandboxlib.kube import KubeAPI

boto3 = pytest.importorskip('boto3')
hvac = pytest.importorskip('hvac')
kubernetes = pytest.importorskip('kubernetes')
pymongo = pytest.importorskip('pymongo')
redis = pytest.importorskip('redis')

# pylint: disable-next=wrong-import-position
from mongo_helpers import archive_then_stray_write  # noqa: E402
# pylint: disable-next=wrong-import-position
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.restore import collection_state  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NS = 'halobuzz'


# -- the world, read independently of the roles ---------------------------------------------

def _kube_call(env, api_class, method, *args, **kwargs):
    api = kubernetes.config.new_client_from_config(config_file=env['KUBECONFIG'])
    try:
        return getattr(api_class(api), method)(*args, **kwargs)
    finally:
        api.close()


def _kubernetes(env):
    api = kubernetes.config.new_client_from_config(config_file=env['KUBECONFIG'])
    try:
        apps, core = kubernetes.client.AppsV1Api(api), kubernetes.client.CoreV1Api(api)
        hpas = kubernetes.client.AutoscalingV2Api(api).list_namespaced_horizontal_pod_autoscaler(NS).items
        pdbs = kubernetes.client.PolicyV1Api(api).list_namespaced_pod_disruption_budget(NS).items
        deployments = {}
        for dep in apps.list_namespaced_deployment(NS).items:
            template = dep.spec.template
            deployments[dep.metadata.name] = dict(
                generation=dep.metadata.generation, replicas=dep.spec.replicas,
                annotations=dep.metadata.annotations or {},
                template_annotations=template.metadata.annotations or {},
                containers=[(c.name, c.image, sorted((e.name, e.value) for e in c.env or []))
                            for c in template.spec.containers])
        return dict(
            deployments=deployments,
            hpas={h.metadata.name: api.sanitize_for_serialization(h.spec) for h in hpas},
            pdbs={p.metadata.name: (p.metadata.generation, api.sanitize_for_serialization(p.spec)) for p in pdbs},
            nodes={n.metadata.name: bool(n.spec.unschedulable) for n in core.list_node().items},
            # memory_leak deletes pods and drains evict them: a deleted pod is a change too
            pods=sorted(p.metadata.name for p in core.list_namespaced_pod(NS).items
                        if p.metadata.deletion_timestamp is None))
    finally:
        api.close()


def _monitoring(env):
    """What playbooks/alerting.yml applies: PrometheusRules of the namespace and the Secrets of the
    monitoring namespace, {name: resourceVersion} (none before the CRD or the namespace exist)."""
    api = KubeAPI(env['KUBECONFIG'])
    found = {}
    for kind, path in (('prometheusrule', '/apis/monitoring.coreos.com/v1/namespaces/%s/prometheusrules' % NS),
                       ('secret', '/api/v1/namespaces/%s/secrets' % MONITORING)):
        answer = api.get(path)
        if answer.status_code == 404:
            continue
        assert answer.status_code == 200, (path, answer.status_code)
        for item in answer.json()['items']:
            found['%s/%s' % (kind, item['metadata']['name'])] = item['metadata']['resourceVersion']
    return found


def _redis(env):
    """{key: absolute expiry in ms (-1: none)} of every key, and the server's clock read after them.

    PEXPIRETIME answers -2 for a key that no longer exists (https://redis.io/docs/latest/commands/pexpiretime/):
    a ratelimit key that expired between SCAN listing it and PEXPIRETIME reading it. It is left out, and the
    clock is read after the expiries, so that assert_unchanged counts it as expired in both snapshots (a key a
    run deleted is still missing from the second snapshot while the first holds it with a future expiry)."""
    client = redis.Redis.from_url(env['REDIS_URL'])
    try:
        names = list(client.scan_iter(count=1000))
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.pexpiretime(name)
        keys = {name.decode(): expiry for name, expiry in zip(names, pipe.execute()) if expiry != -2}
        seconds, micros = client.time()
        return dict(keys=keys, now_ms=seconds * 1000 + micros // 1000, dbsize=client.dbsize())
    finally:
        client.close()


def _mongodb(env):
    client = pymongo.MongoClient(env['MONGODB_URI'], serverSelectionTimeoutMS=30000)
    try:
        database = client.get_default_database().name
        return {name: collection_state(client, database, name)
                for name in sorted(client[database].list_collection_names()) if not name.startswith('system.')}
    finally:
        client.close()


def _vault_audit(env, root_token):
    """Every path under secret/audit/ with its current version (a new record or version is a change)."""
    kv = hvac.Client(url=env['VAULT_ADDR'], token=root_token).secrets.kv.v2
    found, todo = {}, ['audit/']
    while todo:
        folder = todo.pop()
        try:
            keys = kv.list_secrets(path=folder, mount_point='secret')['data']['keys']
        except hvac.exceptions.InvalidPath:
            continue
        for key in keys:
            if key.endswith('/'):
                todo.append(folder + key)
            else:
                meta = kv.read_secret_metadata(path=folder + key, mount_point='secret')['data']
                found[folder + key] = meta['current_version']
    return found


def _eks(env):
    return boto3.client('eks', region_name=env['AWS_DEFAULT_REGION'], endpoint_url=env.get('AWS_ENDPOINT_URL'),
                        aws_access_key_id=env.get('AWS_ACCESS_KEY_ID'),
                        aws_secret_access_key=env.get('AWS_SECRET_ACCESS_KEY'))


def _nodegroup(env):
    group = _eks(env).describe_nodegroup(clusterName='halobuzz', nodegroupName='workers')['nodegroup']
    return dict(scaling=group['scalingConfig'], labels=group.get('labels'), taints=group.get('taints'),
                version=group.get('version'), release=group.get('releaseVersion'))


def _slack_messages(env):
    parts = urllib.parse.urlsplit(env['SLACK_WEBHOOK_URL'])
    with urllib.request.urlopen('%s://%s/_sandbox/messages' % (parts.scheme, parts.netloc), timeout=10) as answer:
        return len(json.load(answer)['messages'])


def snapshot(env, root_token):
    return dict(kubernetes=_kubernetes(env), redis=_redis(env), mongodb=_mongodb(env),
                vault_audit=_vault_audit(env, root_token), nodegroup=_nodegroup(env), slack=_slack_messages(env),
                monitoring=_monitoring(env))


def _live_keys(keys, now_ms):
    return {k: v for k, v in keys.items() if v < 0 or v > now_ms}


def assert_unchanged(before, after):
    # Keys that expired on their own meanwhile (ratelimit:chat:* live 60 s) are not a change;
    # every other key must be there with the very same absolute expiry, and nothing new.
    now = after['redis']['now_ms']
    assert _live_keys(after['redis']['keys'], now) == _live_keys(before['redis']['keys'], now)
    assert after['redis']['dbsize'] <= before['redis']['dbsize']
    for part in ('kubernetes', 'mongodb', 'vault_audit', 'nodegroup', 'slack', 'monitoring'):
        assert after[part] == before[part], part


# -- the playbooks --------------------------------------------------------------------------

def _db_rollback_archive(env, tmp_path):
    """An archive of the database as it is now, then a stray write: the dry run has a restore to preview."""
    archive = archive_then_stray_write(env, tmp_path)
    return ['-e', 'backup_archive=%s' % archive, '-e', 'safety_backup_dir=%s' % (tmp_path / 'out' / 'safety')]


def _maintenance_start(env, _tmp_path):
    """Start maintenance on a node that runs a backend pod (the drain then has something to evict)."""
    pods = _kube_call(env, kubernetes.client.CoreV1Api, 'list_namespaced_pod', NS, label_selector='app=backend').items
    node = next(p.spec.node_name for p in pods if p.spec.node_name and p.status.phase == 'Running')
    return ['-e', 'maintenance_action=start', '-e', json.dumps({'maintenance_nodes': [node]})]


def _break_glass(env, tmp_path):
    """The sandbox inventory gives the on-call LDAP login (vault_ldap_*); the secret would go to a file.
    Issue 15: the open step needs an approval in Vault, given first by the approver (before the snapshot)."""
    incident_id = vault_approvals.incident()
    vault_approvals.approve(vault_approvals.vault_under_test(env), incident_id)
    return ['-e', json.dumps({'incident_id': incident_id, 'approved_by': 'teamlead',
                              'reason': 'check mode test of the break-glass runbook',
                              'secret_output_file': str(tmp_path / 'out' / 'mongodb.json')})]


def _alerting(env, tmp_path):
    """prometheus-operator's CRD as the site has it (before the snapshot); test routing keys only."""
    install_operator_crd(KubeAPI(env['KUBECONFIG']))
    keys = {'alerting_pagerduty_routing_key_%s' % who: 'R0UTINGKEYcheckmode%s' % who.upper()
            for who in ('oncall', 'team_lead', 'cto')}
    return ['-e', json.dumps(keys)]


def _memory_leak(_env, tmp_path):
    """Heap dumps on (the default): check mode must neither exec into the pods (the sandbox has no exec)
    nor write a dump; no cooldown, since the scenario's pods are minutes old."""
    return ['-e', 'incident_response_restart_cooldown_minutes=0',
            '-e', 'incident_response_heap_dump_dir=%s' % (tmp_path / 'out' / 'heapdumps')]


def _debug_bundle(_env, tmp_path):
    """The bundle's folder is watched (out/, not records/): --check writes no bundle and creates no pod."""
    return ['-e', 'debug_bundle_dir=%s' % (tmp_path / 'out' / 'bundles')]


def _incident_report(_env, tmp_path):
    # an incident's records (the unit tests' fixtures) where the run-record folder is: the report is previewed only
    shutil.copytree(REPO / 'tests' / 'unit' / 'plugins' / 'plugin_utils' / 'fixtures', tmp_path / 'records')
    return ['-e', 'incident_id=INC-42']


# (playbook, scenario, extra arguments or a function (env, tmp_path) -> them, a change to preview?)
CASES = [
    ('rollback', 'bad-release', [], True),
    ('db_rollback', 'healthy', _db_rollback_archive, True),
    ('maintenance', 'healthy', _maintenance_start, True),
    ('scale_up', 'healthy', [], True),
    # the sandbox inventory gives the on-call LDAP login (vault_ldap_*)
    ('break_glass', 'healthy', _break_glass, True),
    ('cache_purge', 'stream-latency', [], True),
    ('stream_latency', 'stream-latency', [], True),
    ('redis_check', 'healthy', [], False),
    ('service_down', 'healthy', [], False),
    ('db_connection_lost', 'db-corruption', [], True),
    ('payment_failures', 'payment-failures', [], False),
    ('high_error_rate', 'high-error-rate', [], True),
    ('ai_moderation_fallback', 'ai-moderation-down', [], True),
    ('memory_leak', 'memory-leak', _memory_leak, True),
    ('alerting', 'healthy', _alerting, True),
    # every run writes a new metrics-<UTC time>/ folder: --check says it would, and writes nothing
    ('metrics_snapshot', 'healthy', [], True),
    # gathers only; the network check pod and the bundle are what --check leaves out (changed=0 either way)
    ('debug_bundle', 'healthy', _debug_bundle, False),
    ('incident_report', 'healthy', _incident_report, True),
]


def _local_files(tmp_path):
    records = tmp_path / 'records'
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob('*') if records not in (p, *p.parents))


def test_every_playbook_has_a_case():
    assert sorted(p.stem for p in (REPO / 'playbooks').glob('*.yml')) == sorted(case[0] for case in CASES)
    assert SUMMARY_PLAYBOOKS <= {case[0] for case in CASES}


@pytest.mark.parametrize('playbook, scenario_name, extra, previews_change', CASES, ids=[c[0] for c in CASES])
# pylint: disable-next=too-many-arguments,too-many-positional-arguments
def test_check_diff_changes_nothing(playbook, scenario_name, extra, previews_change, sandbox_env, sandbox_secrets,
                                    scenario, run_playbook, tmp_path):
    scenario(scenario_name)
    args = extra(sandbox_env, tmp_path) if callable(extra) else extra
    root_token = sandbox_secrets['vault_root_token']
    (tmp_path / 'out').mkdir()
    local_files = _local_files(tmp_path)
    before = snapshot(sandbox_env, root_token)

    env = dict(sandbox_env, HALOBUZZ_RECORDS_DIR=str(tmp_path / 'records'))
    result = run_playbook(playbook, '--check', '--diff', *args, env=env)
    recap = result.recap['localhost']
    assert recap['failed'] == 0
    if previews_change:
        assert recap['changed'] >= 1, result.stdout[-4000:]
    if playbook in SUMMARY_PLAYBOOKS:  # issue 19: the on-call summary of a dry run says what it would do
        assert_dry_run_summary(result)

    assert_unchanged(before, snapshot(sandbox_env, root_token))
    # no local file either: db_rollback's safety backup, break_glass's secret_output_file, heap dumps
    assert _local_files(tmp_path) == local_files


# -- the snapshot itself sees each kind of change (else the test above could not fail) -------

def _scale_streaming(env):
    _kube_call(env, kubernetes.client.AppsV1Api, 'patch_namespaced_deployment_scale', 'streaming', NS,
               {'spec': {'replicas': 3}})


def _cordon(env):
    _kube_call(env, kubernetes.client.CoreV1Api, 'patch_node', 'node-3', {'spec': {'unschedulable': True}})


def _redis_new_expiry(env):
    client = redis.Redis.from_url(env['REDIS_URL'])
    try:
        client.expire(next(client.scan_iter(match='payment:idempotency:*')), 7 * 86400)
    finally:
        client.close()


def _mongodb_update(env):
    client = pymongo.MongoClient(env['MONGODB_URI'], serverSelectionTimeoutMS=30000)
    try:
        client.get_default_database()['users'].update_one({}, {'$set': {'wallet': None}})
    finally:
        client.close()


def _vault_record(env, root_token):
    hvac.Client(url=env['VAULT_ADDR'], token=root_token).secrets.kv.v2.create_or_update_secret(
        path='audit/break-glass/INC-SNAPSHOT', secret={'reason': 'snapshot test'}, mount_point='secret')


def _nodegroup_desired(env):
    _eks(env).update_nodegroup_config(clusterName='halobuzz', nodegroupName='workers',
                                      scalingConfig={'desiredSize': 4})


def _slack_post(env):
    request = urllib.request.Request(env['SLACK_WEBHOOK_URL'], data=json.dumps({'text': 'snapshot test'}).encode(),
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _alertmanager_secret(env):
    api = KubeAPI(env['KUBECONFIG'])
    if api.get('/api/v1/namespaces/' + MONITORING).status_code == 404:
        namespace = {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': MONITORING}}
        api.must('POST', '/api/v1/namespaces', json=namespace)
    api.must('POST', '/api/v1/namespaces/%s/secrets' % MONITORING,
             json={'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'snapshot-test'},
                   'stringData': {'alertmanager.yaml': 'route: {receiver: x}'}})


def test_snapshot_sees_each_kind_of_change(sandbox_env, sandbox_secrets, scenario):
    scenario('healthy')
    root_token = sandbox_secrets['vault_root_token']
    changes = [('kubernetes', _scale_streaming), ('kubernetes', _cordon), ('redis', _redis_new_expiry),
               ('mongodb', _mongodb_update), ('vault_audit', lambda env: _vault_record(env, root_token)),
               ('nodegroup', _nodegroup_desired), ('slack', _slack_post), ('monitoring', _alertmanager_secret)]
    for part, change in changes:
        before = snapshot(sandbox_env, root_token)
        assert_unchanged(before, snapshot(sandbox_env, root_token))
        change(sandbox_env)
        after = snapshot(sandbox_env, root_token)
        with pytest.raises(AssertionError):
            assert_unchanged(before, after)
        assert after[part] != before[part], change.__name__
