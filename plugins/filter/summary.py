# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one closing summary of every incident playbook (issue 19): Found / Did (Would do) / Next.

An on-call engineer reads the last lines of a run first. They say what was found, what was changed (or, in check
mode, what would be: never a past-tense claim of a change that did not happen), and what to do next. Details stay
in the run record.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

ALL_IS_WELL = 'nothing: all is well'


def _change_text(change):
    """'restart deployment backend (3 -> 4)' from {'what': ..., 'before': 3, 'after': 4} or a plain string."""
    if isinstance(change, str):
        return change.strip()
    if not isinstance(change, dict) or not change.get('what'):
        raise AnsibleFilterError("oncall_summary: each change is a string or a dict with 'what' (and optional "
                                 "'before'/'after'), not %r" % (change,))
    text = to_text(change['what']).strip()
    before, after = change.get('before'), change.get('after')
    if before is not None or after is not None:
        text += ' (%s -> %s)' % (to_text('-' if before is None else before), to_text('-' if after is None else after))
    return text


def oncall_summary(found, changes=None, next_step=None, check_mode=False):
    """Three lines: 'Found: ...', 'Did: ...' or 'Would do: ...' under check mode, 'Next: ...'.

    `changes` lists each change made (or that would be made) as {'what', 'before', 'after'} or a string;
    `next_step` is the next command or playbook; empty means nothing is left to do.
    """
    found_text = ' '.join(to_text(found or '').split())
    if not found_text:
        raise AnsibleFilterError('oncall_summary: the verdict (the input) is empty; say what was found')
    if changes is None:
        changes = []
    if isinstance(changes, (str, dict)):
        changes = [changes]
    try:
        change_texts = [text for text in (_change_text(change) for change in changes) if text]
    except TypeError:
        raise AnsibleFilterError('oncall_summary: changes must be a list, not %r' % (changes,))
    verb = 'Would do' if check_mode else 'Did'
    did = '; '.join(change_texts) if change_texts else ('nothing would change' if check_mode else 'nothing')
    next_text = ' '.join(to_text(next_step or '').split()) or ALL_IS_WELL
    return ['Found: %s' % found_text, '%s: %s' % (verb, did), 'Next: %s' % next_text]


class FilterModule:
    def filters(self):
        return {'oncall_summary': oncall_summary}
