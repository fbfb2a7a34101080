"""mongodb_backup main(): an existing archive is described, not overwritten; check mode only counts."""
import hashlib
import os
import shutil

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import backup as backup_utils
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import MongoClientError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import CollectionEntry
from ansible_collections.halobuzz.ops.plugins.modules import mongodb_backup
from module_harness import Exit, Fail, raise_on_exit

TEST_BAR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'fixtures',
                                         'mongodump', 'archives', 'test.bar.archive'))


@pytest.fixture
def calls(monkeypatch):
    calls = []

    raise_on_exit(monkeypatch)

    def select(client, databases, ns_filter):
        calls.append(('select', databases, ns_filter.selects('shop.orders'), ns_filter.selects('shop.tmp')))
        entry = CollectionEntry('shop', 'orders')
        entry.count = 3
        return [entry, CollectionEntry('shop', 'recent', kind='view')]

    monkeypatch.setattr(backup_utils, 'connect', lambda params: calls.append('connect') or object())
    monkeypatch.setattr(backup_utils, 'select', select)
    monkeypatch.setattr(backup_utils, 'count', lambda client, entries: calls.append('count') or entries)
    monkeypatch.setattr(backup_utils, 'write', lambda client, entries, dest, compress: calls.append(
        ('write', dest, compress)) or ([{'namespace': 'shop.orders', 'type': 'collection', 'documents': 3,
                                        'checksum': 'c' * 64}, {'namespace': 'shop.recent', 'type': 'view'}],
                                       'a' * 64, 1234))
    return calls


def run(args):
    with patch_module_args(dict(mongodb_uri='mongodb://db/', **args)):
        mongodb_backup.main()


@pytest.mark.parametrize('check_mode', [False, True])
def test_existing_archive_is_described_not_overwritten(calls, tmp_path, check_mode):
    dest = str(tmp_path / 'safety.archive')
    shutil.copyfile(TEST_BAR, dest)
    with pytest.raises(Exit) as done:
        run({'dest': dest, '_ansible_check_mode': check_mode})
    result = done.value.args[0]
    assert calls == []
    assert result['changed'] is False and result['dest'] == dest and result['documents'] == 1
    assert [c['namespace'] for c in result['collections']] == ['test.bar']
    assert result['sha256'] == hashlib.sha256(open(TEST_BAR, 'rb').read()).hexdigest()
    assert result['size'] == os.path.getsize(TEST_BAR)


def test_force_overwrites_an_existing_archive(calls, tmp_path):
    dest = str(tmp_path / 'safety.archive')
    shutil.copyfile(TEST_BAR, dest)
    with pytest.raises(Exit) as done:
        run({'dest': dest, 'force': True, 'gzip': True})
    assert calls[-1] == ('write', dest, True)
    assert done.value.args[0]['changed'] is True


def test_backup_writes_and_reports(calls, tmp_path):
    dest = str(tmp_path / 'new.archive')
    with pytest.raises(Exit) as done:
        run({'dest': dest, 'databases': ['shop'], 'ns_exclude': ['shop.tmp']})
    assert calls == ['connect', ('select', ['shop'], True, False), ('write', dest, False)]
    result = done.value.args[0]
    assert result['changed'] is True and result['documents'] == 3
    assert result['sha256'] == 'a' * 64 and result['size'] == 1234 and len(result['collections']) == 2


def test_check_mode_counts_and_writes_nothing(calls, tmp_path):
    dest = str(tmp_path / 'new.archive')
    with pytest.raises(Exit) as done:
        run({'dest': dest, '_ansible_check_mode': True})
    assert calls == ['connect', ('select', [], True, True), 'count']
    result = done.value.args[0]
    assert result['changed'] is True and result['documents'] == 3 and 'sha256' not in result
    assert result['collections'] == [{'namespace': 'shop.orders', 'type': 'collection', 'documents': 3},
                                     {'namespace': 'shop.recent', 'type': 'view', 'documents': 0}]
    assert not os.path.exists(dest)


def test_unreachable_server_fails_with_the_client_message(calls, monkeypatch, tmp_path):
    def unreachable(params):
        raise MongoClientError('cannot reach MongoDB at db: timed out; check mongodb_uri')
    monkeypatch.setattr(backup_utils, 'connect', unreachable)
    with pytest.raises(Fail) as failed:
        run({'dest': str(tmp_path / 'new.archive')})
    assert failed.value.args[0]['msg'] == 'cannot reach MongoDB at db: timed out; check mongodb_uri'
