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
  - "Not dumped: the C(admin), C(local) and C(config) databases unless listed in O(databases) (and even then
    users, roles, the oplog and server-managed C(system.*) collections are left out, as
    M(halobuzz.ops.mongodb_restore) would skip them)."
  - When O(dest) already exists and O(force=false), nothing is written; the existing archive is validated
    and described (C(changed=false)).
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.mongodb
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Lists the collections and counts their documents; writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
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

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import backup as mongodb_backup
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import MongoArchiveError, file_sha256
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import (
    HAS_PYMONGO, MONGODB_MUTUALLY_EXCLUSIVE, MONGODB_REQUIRED_TOGETHER, PYMONGO_IMPORT_ERROR,
    MongoClientError, connect, mongodb_argument_spec)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.restore import NamespaceFilter, validate

LISTS = dict(type='list', elements='str', default=[])


def main():
    module = AnsibleModule(
        argument_spec=mongodb_argument_spec(
            dest=dict(type='path', required=True), databases=LISTS, ns_include=LISTS, ns_exclude=LISTS,
            gzip=dict(type='bool', default=False), force=dict(type='bool', default=False)),
        mutually_exclusive=MONGODB_MUTUALLY_EXCLUSIVE, required_together=MONGODB_REQUIRED_TOGETHER,
        supports_check_mode=True)
    if not HAS_PYMONGO:
        module.fail_json(msg=missing_required_lib('pymongo'), exception=PYMONGO_IMPORT_ERROR)
    p = module.params
    result = dict(changed=False, dest=p['dest'])
    try:
        if os.path.exists(p['dest']) and not p['force']:
            plan = validate(p['dest'])
            result.update(collections=plan.summary(), documents=sum(i.entry.count for i in plan.items),
                          sha256=file_sha256(p['dest']), size=os.path.getsize(p['dest']))
            module.exit_json(**result)
        client = connect(p)
        entries = mongodb_backup.select(client, p['databases'], NamespaceFilter(p['ns_include'], p['ns_exclude']))
        if module.check_mode:
            mongodb_backup.count(client, entries)
            collections = [dict(namespace=e.ns, type=e.kind, documents=e.count) for e in entries]
        else:
            collections, result['sha256'], result['size'] = mongodb_backup.write(client, entries, p['dest'], p['gzip'])
        result.update(changed=True, collections=collections,
                      documents=sum(c.get('documents', 0) for c in collections))
    except (MongoArchiveError, MongoClientError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
