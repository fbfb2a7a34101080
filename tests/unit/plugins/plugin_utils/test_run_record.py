import datetime
import json

import pytest

from ansible_collections.halobuzz.ops.plugins.plugin_utils.run_record import (
    RunRecord,
    record_basename,
    summarize_result,
)

STARTED = datetime.datetime(2026, 1, 20, 3, 15, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize('playbook, expected', [
    ('playbooks/rollback.yml', '20260120T031500Z-rollback'),
    ('/abs/path/db_rollback.yaml', '20260120T031500Z-db_rollback'),
    ('weird name;rm -rf.yml', '20260120T031500Z-weird_name_rm_-rf'),
    (None, '20260120T031500Z-adhoc'),
])
def test_record_basename(playbook, expected):
    assert record_basename(playbook, STARTED) == expected


@pytest.mark.parametrize('result, max_chars, expected', [
    ({'msg': 'rolled back'}, 300, 'rolled back'),
    ({'msg': 'a\n  b', 'rc': 0}, 300, 'a b; rc=0'),
    ({'changed': True}, 300, 'changed'),
    ({'changed': False}, 300, ''),
    ({'before': {'image': 'v1.5.1'}, 'after': {'image': 'v1.5.0'}}, 300,
     'before={"image": "v1.5.1"}; after={"image": "v1.5.0"}'),
    ({'msg': 'x' * 50}, 10, 'xxxxxxx...'),
    ({'msg': '', 'rc': 2}, 300, 'rc=2'),
])
def test_summarize_result(result, max_chars, expected):
    assert summarize_result(result, max_chars) == expected


def test_run_record_writes_lines_and_markdown(tmp_path):
    record = RunRecord.start(str(tmp_path / 'records'), 'playbooks/rollback.yml', STARTED, {'user': 'oncall'})
    record.write({'type': 'task', 'time': STARTED.isoformat(), 'play': 'Rollback', 'task': 'Undo | rollout',
                  'host': 'localhost', 'status': 'changed', 'duration_s': 1.5, 'summary': 'revision 3 -> 4'})
    record.write({'type': 'record', 'task': 'Access', 'host': 'localhost', 'record': {'incident': 'INC-1'}})
    record.finish(STARTED + datetime.timedelta(seconds=90),
                  {'localhost': {'ok': 3, 'changed': 1, 'failures': 0, 'skipped': 0, 'unreachable': 0}})

    lines = [json.loads(line) for line in open(record.jsonl_path)]
    assert [line['type'] for line in lines] == ['run', 'task', 'record', 'stats']
    assert lines[0]['user'] == 'oncall' and lines[0]['playbook'] == 'rollback.yml'
    assert lines[-1]['result'] == 'succeeded' and lines[-1]['duration_s'] == 90.0
    markdown = open(record.markdown_path).read()
    assert 'Undo \\| rollout' in markdown  # a pipe in a task name must not break the table
    assert '| 03:15:00 | Rollback |' in markdown
    assert '"incident": "INC-1"' in markdown
    assert '| localhost | 3 | 1 | 0 | 0 | 0 |' in markdown


def test_run_record_marks_failed_runs(tmp_path):
    record = RunRecord.start(str(tmp_path), 'x.yml', STARTED, {})
    record.finish(STARTED, {'localhost': {'ok': 1, 'failures': 1}})
    assert json.loads(open(record.jsonl_path).read().splitlines()[-1])['result'] == 'failed'
    assert 'Result: **FAILED**' in open(record.markdown_path).read()
