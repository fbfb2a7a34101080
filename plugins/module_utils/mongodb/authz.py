# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Users and roles of a dump, restored as mongorestore restores them (option restore_users_and_roles).

Upstream (mongo-tools, commit 8fa3cfc8263b9cead37912d7b0447766143c3e3a):

- which files are users, roles and the auth schema version: common/intents/intent.go IsUsers/IsRoles/
  IsAuthVersion (``admin.system.users`` of a full dump, ``<db>.$admin.system.users`` of
  ``mongodump --db <db> --dumpDbUsersAndRoles``), namespaces.auth_collection_kind here;
- when: mongorestore/mongorestore.go ShouldRestoreUsersAndRoles and Restore: after the collections
  (RestoreIntents), before the oplog and the indexes; the dump's auth schema version is compared with the
  server's before anything is written (GetDumpAuthVersion, auth.GetAuthVersion, ValidateAuthVersions);
  ParseAndValidateOptions: --restoreDbUsersAndRoles needs one database, never admin;
- how: mongorestore/metadata.go RestoreUsersOrRoles. Never an insert into admin.system.users: the documents go
  into temporary collections (admin.tempusers / admin.temproles, options --tempUsersColl/--tempRolesColl;
  a preexisting one is dropped first), then the server command ``_mergeAuthzCollections`` (tempUsersCollection,
  tempRolesCollection, drop = --drop, db = the database, "" for all, writeConcern) moves them into place under
  the server's user-management lock, and the temporary collections are dropped whatever happened.

The server side (mongo src/mongo/db/commands/user_management_commands.cpp, CmdMergeAuthzCollections): admin
only, never on a secondary; with ``drop`` the users/roles of the scope that the temporary collection does not
hold are removed and same-named ones updated, without it same-named ones are left as they are (their insert
fails and is skipped: "Match the behavior of mongorestore to continue on failure"). Because failures are only
logged by the server, the restore re-reads what it can: usersInfo/rolesInfo list every restored user and role
(with drop: with the dump's role grants, and nothing else in the scope). Credentials and privileges are not
read back or compared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.archive import parse_version
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import (
    RAW_OPTIONS, SON, UNAUTHORIZED, OperationFailure, PyMongoError, RawBSONDocument, bson, server_message)
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import (
    DB_AUTH_PREFIX, auth_collection_kind)

MERGE_COMMAND = '_mergeAuthzCollections'
# mongorestore/options.go: --tempUsersColl / --tempRolesColl default; the built-in restore role grants find on
# exactly these two (mongo src/mongo/db/auth/builtin_roles.cpp addRestorePrivileges), so no other names are used.
TEMP_COLLECTIONS = {'users': 'tempusers', 'roles': 'temproles'}
MERGE_ARGUMENTS = {'users': 'tempUsersCollection', 'roles': 'tempRolesCollection'}
NAME_FIELDS = {'users': 'user', 'roles': 'role'}
PRIVILEGES = ('the login needs what mongorestore needs to restore users and roles: the built-in restore role (on '
              'admin), which grants createUser, createRole, grantRole, revokeRole, dropUser and dropRole on every '
              'database, insert/createCollection/dropCollection on admin.tempusers and admin.temproles and find on '
              'them, and getParameter')
VERSION_REASON = ('auth schema version: read to check it against the server\'s (mongorestore ValidateAuthVersions); '
                  'never restored as a collection')


def _scope_of(entry):
    """The database whose users a file holds: "" (all) for admin.system.users, <db> for <db>.$admin.system.users."""
    return entry.db if entry.collection.startswith(DB_AUTH_PREFIX) else ''


def dump_server_version(source):
    """The version of the server the dump was taken from (archive header, directory prelude.json), or None."""
    header = source.header or {}
    if 'prelude' in header:
        try:
            header = json.loads(header['prelude'])
        except ValueError:
            return None
        return parse_version(header.get('ServerVersion'))
    return parse_version(header.get('server_version'))


def validate_auth_versions(dump, server):
    """mongorestore/metadata.go ValidateAuthVersions: (problem or None, note or None)."""
    if dump in (2, 4):
        return ('cannot restore users and roles from a dump file with auth version %s; finish the upgrade or roll '
                'it back' % dump), None
    if server in (2, 4):
        return ('cannot restore users and roles to a server with auth version %s; finish the upgrade or roll it '
                'back' % server), None
    if (dump, server) in ((3, 5), (5, 5), (3, 3), (1, 1)):
        return None, None
    if (dump, server) == (1, 3):
        return None, 'users and roles will have to be updated with the authSchemaUpgrade command'
    refusals = {(1, 5): 'cannot restore users of auth version 1 to a server of auth version 5',
                (5, 3): 'cannot restore users of auth version 5 to a server of auth version 3',
                (5, 1): 'cannot restore users and roles dump file >= auth version 3 to a server of auth version 1',
                (3, 1): 'cannot restore users and roles dump file >= auth version 3 to a server of auth version 1'}
    return refusals.get((dump, server), 'invalid auth pair: dump=%s, server=%s' % (dump, server)), None


def server_auth_version(client):
    """common/auth/auth_info.go GetAuthVersion: getParameter authSchemaVersion (servers that predate it: 1)."""
    try:
        reply = client.admin.command(SON([('getParameter', 1), ('authSchemaVersion', 1)]))
    except OperationFailure as exc:
        text = server_message(exc)
        if text == 'no option found to get' or 'no such cmd' in text:
            return 1
        raise
    value = reply.get('authSchemaVersion')
    if isinstance(value, bool) or not isinstance(value, int):
        raise MongoArchiveError('getParameter command returned non-numeric result: %r' % (value,))
    return value


class AuthDocuments(object):
    """The documents of the users, roles and version files, kept while the source is read (by the validation
    pass, or by the restore in single pass): ``collect`` is given every document not restored as a collection."""

    def __init__(self):
        self.by_namespace = {}

    def collect(self, entry, raw):
        if auth_collection_kind(entry.db, entry.collection) is not None:
            self.by_namespace.setdefault((entry.db, entry.collection), []).append(raw)


class UsersAndRoles(object):
    """The users and roles a restore merges, their documents and what it sends. ``scope`` is the ``db``
    argument of _mergeAuthzCollections: "" for every database."""

    def __init__(self, entries, scope, source_version=None, documents=None, documents_read=True):
        self.entries = entries  # 'users' / 'roles' / 'version' -> CollectionEntry
        self.scope = scope
        self.source_version = source_version
        self.collected = documents or AuthDocuments()
        self.documents_read = documents_read  # False in single pass until the restore has read the source
        self.warnings = []
        self.versions_checked = False

    @property
    def documents(self):
        return dict((kind, self.collected.by_namespace.get((entry.db, entry.collection), []))
                    for kind, entry in self.entries.items())

    @property
    def kinds(self):
        """'users' and/or 'roles': what is merged (a present but empty file takes part, as upstream: with drop
        the scope then loses its users)."""
        return [kind for kind in ('users', 'roles') if kind in self.entries]

    def _decoded(self, kind):
        return [bson.decode(raw) for raw in self.documents.get(kind, [])]

    def expected(self, kind):
        """{(name, db): [granted role, ...]} of the documents the server keeps (those of the scope)."""
        out = {}
        for doc in self._decoded(kind):
            name, db = doc.get(NAME_FIELDS[kind]), doc.get('db')
            if self.scope and db != self.scope:
                continue
            out[(name, db)] = sorted('%s@%s' % (r.get('role'), r.get('db')) for r in doc.get('roles') or [])
        return out

    def names(self, kind):
        return sorted('%s@%s' % key for key in self.expected(kind))

    def summary(self, drop, merged=False, verified=None):
        """What is (or would be) restored: names only, never credentials."""
        result = dict(database=self.scope or None, drop=bool(drop), merged=merged,
                      namespaces=sorted(self.entries[kind].ns for kind in self.kinds),
                      temporary_collections=['admin.%s' % TEMP_COLLECTIONS[kind] for kind in self.kinds])
        for kind in ('users', 'roles'):
            result[kind] = self.names(kind) if kind in self.entries else []
        if verified is not None:
            result['verified'] = verified
        return result

    # --- before any write ------------------------------------------------------------------------------------

    def version_problems(self, client):
        """The dump's auth schema version against the server's (mongorestore.go Restore, before any write)."""
        self.versions_checked = True
        try:
            dump, note = self.dump_auth_version()
            server = server_auth_version(client)
        except MongoArchiveError as exc:
            return ['users and roles: %s' % exc]
        except PyMongoError as exc:
            return ['users and roles: reading the server\'s auth schema version (getParameter authSchemaVersion) '
                    'failed: %s' % server_message(exc)]
        if note:
            self.warnings.append(note)
        problem, note = validate_auth_versions(dump, server)
        if note:
            self.warnings.append(note)
        if problem:
            return ['the users and roles collections in the dump have an incompatible auth version with target '
                    'server: %s' % problem]
        return []

    def dump_auth_version(self):
        """mongorestore/metadata.go GetDumpAuthVersion: (version, note)."""
        if self.source_version is not None and self.source_version >= (8, 1, 0):
            return 5, None  # SERVER-83663: 8.1+ keeps no authSchema document, its only version is 5
        if 'version' not in self.entries:
            if self.scope:
                return 3, ('no system.version bson file found in %r database dump: assuming users and roles '
                           'collections are of auth version 3 (as mongorestore); if users are from an earlier '
                           'version of MongoDB, they may not restore properly' % self.scope)
            return 1, ('no system.version bson file found in dump: assuming users in the dump are from <= 2.4 '
                       '(auth version 1), as mongorestore')
        for doc in self._decoded('version'):
            if doc.get('_id') == 'authSchema':
                value = doc.get('currentVersion')
                if isinstance(value, bool) or not isinstance(value, int):
                    raise MongoArchiveError("can't unmarshal system.version currentVersion as an int: %r" % (value,))
                return value, None
        raise MongoArchiveError('system.version bson file does not have authSchema document')

    def preflight(self, client, concern, drop, check_mode):
        """The problems of merging these users/roles into this server; writes nothing.

        1. listCommands (read-only, no privilege needed) must list _mergeAuthzCollections: a server that does
           not say it has the command is refused (nx-27017 answers ok to any command it does not know).
        2. The auth schema versions (when the source's documents were read: not in single pass).
        3. With drop, the login must be among the users the merge keeps: the server removes the users of the
           scope that the dump does not hold, the restore's own login included.
        4. Real run only: _mergeAuthzCollections itself, with drop=false and the (empty or missing) temporary
           collections, which the server answers after its authorization checks without changing a user or a
           role (it reads nothing to merge); it does take the user-management lock and invalidate the user
           cache, which a dry run should not do. Unauthorized (13) here means the login lacks the privileges.
        """
        problems = []
        if not self.kinds:
            return problems
        try:
            reply = client.admin.command('listCommands')
        except PyMongoError as exc:
            reply = {'errmsg': server_message(exc)}
        commands = reply.get('commands')
        if not isinstance(commands, dict):
            problems.append('users and roles: the server does not list its commands (listCommands answered %s), so '
                            'it cannot be trusted with %s, the only way mongorestore restores users and roles; '
                            'restore without restore_users_and_roles' % (
                                reply.get('errmsg') or 'without "commands"', MERGE_COMMAND))
            return problems
        if MERGE_COMMAND not in commands:
            problems.append('users and roles: the server has no %s command (listCommands does not list it), the only '
                            'way mongorestore restores users and roles; restore without restore_users_and_roles'
                            % MERGE_COMMAND)
            return problems
        if self.documents_read:
            problems.extend(self.version_problems(client))
        if drop:
            problems.extend(self._lockout_problems(client))
        if problems:
            return problems
        if check_mode:
            self.warnings.append('check mode: %s was not tried (even a merge of nothing takes the server\'s '
                                 'user-management lock and invalidates its user cache); the real run tries it with '
                                 'drop=false before anything is dropped' % MERGE_COMMAND)
        else:
            problems.extend(self._probe_merge(client, concern))
        return problems

    def _lockout_problems(self, client):
        """With drop, _mergeAuthzCollections removes the users of the scope that the dump lacks (the server's
        _processUsers): the restore's own login among them would lock the run out halfway."""
        if 'users' not in self.entries or not self.documents_read:
            return []  # no users merged; or single pass: the users are read later (the check-mode run compared)
        try:
            status = client.admin.command('connectionStatus')
        except PyMongoError:
            return []  # the server says nothing of the login: nothing to compare
        logins = ((status.get('authInfo') or {}).get('authenticatedUsers')) or []
        kept = self.expected('users')
        problems = []
        for login in logins:
            key = (login.get('user'), login.get('db'))
            if (self.scope and key[1] != self.scope) or key in kept:
                continue
            problems.append('users and roles: the restore logs in as %s@%s, which the dump does not hold; with drop, '
                            '%s removes it (and locks this run out); add the user to the dump or restore with '
                            'drop=false' % (key[0], key[1], MERGE_COMMAND))
        return problems

    def _probe_merge(self, client, concern):
        """_mergeAuthzCollections with drop=false on the real temporary collections (the restore role may read
        exactly those), when they hold nothing: the server's authorization checks answer, nothing is merged."""
        for kind in self.kinds:
            temp = TEMP_COLLECTIONS[kind]
            try:
                leftover = client.admin[temp].find_one()
            except PyMongoError as exc:
                return ['users and roles: reading admin.%s failed: %s; %s' % (temp, server_message(exc), PRIVILEGES)]
            if leftover is not None:
                # a merge now would move those documents into place: leave the probe out; the restore drops the
                # collection first, as mongorestore ("dropping preexisting temporary collection")
                self.warnings.append('admin.%s holds documents (an interrupted mongorestore?): the restore drops it '
                                     'first, as mongorestore; %s was not tried before the restore' % (temp, MERGE_COMMAND))
                return []
        try:
            client.admin.command(self._merge_command(False, concern))
        except OperationFailure as exc:
            if exc.code == UNAUTHORIZED:
                return ['users and roles: %s refused: %s; %s' % (MERGE_COMMAND, server_message(exc), PRIVILEGES)]
            return ['users and roles: the server refuses %s (%s); restore without restore_users_and_roles'
                    % (MERGE_COMMAND, server_message(exc))]
        except PyMongoError as exc:
            return ['users and roles: %s failed: %s' % (MERGE_COMMAND, server_message(exc))]
        return []

    def _merge_command(self, drop, concern):
        command = SON([(MERGE_COMMAND, 1)])
        for kind in self.kinds:
            command[MERGE_ARGUMENTS[kind]] = 'admin.%s' % TEMP_COLLECTIONS[kind]
        command['drop'] = bool(drop)
        command['db'] = self.scope
        if concern is not None:
            command['writeConcern'] = concern.document
        return command

    # --- the restore -----------------------------------------------------------------------------------------

    def restore(self, client, concern, drop):
        """Temporary collections, _mergeAuthzCollections, temporary collections dropped; then verified.
        Returns the summary with ``verified``; raises MongoArchiveError."""
        if not self.versions_checked:  # single pass: the version file was read while the collections were written
            problems = self.version_problems(client)
            if problems:
                raise MongoArchiveError('; '.join(problems) + '; no user or role was written')
        admin = client.get_database('admin', write_concern=concern)
        step = 'preparing the temporary collections'
        try:
            for kind in self.kinds:
                temp = TEMP_COLLECTIONS[kind]
                if list(admin.list_collections(filter={'name': temp})):
                    step = 'dropping the preexisting temporary collection admin.%s' % temp
                    admin.drop_collection(temp)
                if self.documents[kind]:
                    step = 'inserting the %s into admin.%s' % (kind, temp)
                    admin.get_collection(temp, codec_options=RAW_OPTIONS).insert_many(
                        [RawBSONDocument(raw, RAW_OPTIONS) for raw in self.documents[kind]], ordered=True)
            step = 'running %s' % MERGE_COMMAND
            admin.command(self._merge_command(drop, concern))
        except PyMongoError as exc:
            raise MongoArchiveError('restoring users and roles failed while %s: %s' % (step, server_message(exc)))
        finally:
            for kind in self.kinds:  # metadata.go: "make sure we always drop the temporary collection"
                try:
                    admin.drop_collection(TEMP_COLLECTIONS[kind])
                except PyMongoError as exc:
                    self.warnings.append('dropping the temporary collection admin.%s failed: %s; drop it by hand'
                                         % (TEMP_COLLECTIONS[kind], server_message(exc)))
        return self.summary(drop, merged=True, verified=self.verify(client, drop))

    def verify(self, client, drop):
        """usersInfo/rolesInfo must list every restored user and role; with drop, with the dump's role grants
        and nothing else in the scope. Raises MongoArchiveError; returns what was listed."""
        problems, listed = [], {}
        for kind in self.kinds:
            expected = self.expected(kind)
            try:
                actual = self._listed(client, kind, set(db for _name, db in expected))
            except PyMongoError as exc:
                raise MongoArchiveError('users and roles were merged, but listing them to verify failed: %s'
                                        % server_message(exc))
            listed[kind] = sorted('%s@%s' % key for key in actual if key in expected)
            for key, grants in sorted(expected.items()):
                if key not in actual:
                    problems.append('%s %s@%s is not listed' % (kind[:-1], key[0], key[1]))
                elif drop and actual[key] != grants:
                    problems.append('%s %s@%s has roles %s, the dump %s' % (
                        kind[:-1], key[0], key[1], actual[key], grants))
            if drop:
                problems.extend('%s %s@%s is not in the dump but still there' % (kind[:-1], key[0], key[1])
                                for key in sorted(set(actual) - set(expected)))
        if problems:
            raise MongoArchiveError('verification after %s failed: %s (the server skips a user or role it cannot '
                                    'write and only logs it)' % (MERGE_COMMAND, '; '.join(problems)))
        return listed

    def _listed(self, client, kind, databases):
        """{(name, db): [granted role, ...]} as usersInfo/rolesInfo list them, for the scope."""
        if kind == 'users' and not self.scope:
            replies = [client.admin.command(SON([('usersInfo', SON([('forAllDBs', True)]))]))]
        else:
            command = 'usersInfo' if kind == 'users' else 'rolesInfo'
            replies = [client[db].command(command, 1) for db in sorted(databases | set([self.scope]) - set(['']))]
        out = {}
        for reply in replies:
            if not isinstance(reply.get(kind), list):
                raise MongoArchiveError('users and roles were merged, but the server lists no "%s"' % kind)
            for doc in reply[kind]:
                out[(doc.get(NAME_FIELDS[kind]), doc.get('db'))] = sorted(
                    '%s@%s' % (r.get('role'), r.get('db')) for r in doc.get('roles') or [])
        return out


def plan_users_and_roles(plan, ns_filter, documents, documents_read=True):
    """The :class:`UsersAndRoles` of a validated plan (restore_users_and_roles: true). Raises MongoArchiveError,
    before anything is written, for what mongorestore refuses or cannot express:

    - users/roles of several scopes (a full dump's admin.system.users and a database's $admin.system.users, or
      two databases'): --restoreDbUsersAndRoles restores one database (mongorestore.go ParseAndValidateOptions:
      "cannot use --restoreDbUsersAndRoles without a specified database"), metadata.go "can't restore users and
      roles to different databases";
    - admin/$admin.system.users: "cannot use --restoreDbUsersAndRoles with the admin database";
    - ns_from/ns_to renaming them: a user document names its database, and the server merges only the users of
      the ``db`` it is given.

    ns_include/ns_exclude select the users and roles files as mongorestore's includer does (filepath.go);
    the auth schema version file is read whatever they say (it is never restored).
    """
    found, scopes, excluded = {}, set(), []
    for entry in plan.source.collections:
        kind = auth_collection_kind(entry.db, entry.collection)
        if kind is None:
            continue
        scope = _scope_of(entry)
        if kind != 'version':
            if not ns_filter.selects(entry.ns):
                excluded.append(entry.ns)
                continue
            if ns_filter.target(entry.ns) != entry.ns:
                raise MongoArchiveError('ns_from/ns_to would restore %s as %s: users and roles keep the database they '
                                        'are defined in (%s merges the users whose db is the one it is given); '
                                        'restore them without renaming' % (
                                            entry.ns, ns_filter.target(entry.ns), MERGE_COMMAND))
            if scope == 'admin':
                raise MongoArchiveError('%s: cannot restore the users and roles of a single-database dump of admin '
                                        '(mongorestore: "cannot use --restoreDbUsersAndRoles with the admin '
                                        'database"); dump admin as part of a full dump' % entry.ns)
            scopes.add(scope)
        found.setdefault(kind, []).append((scope, entry))
    if len(scopes) > 1:
        raise MongoArchiveError('the source holds users or roles of %s: mongorestore restores those of one database '
                                '(--restoreDbUsersAndRoles with --db) or of a full dump (admin.system.users), never '
                                'both; select one with ns_include/ns_exclude' % ', '.join(
                                    sorted(repr(s) if s else 'every database (admin.system.*)' for s in scopes)))
    scope = scopes.pop() if scopes else ''
    entries = {}
    for kind, candidates in found.items():
        for entry_scope, entry in candidates:
            if entry_scope == scope:
                entries[kind] = entry
    result = UsersAndRoles(entries, scope, dump_server_version(plan.source), documents, documents_read)
    moved = set(entries[kind].ns for kind in result.kinds) | set(excluded)
    plan.skipped_namespaces = [dict(s, reason=VERSION_REASON) if 'version' in entries and
                               s['namespace'] == entries['version'].ns else s
                               for s in plan.skipped_namespaces if s['namespace'] not in moved]
    plan.excluded_namespaces.extend(excluded)
    if not result.kinds:
        result.warnings.append('restore_users_and_roles: the source holds no users or roles to restore (mongorestore '
                               '--restoreDbUsersAndRoles refuses such a dump: "No users or roles found in restore '
                               'target")')
    return result
