"""A recording MongoDB client for the restore engine's unit tests: the pymongo calls the engine makes,
answered as a real server answers them, and every write kept in ``log`` in the order it was sent.

Used where the sandbox's nx-27017 cannot hold a feature (it has no time-series collections, no views, and
rewrites hashed/descending index keys): the tests then check the command sequence the engine sends.
The behaviour follows the server's documented answers (never kinder):

- ``create`` of an existing namespace fails with NamespaceExists (code 48); with ``timeseries`` it makes a
  collection of type ``timeseries`` plus ``system.buckets.<name>`` (servers 5.0-8.2), with ``viewOn`` a
  view; ``listCollections`` reports the options as sent (``idIndex`` is not an option there);
- from 8.3 (``version='8.3.0'``) time-series collections are viewless (see VIEWLESS below): no
  ``system.buckets.<name>``; the buckets are read (``find``, ``count_documents``) and written (``insert``) through
  the collection's namespace with ``rawData: true``; a find without rawData returns the measurements, an insert
  without it takes documents as measurements (a bucket lacks the time field: code 2 BadValue); any command on
  ``system.buckets.*`` fails with code 491; before 8.3 ``rawData`` is an unknown field (code 40415);
- the ``insert`` command answers a duplicate ``_id`` (buckets are clustered by ``_id``) as a write error, code
  11000, of an ``ok: 1`` reply, and stops there (ordered), as a server does;
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
  fails with code 13 Unauthorized, "not authorized on <db> to execute command" (the server's AuthorizationSession);
  ``raw_data_allowed=False``: the login lacks the action performRawDataOperations, so rawData commands fail
  with code 13 (mongo-tools CHANGELOG 100.16.0);
- ``version=None``: a server without buildInfo (code 59 CommandNotFound); ``viewless_version`` (default 8.3.0)
  can be lowered to emulate a build that makes viewless time-series collections before it has rawData.
- ``mixed_schema_ids``: buckets (by ``_id``) holding mixed-schema data; a time-series collection refuses them
  with code 408 CannotInsertTimeseriesBucketsWithMixedSchema (a write error; insert_many: BulkWriteError with
  nInserted, insert_one: WriteError) until ``collMod`` sets ``timeseriesBucketsMayHaveMixedSchemaData`` (mongo jstests
  timeseries_buckets_may_have_mixed_schema_data / bucket write path: "Cannot write time-series bucket containing
  mixed schema data, please run collMod with timeseriesBucketsMayHaveMixedSchemaData and retry your insert");
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
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from bson.son import SON
from bson.timestamp import Timestamp
from pymongo.errors import BulkWriteError, OperationFailure, WriteError

KNOWN_OPTIONS = {'key', 'name', 'v', 'unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds',
                 'collation', 'hidden', 'weights', 'default_language', 'language_override', 'textIndexVersion',
                 '2dsphereIndexVersion', 'bits', 'min', 'max', 'bucketSize', 'wildcardProjection', 'storageEngine',
                 'background', 'ns'}
KEY_STRINGS = {'2d', '2dsphere', 'hashed', 'text', 'wildcard', 'geoHaystack'}
_NX_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
BUCKETS = 'system.buckets.'
# VIEWLESS: servers with the rawData API (mongo-tools common/db/version.go SupportsRawData: >= 8.3.0) keep
# time-series collections viewless: listCollections shows type "timeseries" and no system.buckets.<name>
# (mongo jstests/core/timeseries/ddl/timeseries_list_collections_filter_name.js); a command naming a buckets
# namespace is refused with CommandNotSupportedOnLegacyTimeseriesBucketsNamespace
# (src/mongo/db/stats/system_buckets_metrics.cpp; its number, 491, from the jstest of SERVER-133431: "collStats
# failed with code 491"; jstests/core/timeseries/... drop/collMod on system.buckets.* fail with it).
VIEWLESS_VERSION = (8, 3, 0)
DIRECT_BUCKETS_ACCESS = 491  # CommandNotSupportedOnLegacyTimeseriesBucketsNamespace
IDL_UNKNOWN_FIELD = 40415
BAD_VALUE = 2
MIXED_SCHEMA = 408  # CannotInsertTimeseriesBucketsWithMixedSchema
MIXED_SCHEMA_MESSAGE = ('Cannot write time-series bucket containing mixed schema data, please run collMod with '
                        'timeseriesBucketsMayHaveMixedSchemaData and retry your insert')
# What listCommands lists on this client (the verbs FakeDatabase.command answers).
COMMANDS = ('buildInfo', 'create', 'createIndexes', 'insert', 'find', 'listCommands', 'getParameter',
            'connectionStatus', 'usersInfo', 'rolesInfo', '_mergeAuthzCollections', 'collMod')
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
        self.mixed_schema_ids = set()
        self.reads = []  # (verb, ns, rawData) of every find/count of documents, in order
        self.raw_data_allowed = True
        self.viewless_version = VIEWLESS_VERSION
        self.auth_schema_version = 5
        self.missing_commands = set()
        self.login = None  # (user, db) of the authenticated login, as connectionStatus names it

    def authorize(self, db, verb):
        if self.writable is not None and db not in self.writable:
            raise OperationFailure('not authorized on %s to execute command { %s: ... }' % (db, verb), 13)

    def vtuple(self):
        return tuple(int(p) for p in self.version.split('.')) if self.version else ()

    def build_info(self):
        if self.version is None:
            raise OperationFailure('no such command: buildInfo', 59)
        return {'version': self.version, 'ok': 1}

    @property
    def viewless(self):
        return self.vtuple() >= self.viewless_version

    @property
    def has_raw_data(self):
        return self.vtuple() >= VIEWLESS_VERSION

    def refuse_buckets_namespace(self, db, name, verb):
        """system_buckets_metrics.cpp SystemBucketsMetricsCommandHooks::onBeforeRun, as an 8.3+ server answers."""
        if self.viewless and name.startswith(BUCKETS):
            raise OperationFailure(
                'Command %s on namespace %s.%s is not supported. Direct access to timeseries buckets namespaces '
                'is not allowed anymore. Please target the main timeseries namespace instead. Use the rawData API '
                'to directly read timeseries buckets data in raw format.' % (verb, db, name), DIRECT_BUCKETS_ACCESS)

    def raw_data(self, verb, command_or_kwargs):
        """Whether the command asks for rawData; before 8.3 the field is unknown to the server (IDL parser)."""
        if 'rawData' not in command_or_kwargs:
            return False
        if not self.has_raw_data:
            raise OperationFailure("BSON field '%s.rawData' is an unknown field." % verb, IDL_UNKNOWN_FIELD)
        if not self.raw_data_allowed:
            raise OperationFailure('not authorized to execute command { %s: ..., rawData: true }' % verb, 13)
        return bool(command_or_kwargs['rawData'])

    def viewless_timeseries(self, db, name):
        coll = self.coll(db, name)
        return self.viewless and coll is not None and coll['type'] == 'timeseries'

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

    def get_database(self, name, write_concern=None, codec_options=None):
        return FakeDatabase(self, name, write_concern)

    def server_info(self):
        return self.server.build_info()

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
        self.server.refuse_buckets_namespace(self.name, name, 'drop')
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
            return self.server.build_info()
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
            raw_data = self.server.raw_data('insert', command)
            self.server.refuse_buckets_namespace(self.name, coll.name, 'insert')
            self.server.log.append(('insertCommand', coll.ns, len(command['documents']),
                                    command.get('bypassEmptyTsReplacement'), raw_data))
            coll.check_measurements(command['documents'], raw_data)
            # a refused document is a write error of an ok reply; an ordered insert stops there
            taken = coll.ids()
            refused = coll.mixed_schema_refused_at(command['documents'])
            for index, doc in enumerate(command['documents']):
                doc_id = bson.decode(doc.raw if isinstance(doc, RawBSONDocument) else doc)['_id']
                if index == refused:
                    coll.store(command['documents'][:index], bool(command.get('bypassEmptyTsReplacement')))
                    return {'ok': 1, 'n': index, 'writeErrors': [{'index': index, 'code': MIXED_SCHEMA,
                                                                  'errmsg': MIXED_SCHEMA_MESSAGE}]}
                if doc_id in taken:
                    coll.store(command['documents'][:index], bool(command.get('bypassEmptyTsReplacement')))
                    return {'ok': 1, 'n': index, 'writeErrors': [{'index': index, 'code': 11000, 'errmsg': (
                        'E11000 duplicate key error collection: %s index: _id_ dup key: { _id: %r }' % (
                            coll.ns, doc_id))}]}
                taken.append(doc_id)
            coll.store(command['documents'], bypass_empty_ts=bool(command.get('bypassEmptyTsReplacement')))
            return {'ok': 1, 'n': len(command['documents'])}
        if verb == 'collMod':
            coll = self.server.coll(self.name, command['collMod'])
            self.server.log.append(('collMod', '%s.%s' % (self.name, command['collMod']),
                                    dict((k, v) for k, v in command.items() if k != 'collMod')))
            if coll is None:
                raise OperationFailure('ns does not exist', 26)
            if 'timeseriesBucketsMayHaveMixedSchemaData' in command:
                coll['options']['timeseriesBucketsMayHaveMixedSchemaData'] = command['timeseriesBucketsMayHaveMixedSchemaData']
            return {'ok': 1}
        if verb == 'find':
            docs = self.get_collection(command['find']).read('find', self.server.raw_data('find', command))
            limit = command.get('limit') or len(docs)
            return {'cursor': {'firstBatch': [RawBSONDocument(d.raw) for d in docs[:limit]], 'id': 0,
                               'ns': '%s.%s' % (self.name, command['find'])}, 'ok': 1}
        raise OperationFailure('no such command: %s' % verb, 59)

    def cursor_command(self, command, codec_options=None):
        """Only the find mongodump sends (filter {}, batchSize, rawData): its documents, raw."""
        verb = next(iter(command))
        assert verb == 'find' and not command.get('filter'), command
        return self.get_collection(command['find']).read('find', self.server.raw_data('find', command))

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
        self.server.refuse_buckets_namespace(self.name, name, 'create')
        if self.server.coll(self.name, name) is not None:
            raise OperationFailure('Collection %s already exists.' % ns, 48)
        shown = dict((k, v) for k, v in options.items() if k != 'idIndex')
        if 'timeseries' in options:
            self.server.put(self.name, name, 'timeseries', shown)
            if not self.server.viewless:  # viewless (8.3+): the buckets live in the collection itself
                self.server.put(self.name, BUCKETS + name, 'collection', {})
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
        return self.read('find', False)

    def read(self, verb, raw_data):
        """The documents a find returns: on a viewless time-series collection the buckets with rawData, else
        the measurements (as the server's $_internalUnpackBucket); elsewhere rawData changes nothing."""
        self.server.refuse_buckets_namespace(self.database.name, self.name, verb)
        self.server.reads.append((verb, self.ns, raw_data))
        coll = self.server.coll(self.database.name, self.name)
        docs = coll['docs'] if coll else []
        if self.server.viewless_timeseries(self.database.name, self.name) and not raw_data:
            docs = [m for bucket in docs for m in unpack_bucket(bucket, coll['options']['timeseries'])]
        return [Raw(raw) for raw in docs]

    def ids(self):
        coll = self.server.coll(self.database.name, self.name)
        return [bson.decode(raw)['_id'] for raw in (coll['docs'] if coll else [])]

    def count_documents(self, filter, **kwargs):  # pylint: disable=redefined-builtin
        assert not filter, filter
        return len(self.read('count', self.server.raw_data('aggregate', kwargs)))

    def check_measurements(self, docs, raw_data):
        """An insert without rawData into a viewless time-series collection takes measurements: each needs its
        time field (a bucket has it only under control/data)."""
        if not self.server.viewless_timeseries(self.database.name, self.name) or raw_data:
            return
        time_field = self.server.coll(self.database.name, self.name)['options']['timeseries']['timeField']
        for doc in docs:
            raw = doc.raw if isinstance(doc, RawBSONDocument) else doc
            if time_field not in bson.decode(raw):
                raise OperationFailure("'%s' must be present and contain a valid BSON UTC datetime value"
                                       % time_field, BAD_VALUE)

    def find_one(self, *args, **kwargs):
        found = self.find()
        return bson.decode(found[0].raw) if found else None

    def list_indexes(self):
        coll = self.server.coll(self.database.name, self.name)
        return [dict(i) for i in (coll['indexes'] if coll else [])]

    def insert_many(self, docs, ordered=True, bypass_document_validation=False):
        docs = [d.raw if isinstance(d, RawBSONDocument) else d for d in docs]
        self.server.authorize(self.database.name, 'insert')
        self.server.refuse_buckets_namespace(self.database.name, self.name, 'insert')
        self.check_measurements(docs, False)
        concern = self.write_concern.document if self.write_concern is not None else None
        self.server.log.append(('insert', self.ns, len(docs), bypass_document_validation, concern))
        if self.ns in self.server.fail_insert:
            raise OperationFailure('connection reset while inserting into %s' % self.ns, 6)
        refused = self.mixed_schema_refused_at(docs)
        if refused is not None:
            self.store(docs[:refused])
            raise BulkWriteError({'writeErrors': [{'index': refused, 'code': MIXED_SCHEMA, 'errmsg': MIXED_SCHEMA_MESSAGE}],
                                  'nInserted': refused, 'writeConcernErrors': []})
        self.store(docs)

    def mixed_schema_refused_at(self, docs):
        """The index of the first bucket the time-series collection refuses for mixed-schema data, else None."""
        name = self.name[len(BUCKETS):] if self.name.startswith(BUCKETS) else self.name
        series = self.server.coll(self.database.name, name)
        if series is None or series['type'] != 'timeseries' or series['options'].get(
                'timeseriesBucketsMayHaveMixedSchemaData'):
            return None
        for index, doc in enumerate(docs):
            if bson.decode(doc.raw if isinstance(doc, RawBSONDocument) else doc)['_id'] in self.server.mixed_schema_ids:
                return index
        return None

    def insert_one(self, doc, bypass_document_validation=False):
        self.server.authorize(self.database.name, 'insert')
        self.server.refuse_buckets_namespace(self.database.name, self.name, 'insert')
        self.check_measurements([doc], False)
        self.server.log.append(('insertOne', self.ns))
        if self.mixed_schema_refused_at([doc]) is not None:
            raise WriteError(MIXED_SCHEMA_MESSAGE, MIXED_SCHEMA, {'index': 0, 'code': MIXED_SCHEMA,
                                                                  'errmsg': MIXED_SCHEMA_MESSAGE})
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


def unpack_bucket(raw, timeseries):
    """The measurements of an uncompressed (control.version 1) bucket: one per index of its time column, with
    the bucket's meta under the metaField (mongo src/mongo/db/timeseries/README.md, Bucket Collection Schema)."""
    bucket = bson.decode(raw, codec_options=CodecOptions(document_class=SON))
    assert bucket['control']['version'] == 1, 'the recording client does not decompress buckets'
    columns = bucket['data']
    measurements = []
    for index in columns[timeseries['timeField']]:
        doc = SON((field, values[index]) for field, values in columns.items() if index in values)
        if timeseries.get('metaField') and 'meta' in bucket:
            doc[timeseries['metaField']] = bucket['meta']
        measurements.append(bson.encode(doc))
    return measurements
