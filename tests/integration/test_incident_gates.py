"""Issue 19's gates: an incident playbook changes something only while the condition that justifies it holds,
says so in its closing Summary (Found / Did or Would do / Next), and every change it makes to a Deployment
carries a truthful kubernetes.io/change-cause. One scenario switch per test; the runs in it are grouped."""
import json
import urllib.parse
import urllib.request

import pytest

kubernetes = pytest.importorskip('kubernetes')

NS = 'halobuzz'
CHANGE_CAUSE = 'kubernetes.io/change-cause'
REVISION = 'deployment.kubernetes.io/revision'


@pytest.fixture(scope='module')
def kube(sandbox_env):
    client = kubernetes.config.new_client_from_config(config_file=sandbox_env['KUBECONFIG'])
    return kubernetes.client.AppsV1Api(client), kubernetes.client.CoreV1Api(client)


def slack_messages(sandbox_env):
    parts = urllib.parse.urlsplit(sandbox_env['SLACK_WEBHOOK_URL'])
    with urllib.request.urlopen('%s://%s/_sandbox/messages' % (parts.scheme, parts.netloc), timeout=10) as answer:
        return [m['payload']['text'] for m in json.load(answer)['messages']]


def summary(result, check=False):
    """The three lines of the run's last task, which must be the Summary debug."""
    tasks = result.stdout.split('\nTASK [')
    last = tasks[-1]
    assert last.split(']', 1)[0].endswith(': Summary'), last[:3000]
    lines = json.loads(last[last.index('{'):last.index('\n}\n') + 2])['msg']
    assert [line.split(':', 1)[0] for line in lines] == ['Found', 'Would do' if check else 'Did', 'Next'], lines
    return lines


def changed(result):
    return result.recap['localhost']['changed']


def revision_causes(apps, deployment='backend'):
    """{revision: change-cause} of the Deployment's ReplicaSets, as rollout history lists them."""
    selector = ','.join('%s=%s' % kv for kv in apps.read_namespaced_deployment(
        deployment, NS).spec.selector.match_labels.items())
    return {int(rs.metadata.annotations[REVISION]): rs.metadata.annotations.get(CHANGE_CAUSE)
            for rs in apps.list_namespaced_replica_set(NS, label_selector=selector).items}


def test_healthy_changes_nothing_and_maintenance_is_not_an_outage(scenario, run_playbook, kube, sandbox_env):
    apps, _core = kube
    scenario('healthy')
    generation = apps.read_namespaced_deployment('backend', NS).metadata.generation
    alerts = len(slack_messages(sandbox_env))

    # ai-engine 2/2 available, model errors and queue (real Prometheus) under the thresholds: no fallback.
    result = run_playbook('ai_moderation_fallback.yml')
    assert changed(result) == 0
    found, did, next_step = summary(result)
    assert 'ai-engine is healthy (2/2 replicas available, model errors' in found and did == 'Did: nothing'
    assert next_step == 'Next: nothing: all is well'
    # ai_moderation_force overrides the gate, and the summary says so (a dry run: nothing is posted).
    forced = run_playbook('ai_moderation_fallback.yml', '--check', '-e', 'ai_moderation_force=true')
    found, would, _next = summary(forced, check=True)
    assert 'ai_moderation_force=true overrides the health gate' in found
    assert would.startswith('Would do: AI_MODERATION on halobuzz/backend (manual moderation) (true -> false)')
    assert apps.read_namespaced_deployment('backend', NS).metadata.generation == generation
    assert len(slack_messages(sandbox_env)) == alerts

    found, did, next_step = summary(run_playbook('memory_leak.yml'))
    assert 'memory is normal' in found and did == 'Did: nothing' and next_step == 'Next: nothing: all is well'

    # Planned maintenance (healthz 503 {"status": "maintenance"}, MAINTENANCE_MODE=true): its revision says so.
    run_playbook('maintenance.yml', '-e', 'maintenance_action=start', '-e', '{"maintenance_nodes": []}',
                 '-e', 'incident_id=CHG-19')
    deployment = apps.read_namespaced_deployment('backend', NS)
    revision = int(deployment.metadata.annotations[REVISION])
    cause = revision_causes(apps)[revision]
    assert 'MAINTENANCE_MODE (unset) -> true' in cause and '(incident CHG-19)' in cause, cause
    assert 'release' not in cause  # not the previous revision's "release v1.5.1: ..."

    # service_down during the window: no restart, and the way out named.
    result = run_playbook('service_down.yml')
    assert changed(result) == 0
    assert apps.read_namespaced_deployment('backend', NS).metadata.generation == deployment.metadata.generation
    found, did, next_step = summary(result)
    assert 'planned maintenance' in found and 'MAINTENANCE_MODE=true' in found and did == 'Did: nothing'
    assert 'playbooks/maintenance.yml -e maintenance_action=finish' in next_step


def test_memory_leak_reports_every_leaking_pod_apart_from_those_replaced(scenario, run_playbook, kube, tmp_path):
    _apps, core = kube
    scenario('memory-leak')

    def backend_pods():
        return {p.metadata.name for p in core.list_namespaced_pod(NS, label_selector='app=backend').items
                if p.metadata.deletion_timestamp is None}

    before = backend_pods()
    # The heap dump on (the default) and no exec (kubeemu answers pods/exec with 400, as a cluster without
    # containers would; RBAC without `create pods/exec` answers 403): a plain message, the dumps skipped, the
    # pods still replaced, no dump folder made.
    dumps = tmp_path / 'heapdumps'
    first = run_playbook('memory_leak.yml', '-e', 'incident_response_restart_cooldown_minutes=0',
                         '-e', 'incident_response_heap_dump_dir=%s' % dumps)
    assert 'exec into the pods is not available (HTTP 400)' in first.stdout
    assert 'Handshake status' not in first.stdout and 'Traceback' not in first.stdout
    assert not dumps.exists()
    assert changed(first) >= 3
    after = backend_pods()
    assert len(after) == 3 and not after & before
    found, did, _next = summary(first)
    assert all(pod in found and 'replace leaking pod %s by eviction (heap dump skipped: no exec)' % pod in did
               for pod in before)

    # The new pods leak too (92.3 % of 2 GiB) but are minutes old: all named, none replaced, and why.
    second = run_playbook('memory_leak.yml', '-e', 'incident_response_heap_dump=false')
    assert changed(second) == 0 and backend_pods() == after
    found, did, next_step = summary(second)
    assert '3 of 3 pods of halobuzz/backend use ≥ 85 % of their 2048 MiB memory limit' in found
    assert all('%s 92.3 %%' % pod in found for pod in after), found
    assert 'not replaced: younger than 15 min; override with -e incident_response_restart_cooldown_minutes=0' in found
    assert did == 'Did: nothing' and 'memory_leak.yml again' in next_step
