"""Issue 19: every incident playbook ends with one Found / Did (Would do) / Next summary.

- In `healthy`, every incident playbook ends with the three lines, says all is well, changes nothing (changed=0)
  and posts nothing to Slack.
- Under --check, the last output has the three lines, "Would do:", and no past-tense claim of a change.
- After an AI_MODERATION fallback (a new revision that only changes env), rollback.yml --check says it would turn
  AI_MODERATION back on: the rollback's summary shows env changes between revisions, not only images.

The summary is the `Summary` debug task of halobuzz.ops.oncall_summary (plugins/filter/summary.py). Lean on
purpose: the playbooks run in file order, grouped by scenario, and a scenario is switched only when the next
test needs another one or a run changed the world (see `world`).
"""
from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request

import pytest

from sandbox_support import wait_for

kubernetes = pytest.importorskip('kubernetes')

NS = 'halobuzz'
# A change claimed as done: never in a dry run's summary.
# "not replaced" / "never restarted" say what was not done; a quoted message (what would be posted) is not a claim.
# Issue 19's own example of a claim is "Scaled backend from 3 to 5": any "scaled", and the verbs of files and keys.
PAST_TENSE = re.compile(r'(?<!not )(?<!never )\b(restarted|rolled back|scaled|purged|disabled|enabled|deleted|evicted|'
                        r'drained|cordoned|uncordoned|restored|posted|patched|switched|replaced|created|removed|'
                        r'wrote|written|unlinked|dropped)\b', re.IGNORECASE)
TASK = re.compile(r'^TASK \[(?P<name>.*)\] \**$', re.MULTILINE)


def summary_of(result) -> list[str]:
    """The msg of the last task of the run, which must be a task named Summary printing three lines."""
    tasks = list(TASK.finditer(result.stdout))
    assert tasks, result.stdout[-3000:]
    last = tasks[-1]
    assert last.group('name').endswith(': Summary') or last.group('name') == 'Summary', \
        'the last task is %r, not Summary\n%s' % (last.group('name'), result.stdout[-3000:])
    body = result.stdout[last.end():].split('\nPLAY RECAP')[0]
    answer = body[body.index('=>') + 2:].strip()
    lines = json.JSONDecoder().raw_decode(answer)[0]['msg']
    assert isinstance(lines, list) and len(lines) == 3, lines
    return lines


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


# (scenario, playbook, extra args): the scenario in which the playbook would change something, where there is one.
CHECK = [
    ('bad-release', 'rollback', ()),
    ('bad-release', 'service_down', ()),
    ('payment-failures', 'payment_failures', ()),
    ('high-error-rate', 'high_error_rate', ()),
    ('stream-latency', 'cache_purge', ()),
    ('stream-latency', 'stream_latency', ()),
    ('db-corruption', 'db_connection_lost', ()),
    ('ai-moderation-down', 'ai_moderation_fallback', ()),
    ('memory-leak', 'memory_leak', ()),
]
# redis_check is read-only and its healthy run above is the same code path; the procedures (scale_up,
# maintenance, db_rollback, break_glass) have their dry runs in their own test files.


@pytest.mark.parametrize('scenario_name, playbook, args',
                         [pytest.param(s, p, a, id='%s-%s' % (s, p)) for s, p, a in CHECK])
def test_check_mode_summary_says_what_would_be_done(scenario_name, playbook, args, world, run_playbook):
    world(scenario_name)
    result = run_playbook('%s.yml' % playbook, '--check', *args)
    found, would, following = summary_of(result)
    assert found.startswith('Found: ') and would.startswith('Would do: ') and following.startswith('Next: ')
    claims = PAST_TENSE.findall(re.sub(r'"[^"]*"', '""', ' '.join([found, would, following])))
    assert not claims, 'a dry run claims a change: %r in %r' % (claims, [found, would, following])
    if result.recap['localhost']['changed']:
        assert would != 'Would do: nothing would change', (would, result.stdout[-3000:])
