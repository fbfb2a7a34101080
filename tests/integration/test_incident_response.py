"""The per-incident playbooks (roles/incident_response) against the sandbox scenarios they start from."""
import json
import urllib.parse
import urllib.request

import pytest

kubernetes = pytest.importorskip('kubernetes')


@pytest.fixture(scope='module')
def apps(sandbox_env):
    client = kubernetes.config.new_client_from_config(config_file=sandbox_env['KUBECONFIG'])
    return kubernetes.client.AppsV1Api(client)


@pytest.fixture(scope='module')
def core(sandbox_env):
    client = kubernetes.config.new_client_from_config(config_file=sandbox_env['KUBECONFIG'])
    return kubernetes.client.CoreV1Api(client)


def backend(apps, name='backend'):
    return apps.read_namespaced_deployment(name, 'halobuzz')


def container_env(deployment):
    return {e.name: e.value for e in deployment.spec.template.spec.containers[0].env or []}


def slack_messages(sandbox_env):
    parts = urllib.parse.urlsplit(sandbox_env['SLACK_WEBHOOK_URL'])
    with urllib.request.urlopen('%s://%s/_sandbox/messages' % (parts.scheme, parts.netloc), timeout=10) as answer:
        return [m['payload']['text'] for m in json.load(answer)['messages']]


def changed(result):
    return result.recap['localhost']['changed']


def test_service_down_on_a_healthy_service_changes_nothing(scenario, run_playbook, apps):
    scenario('healthy')
    before = backend(apps).metadata.generation
    result = run_playbook('service_down.yml')
    assert changed(result) == 0
    assert backend(apps).metadata.generation == before
    # issue 19: the closing Summary says so
    assert '"Found: halobuzz/backend is up (healthz 200' in result.stdout
    assert '"Next: nothing: all is well"' in result.stdout


def test_service_down_during_a_bad_release_points_at_the_rollback(scenario, run_playbook, apps):
    scenario('bad-release')
    before = backend(apps)
    result = run_playbook('service_down.yml', check=False)
    assert result.rc != 0
    assert 'still down (healthz 503)' in result.stdout
    assert 'a restart would not help' in result.stdout and 'playbooks/rollback.yml' in result.stdout
    assert 'CrashLoopBackOff' in result.stdout
    # issue 19: the Summary still closes a failed run, with the rollback as the next step
    assert '"Next: revision ' in result.stdout
    assert 'if that release is the cause, ansible-playbook playbooks/rollback.yml' in result.stdout
    after = backend(apps)
    assert changed(result) == 0 and after.metadata.generation == before.metadata.generation


def test_ai_moderation_fallback_switches_once_and_alerts_once(scenario, run_playbook, apps, sandbox_env):
    scenario('ai-moderation-down')
    assert container_env(backend(apps))['AI_MODERATION'] == 'true'
    alerts_before = len(slack_messages(sandbox_env))

    preview = run_playbook('ai_moderation_fallback.yml', '--check', '--diff')
    assert changed(preview) >= 1
    assert container_env(backend(apps))['AI_MODERATION'] == 'true'
    assert len(slack_messages(sandbox_env)) == alerts_before
    # issue 19: under --check the Summary says what would be done, never that it was
    assert '"Would do: AI_MODERATION on halobuzz/backend (manual moderation) (true -> false)' in preview.stdout
    assert '"Did: ' not in preview.stdout

    first = run_playbook('ai_moderation_fallback.yml', '-e', 'incident_id=INC-19')
    assert changed(first) >= 1
    deployment = backend(apps)
    assert container_env(deployment)['AI_MODERATION'] == 'false'
    assert container_env(deployment)['NODE_ENV'] == 'production'  # the patch kept the other variables
    # issue 19: the new revision says what, why and the incident, instead of copying "release v1.5.1: ..."; this is
    # the ReplicaSet annotation rollback.yml lists (the Deployment controller copies the Deployment's annotations
    # to the ReplicaSet of the new template: deployment_util.go SetNewReplicaSetAnnotations).
    revision = deployment.metadata.annotations['deployment.kubernetes.io/revision']
    [new_rs] = [rs for rs in apps.list_namespaced_replica_set('halobuzz', label_selector='app=backend').items
                if rs.metadata.annotations['deployment.kubernetes.io/revision'] == revision]
    cause = new_rs.metadata.annotations['kubernetes.io/change-cause']
    assert cause.startswith('halobuzz.ops ai_moderation_fallback.yml: AI_MODERATION true -> false (manual moderation) '
                            'because the ai-engine is failing: 0/2 replicas available'), cause
    assert cause.endswith('(incident INC-19)'), cause
    messages = slack_messages(sandbox_env)[alerts_before:]
    assert len(messages) == 1 and 'AI moderation disabled - manual review required' in messages[0]
    assert sandbox_env['SLACK_WEBHOOK_URL'] not in first.stdout  # the webhook URL is a credential

    second = run_playbook('ai_moderation_fallback.yml')
    assert changed(second) == 0
    assert len(slack_messages(sandbox_env)) == alerts_before + 1


def test_ai_moderation_restore_refuses_while_the_engine_is_down(scenario, run_playbook, apps):
    scenario('ai-moderation-down')
    run_playbook('ai_moderation_fallback.yml')
    result = run_playbook('ai_moderation_fallback.yml', '-e', 'ai_moderation_action=restore', check=False)
    assert result.rc != 0 and 'AI moderation stays off' in result.stdout
    assert container_env(backend(apps))['AI_MODERATION'] == 'false'


def test_ai_moderation_action_is_validated(scenario, run_playbook):
    result = run_playbook('ai_moderation_fallback.yml', '-e', 'ai_moderation_action=sideways', check=False)
    assert result.rc != 0
    assert 'ai_moderation_action' in result.stdout and 'fallback, restore' in result.stdout


def test_high_error_rate_scales_up_once(scenario, run_playbook, apps):
    scenario('high-error-rate')
    assert backend(apps).spec.replicas == 3
    first = run_playbook('high_error_rate.yml')
    assert changed(first) >= 1
    assert '8.00 %' in first.stdout and 'worker pool exhausted' in first.stdout
    deployment = backend(apps)
    assert deployment.spec.replicas == 5 and deployment.status.ready_replicas == 5
    second = run_playbook('high_error_rate.yml')
    assert changed(second) == 0 and 'already runs' in second.stdout


def test_high_error_rate_under_the_threshold_does_not_scale(scenario, run_playbook, apps):
    scenario('healthy')
    result = run_playbook('high_error_rate.yml')
    assert changed(result) == 0 and 'under the threshold' in result.stdout
    assert backend(apps).spec.replicas == 3


def test_payment_failures_triage_reports_without_changing_anything(scenario, run_playbook):
    scenario('payment-failures')
    result = run_playbook('payment_failures.yml')
    assert changed(result) == 0
    # The closing summary, verdict first (issue 19): Found / Did / Next.
    assert 'Found: payment failures confirmed: success ratio 82.0 %' in result.stdout
    assert 'providers stripe degraded, khalti up' in result.stdout and 'Next: wait for stripe to recover' in result.stdout
    assert 'card_processing_error' in result.stdout
    assert '225 idempotency keys' in result.stdout  # 160 succeeded + 40 failed + 25 pending idempotency keys


def test_db_connection_lost_reconnects_once(scenario, run_playbook, apps):
    scenario('db-corruption')  # its backend logs carry MongoNetworkError
    before = backend(apps).spec.template.metadata.annotations or {}
    assert 'kubectl.kubernetes.io/restartedAt' not in before
    first = run_playbook('db_connection_lost.yml')
    assert changed(first) >= 1 and 'every pod has a new connection pool' in first.stdout
    assert 'kubectl.kubernetes.io/restartedAt' in backend(apps).spec.template.metadata.annotations
    second = run_playbook('db_connection_lost.yml')
    assert changed(second) == 0 and 'not restarted again' in second.stdout


def test_db_connection_lost_with_mongodb_down_says_so(scenario, run_playbook, sandbox_env):
    scenario('healthy')
    env = dict(sandbox_env, MONGODB_URI='mongodb://127.0.0.1:9/halobuzz?serverSelectionTimeoutMS=1000')
    result = run_playbook('db_connection_lost.yml', env=env, check=False)
    assert result.rc != 0
    assert 'This is a database outage' in result.stdout
    assert changed(result) == 0


# -- issue 13 ------------------------------------------------------------------------------------

def test_restart_cooldown_reads_a_restarted_at_written_outside_utc(scenario, run_playbook, apps):
    # Bug 2: kubectl writes restartedAt with time.Now().Format(time.RFC3339) in its local zone; the cooldown
    # crashed on '+01:00' (to_datetime '%Y-%m-%dT%H:%M:%SZ'). A restart 5 minutes ago, written at +01:00,
    # is inside the 30-minute cooldown.
    import datetime
    scenario('db-corruption')
    zone = datetime.timezone(datetime.timedelta(hours=1))
    stamp = (datetime.datetime.now(zone) - datetime.timedelta(minutes=5)).replace(microsecond=0).isoformat()
    assert stamp.endswith('+01:00')
    apps.patch_namespaced_deployment('backend', 'halobuzz', {'spec': {'template': {'metadata': {
        'annotations': {'kubectl.kubernetes.io/restartedAt': stamp}}}}})
    generation = backend(apps).metadata.generation
    result = run_playbook('db_connection_lost.yml', '-e', 'incident_response_restart_cooldown_minutes=30')
    assert changed(result) == 0 and 'not restarted again' in result.stdout
    assert backend(apps).metadata.generation == generation


def test_memory_leak_replaces_pods_by_eviction_so_the_budget_holds(scenario, run_playbook, core, sandbox_env):
    # Bug 7: a plain DELETE bypassed the PodDisruptionBudget. With a budget that allows no disruption the
    # replacement must be refused (eviction answers 429) and no pod may go.
    scenario('memory-leak')
    client = kubernetes.config.new_client_from_config(config_file=sandbox_env['KUBECONFIG'])
    policy = kubernetes.client.PolicyV1Api(client)
    for budget in policy.list_namespaced_pod_disruption_budget('halobuzz').items:
        policy.delete_namespaced_pod_disruption_budget(budget.metadata.name, 'halobuzz')
    policy.create_namespaced_pod_disruption_budget('halobuzz', {
        'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': {'name': 'backend-frozen'},
        'spec': {'maxUnavailable': 0, 'selector': {'matchLabels': {'app': 'backend'}}}},
        _preload_content=False)  # the answer's status is empty until the disruption controller fills it
    pods_before = {p.metadata.name for p in core.list_namespaced_pod('halobuzz', label_selector='app=backend').items}
    result = run_playbook('memory_leak.yml', '-e', 'incident_response_heap_dump=false', '-e',
                          'incident_response_restart_cooldown_minutes=0', '-e', 'rollout_timeout=8', check=False)
    assert result.rc != 0 and 'still refused' in result.stdout, result.stdout[-3000:]
    pods_after = {p.metadata.name for p in core.list_namespaced_pod('halobuzz', label_selector='app=backend').items
                  if p.metadata.deletion_timestamp is None}
    assert pods_after == pods_before
