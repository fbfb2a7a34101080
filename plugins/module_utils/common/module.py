# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every halobuzz.ops module.

A module file is documentation, its own options and a ``main()`` of a few lines::

    module = HaloBuzzModule(MONGODB_CONNECTION, argument_spec=dict(dest=dict(type='path')),
                            supports_check_mode=True)
    module.run(lambda: backup(module.params, module.check_mode))

``HaloBuzzModule`` merges the system's connection options (``common.connection.Connection``, declared once per system in
``module_utils/<system>/client.py`` and documented once in ``doc_fragments/<system>.py``), reports a
missing client library with ``missing_required_lib``, and in ``run()`` turns a ``HaloBuzzError`` into
``fail_json`` with the error's message. Success results go through ``exit()``: ``warnings`` become
Ansible warnings and, in diff mode, ``before``/``after`` become the ``diff``.

The pattern follows community.hashi_vault's ``HashiVaultModule`` (one shared argspec per system) and
amazon.aws' ``AnsibleAWSModule`` (one error path), on plain ``AnsibleModule``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError


class HaloBuzzModule(AnsibleModule):
    """``AnsibleModule`` with one system's connection options, library check and error path."""

    def __init__(self, connection, argument_spec=None, mutually_exclusive=None,
                 required_together=None, **kwargs):
        spec = copy.deepcopy(connection.argument_spec)
        spec.update(argument_spec or {})
        super(HaloBuzzModule, self).__init__(
            argument_spec=spec,
            mutually_exclusive=connection.mutually_exclusive + list(mutually_exclusive or []),
            required_together=connection.required_together + list(required_together or []),
            **kwargs)
        for library, import_error in connection.libraries:
            if import_error is not None:
                self.fail_json(msg=missing_required_lib(library), exception=str(import_error))
        if connection.on_start is not None:
            connection.on_start(self)

    def run(self, work):
        """``exit(work())``; a ``HaloBuzzError`` from ``work`` becomes ``fail_json``."""
        try:
            result = work()
        except HaloBuzzError as error:
            self.fail_json(msg=str(error), **error.result)
        self.exit(result)

    def exit(self, result):
        """``exit_json`` with ``warnings`` turned into warnings and, in diff mode, a before/after diff."""
        result = dict(result)
        for warning in result.pop('warnings', None) or []:
            self.warn(warning)
        if self._diff and 'diff' not in result and 'before' in result and 'after' in result:
            result['diff'] = dict(before=result['before'], after=result['after'])
        self.exit_json(**result)
