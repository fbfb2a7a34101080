"""mongodb_info main() on a stand-in client, and the connection every MongoDB module shares."""
import pytest
from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.testing import patch_module_args
from pymongo.errors import OperationFailure

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import info as info_utils
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import MONGODB_CONNECTION
from ansible_collections.halobuzz.ops.plugins.modules import mongodb_backup, mongodb_info, mongodb_restore
from module_harness import Exit, Fail, raise_on_exit


class Collection(object):
    def __init__(self, count):
        self.count = count

    def count_documents(self, query):
        assert query == {}
        return self.count


class Database(object):
    def __init__(self, collections):
        self.collections = collections  # {name: (type, count)}

    def list_collections(self):
        return [{'name': name, 'type': kind} for name, (kind, _count) in self.collections.items()]

    def __getitem__(self, name):
        return Collection(self.collections[name][1])


class Admin(object):
    def __init__(self, status):
        self.status = status

    def command(self, name):
        assert name == 'serverStatus'
        if isinstance(self.status, Exception):
            raise self.status
        return self.status


class Client(object):
    def __init__(self, status, databases):
        self.admin = Admin(status)
        self.databases = databases

    def list_database_names(self):
        return list(self.databases)

    def __getitem__(self, name):
        return self.databases[name]


STATUS = {'version': '7.0.14', 'uptime': 86400, 'connections': {'current': 12}, 'opcounters': {'insert': 1},
          'host': 'db-0', 'mem': {'resident': 100}}
DATABASES = {
    'admin': Database({'system.version': ('collection', 1)}),
    'local': Database({'startup_log': ('collection', 1)}),
    'halobuzz': Database({'users': ('collection', 1200), 'active_users': ('view', 0),
                          'system.profile': ('collection', 5)}),
    'shop': Database({'orders': ('collection', 3)}),
}


@pytest.fixture
def module_calls(monkeypatch):
    calls = []

    raise_on_exit(monkeypatch)
    monkeypatch.setattr(info_utils, 'connect', lambda params: calls.append('connect') or Client(STATUS, DATABASES))
    return calls


def run(module, args):
    with patch_module_args(args):
        module.main()


@pytest.mark.parametrize('databases, collections', [
    ([], {'halobuzz.users': 1200, 'shop.orders': 3}),
    (['shop'], {'shop.orders': 3}),
])
@pytest.mark.parametrize('check_mode', [False, True])
def test_info_reports_status_subset_and_counts(module_calls, databases, collections, check_mode):
    with pytest.raises(Exit) as done:
        run(mongodb_info, {'mongodb_uri': 'mongodb://db/', 'databases': databases, '_ansible_check_mode': check_mode})
    assert module_calls == ['connect']
    assert done.value.args[0] == {'changed': False, 'ping': True, 'collections': collections, 'server': {
        'version': '7.0.14', 'uptime': 86400, 'connections': {'current': 12}, 'opcounters': {'insert': 1}}}


def test_a_refused_read_fails_with_a_message(module_calls, monkeypatch):
    refused = Client(OperationFailure('not authorized on admin to execute command'), DATABASES)
    monkeypatch.setattr(info_utils, 'connect', lambda params: refused)
    with pytest.raises(Fail) as failed:
        run(mongodb_info, {'mongodb_uri': 'mongodb://db/'})
    assert failed.value.args[0]['msg'] == ('reading server status and counts failed: '
                                           'not authorized on admin to execute command')


MODULES = [(mongodb_backup, {'dest': '/tmp/x.archive'}), (mongodb_info, {}), (mongodb_restore, {'src': '/tmp/x'})]


@pytest.mark.parametrize('module, args', MODULES)
def test_every_module_reports_a_missing_pymongo_the_same_way(module_calls, monkeypatch, module, args):
    monkeypatch.setattr(MONGODB_CONNECTION, 'libraries', [('pymongo', 'Traceback: No module named pymongo')])
    with pytest.raises(Fail) as failed:
        run(module, dict(mongodb_uri='mongodb://db/', **args))
    assert failed.value.args[0]['msg'] == missing_required_lib('pymongo')
    assert module_calls == []


@pytest.mark.parametrize('module, args', MODULES)
@pytest.mark.parametrize('connection, message', [
    ({'mongodb_uri': 'mongodb://db/', 'host': 'db'}, 'mutually exclusive: mongodb_uri|host'),
    ({'mongodb_uri': 'mongodb://db/', 'password': 'x'}, 'mutually exclusive: mongodb_uri|password'),
    ({'host': 'db', 'username': 'admin'}, 'required together: username, password'),
])
def test_every_module_applies_the_connection_rules(module_calls, module, args, connection, message):
    with pytest.raises(Fail) as failed:
        run(module, dict(connection, **args))
    assert message in failed.value.args[0]['msg']
    assert module_calls == []
