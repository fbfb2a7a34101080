"""Issue 19's fresh, deduplicated evidence against the sandbox: halobuzz.ops.k8s_pod_logs on a crash-looping
release (previous-container logs, events of pods not Ready, identical lines of many pods collapsed), and
db_connection_lost.yml with a two-day-old MongoNetworkError and a fresh corruption line (no restart; the summary
points at db_rollback.yml). The db-corruption scenario's fresh MongoNetworkError still restarts once
(test_incident_response.py::test_db_connection_lost_reconnects_once)."""
import datetime
import json

import pytest

from sandbox_support import wait_for
from sandboxlib.kube import KubeAPI

kubernetes = pytest.importorskip('kubernetes')

NS = 'halobuzz'
EVIDENCE_PLAYBOOK = 'tests/integration/playbooks/pod_logs_evidence.yml'


@pytest.fixture(scope='module')
def core(sandbox_env):
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=sandbox_env['KUBECONFIG']))


def restarted_backend_pods(core):
    """Backend pods whose container crashed at least once and has a terminated previous instance."""
    found = []
    for pod in core.list_namespaced_pod(NS, label_selector='app=backend').items:
        for status in pod.status.container_statuses or []:
            last = status.last_state.terminated if status.last_state else None
            if status.restart_count and last is not None and last.container_id:
                found.append(pod.metadata.name)
    return found


def test_crashloop_pods_give_previous_logs_events_and_collapsed_lines(scenario, run_playbook, core, tmp_path):
    scenario('bad-release')   # revision 3 (v1.5.1) crashes: CrashLoopBackOff, restartCount > 0
    crashed = wait_for(lambda: restarted_backend_pods(core), 'a backend pod with a previous (crashed) instance')
    # the kubelet's BackOff event (kuberuntime_manager.go: "Back-off restarting failed container"), written as a
    # kubelet would through the core/v1 Event API
    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    core.create_namespaced_event(NS, {
        'metadata': {'generateName': crashed[0] + '.'},
        'involvedObject': {'kind': 'Pod', 'namespace': NS, 'name': crashed[0], 'apiVersion': 'v1'},
        'reason': 'BackOff', 'type': 'Warning', 'count': 4, 'source': {'component': 'kubelet'},
        'firstTimestamp': now, 'lastTimestamp': now,
        'message': 'Back-off restarting failed container backend in pod %s' % crashed[0]})
    out = tmp_path / 'evidence.json'
    result = run_playbook(EVIDENCE_PLAYBOOK, '--check', '-e', 'result_file=%s' % out)
    assert result.recap['localhost']['changed'] == 0
    evidence = json.loads(out.read_text())
    by_name = {pod['name']: pod for pod in evidence['pods']}
    crashing = by_name[crashed[0]]
    assert crashing['ready'] is False and crashing['restarts'] >= 1
    assert 'process exited with code 1' in crashing['containers'][0]['previous_log']
    backoff = [e for e in crashing['events'] if e['reason'] == 'BackOff']
    assert len(backoff) == 1 and backoff[0]['count'] == 4 and backoff[0]['type'] == 'Warning'
    assert all(pod['events'] == [] for pod in evidence['pods'] if pod['ready'])
    # the same TypeError logged by every crashed pod is one entry, counted per pod, with the runtime's times
    type_error = [m for m in evidence['matches'] if 'chatRateLimit' in m['message']]
    assert len(type_error) == 1 and crashed[0] in type_error[0]['pods']
    assert type_error[0]['count'] >= len(type_error[0]['pods'])
    assert type_error[0]['first_seen'] <= type_error[0]['last_seen'] or type_error[0]['count'] == 1
    assert not type_error[0]['message'].startswith('2026-')   # the application's own timestamp is not the key
    assert set(evidence['window']) == {'since', 'until'}


def test_stale_connection_errors_do_not_restart_and_corruption_points_at_db_rollback(
        scenario, run_playbook, sandbox_env):
    scenario('healthy')
    apps = kubernetes.client.AppsV1Api(kubernetes.config.new_client_from_config(config_file=sandbox_env['KUBECONFIG']))
    generation = apps.read_namespaced_deployment('backend', NS).metadata.generation
    KubeAPI(sandbox_env['KUBECONFIG']).must('PUT', '/_sandbox/config', json={'pod_logs': [
        {'namespace': NS, 'selector': {'app': 'backend'}, 'container': 'backend', 'lines': [
            {'line': 'ERROR MongoNetworkError: connection 12 to mongodb-0.mongodb.halobuzz.svc:27017 closed',
             'age': '2d'},
            'INFO  server listening on :8080',
            'WARN  migration 2026-11-28-split-wallet left 40 documents half-written']}]})
    result = run_playbook('db_connection_lost.yml')
    summary = result.stdout[result.stdout.rindex('TASK [halobuzz.ops.incident_response : Summary]'):]
    assert result.recap['localhost']['changed'] == 0
    assert 'data looks damaged' in summary and 'was not restarted' in summary
    assert '"Did: nothing"' in summary
    assert 'Next: assess the damage, then restore the last good backup: ansible-playbook playbooks/db_rollback.yml' \
        in summary
    assert 'connection error' not in summary    # the two-day-old MongoNetworkError is outside the window
    assert apps.read_namespaced_deployment('backend', NS).metadata.generation == generation
