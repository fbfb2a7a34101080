#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: mongodb_info
short_description: Ping a MongoDB server and report a serverStatus subset and per-collection document counts
version_added: 0.1.0
description:
  - Read-only view of a MongoDB server for runbook checks before and after a database change.
  - Why this module exists. C(community.mongodb.mongodb_info) is not in the C(ansible) bundle this project pins
    and reports users and roles rather than document counts; this uses the same connection options
    (doc fragment C(halobuzz.ops.mongodb)) as M(halobuzz.ops.mongodb_restore) and M(halobuzz.ops.mongodb_backup).
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.mongodb
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Only reads; runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  databases:
    description: Databases whose collections are counted. Default is every database except C(admin), C(local) and C(config).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Count documents before a rollback
  halobuzz.ops.mongodb_info:
    mongodb_uri: "{{ mongodb_uri }}"
    databases: [halobuzz]
  register: db_before
'''

RETURN = r'''
ping:
  description: Whether the server answered C(ping).
  returned: success
  type: bool
  sample: true
server:
  description: A subset of C(serverStatus) (keys the server does not report are absent).
  returned: success
  type: dict
  sample: {version: "7.0.14", uptime: 86400, connections: {current: 12, available: 838848},
           opcounters: {insert: 10, query: 200, update: 5, delete: 0, getmore: 0, command: 300}}
collections:
  description: Document count per collection (C(db.collection)); views are not counted.
  returned: success
  type: dict
  sample: {halobuzz.users: 1200, halobuzz.payments: 5400}
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import (
    HAS_PYMONGO, MONGODB_MUTUALLY_EXCLUSIVE, MONGODB_REQUIRED_TOGETHER, PYMONGO_IMPORT_ERROR,
    MongoClientError, connect, mongodb_argument_spec, server_info)


def main():
    module = AnsibleModule(
        argument_spec=mongodb_argument_spec(databases=dict(type='list', elements='str', default=[])),
        mutually_exclusive=MONGODB_MUTUALLY_EXCLUSIVE, required_together=MONGODB_REQUIRED_TOGETHER,
        supports_check_mode=True)
    if not HAS_PYMONGO:
        module.fail_json(msg=missing_required_lib('pymongo'), exception=PYMONGO_IMPORT_ERROR)
    try:
        client = connect(module.params)
        server, collections = server_info(client, module.params['databases'])
    except MongoClientError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, ping=True, server=server, collections=collections)


if __name__ == '__main__':
    main()
