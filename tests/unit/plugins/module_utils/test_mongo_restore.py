import bson
import pytest

from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.son import SON

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import NamespaceFilter, skip_reason
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.validate import convert_legacy_index_key, validate

from mongodump_fixtures import fixture


@pytest.mark.parametrize('db, coll, fragment', [
    ('shop', 'orders', None),
    ('shop', 'system.js', None),
    ('', 'oplog', 'oplogReplay'),
    ('admin', 'system.version', 'restoreDbUsersAndRoles'),
    ('admin', 'system.users', 'restoreDbUsersAndRoles'),
    ('shop', 'system.roles', 'restoreDbUsersAndRoles'),
    # mongodump --db shop --dumpDbUsersAndRoles (common/intents/intent.go IsUsers/IsRoles/IsAuthVersion)
    ('shop', '$admin.system.users', 'restoreDbUsersAndRoles'),
    ('shop', '$admin.system.roles', 'restoreDbUsersAndRoles'),
    ('shop', '$admin.system.version', 'restoreDbUsersAndRoles'),
    ('shop', 'system.views', 'own metadata'),
    ('shop', 'system.buckets.temps', 'time-series'),
    ('shop', 'system.profile', 'server-managed'),
    ('local', 'oplog.rs', 'internal database'),
    ('config', 'system.sessions', 'internal database'),
])
def test_skip_rules(db, coll, fragment):
    reason = skip_reason(db, coll)
    assert (reason is None) if fragment is None else (fragment in reason)


@pytest.mark.parametrize('kwargs, ns, selected, target', [
    ({}, 'shop.orders', True, 'shop.orders'),
    ({'ns_include': ['shop.*']}, 'shop.orders', True, 'shop.orders'),
    ({'ns_include': ['shop.*']}, 'shopx.orders', False, 'shopx.orders'),
    ({'ns_include': ['*.orders']}, 'a.b.orders', True, 'a.b.orders'),
    ({'ns_exclude': ['shop.tmp*']}, 'shop.tmp_1', False, 'shop.tmp_1'),
    ({'ns_include': ['shop.*'], 'ns_exclude': ['shop.orders']}, 'shop.orders', False, 'shop.orders'),
    ({'ns_include': ['a+b.*']}, 'a+b.c', True, 'a+b.c'),
    ({'ns_from': ['shop.$c$'], 'ns_to': ['shop_old.$c$']}, 'shop.orders', True, 'shop_old.orders'),
    ({'ns_from': ['$db$.$c$'], 'ns_to': ['$c$.$db$']}, 'shop.orders.v2', True, 'orders.v2.shop'),
    ({'ns_from': ['db1.caf\u00e9s'], 'ns_to': ['db1.cafes']}, 'db1.caf\u00e9s', True, 'db1.cafes'),
    ({'ns_from': ['other.$c$'], 'ns_to': ['x.$c$']}, 'shop.orders', True, 'shop.orders'),
    # issue 14 case 4, mongorestore/ns/ns.go: `*` renames, `\*` is a literal asterisk, the last matching pair wins
    ({'ns_from': ['prod.*'], 'ns_to': ['prod_restored.*']}, 'prod.users', True, 'prod_restored.users'),
    ({'ns_from': ['*.*'], 'ns_to': ['*_old.*']}, 'prod.users', True, 'prod_old.users'),
    ({'ns_from': ['prod.a\\*'], 'ns_to': ['prod.star']}, 'prod.a*', True, 'prod.star'),
    ({'ns_from': ['prod.a\\*'], 'ns_to': ['prod.star']}, 'prod.ab', True, 'prod.ab'),
    ({'ns_from': ['prod.*', 'prod.users'], 'ns_to': ['a.*', 'b.users']}, 'prod.users', True, 'b.users'),
    ({'ns_from': ['prod.users', 'prod.*'], 'ns_to': ['b.users', 'a.*']}, 'prod.users', True, 'a.users'),
    ({'ns_include': ['prod.a\\*']}, 'prod.ab', False, 'prod.ab'),
])
def test_namespace_filter(kwargs, ns, selected, target):
    ns_filter = NamespaceFilter(**kwargs)
    assert ns_filter.selects(ns) == selected
    assert ns_filter.target(ns) == target


@pytest.mark.parametrize('kwargs, message', [
    ({'ns_from': ['a.$x$'], 'ns_to': []}, 'one ns_to per ns_from'),
    ({'ns_from': ['a.$x$'], 'ns_to': ['b.$y$']}, r'uses \$y\$'),
    ({'ns_from': ['a.$x$.$x$'], 'ns_to': ['b.$x$']}, 'define each once'),
    ({'ns_from': ['a.*'], 'ns_to': ['b.c']}, 'different number of asterisks'),
    ({'ns_include': ['a.$x$']}, "'\\$' is not allowed"),
])
def test_namespace_filter_refuses(kwargs, message):
    with pytest.raises(MongoArchiveError, match=message):
        NamespaceFilter(**kwargs)


def test_rename_without_a_dot_is_refused():
    with pytest.raises(MongoArchiveError, match='not "<db>.<collection>"'):
        NamespaceFilter(ns_from=['shop.$c$'], ns_to=['$c$']).target('shop.orders')


@pytest.mark.parametrize('path, items, skipped', [
    (('archives', 'test.bar.archive'), [('test.bar', 'test.bar', 1)], ['admin.system.version']),
    (('dumps', 'testdirs'), [('db1.c1', 'db1.c1', 100), ('db1.c2', 'db1.c2', 0), ('db1.c3', 'db1.c3', 0),
                             ('db1.c4', 'db1.c4', 10), ('db2.c1', 'db2.c1', 0)], []),
    (('dumps', 'specialcharacter'), [('db1.caf\u00e9s', 'db1.caf\u00e9s', 1)], []),
])
def test_validate_plans_without_a_server(path, items, skipped):
    plan = validate(fixture(*path))
    assert [(i.entry.ns, i.ns, i.entry.count) for i in plan.items] == items
    assert [s['namespace'] for s in plan.skipped_namespaces] == skipped
    assert all(len(s['checksum']) == 64 for s in plan.summary())


def test_validate_two_sources_into_one_target_is_refused():
    with pytest.raises(MongoArchiveError, match='would both be restored into'):
        validate(fixture('dumps', 'testdirs'), NamespaceFilter(ns_from=['db1.$c$'], ns_to=['db1.same']))


def test_validate_bad_format_archive():
    with pytest.raises(MongoArchiveError, match='namespace test.ixtest.*byte offset 106'):
        validate(fixture('archives', 'bad-format.archive'))


def test_index_specs_drop_ns_and_id_index():
    plan = validate(fixture('dumps', 'indextestdump'))
    specs = plan.items[0].index_specs()
    assert [s['name'] for s in specs] == ['a_1_b_true'] and 'ns' not in specs[0]
    assert plan.items[0].expected()['indexes'] == ['{_id: 1}', '{a: 1, b: True, c: 0, d: }']


@pytest.mark.parametrize('key, expected', [
    ({'a': 1}, {'a': 1}),
    ({'a': -1.0, 'b': 2}, {'a': -1.0, 'b': 2}),
    ({'a': 0}, {'a': 1}),
    ({'a': True, 'b': '', 'c': Decimal128('0'), 'd': None}, {'a': 1, 'b': 1, 'c': 1, 'd': 1}),
    # an unknown string is kept for the server to refuse (bsonutil/indexes.go ConvertLegacyIndexKeyValue)
    ({'loc': '2dsphere', 'body': 'text', 'h': 'hashed', 'x': 'bogus'}, {'loc': '2dsphere', 'body': 'text', 'h': 'hashed', 'x': 'bogus'}),
    ({'a': 0.0, 'b': -0.0000000001, 'c': Int64(0)}, {'a': 1, 'b': -1, 'c': 1}),
    ({'p': Decimal128('-1')}, {'p': Decimal128('-1')}),
])
def test_convert_legacy_index_key(key, expected):
    converted = convert_legacy_index_key(SON(key))
    assert converted == expected and list(converted) == list(key)


def test_legacy_index_of_the_real_dump_is_converted():
    spec = validate(fixture('dumps', 'indextestdump')).items[0].index_specs(convert_legacy=True)[0]
    assert spec['key'] == {'a': 1.0, 'b': 1, 'c': 1, 'd': 1} and spec['name'] == 'a_1_b_true'


def test_per_database_users_file_of_dumpdbusersandroles_is_skipped_not_restored_as_a_collection(tmp_path):
    """mongodump --db shop --dumpDbUsersAndRoles writes shop/%24admin.system.users.bson; mongorestore's intents
    (common/intents/intent.go IsUsers) take it as users, never as a collection named "$admin.system.users"."""
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'orders.bson').write_bytes(bson.encode({'_id': 1}))
    for name in ('users', 'roles', 'version'):
        (tmp_path / 'shop' / ('%%24admin.system.%s.bson' % name)).write_bytes(bson.encode({'_id': name}))
    plan = validate(str(tmp_path))
    assert [item.ns for item in plan.items] == ['shop.orders']
    assert sorted(s['namespace'] for s in plan.skipped_namespaces) == [
        'shop.$admin.system.roles', 'shop.$admin.system.users', 'shop.$admin.system.version']
