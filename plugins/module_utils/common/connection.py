# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one system (Kubernetes, MongoDB, Redis, Vault, AWS) brings to each of its modules.

Declared once per system, in ``module_utils/<system>/client.py`` (``K8S_CONNECTION``, ``MONGODB_CONNECTION``,
...), documented once in that system's doc fragment, and merged into every module by ``HaloBuzzModule``.
A plain description, so that a system's lowest layer does not depend on the module base.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class Connection:
    """What one system brings to each of its modules: options, libraries and option rules.

    ``libraries`` is a list of ``(pip name, import error or None)``; ``on_start(module)``, if
    given, runs once the parameters are validated (e.g. to mask secrets inside a kubeconfig).
    """

    def __init__(self, argument_spec, libraries=(), mutually_exclusive=(), required_together=(),
                 on_start=None):
        self.argument_spec = argument_spec
        self.libraries = list(libraries)
        self.mutually_exclusive = [list(group) for group in mutually_exclusive]
        self.required_together = [list(group) for group in required_together]
        self.on_start = on_start
