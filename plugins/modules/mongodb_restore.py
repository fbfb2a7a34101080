#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: mongodb_restore
short_description: Restore a mongodump archive or dump directory, validated in full before anything is written
version_added: 0.1.0
description:
  - Restores a C(mongodump --archive) file (plain or gzip) or a C(mongodump) directory dump (C(.bson),
    C(.metadata.json), their C(.gz) forms, percent-encoded names) in Python, without the mongo tools.
  - Why this module exists. C(community.mongodb) has no backup or restore module; AWX execution
    environments rarely carry C(mongorestore); and C(mongorestore --dryRun) reports 0 documents
    (TOOLS-3493), so it cannot vouch for an archive before a rollback.
  - "First a validation pass reads the whole source: archive structure, the CRC-64 of every namespace,
    the BSON structure of every document, every metadata document. A problem fails the task with the
    file, the namespace and the byte offset, and nothing is written."
  - "Then a pre-flight checks every namespace, option and index against the target server before anything is
    dropped: mongorestore's own rules (a time-series collection restored without O(drop) must not exist,
    geoHaystack indexes are refused by servers 4.9 and later) and a probe: each collection is created with its
    name, options and indexes in a scratch database (C(halobuzz_preflight_<random>)), read back with
    C(listCollections)/C(listIndexes) and dropped. A server that cannot hold something (a view, a time-series
    collection, a hashed index, a collation, a name) fails the task with the list of problems; nothing was written.
    For a time-series collection the probe also looks where its buckets will go (see the time-series paragraph).
    A login that may not create the scratch database is probed in the target database under scratch names
    (C(halobuzz_preflight_<random>_<n>), dropped after), except in check mode."
  - "Then one collection at a time, as mongorestore: drop (as C(mongorestore --drop); C(system.*) collections are
    never dropped), create with the options of its metadata (rewritten as mongorestore does: C(autoIndexId),
    C(idIndex), C(recordIdsReplicated)), insert the documents as the raw BSON they were dumped as (every BSON type
    survives exactly; time-series buckets where the server keeps them, with validation), create the indexes
    (C(ignoreUnknownIndexOptions) for servers 4.1.9 and later, as mongorestore), then re-read the collection once
    and compare count, content checksum, full index specs (key with direction/type, unique, sparse, partial
    filter, TTL, collation, hidden), collection options and view definition with the source. A failure leaves the
    other collections untouched."
  - "Content checksum: sha256 over the document count and the sum (mod 2**256) of the sha256 of each
    document's raw BSON; order-independent, the same function for the archive and for the database."
  - "Namespaces not restored, as C(mongorestore) without C(--oplogReplay): the oplog; the C(local) and
    C(config) databases; C(system.users), C(system.roles) and C(admin.system.version) (users, roles,
    auth schema, also as the C(<db>/$admin.system.users) files of C(mongodump --dumpDbUsersAndRoles)), unless
    O(restore_users_and_roles); C(system.views) (views come from their own metadata); C(system.buckets.*)
    (restored as the data of their time-series collection); other C(system.*) collections except C(system.js).
    They are listed in RV(skipped_namespaces)."
  - "Time-series collections: from archives (the prelude names C(<name>) with type C(timeseries); the data travels
    as C(system.buckets.<name>) when the archive header's server version is before 8.3 or unknown, as C(<name>) from
    8.3) and dump directories (C(system.buckets.<name>.bson), or C(<name>.bson) as C(mongodump) writes it from 8.3);
    bucket documents without C(control.version/min/max) or C(data) are refused before any write. Where the buckets
    are written depends on the target server's version, as C(mongorestore) decides: before 8.3 into
    C(system.buckets.<name>); from 8.3 (time-series collections without C(system.buckets), 'viewless') into the
    collection itself with C(insert) commands carrying C(rawData) (so the login needs the action
    C(performRawDataOperations) there), and the verification reads them back with C(rawData). A dump from either
    side restores into either. A server that does not report its version (C(buildInfo)), or whose buckets are not
    where its version says (the probe), gets no time-series collection: the task fails before any write. A bucket
    the server refuses for mixed-schema data (code 408) gets C(collMod timeseriesBucketsMayHaveMixedSchemaData) on
    the collection and the insert goes on, as C(mongorestore) does."
  - When the database already holds exactly the source's content (counts, checksums, indexes, options), nothing
    is written and the task reports C(changed=false), unless O(skip_if_identical=false).
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.mongodb
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_mongodb
attributes:
  check_mode:
    support: full
    details: Runs the whole validation pass, the comparison with the database and the pre-flight, and reports real
      counts; writes nothing to the target database. The pre-flight's probe creates and drops its scratch database;
      when the login may not create it (a read-only dry run), the probe is left out with a warning and only
      mongorestore's rules are checked (the real run probes in the target database).
  diff_mode:
    support: full
    details: Returns per-collection state (count, checksum, indexes, options) before and after.
options:
  src:
    description:
      - Path of a mongodump archive file (gzip is detected) or of a mongodump dump directory.
    type: path
    required: true
  drop:
    description:
      - Drop each target collection before restoring it (C(mongorestore --drop)).
      - With V(false), documents are added to existing collections (merged); duplicate C(_id)s fail the task, and
        verification checks that each collection holds what it held before plus every document written.
    type: bool
    default: true
  drop_extra_collections:
    description:
      - Also drop collections of the target databases that the source does not contain, so the databases
        end up exactly as the source (used to put back a safety backup).
    type: bool
    default: false
  ns_include:
    description: Restore only namespaces matching one of these patterns (C(*) matches any characters), as C(--nsInclude).
    type: list
    elements: str
    default: []
  ns_exclude:
    description: Skip namespaces matching one of these patterns, as C(--nsExclude).
    type: list
    elements: str
    default: []
  ns_from:
    description:
      - Rename patterns, as C(--nsFrom); C($name$) captures any characters, C(*) is a wild card (C(\\*) a literal
        asterisk). Each needs the O(ns_to) at the same position; when several match, the last pair wins (as upstream).
    type: list
    elements: str
    default: []
  ns_to:
    description: Targets for O(ns_from), as C(--nsTo); C($name$) or the C(*) at the same rank inserts what O(ns_from) captured.
    type: list
    elements: str
    default: []
  batch_size:
    description: Documents per insert batch (a batch is also sent when it reaches 16 MiB).
    type: int
    default: 1000
  restore_indexes:
    description: Recreate the secondary indexes listed in each collection's metadata.
    type: bool
    default: true
  convert_legacy_indexes:
    description:
      - Make index keys that old servers accepted and current servers refuse valid before creating the index, as
        C(mongorestore --convertLegacyIndexes) does (a key value of C(0), C(true), C("") or another non-number
        becomes C(1)); specs that become duplicates of an earlier one are skipped (RV(skipped_indexes)).
      - Off by default, as upstream. With V(false) the pre-flight refuses such an index before anything is written.
    type: bool
    default: false
  write_concern:
    description:
      - Write concern of every write (C(w)), as C(mongorestore --writeConcern), which defaults to C(majority) so that
        a failover right after a verified restore cannot roll the writes back. A number of members or a tag name.
    type: str
    default: majority
  skip_if_identical:
    description: Do nothing (C(changed=false)) when the database already holds exactly the source's content.
    type: bool
    default: true
  restore_users_and_roles:
    description:
      - "Also restore the users and roles of the source, as mongorestore does: C(mongorestore --restoreDbUsersAndRoles)
        for the C(<db>/$admin.system.users)/C($admin.system.roles) files of C(mongodump --db <db> --dumpDbUsersAndRoles)
        (the users and roles of that database), and a full dump's C(admin.system.users)/C(admin.system.roles) (the
        users and roles of every database). Off by default: they are then skipped and listed in
        RV(skipped_namespaces)."
      - "How (mongo-tools mongorestore/metadata.go RestoreUsersOrRoles), after every collection was restored and
        verified: the documents go into the temporary collections C(admin.tempusers) and C(admin.temproles) (one left
        by an interrupted run is dropped first), then the server command
        C({_mergeAuthzCollections: 1, tempUsersCollection: 'admin.tempusers', tempRolesCollection: 'admin.temproles',
        drop: <drop>, db: <the database, or \"\" for every database>, writeConcern: <write_concern>}) moves them into
        place, then the temporary collections are dropped. Never an insert into C(admin.system.users)."
      - "With O(drop) (the default) the server also removes the users and roles of that scope that the source does
        not hold; without it, users and roles that already exist are left as they are."
      - "Before anything is written: the server must list C(_mergeAuthzCollections) (C(listCommands)); the source's
        auth schema version (C(authSchema) of C(admin.system.version); none: 1 for a full dump, 3 for a database's)
        must suit the server's (C(getParameter authSchemaVersion)), as mongorestore's ValidateAuthVersions; with
        O(drop) the restore's own login must be among the users the source holds; and, except in check mode, the
        command is tried with O(drop=false) on the empty temporary collections (it changes no user or role but takes
        the server's user-management lock and invalidates its user cache, hence not in check mode). Users and roles
        of several scopes, of a single-database dump of C(admin), or renamed by O(ns_from)/O(ns_to) are refused."
      - "The login needs the privileges mongorestore's documentation requires for restoring users and roles: the
        built-in C(restore) role on C(admin) (C(createUser), C(createRole), C(grantRole), C(revokeRole), C(dropUser),
        C(dropRole) on every database, C(find) on C(admin.tempusers)/C(admin.temproles), C(getParameter))."
      - "Verification: C(usersInfo)/C(rolesInfo) must list every restored user and role; with O(drop), with the source's
        role grants and no other in the scope. Credentials and privileges are not read back or compared, so users and
        roles are never reported identical: with this option and users or roles in the source, the task restores."
      - "With O(single_pass) the source's auth schema version is compared after the collections, before any user or
        role is written (the check-mode run before it compared it first)."
    type: bool
    default: false
  single_pass:
    description:
      - "Read the source once. No separate validation pass and no comparison with the database (the task always
        restores): each namespace is checked (BSON of every document, CRC-64 at its end, time-series buckets),
        counted and checksummed while it is written, and verified right after."
      - For a source that a check-mode run of this module already validated (C(db_rollback) does so before it
        stops the writers, then compares the checksums verified here with that run's). A namespace found corrupt
        now fails the task after the collections before it were restored. Ignored in check mode.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Validate an archive and show what a restore would do (real counts)
  halobuzz.ops.mongodb_restore:
    mongodb_uri: "{{ mongodb_uri }}"
    src: /backups/backup-20240120.archive
  check_mode: true
  register: plan

- name: Restore the halobuzz database from an archive, renaming it on the way
  halobuzz.ops.mongodb_restore:
    mongodb_uri: "{{ mongodb_uri }}"
    src: /backups/backup-20240120.archive.gz
    ns_include: ["halobuzz.*"]
    ns_from: ["halobuzz.$coll$"]
    ns_to: ["halobuzz_restored.$coll$"]

- name: Restore a full mongodump, with the users and roles of every database (as mongorestore of a dump with admin)
  halobuzz.ops.mongodb_restore:
    mongodb_uri: "{{ mongodb_uri }}"
    src: /backups/dump-20240120
    restore_users_and_roles: true
'''

RETURN = r'''
identical:
  description: Whether the database already held exactly the source's content before the task.
  returned: success
  type: bool
  sample: false
collections:
  description: Each restored (or, in check mode, restorable) collection with what it holds afterwards.
  returned: success
  type: list
  elements: dict
  sample:
    - namespace: halobuzz.users
      source_namespace: halobuzz.users
      type: collection
      documents: 1200
      checksum: 4acb009e5522705e0eb555ae96bdc199d6ea419713f381c2887dd97720552d45
      indexes: ["{_id: 1}", "{email: 1} (unique=True)"]
documents:
  description: Total documents in the restored collections.
  returned: success
  type: int
  sample: 1200
skipped_namespaces:
  description: Namespaces of the source that are never restored, with the reason.
  returned: success
  type: list
  elements: dict
  sample: [{namespace: admin.system.version, reason: "users, roles and the auth schema version: ..."}]
excluded_namespaces:
  description: Namespaces left out by O(ns_include)/O(ns_exclude).
  returned: success
  type: list
  elements: str
  sample: []
skipped_files:
  description: Files of a dump directory that are not part of a dump (skipped, as mongorestore does).
  returned: success
  type: list
  elements: dict
  sample: [{path: badfile.txt, reason: "don't know what to do with file at the top of a dump"}]
skipped_indexes:
  description: Index specs skipped because O(convert_legacy_indexes) made them duplicates of an earlier one (as mongorestore).
  returned: success
  type: list
  elements: dict
  sample: [{namespace: indextest.duplicate_index_key, indexes: ["foo_1.0", "foo_1"]}]
verified:
  description:
    - What each restored collection holds after the restore, re-read from the database (type, documents,
      checksum, indexes, options); the task fails instead when any differs from RV(collections).
  returned: when the module restored (not in check mode, not when identical)
  type: dict
  sample: {halobuzz.users: {type: collection, documents: 1200, checksum: 4acb009e55..., indexes: ["{_id: 1}"]}}
users_and_roles:
  description:
    - With O(restore_users_and_roles), the users and roles restored (or, in check mode, that would be), by name
      (C(name@database)); never their credentials.
    - C(database) is the C(db) sent to C(_mergeAuthzCollections) (null for every database), C(merged) whether the
      merge ran, C(verified) what C(usersInfo)/C(rolesInfo) listed afterwards.
  returned: when O(restore_users_and_roles) is true
  type: dict
  sample:
    database: null
    drop: true
    merged: true
    namespaces: [admin.system.roles, admin.system.users]
    temporary_collections: [admin.tempusers, admin.temproles]
    users: [reportsUser@admin]
    roles: [manageOpRole@admin]
    verified: {users: [reportsUser@admin], roles: [manageOpRole@admin]}
source_kind:
  description: C(archive) or C(directory).
  returned: success
  type: str
  sample: archive
'''

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import MONGODB_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.restore import run_restore

OPTIONS = dict(
    src=dict(type='path', required=True),
    drop=dict(type='bool', default=True),
    drop_extra_collections=dict(type='bool', default=False),
    ns_include=dict(type='list', elements='str', default=[]),
    ns_exclude=dict(type='list', elements='str', default=[]),
    ns_from=dict(type='list', elements='str', default=[]),
    ns_to=dict(type='list', elements='str', default=[]),
    batch_size=dict(type='int', default=1000),
    restore_indexes=dict(type='bool', default=True),
    convert_legacy_indexes=dict(type='bool', default=False),
    write_concern=dict(type='str', default='majority'),
    skip_if_identical=dict(type='bool', default=True),
    single_pass=dict(type='bool', default=False),
    restore_users_and_roles=dict(type='bool', default=False),
)


def main():
    module = HaloBuzzModule(MONGODB_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: run_restore(module.params, module.check_mode, module._diff))


if __name__ == '__main__':
    main()
