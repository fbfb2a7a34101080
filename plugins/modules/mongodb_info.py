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
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_mongodb
  - halobuzz.ops.attributes.read_only
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

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import MONGODB_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.info import run_info

OPTIONS = dict(
    databases=dict(type='list', elements='str', default=[]),
)


def main():
    module = HaloBuzzModule(MONGODB_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: run_info(module.params))


if __name__ == '__main__':
    main()
