# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: records_dir
short_description: The run-record folder, as the incident_timeline callback decides it
version_added: 0.1.0
description:
  - Returns the absolute path of the folder the run records are written to, resolved exactly as the
    C(halobuzz.ops.incident_timeline) callback resolves its C(records_dir) option (the one implementation,
    the callback's own option definition, read through Ansible's configuration) - the C(HALOBUZZ_RECORDS_DIR)
    environment variable, else C(records_dir) in the C([callback_incident_timeline]) section of C(ansible.cfg)
    (a relative path there is relative to that file), else C(records) in the current working directory.
  - For roles that write files beside the run records (the key-metrics snapshot's C(metrics-<UTC time>/)
    folder, an incident's report), so that they land where the records are, whether or not the callback is
    enabled in this run.
  - The folder is not created here; whoever writes into it creates it C(0700).
options: {}
"""

EXAMPLES = r"""
- name: Where the run records go
  ansible.builtin.debug:
    msg: "{{ lookup('halobuzz.ops.records_dir') }}"
"""

RETURN = r"""
_raw:
  description: One element, the absolute path of the run-record folder.
  type: list
  elements: path
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import callback_loader
from ansible.plugins.lookup import LookupBase

CALLBACK = 'halobuzz.ops.incident_timeline'


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleLookupError('records_dir takes no terms')
        callback = callback_loader.get(CALLBACK)
        if callback is None:
            raise AnsibleLookupError('the %s callback cannot be loaded: is halobuzz.ops installed?' % CALLBACK)
        callback.set_options()  # resolves env, ansible.cfg and default as the callback itself does
        return [os.path.abspath(os.path.expanduser(callback.get_option('records_dir')))]
