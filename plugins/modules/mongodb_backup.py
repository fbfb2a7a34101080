#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: mongodb_backup
short_description: Write a mongodump-compatible archive of chosen MongoDB databases and collections
version_added: 0.1.0
description:
  - Dumps databases/collections into one C(mongodump --archive) compatible file (optionally gzip), which
    C(mongorestore --archive) and M(halobuzz.ops.mongodb_restore) can read.
  - Why this module exists. C(community.mongodb) has no backup module and AWX execution environments rarely
    carry C(mongodump); this is plain Python over pymongo.
  - Documents are written as the raw BSON the server returns (every BSON type kept exactly); each
    collection's options and index definitions go into its metadata; each namespace ends with the CRC-64
    mongorestore checks.
  - The archive is written to a temporary file beside O(dest) and renamed into place when complete.
  - "Time-series collections are dumped as C(mongodump) dumps them: their bucket documents, read from
    C(system.buckets.<name>) on servers before 8.3 and written under that namespace; on servers 8.3 and later
    (time-series collections without C(system.buckets), 'viewless') read from the collection itself with
    C(rawData) (the login needs the action C(performRawDataOperations), as in the built-in C(backup) role) and
    written under the collection's name. The archive header carries the server version, which tells
    C(mongorestore) and M(halobuzz.ops.mongodb_restore) which of the two it holds. A server that does not report
    its version fails the task for its time-series collections, before anything is written."
  - "Not dumped: the C(admin), C(local) and C(config) databases unless listed in O(databases) (and even then
    users, roles, the oplog and server-managed C(system.*) collections are left out, as
    M(halobuzz.ops.mongodb_restore) would skip them)."
  - When O(dest) already exists and O(force=false), nothing is written; the existing archive is validated
    and described (C(changed=false)).
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.mongodb
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_mongodb
attributes:
  check_mode:
    support: full
    details: Lists the collections and counts their documents; writes nothing.
  diff_mode:
    support: none
options:
  dest:
    description: Path of the archive to write. Its directory must exist.
    type: path
    required: true
  databases:
    description: Databases to dump. Default is every database except C(admin), C(local) and C(config).
    type: list
    elements: str
    default: []
  ns_include:
    description: Dump only namespaces (C(db.collection)) matching one of these patterns (C(*) matches any characters).
    type: list
    elements: str
    default: []
  ns_exclude:
    description: Leave out namespaces matching one of these patterns.
    type: list
    elements: str
    default: []
  gzip:
    description: Compress the archive with gzip (as C(mongodump --archive --gzip)).
    type: bool
    default: false
  force:
    description: Overwrite O(dest) when it exists.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Take a safety backup of the halobuzz database before a rollback
  halobuzz.ops.mongodb_backup:
    mongodb_uri: "{{ mongodb_uri }}"
    dest: "/var/backups/halobuzz/safety-{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}.archive.gz"
    databases: [halobuzz]
    gzip: true
  register: safety

- name: Dump only the users and payments collections
  halobuzz.ops.mongodb_backup:
    mongodb_uri: "{{ mongodb_uri }}"
    dest: /tmp/users-payments.archive
    ns_include: ["halobuzz.users", "halobuzz.payments"]
'''

RETURN = r'''
dest:
  description: Path of the archive.
  returned: success
  type: str
  sample: /var/backups/halobuzz/safety-20260126T031500Z.archive.gz
sha256:
  description: sha256 of the archive file as written (absent in check mode).
  returned: success and not check mode
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
size:
  description: Size of the archive file in bytes (absent in check mode).
  returned: success and not check mode
  type: int
  sample: 1048576
collections:
  description: Each dumped collection with its document count and content checksum (as mongodb_restore computes it).
  returned: success
  type: list
  elements: dict
  sample: [{namespace: halobuzz.users, type: collection, documents: 1200, checksum: 4acb009e5522...}]
documents:
  description: Total documents dumped.
  returned: success
  type: int
  sample: 1200
'''

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.backup import run_backup
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import MONGODB_CONNECTION

OPTIONS = dict(
    dest=dict(type='path', required=True),
    databases=dict(type='list', elements='str', default=[]),
    ns_include=dict(type='list', elements='str', default=[]),
    ns_exclude=dict(type='list', elements='str', default=[]),
    gzip=dict(type='bool', default=False),
    force=dict(type='bool', default=False),
)


def main():
    module = HaloBuzzModule(MONGODB_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: run_backup(module.params, module.check_mode))


if __name__ == '__main__':
    main()
