"""module_utils/vault/identity.py: when two Vault user names are the same person (issue 15 item 1)."""
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.vault.identity import (
    IdentityRefused,
    VaultIdentity,
    normalize_name,
    same_person,
)


@pytest.mark.parametrize('spelling', [
    'alice', 'ALICE', ' Alice ', 'alice@halobuzz.com', 'Alice@HALOBUZZ.COM', 'HALOBUZZ\\alice', 'halobuzz\\ALICE@x',
    '\uff41\uff4c\uff49\uff43\uff45',         # full-width
    '\u0430lice',                              # Cyrillic a
    'alic\u0435',                              # Cyrillic e
    '\u03b1lice',                              # Greek alpha
    'ALİCE'.replace('İ', 'I'),
    '\uff28\uff21\uff2c\uff2f\uff22\uff35\uff3a\uff3a\uff3calice',  # full-width DOMAIN\ (NFKC makes it ASCII)
])
def test_spellings_of_the_same_person_normalise_equal(spelling):
    assert normalize_name(spelling, 'name') == 'alice'
    assert same_person(spelling, 'alice', 'a', 'b')


@pytest.mark.parametrize('name', ['alice\u200b', '\u200balice', 'al\u200dice', 'alice\ufeff', 'alice\u00ad',
                                  'ali\x00ce', 'alice\u2028', 'alice\u202e'])
def test_non_printing_characters_are_refused(name):
    with pytest.raises(IdentityRefused, match=r'the approver contains a non-printing character \(U\+'):
        normalize_name(name, 'the approver')


@pytest.mark.parametrize('name', [None, '', '   ', '@halobuzz.com', 'HALOBUZZ\\'])
def test_empty_names_are_refused(name):
    with pytest.raises(IdentityRefused, match='is empty once normalised'):
        normalize_name(name, 'requester')


@pytest.mark.parametrize('a, b', [('alice', 'alicia'), ('alice', 'bob'), ('teamlead', 'oncall'),
                                  ('alice1', 'alicel')])
def test_different_people_stay_different(a, b):
    assert not same_person(a, b, 'a', 'b')


@pytest.mark.parametrize('data, name', [
    ({'entity_id': 'e1', 'meta': {'username': 'oncall'}, 'display_name': 'ldap-oncall'}, 'oncall'),
    ({'entity_id': 'e1', 'meta': None, 'display_name': 'ldap-oncall'}, 'oncall'),
    ({'entity_id': '', 'meta': {}, 'display_name': 'root'}, 'root'),
])
def test_identity_from_lookup_self(data, name):
    identity = VaultIdentity.from_lookup(data)
    assert identity.name == name and identity.entity_id == data['entity_id']
    assert identity.as_record()['username'] == name
