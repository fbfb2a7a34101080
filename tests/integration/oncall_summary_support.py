"""The Found / Did (Would do) / Next summary every incident playbook ends with (issue 19): how a test reads it
from a run's output, and what a dry run's summary must never say. Used by test_oncall_summary.py and by
test_check_mode.py, whose --check --diff runs of the incident playbooks are the dry runs it judges."""
from __future__ import annotations

import json
import re

# A change claimed as done: never in a dry run's summary.
# "not replaced" / "never restarted" say what was not done; a quoted message (what would be posted) is not a claim.
# Issue 19's own example of a claim is "Scaled backend from 3 to 5": any "scaled", and the verbs of files and keys.
PAST_TENSE = re.compile(r'(?<!not )(?<!never )\b(restarted|rolled back|scaled|purged|disabled|enabled|deleted|evicted|'
                        r'drained|cordoned|uncordoned|restored|posted|patched|switched|replaced|created|removed|'
                        r'wrote|written|unlinked|dropped)\b', re.IGNORECASE)
TASK = re.compile(r'^TASK \[(?P<name>.*)\] \**$', re.MULTILINE)
# The incident playbooks of the runbook, whose dry-run summaries test_check_mode.py judges. (Every role ends with
# a Summary task; the procedures' dry runs are judged by their own test files' assertions.)
SUMMARY_PLAYBOOKS = frozenset({'rollback', 'service_down', 'db_connection_lost', 'payment_failures', 'high_error_rate',
                               'redis_check', 'cache_purge', 'stream_latency', 'memory_leak', 'ai_moderation_fallback'})


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


def assert_dry_run_summary(result) -> None:
    """A --check run's summary: Found / Would do / Next, no change claimed as done, and a run that previews a
    change (changed > 0) does not say nothing would change."""
    found, would, following = summary_of(result)
    assert found.startswith('Found: ') and would.startswith('Would do: ') and following.startswith('Next: ')
    claims = PAST_TENSE.findall(re.sub(r'"[^"]*"', '""', ' '.join([found, would, following])))
    assert not claims, 'a dry run claims a change: %r in %r' % (claims, [found, would, following])
    if result.recap['localhost']['changed']:
        assert would != 'Would do: nothing would change', (would, result.stdout[-3000:])
