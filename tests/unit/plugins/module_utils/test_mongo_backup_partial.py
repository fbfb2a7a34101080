"""Issue 15: mongodb_backup's partial file is made by tempfile.mkstemp in the destination folder
(created exclusively - a symlink planted at the name is never followed - and 0600), and the archive
renamed from it keeps 0600: it holds production data."""
import os
import stat

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import backup
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import MongoArchiveError


class FakeClient:
    def __init__(self, fail=None):
        self.fail = fail

    def server_info(self):
        if self.fail:
            raise self.fail
        return {'version': '7.0.0'}


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_archive_is_0600_and_no_partial_is_left(tmp_path, loose_umask):
    dest = tmp_path / 'halobuzz.archive'
    # what the old code would have opened (and followed): a symlink at dest.partial-<pid>
    victim = tmp_path / 'victim'
    victim.write_text('keep')
    (tmp_path / ('halobuzz.archive.partial-%d' % os.getpid())).symlink_to(victim)
    collections, sha256, size = backup.write(FakeClient(), [], str(dest))
    assert collections == [] and size > 0 and len(sha256) == 64
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert victim.read_text() == 'keep'
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ['halobuzz.archive', 'victim', 'halobuzz.archive.partial-%d' % os.getpid()])


def test_partial_is_private_while_written(tmp_path, loose_umask, monkeypatch):
    seen = {}

    def spy_prelude(self, entries):
        partials = [p for p in tmp_path.iterdir() if '.partial-' in p.name]
        seen['modes'] = [stat.S_IMODE(os.lstat(p).st_mode) for p in partials]
        seen['links'] = [p.is_symlink() for p in partials]
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(backup.ArchiveWriter, 'write_prelude', spy_prelude)
    with pytest.raises(MongoArchiveError, match='No space left'):
        backup.write(FakeClient(), [], str(tmp_path / 'x.archive'))
    assert seen == {'modes': [0o600], 'links': [False]}
    assert list(tmp_path.iterdir()) == []  # the partial is removed on failure


def test_unexpected_error_removes_the_partial(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        backup.write(FakeClient(fail=KeyboardInterrupt()), [], str(tmp_path / 'x.archive'))
    assert list(tmp_path.iterdir()) == []
