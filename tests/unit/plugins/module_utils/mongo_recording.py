"""A recording MongoDB client for the restore engine's unit tests: the pymongo calls the engine makes,
answered as a real server answers them, and every write kept in ``log`` in the order it was sent.

Used where the sandbox's nx-27017 cannot hold a feature (it has no time-series collections, no views, and
rewrites hashed/descending index keys): the tests then check the command sequence the engine sends.
The behaviour follows the server's documented answers (never kinder):

- ``create`` of an existing namespace fails with NamespaceExists (code 48); with ``timeseries`` it makes a
  collection of type ``timeseries`` plus ``system.buckets.<name>`` (servers 5.0-8.2), with ``viewOn`` a
  view; ``listCollections`` reports the options as sent (``idIndex`` is not an option there);
- a time-series collection has no ``_id`` index; ``createIndexes`` with ``ignoreUnknownIndexOptions``
  drops unknown options, without it an unknown option fails (code 197 InvalidIndexSpecificationOption), a
  key value that is not a number or a known type string fails (code 67 CannotCreateIndex), geoHaystack
  fails on servers >= 4.9;
- an insert replaces an empty Timestamp(0, 0) in a top-level field other than _id by the current time
  (https://www.mongodb.com/docs/manual/reference/bson-types/#timestamps) unless the insert command carries
  ``bypassEmptyTsReplacement`` (servers 8.0, 7.0.13+, 6.0.17+, 5.0.29+: mongo-tools common/db/empty_timestamp.go);
- ``mode='nx'`` answers like the sandbox's nx-27017: ``ok`` to anything, a plain collection with no options
  whatever was asked, index keys all ascending;
- ``writable`` (a set of database names; None: every database) is what the login may write: a write elsewhere
  fails with code 13 Unauthorized, "not authorized on <db> to execute command" (the server's AuthorizationSession).
- users and roles (mongo src/mongo/db/commands/user_management_commands.cpp): ``_mergeAuthzCollections`` runs
  on admin only, needs tempUsersCollection or tempRolesCollection (BadValue 2), reads the temporary
  collections (a missing one reads as empty), keeps only the documents of ``db`` when it is not "", updates a
  same-named user/role only with ``drop`` (without it the insert of an existing one fails and is skipped, as
  the server's _addUser "continue on failure") and with ``drop`` removes the users/roles of the scope the
  temporary collections do not hold; ``usersInfo``/``rolesInfo`` list them without credentials;
  ``getParameter`` answers ``authSchemaVersion`` (``auth_schema_version``); ``listCommands`` lists the
  commands of this client; ``connectionStatus`` names ``login``. ``missing_commands`` are the commands an
  older server lacks: listCommands leaves them out and they answer code 59 CommandNotFound;
- in ``mode='nx'`` these answer as nx-27017 0.8.1 does (measured with its NeoSQLiteHandler): a command it does
  not know falls through to neosqlite's PRAGMA fallback and answers ``{ok: 1, result: []}`` (no ``commands``,
  ``users``, ``roles`` or ``authSchemaVersion``), and a command with a ``drop`` field is taken for the drop
  command and fails with "'bool' object has no attribute 'startswith'" (no code): never CommandNotFound.
"""
import re

import bson
from bson.raw_bson import RawBSONDocument
from bson.son import SON
from bson.timestamp import Timestamp
from pymongo.errors import OperationFailure

KNOWN_OPTIONS = {'key', 'name', 'v', 'unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds',
                 'collation', 'hidden', 'weights', 'default_language', 'language_override', 'textIndexVersion',
                 '2dsphereIndexVersion', 'bits', 'min', 'max', 'bucketSize', 'wildcardProjection', 'storageEngine',
                 'background', 'ns'}
KEY_STRINGS = {'2d', '2dsphere', 'hashed', 'text', 'wildcard', 'geoHaystack'}
_NX_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# What listCommands lists on this client (the verbs FakeDatabase.command answers).
COMMANDS = ('buildInfo', 'create', 'createIndexes', 'insert', 'listCommands', 'getParameter', 'connectionStatus',
            'usersInfo', 'rolesInfo', '_mergeAuthzCollections')
_AUTHZ = {'tempUsersCollection': ('system.users', 'user'), 'tempRolesCollection': ('system.roles', 'role')}


class Raw:
    def __init__(self, raw):
        self.raw = raw


class FakeServer:
    def __init__(self, version='7.0.0', mode='real'):
        self.version = version
        self.mode = mode
        self.dbs = {}
        self.log = []
        self.fail_insert = set()
        self.writable = None
        self.auth_schema_version = 5
        self.missing_commands = set()
        self.login = None  # (user, db) of the authenticated login, as connectionStatus names it

    def authorize(self, db, verb):
        if self.writable is not None and db not in self.writable:
            raise OperationFailure('not authorized on %s to execute command { %s: ... }' % (db, verb), 13)

    def vtuple(self):
        return tuple(int(p) for p in self.version.split('.'))

    def coll(self, db, name):
        return self.dbs.setdefault(db, {}).get(name)

    def put(self, db, name, kind='collection', options=None, docs=(), indexes=None):
        ident = [] if kind in ('timeseries', 'view') else [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'}]
        self.dbs.setdefault(db, {})[name] = {'type': kind, 'options': dict(options or {}), 'docs': list(docs),
                                             'indexes': ident + list(indexes or [])}


class FakeClient:
    def __init__(self, server):
        self.server = server
        self.admin = FakeDatabase(self, 'admin')

    def __getitem__(self, name):
        return FakeDatabase(self, name)

    def get_database(self, name, write_concern=None):
        return FakeDatabase(self, name, write_concern)

    def server_info(self):
        return {'version': self.server.version, 'ok': 1}

    def drop_database(self, name):
        self.server.authorize(name, 'dropDatabase')
        self.server.log.append(('dropDatabase', name))
        self.server.dbs.pop(name, None)

    def list_database_names(self):
        return sorted(d for d, colls in self.server.dbs.items() if colls)


class FakeDatabase:
    def __init__(self, client, name, write_concern=None):
        self.client = client
        self.server = client.server
        self.name = name
        self.write_concern = write_concern

    def __getitem__(self, name):
        return FakeCollection(self, name)

    def get_collection(self, name, codec_options=None, write_concern=None):
        return FakeCollection(self, name, write_concern or self.write_concern)

    def list_collections(self, filter=None):  # pylint: disable=redefined-builtin
        out = []
        for name, coll in sorted(self.server.dbs.get(self.name, {}).items()):
            if filter and filter.get('name') not in (None, name):
                continue
            out.append({'name': name, 'type': coll['type'], 'options': dict(coll['options'])})
        return out

    def list_collection_names(self):
        return [c['name'] for c in self.list_collections()]

    def drop_collection(self, name):
        self.server.authorize(self.name, 'drop')
        ns = '%s.%s' % (self.name, name)
        self.server.log.append(('drop', ns))
        colls = self.server.dbs.get(self.name, {})
        coll = colls.pop(name, None)
        if coll is not None and coll['type'] == 'timeseries':
            colls.pop('system.buckets.' + name, None)

    def command(self, command, *args, **kwargs):
        if isinstance(command, str):
            command = {command: 1}
        verb = next(iter(command))
        if verb == 'buildInfo':
            return {'version': self.server.version, 'ok': 1}
        if verb in self.server.missing_commands:
            raise OperationFailure("no such command: '%s'" % verb, 59)
        if self.server.mode == 'nx' and verb not in ('create', 'createIndexes', 'insert'):
            return self._nx_command(command)
        if verb in _READ_COMMANDS:
            return _READ_COMMANDS[verb](self, command)
        self.server.authorize(self.name, verb)
        if verb == '_mergeAuthzCollections':
            return self._merge_authz_collections(command)
        if verb == 'create':
            return self._create(command)
        if verb == 'createIndexes':
            return self._create_indexes(command)
        if verb == 'insert':
            coll = self.get_collection(command['insert'], write_concern=None)
            self.server.log.append(('insertCommand', coll.ns, len(command['documents']),
                                    command.get('bypassEmptyTsReplacement')))
            coll.store(command['documents'], bypass_empty_ts=bool(command.get('bypassEmptyTsReplacement')))
            return {'ok': 1, 'n': len(command['documents'])}
        raise OperationFailure('no such command: %s' % verb, 59)

    def _nx_command(self, command):
        if 'drop' in command:  # nx-27017 handler.py: `if "drop" in cmd_copy` -> drop of collection False
            raise OperationFailure("'bool' object has no attribute 'startswith'")
        return {'ok': 1, 'result': []}

    def _admin_only(self, verb):
        if self.name != 'admin':
            raise OperationFailure('%s may only be run against the admin database.' % verb, 13)

    def _list_commands(self, command):
        return {'commands': dict((c, {}) for c in COMMANDS if c not in self.server.missing_commands), 'ok': 1}

    def _get_parameter(self, command):
        self._admin_only('getParameter')
        return {'authSchemaVersion': self.server.auth_schema_version, 'ok': 1}

    def _connection_status(self, command):
        users = [{'user': self.server.login[0], 'db': self.server.login[1]}] if self.server.login else []
        return {'authInfo': {'authenticatedUsers': users, 'authenticatedUserRoles': []}, 'ok': 1}

    def _authz_documents(self, collection):
        coll = self.server.coll('admin', collection)
        return [bson.decode(raw) for raw in (coll['docs'] if coll else [])]

    def _users_info(self, command):
        every = isinstance(command['usersInfo'], dict) and command['usersInfo'].get('forAllDBs')
        return {'users': [{'_id': d['_id'], 'user': d['user'], 'db': d['db'], 'roles': d.get('roles', [])}
                          for d in self._authz_documents('system.users') if every or d['db'] == self.name],
                'ok': 1}

    def _roles_info(self, command):
        return {'roles': [{'_id': d['_id'], 'role': d['role'], 'db': d['db'], 'roles': d.get('roles', []),
                           'isBuiltin': False}
                          for d in self._authz_documents('system.roles') if d['db'] == self.name], 'ok': 1}

    def _merge_authz_collections(self, command):
        self._admin_only('_mergeAuthzCollections')
        self.server.log.append(('_mergeAuthzCollections', 'admin.$cmd',
                                dict((k, v) for k, v in command.items() if k != '_mergeAuthzCollections')))
        if not any(command.get(key) for key in _AUTHZ):
            raise OperationFailure('Must provide at least one of "tempUsersCollection" and "tempRolescollection"', 2)
        scope, drop = command.get('db') or '', bool(command.get('drop'))
        for key, (collection, field) in _AUTHZ.items():
            if not command.get(key):
                continue
            temp_db, temp_coll = command[key].split('.', 1)
            temp = self.server.coll(temp_db, temp_coll)
            if self.server.coll('admin', collection) is None:
                self.server.put('admin', collection)
            target = self.server.coll('admin', collection)
            names = [(d[field], d['db']) for d in (bson.decode(raw) for raw in target['docs'])]
            to_drop = set(n for n in names if not scope or n[1] == scope) if drop else set()
            for raw in (temp['docs'] if temp else []):
                doc = bson.decode(raw)
                name = (doc[field], doc['db'])
                if scope and name[1] != scope:
                    continue
                if drop and name in to_drop:
                    target['docs'][names.index(name)] = raw  # update of a same-named user/role
                elif name not in names:
                    target['docs'].append(raw)
                    names.append(name)
                to_drop.discard(name)
            target['docs'] = [raw for raw, name in zip(target['docs'], names) if name not in to_drop]
        return {'ok': 1}

    def _create(self, command):
        name = command['create']
        ns = '%s.%s' % (self.name, name)
        options = dict((k, v) for k, v in command.items() if k not in ('create', 'writeConcern'))
        self.server.log.append(('create', ns, options, command.get('writeConcern')))
        if self.server.mode == 'nx':
            if not _NX_NAME.match(name):
                raise OperationFailure("Invalid identifier '%s'" % name, 2)
            if self.server.coll(self.name, name) is None:
                self.server.put(self.name, name)
            return {'ok': 1}
        if self.server.coll(self.name, name) is not None:
            raise OperationFailure('Collection %s already exists.' % ns, 48)
        shown = dict((k, v) for k, v in options.items() if k != 'idIndex')
        if 'timeseries' in options:
            self.server.put(self.name, name, 'timeseries', shown)
            self.server.put(self.name, 'system.buckets.' + name, 'collection', {})
        elif 'viewOn' in options:
            shown.setdefault('pipeline', [])
            self.server.put(self.name, name, 'view', shown)
        else:
            self.server.put(self.name, name, 'collection', shown)
        return {'ok': 1}

    def _create_indexes(self, command):
        name = command['createIndexes']
        ns = '%s.%s' % (self.name, name)
        self.server.log.append(('createIndexes', ns, [dict(s) for s in command['indexes']],
                                command.get('ignoreUnknownIndexOptions'), command.get('writeConcern')))
        coll = self.server.coll(self.name, name)
        if coll is None:
            self.server.put(self.name, name)
            coll = self.server.coll(self.name, name)
        for spec in command['indexes']:
            spec = dict(spec)
            if self.server.mode == 'nx':
                spec = {'v': 2, 'key': dict((k, 1) for k in spec['key']), 'name': 'idx_' + name,
                        **({'unique': True} if spec.get('unique') else {})}
                coll['indexes'].append(spec)
                continue
            unknown = set(spec) - KNOWN_OPTIONS
            if unknown and not command.get('ignoreUnknownIndexOptions'):
                raise OperationFailure('The field \'%s\' is not valid for an index specification' % sorted(unknown)[0],
                                       197)
            for field in unknown:
                del spec[field]
            for value in spec['key'].values():
                if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
                        isinstance(value, str) and value not in KEY_STRINGS) or value == 0:
                    raise OperationFailure('Values in index key pattern must be numbers or strings', 67)
                if value == 'geoHaystack' and self.server.vtuple() >= (4, 9, 0):
                    raise OperationFailure('geoHaystack indexes are not supported', 67)
            spec.setdefault('v', 2)
            coll['indexes'].append(spec)
        return {'ok': 1}


_READ_COMMANDS = {'listCommands': FakeDatabase._list_commands, 'getParameter': FakeDatabase._get_parameter,
                  'connectionStatus': FakeDatabase._connection_status, 'usersInfo': FakeDatabase._users_info,
                  'rolesInfo': FakeDatabase._roles_info}


class FakeCollection:
    def __init__(self, database, name, write_concern=None):
        self.database = database
        self.server = database.server
        self.name = name
        self.write_concern = write_concern

    @property
    def ns(self):
        return '%s.%s' % (self.database.name, self.name)

    def find(self, *args, **kwargs):
        coll = self.server.coll(self.database.name, self.name)
        return [Raw(raw) for raw in (coll['docs'] if coll else [])]

    def find_one(self, *args, **kwargs):
        found = self.find()
        return bson.decode(found[0].raw) if found else None

    def list_indexes(self):
        coll = self.server.coll(self.database.name, self.name)
        return [dict(i) for i in (coll['indexes'] if coll else [])]

    def insert_many(self, docs, ordered=True, bypass_document_validation=False):
        docs = [d.raw if isinstance(d, RawBSONDocument) else d for d in docs]
        self.server.authorize(self.database.name, 'insert')
        concern = self.write_concern.document if self.write_concern is not None else None
        self.server.log.append(('insert', self.ns, len(docs), bypass_document_validation, concern))
        if self.ns in self.server.fail_insert:
            raise OperationFailure('connection reset while inserting into %s' % self.ns, 6)
        self.store(docs)

    def insert_one(self, doc, bypass_document_validation=False):
        self.server.authorize(self.database.name, 'insert')
        self.server.log.append(('insertOne', self.ns))
        self.store([doc])

    def update_one(self, query, pipeline):
        """Only the update mongorestore sends: [{$replaceRoot: {newRoot: {$literal: doc}}}] by _id."""
        self.server.authorize(self.database.name, 'update')
        self.server.log.append(('updateOne', self.ns))
        literal = pipeline[0]['$replaceRoot']['newRoot']['$literal']
        literal = literal.raw if isinstance(literal, RawBSONDocument) else bson.encode(literal)
        coll = self.server.coll(self.database.name, self.name)
        for i, raw in enumerate(coll['docs']):
            if bson.decode(raw)['_id'] == query['_id']:
                coll['docs'][i] = literal

    def store(self, docs, bypass_empty_ts=False):
        coll = self.server.coll(self.database.name, self.name)
        if coll is None:
            self.server.put(self.database.name, self.name)
            coll = self.server.coll(self.database.name, self.name)
        for doc in docs:
            raw = doc.raw if isinstance(doc, RawBSONDocument) else doc
            if not bypass_empty_ts:
                decoded = bson.decode(raw, codec_options=bson.codec_options.CodecOptions(document_class=SON))
                for key, value in decoded.items():
                    if key != '_id' and isinstance(value, Timestamp) and (value.time, value.inc) == (0, 0):
                        decoded[key] = Timestamp(1764379999, 1)
                raw = bson.encode(decoded)
            coll['docs'].append(raw)
