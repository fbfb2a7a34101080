# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who a Vault token belongs to, and when two names are the same person.

The two-person break glass compares the approver and the requester as *Vault identities*: the
``entity_id`` Vault gives a login (one entity per auth-method alias; a non-orphan child token
inherits its parent's, vault/token_store.go handleCreateCommon) and the user name the auth method
put in the token's ``meta.username`` (the LDAP method does, builtin/credential/ldap). Names typed on
the command line are never compared as proof.

Two names are the same person when their normal forms are equal: Unicode NFKC (full-width
``ａｌｉｃｅ`` -> ``alice``), case folded, ``DOMAIN\\`` and ``@domain`` stripped, and letters that look
Latin but are Cyrillic or Greek (``аlice`` with a Cyrillic a) mapped to the Latin letter they imitate
(a small part of Unicode TR39's confusables, the letters a name can be spoofed with). A name with a
non-printing character (zero-width space, joiner, BOM, control or format characters) is refused:
it cannot be compared safely.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import unicodedata

from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import VaultAccessError

# Cyrillic and Greek lower-case letters that render like Latin ones (Unicode confusables.txt, TR39),
# after NFKC and casefold.
_CONFUSABLES = {
    u'\u0430': 'a', u'\u0432': 'b', u'\u0435': 'e', u'\u0451': 'e', u'\u043a': 'k', u'\u043c': 'm',
    u'\u043d': 'h', u'\u043e': 'o', u'\u0440': 'p', u'\u0441': 'c', u'\u0442': 't', u'\u0443': 'y',
    u'\u0445': 'x', u'\u0456': 'i', u'\u0457': 'i', u'\u0458': 'j', u'\u0455': 's', u'\u0501': 'd',
    u'\u04bb': 'h', u'\u04cf': 'l', u'\u051b': 'q', u'\u051d': 'w', u'\u0261': 'g',
    u'\u03b1': 'a', u'\u03b2': 'b', u'\u03b5': 'e', u'\u03b9': 'i', u'\u03ba': 'k', u'\u03bd': 'v',
    u'\u03bf': 'o', u'\u03c1': 'p', u'\u03c4': 't', u'\u03c5': 'u', u'\u03c7': 'x', u'\u03b7': 'n',
}
_NON_PRINTING = ('Cc', 'Cf', 'Cs', 'Co', 'Cn', 'Zl', 'Zp')


class IdentityRefused(VaultAccessError):
    """A name that cannot be compared safely, or two identities that are the same person."""


def normalize_name(name, what):
    """The comparable form of ``name`` (see the module doc); IdentityRefused names ``what`` when it
    is empty or holds a non-printing character."""
    text = u'' if name is None else u'%s' % (name,)
    text = unicodedata.normalize('NFKC', text)
    for char in text:
        category = unicodedata.category(char)
        if category in _NON_PRINTING or (category == 'Zs' and char != u' '):
            raise IdentityRefused('%s contains a non-printing character (U+%04X): it cannot be compared with '
                                  'another name safely. Refused.' % (what, ord(char)))
    text = text.strip().casefold()
    if '\\' in text:
        text = text.rsplit('\\', 1)[1]
    if '@' in text:
        text = text.split('@', 1)[0]
    text = u''.join(_CONFUSABLES.get(char, char) for char in text).strip()
    if not text:
        raise IdentityRefused('%s is empty once normalised: give a user name.' % (what,))
    return text


def same_person(name_a, name_b, what_a, what_b):
    return normalize_name(name_a, what_a) == normalize_name(name_b, what_b)


class VaultIdentity(object):
    """A token's identity as Vault reports it: entity, user name, display name."""

    def __init__(self, entity_id, username, display_name):
        self.entity_id = entity_id or ''
        self.username = username or ''
        self.display_name = display_name or ''

    @property
    def name(self):
        """The user name: meta.username, else the display name less its '<method>-' prefix."""
        if self.username:
            return self.username
        if '-' in self.display_name:
            return self.display_name.split('-', 1)[1]
        return self.display_name

    @classmethod
    def from_lookup(cls, data):
        """From auth/token/lookup-self's data."""
        meta = data.get('meta') or {}
        return cls(data.get('entity_id'), meta.get('username'), data.get('display_name'))

    def as_record(self):
        return {'entity_id': self.entity_id, 'username': self.name, 'display_name': self.display_name}
