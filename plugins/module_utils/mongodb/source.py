# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dump to read: a mongodump archive file or a mongodump dump directory, behind one interface."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import ArchiveReader
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.dump_dir import DumpDirectory
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import MongoArchiveError


def open_source(path):
    """An :class:`ArchiveReader` for a file, a :class:`DumpDirectory` for a directory."""
    if os.path.isdir(path):
        return DumpDirectory(path)
    if not os.path.exists(path):
        raise MongoArchiveError('archive %s does not exist; give the path of a mongodump archive '
                                '(file) or dump directory' % path)
    return ArchiveReader(path)
