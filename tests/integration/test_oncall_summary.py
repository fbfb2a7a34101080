"""Issue 19: every incident playbook ends with one Found / Did (Would do) / Next summary.

- In `healthy`, every incident playbook ends with the three lines, says all is well, changes nothing (changed=0)
  and posts nothing to Slack.
- Under --check, the last output has the three lines, "Would do:", and no past-tense claim of a change: judged on
  test_check_mode.py's --check --diff runs of the incident playbooks (oncall_summary_support.assert_dry_run_summary),
  which are the same dry runs in the same scenarios; service_down's bad-release dry run is here.
- After an AI_MODERATION fallback (a new revision that only changes env), rollback.yml --check says it would turn
  AI_MODERATION back on: the rollback's summary shows env changes between revisions, not only images.

The summary is the `Summary` debug task of halobuzz.ops.oncall_summary (plugins/filter/summary.py). Lean on
purpose: the playbooks run in file order, grouped by scenario, and a scenario is switched only when the next
test needs another one or a run changed the world (see `world`).
"""
from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from oncall_summary_support import PAST_TENSE, assert_dry_run_summary, summary_of
from sandbox_support import wait_for

kubernetes = pytest.importorskip('kubernetes')

NS = 'halobuzz'


def slack_count(env) -> int:
    parts = urllib.parse.urlsplit(env['SLACK_WEBHOOK_URL'])
    with urllib.request.urlopen('%s://%s/_sandbox/messages' % (parts.scheme, parts.netloc), timeout=10) as answer:
        return len(json.load(answer)['messages'])


@pytest.fixture(scope='module')
def world(scenario):
    """ensure(name): the scenario, switched only when another one is needed or a run changed the world."""
    state = {'name': None}

    def ensure(name):
        if state['name'] != name:
            state['name'] = None  # a failing switch leaves nothing to trust
            scenario(name)
            state['name'] = name

    def dirty():
        state['name'] = None

    ensure.dirty = dirty
    return ensure


# cache_purge in healthy is in test_redis_cache_purge.py (test_cache_purge_on_the_sandbox_world): it is a purge
# the on-call asks for, not a triage, so its first run deletes the stream cache; its second run says all is well.
HEALTHY = ['service_down', 'db_connection_lost', 'payment_failures', 'high_error_rate', 'redis_check',
           'stream_latency', 'memory_leak', 'ai_moderation_fallback']


@pytest.mark.parametrize('playbook', [pytest.param(name, id=name) for name in HEALTHY])
def test_healthy_run_says_all_is_well_and_changes_nothing(playbook, world, run_playbook, sandbox_env):
    world('healthy')
    posted = slack_count(sandbox_env)
    result = None
    try:
        result = run_playbook('%s.yml' % playbook)
        found, did, following = summary_of(result)
        assert found.startswith('Found: ') and did == 'Did: nothing', (found, did)
        assert following == 'Next: nothing: all is well', following
        assert result.recap['localhost']['changed'] == 0, result.stdout[-3000:]
        assert slack_count(sandbox_env) == posted
    finally:
        if result is None or result.recap.get('localhost', {}).get('changed', 1) != 0:
            world.dirty()


def test_rollback_check_after_an_env_only_revision_says_it_turns_the_env_back(world, run_playbook, sandbox_env):
    """An ai_moderation fallback's new revision changes only env (same image); rollback.yml --check must say it
    would turn AI_MODERATION back on, not 'v1.5.1 -> v1.5.1' (issue 19)."""
    world('healthy')
    world.dirty()  # this test makes a revision
    api = kubernetes.config.new_client_from_config(config_file=sandbox_env['KUBECONFIG'])
    try:
        apps = kubernetes.client.AppsV1Api(api)
        before = apps.read_namespaced_deployment('backend', NS)
        revision = int(before.metadata.annotations['deployment.kubernetes.io/revision'])
        container = before.spec.template.spec.containers[0].name
        # what `kubectl set env deployment/backend AI_MODERATION=false` sends: a strategic merge of the env
        apps.patch_namespaced_deployment('backend', NS, {
            'metadata': {'annotations': {'kubernetes.io/change-cause': 'ai moderation fallback (test)'}},
            'spec': {'template': {'spec': {'containers': [
                {'name': container, 'env': [{'name': 'AI_MODERATION', 'value': 'false'}]}]}}}})
        wait_for(lambda: apps.read_namespaced_deployment('backend', NS).metadata.annotations.get(
            'deployment.kubernetes.io/revision') == str(revision + 1), 'the fallback revision %d' % (revision + 1))
    finally:
        api.close()
    result = run_playbook('rollback.yml', '--check', '--diff')
    found, would, _following = summary_of(result)
    assert 'runs revision %d' % (revision + 1) in found
    assert 'env %s AI_MODERATION: false -> true' % container in would, would
    assert 'change-cause: ai moderation fallback (test) -> ' in would
    assert '"AI_MODERATION": "false"' in result.stdout and '"AI_MODERATION": "true"' in result.stdout  # the diff
    assert not PAST_TENSE.findall(would)


def test_service_down_dry_run_in_a_bad_release_says_what_would_be_done(world, run_playbook):
    """The dry runs of the incident playbooks in the scenarios where they would act are test_check_mode.py's
    (the same --check runs, judged by assert_dry_run_summary); service_down runs there in `healthy`, so its
    bad-release dry run is here."""
    world('bad-release')
    assert_dry_run_summary(run_playbook('service_down.yml', '--check'))
