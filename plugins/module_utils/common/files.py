# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private folders for what the collection writes (run records, metrics snapshots, bundles): one implementation,
used by the modules (module_utils) and by the controller-side plugins (plugin_utils imports it from here)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path, hint=None):
    """Create ``path`` (and missing parents) and make it 0700, also when it existed with looser modes.

    A folder left 0755 by an older version, a checkout or a umask would otherwise keep exposing every file
    written into it. A symlink is followed (it is the operator's choice of storage, e.g. a mounted volume) but
    the folder it names must be the operator's own: another owner's folder is refused rather than chmod-ed
    (``hint`` says what to do instead).
    """
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise OSError('%s is not a directory' % path)
    if hasattr(os, 'getuid') and info.st_uid != os.getuid():
        raise OSError('%s belongs to another user (uid %d)%s' % (path, info.st_uid, ': ' + hint if hint else ''))
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def open_private(path, mode):
    """``open(path, mode)`` ('w', 'a', 'wb', 'ab'): the file created 0600, made 0600 if it existed looser; a symlink
    at ``path`` is not followed."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith('a') else os.O_TRUNC)
    flags |= getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
    descriptor = os.open(path, flags, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(descriptor).st_mode) != FILE_MODE:
            os.fchmod(descriptor, FILE_MODE)
        return os.fdopen(descriptor, mode)
    except BaseException:
        os.close(descriptor)
        raise


def write_private(path, data):
    """Write bytes to ``path`` as a whole new 0600 file through a temporary name beside it (a reader never sees
    half a file; a symlink at ``path`` is replaced, not followed)."""
    tmp = '%s.%d.tmp' % (path, os.getpid())
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
    descriptor = os.open(tmp, flags, FILE_MODE)
    try:
        with os.fdopen(descriptor, 'wb') as handle:
            handle.write(data)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
