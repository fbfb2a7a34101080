"""Issue 15: run records are the operator's alone - folder 0700, files 0600 - also when the folder
or a file existed before with looser modes (an older version, a checkout or a umask of 022)."""
import datetime
import os
import stat

import pytest

from ansible_collections.halobuzz.ops.plugins.plugin_utils.run_record import RunRecord, open_private, private_dir

STARTED = datetime.datetime(2026, 1, 20, 3, 15, 0, tzinfo=datetime.timezone.utc)
FINISHED = STARTED + datetime.timedelta(seconds=5)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _run(records_dir):
    record = RunRecord.start(str(records_dir), 'playbooks/break_glass.yml', STARTED, {'user': 'oncall'})
    record.write({'type': 'task', 'time': STARTED.isoformat(), 'play': 'p', 'task': 't', 'host': 'localhost',
                  'status': 'ok', 'duration_s': 0.1, 'summary': 'reason: restore'})
    record.finish(FINISHED, {'localhost': {'ok': 1}})
    return record


def test_new_records_folder_is_0700_and_files_0600(tmp_path, loose_umask):
    record = _run(tmp_path / 'a' / 'records')
    assert _mode(tmp_path / 'a' / 'records') == 0o700
    assert _mode(record.jsonl_path) == 0o600
    assert _mode(record.markdown_path) == 0o600


def test_existing_loose_folder_and_files_are_tightened(tmp_path, loose_umask):
    records = tmp_path / 'records'
    records.mkdir(mode=0o755)
    os.chmod(records, 0o755)
    old = records / 'old.jsonl'
    old.write_text('{}\n')
    os.chmod(old, 0o644)
    # a file of this run already there with 0644 (a clock step, a rerun in the same second)
    stale = records / '20260120T031500Z-break_glass.md'
    stale.write_text('stale')
    os.chmod(stale, 0o644)
    record = _run(records)
    assert _mode(records) == 0o700
    assert _mode(record.markdown_path) == 0o600 and _mode(record.jsonl_path) == 0o600
    assert 'stale' not in open(record.markdown_path).read()
    # older records are no longer readable by others either: the folder is 0700
    assert _mode(old) == 0o644


def test_a_symlink_in_place_of_a_record_file_is_not_followed(tmp_path):
    records = tmp_path / 'records'
    private_dir(str(records))
    target = tmp_path / 'elsewhere'
    target.write_text('keep')
    link = records / 'x.jsonl'
    link.symlink_to(target)
    with pytest.raises(OSError):
        open_private(str(link), 'a')
    assert target.read_text() == 'keep'


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    path = tmp_path / 'records'
    path.write_text('')
    with pytest.raises(OSError):
        private_dir(str(path))
