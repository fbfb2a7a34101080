"""mongodb_restore main(): validation comes before the connection and any write; check mode never writes."""
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import restore as restore_utils
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.preflight import PreflightResult
from ansible_collections.halobuzz.ops.plugins.modules import mongodb_restore
from module_harness import Exit, Fail, raise_on_exit

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'fixtures', 'mongodump')


def fixture(*parts):
    return os.path.normpath(os.path.join(FIXTURES, *parts))


@pytest.fixture
def module_calls(monkeypatch):
    calls = []

    raise_on_exit(monkeypatch)
    monkeypatch.setattr(restore_utils, 'connect', lambda params: calls.append('connect') or object())
    monkeypatch.setattr(restore_utils, 'compare', lambda client, plan, extra, convert: (
        calls.append('compare') or (False, {}, {})))
    monkeypatch.setattr(restore_utils, 'preflight', lambda *a, **k: (
        calls.append('preflight') or PreflightResult((7, 0, 0), [])))
    monkeypatch.setattr(restore_utils, 'restore', lambda *a, **k: calls.append('restore'))
    return calls


def run(args):
    with patch_module_args(args):
        mongodb_restore.main()


@pytest.mark.parametrize('src, message', [
    (fixture('archives', 'bad-format.archive'), 'byte offset 106'),
    (fixture('bson', 'random_bytes.bson'), 'not a mongodump archive'),
    ('/nonexistent/x.archive', 'does not exist'),
])
def test_bad_source_fails_before_connecting(module_calls, src, message):
    with pytest.raises(Fail) as failed:
        run({'mongodb_uri': 'mongodb://u:secret@db:27017/', 'src': src})
    assert message in failed.value.args[0]['msg'] and 'nothing was written' in failed.value.args[0]['msg']
    assert module_calls == []


@pytest.mark.parametrize('check_mode, expected_calls', [
    (True, ['connect', 'compare', 'preflight']),
    (False, ['connect', 'compare', 'preflight', 'restore']),
])
def test_check_mode_never_restores(module_calls, check_mode, expected_calls):
    with pytest.raises(Exit) as done:
        run({'mongodb_uri': 'mongodb://db/', 'src': fixture('archives', 'test.bar.archive'),
             '_ansible_check_mode': check_mode})
    assert module_calls == expected_calls
    result = done.value.args[0]
    assert result['changed'] and result['documents'] == 1 and result['source_kind'] == 'archive'


def test_failure_during_the_restore_says_writing_began(module_calls, monkeypatch):
    def broken(*args, **kwargs):
        raise MongoArchiveError('inserting into test.bar failed: connection reset')
    monkeypatch.setattr(restore_utils, 'restore', broken)
    with pytest.raises(Fail) as failed:
        run({'mongodb_uri': 'mongodb://db/', 'src': fixture('archives', 'test.bar.archive')})
    assert 'failed after writing began' in failed.value.args[0]['msg']


def test_batch_size_must_be_positive(module_calls):
    with pytest.raises(Fail, match='batch_size must be at least 1'):
        run({'mongodb_uri': 'mongodb://db/', 'src': fixture('archives', 'test.bar.archive'), 'batch_size': 0})
