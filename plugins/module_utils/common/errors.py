# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error type every halobuzz.ops module reports.

Each system's logic raises a subclass (``RolloutError``, ``MongoArchiveError``, ``RedisCheckError``,
``VaultAccessError``, ``EksNodegroupError``, ...) whose message says what was being done, to what, and
what to do next. ``HaloBuzzModule.run`` turns any of them into ``fail_json(msg=...)``, so a module never
shows a traceback for bad input or a service's refusal. Library errors (botocore, pymongo, hvac, redis,
kubernetes) are translated into these at the system's client layer, never in a module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class HaloBuzzError(Exception):
    """A step that cannot be done; ``str(error)`` is the message the user sees.

    ``result`` holds extra return values that must reach the user with the failure (for example
    the accessor of a Vault token that was opened before the failure, so that it can be revoked).
    """

    def __init__(self, message, **result):
        super(HaloBuzzError, self).__init__(message)
        self.result = result
