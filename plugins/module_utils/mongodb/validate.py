# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validation pass over a mongodump archive or dump directory, and the plan it yields.

:func:`validate` reads the whole source once: structure, every namespace's CRC-64, every
document's BSON structure, every metadata document; it applies the namespace filters and
renames and computes each collection's count and content checksum (:class:`ContentChecksum`).
Nothing is written and no server is needed; a problem raises MongoArchiveError. The
:class:`Plan` says what a restore would write (restore.py) and describes an existing backup
(backup.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import SON, bson, json_util
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import ContentChecksum, MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import NamespaceFilter, skip_reason
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.source import open_source
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.timeseries import bucket_collection


INDEX_TYPES = ('2d', '2dsphere', 'geoHaystack', 'hashed', 'text', 'wildcard')
_EPSILON = 1e-9

# mongo-tools common/bsonutil/indexes.go, validIndexOptions: what ConvertLegacyIndexOptions keeps for
# servers that lack createIndexes' ignoreUnknownIndexOptions (before 4.1.9).
VALID_INDEX_OPTIONS = frozenset((
    '2dsphereIndexVersion', 'background', 'bits', 'bucketSize', 'coarsestIndexedLevel', 'collation',
    'default_language', 'expireAfterSeconds', 'finestIndexedLevel', 'key', 'language_override', 'max', 'min',
    'name', 'ns', 'partialFilterExpression', 'sparse', 'storageEngine', 'textIndexVersion', 'unique', 'v',
    'weights', 'wildcardProjection'))
# The index properties a restore must reproduce and verification compares (besides the key).
COMPARED_INDEX_OPTIONS = ('unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'collation',
                          'hidden', 'wildcardProjection', 'weights', 'default_language', 'language_override',
                          '2dsphereIndexVersion', 'bits', 'min', 'max')
# Collection options that are instructions to create, not properties listCollections reports back.
UNCOMPARED_OPTIONS = ('autoIndexId', 'idIndex', 'recordIdsReplicated', 'flags')


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if hasattr(value, 'to_decimal'):  # Decimal128
        try:
            return float(value.to_decimal())
        except (ValueError, OverflowError):
            return None
    return None


def convert_legacy_index_value(value):
    """mongo-tools common/bsonutil/indexes.go, ConvertLegacyIndexKeyValue: (value, converted).

    Zero (int, long, Decimal128) and ``""`` become 1, a double near zero keeps its sign (1 or -1),
    every non-number non-string becomes 1; other strings and numbers are kept (an unknown string is
    left for the server to refuse, as upstream)."""
    if isinstance(value, bool) or value is None:
        return 1, True
    if isinstance(value, int):
        return (1, True) if value == 0 else (value, False)
    if isinstance(value, float):
        return ((1 if value >= 0 else -1), True) if abs(value) < _EPSILON else (value, False)
    if hasattr(value, 'to_decimal'):
        number = value.to_decimal()
        if number.is_nan():
            return value, False
        return (1, True) if number == number.to_integral_value() and number == 0 else (value, False)
    if isinstance(value, str):
        return (1, True) if value == '' else (value, False)
    return 1, True


def convert_legacy_index_key(key):
    """An index key as mongorestore --convertLegacyIndexes makes it (ConvertLegacyIndexKeys)."""
    return SON((field, convert_legacy_index_value(value)[0]) for field, value in key.items())


def index_keys_equal(key1, key2):
    """mongo-tools common/bsonutil/indexes.go, IsIndexKeysEqual: same fields in the same order, equal
    strings, numbers equal within 1e-9."""
    if list(key1) != list(key2):
        return False
    for field in key1:
        a, b = key1[field], key2[field]
        if isinstance(a, str) or isinstance(b, str):
            if a != b:
                return False
            continue
        na, nb = _number(a), _number(b)
        if na is None or nb is None or abs(na - nb) >= _EPSILON:
            return False
    return True


def key_signature(key):
    """An index key as a comparable list: field order kept, numbers by value (1 == 1.0), strings as they are."""
    out = []
    for field, value in key.items():
        number = _number(value)
        out.append([field, value if number is None else (int(number) if number.is_integer() else number)])
    return out


def index_signature(spec):
    """What verification compares of an index: key (with direction/type) and COMPARED_INDEX_OPTIONS."""
    result = {'key': key_signature(spec['key'])}
    for option in COMPARED_INDEX_OPTIONS:
        if option in spec and spec[option] not in (False, None):
            value = spec[option]
            number = _number(value)
            result[option] = value if number is None else (int(number) if number.is_integer() else number)
    return result


def contains(actual, expected):
    """Whether ``actual`` (what the server reports) holds everything of ``expected`` (what was sent).

    Servers fill in defaults (a collation's strength, a time-series' bucketMaxSpanSeconds) and round
    a capped size up, so sent values are compared field by field, not as whole documents."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        return all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            contains(a, e) for a, e in zip(actual, expected))
    ne, na = _number(expected), _number(actual)
    if ne is not None and na is not None:
        return abs(ne - na) < _EPSILON
    return actual == expected


def index_matches(actual, expected):
    """Whether the server's index ``actual`` is the index ``expected`` (names are not compared:
    servers and the sandbox may rename)."""
    if not index_keys_equal(actual['key'], expected['key']):
        return False
    id_index = list(expected['key']) == ['_id']
    for option in COMPARED_INDEX_OPTIONS:
        if id_index and option == 'unique':
            continue  # the _id index is unique whether or not a server says so (mongoeco does, mongod does not)
        want, got = expected.get(option), actual.get(option)
        if want in (None, False):
            if got not in (None, False) and option in ('unique', 'sparse', 'hidden', 'partialFilterExpression',
                                                       'expireAfterSeconds'):
                return False
            continue
        if option == 'collation' and _number(expected.get('v')) == 1 and want == {'locale': 'simple'}:
            continue
        if not contains(got, want):
            return False
    return True


def indexes_differ(actual, expected):
    """The differences between two index lists (both with the _id index), as readable strings."""
    problems = []
    left = list(actual)
    for spec in expected:
        match = next((a for a in left if index_matches(a, spec)), None)
        if match is None:
            problems.append('index %s missing or different' % show_index(spec))
        else:
            left.remove(match)
    problems.extend('unexpected index %s' % show_index(a) for a in left)
    return problems


def show_index(spec):
    sig = index_signature(spec)
    extra = ', '.join('%s=%s' % (k, v) for k, v in sorted(sig.items()) if k != 'key')
    return '{%s}%s' % (', '.join('%s: %s' % (f, v) for f, v in sig['key']), ' (%s)' % extra if extra else '')


def bucket_problem(doc):
    """Why a time-series bucket document cannot be one (a real server refuses it on insert), or None.

    A bucket holds ``control: {version, min, max}`` and ``data`` (mongo src/mongo/db/timeseries/
    bucket_catalog; mongorestore inserts buckets without bypassing validation: restore.go,
    RestoreCollectionToDB)."""
    control = doc.get('control')
    if not isinstance(control, dict):
        return 'has no "control" document'
    for field in ('version', 'min', 'max'):
        if field not in control:
            return 'has no control.%s' % field
    if not isinstance(doc.get('data'), dict):
        return 'has no "data" document'
    return None


class PlanItem(object):
    """One collection to restore: where from, where to, and what it must hold afterwards."""

    def __init__(self, entry, target):
        self.entry = entry
        self.db, self.collection = target.split('.', 1)
        self.checksum = ContentChecksum()
        self.skipped_indexes = []

    @property
    def ns(self):
        return '%s.%s' % (self.db, self.collection)

    def add(self, raw, where):
        """Count one document of the source into the checksum (a time-series bucket is checked first)."""
        self.checksum.add(raw)
        if self.is_timeseries:
            problem = bucket_problem(bson.decode(raw))
            if problem:
                raise MongoArchiveError('%s: time-series %s: bucket document %d %s; a server refuses it (so does '
                                        'mongorestore)' % (where, self.entry.ns, self.entry.count, problem))

    @property
    def kind(self):
        return self.entry.kind

    @property
    def is_view(self):
        return self.entry.kind == 'view'

    @property
    def is_timeseries(self):
        return self.entry.is_timeseries

    def data_collection_on(self, server_version):
        """Where the documents go on a server of ``server_version``: a time-series collection's buckets into
        system.buckets.<name> before 8.3, into the collection itself (with rawData) from 8.3 (timeseries.py;
        mongo-tools common/intents/intent.go DataCollection decides by the destination's version)."""
        return bucket_collection(self.collection, server_version) if self.is_timeseries else self.collection

    @property
    def metadata(self):
        return self.entry.metadata or {}

    def create_options(self, server_version=None):
        """The create command's options, rewritten as mongorestore does (restore.go RestoreIntent,
        metadata.go UpdateAutoIndexId / createCollectionWithCommand)."""
        options = SON((k, v) for k, v in (self.metadata.get('options') or {}).items())
        options.pop('recordIdsReplicated', None)
        id_index = next((i for i in self.metadata.get('indexes', []) if i.get('name') == '_id_'), None)
        if id_index is not None and not options.get('clusteredIndex') and not self.is_view and not self.is_timeseries:
            # "If the collection has an idIndex, then we are about to create it, so ignore autoIndexId"
            options.pop('autoIndexId', None)
            options['idIndex'] = SON((k, v) for k, v in id_index.items() if k not in ('v', 'ns'))
        if 'autoIndexId' in options and server_version is not None and server_version >= (4, 0, 0):
            if server_version >= (8, 2, 0):
                options.pop('autoIndexId')  # "autoIndexId is not allowed in server versions >= 8.2.0"
            elif options['autoIndexId'] is False and self.db != 'local':
                options['autoIndexId'] = True  # "{autoIndexId: false} is not allowed in server versions >= 4.0"
        return options

    def compared_options(self, server_version=None):
        options = self.create_options(server_version)
        for key in UNCOMPARED_OPTIONS:
            options.pop(key, None)
        if self.is_view:
            options.setdefault('pipeline', [])
        return options

    def index_specs(self, convert_legacy=False, server_version=None):
        """Secondary index definitions as createIndexes wants them (no ns, no v, no _id index), prepared as
        mongorestore does (restore.go RestoreIndexesForNamespace / convertLegacyIndexes): with
        ``convert_legacy`` (--convertLegacyIndexes) legacy key values are converted, specs that become
        duplicates skipped, and unknown options stripped for servers before 4.1.9; ``skipped`` lists the
        duplicates."""
        specs, skipped, keys = [], [], []
        for index in self.metadata.get('indexes', []):
            if index.get('name') == '_id_':
                continue
            spec = SON((k, v) for k, v in index.items() if k not in ('ns', 'v'))
            if convert_legacy:
                spec['key'] = convert_legacy_index_key(spec['key'])
                if any(index_keys_equal(spec['key'], k) for k in keys):
                    skipped.append(spec.get('name'))
                    continue
                keys.append(spec['key'])
                if server_version is not None and server_version < (4, 1, 9):
                    spec = SON((k, v) for k, v in spec.items() if k in VALID_INDEX_OPTIONS)
            if _number(index.get('v')) == 1 and spec.get('collation') == {'locale': 'simple'}:
                del spec['collation']  # restore.go stripSimpleCollation: a v:1 index refuses any collation
            specs.append(spec)
        if convert_legacy:
            self.skipped_indexes = skipped
        return specs

    def expected_indexes(self, convert_legacy=False, server_version=None):
        """Every index the restored collection has: the _id index (a time-series or clustered collection
        has none of its own unless the metadata lists it) and the secondary ones."""
        specs = self.index_specs(convert_legacy, server_version)
        id_index = next((i for i in self.metadata.get('indexes', []) if i.get('name') == '_id_'), None)
        if id_index is None and not self.is_timeseries and not (self.metadata.get('options') or {}).get('clusteredIndex'):
            id_index = {'key': SON([('_id', 1)]), 'name': '_id_'}
        return ([id_index] if id_index is not None else []) + specs

    def expected(self, convert_legacy=False):
        """What the database holds after a restore, in the form collection_state() reports."""
        if self.is_view:
            return {'type': 'view', 'options': plain(self.compared_options())}
        result = {'type': self.kind, 'documents': self.entry.count, 'checksum': self.checksum.hexdigest(),
                  'indexes': sorted(show_index(s) for s in self.expected_indexes(convert_legacy))}
        options = self.compared_options()
        if options:
            result['options'] = plain(options)
        return result

    def summary(self, convert_legacy=False):
        result = dict(namespace=self.ns, source_namespace=self.entry.ns)
        result.update(self.expected(convert_legacy))
        return result


def plain(value):
    """Options as plain JSON-able data for results (BSON types in their relaxed Extended JSON form)."""
    return json.loads(json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS))


class Plan(object):
    def __init__(self, source):
        self.source = source
        self.items = []
        self.skipped_namespaces = []
        self.excluded_namespaces = []
        self.states = {}  # the database before the restore, by target namespace (restore.compare)

    @property
    def databases(self):
        return sorted(set(item.db for item in self.items))

    def by_source(self):
        return dict(((i.entry.db, i.entry.collection), i) for i in self.items)

    def summary(self, convert_legacy=False):
        return [item.summary(convert_legacy) for item in self.items]


def validate(path, ns_filter=None, read_documents=True, collect=None):
    """Read and check the whole archive or dump; return the :class:`Plan`. Writes nothing.

    With ``read_documents=False`` only the prelude (archive) or the file list and metadata (directory) are
    read: the restore then checks and counts each namespace while it writes it (single pass). ``collect(entry,
    raw)`` is given every document of a namespace that is not restored as a collection (users and roles)."""
    ns_filter = ns_filter or NamespaceFilter()
    source = open_source(path)
    plan = Plan(source)
    try:
        source.read_prelude()
        targets = {}
        for entry in source.collections:
            reason = skip_reason(entry.db, entry.collection)
            if reason:
                plan.skipped_namespaces.append({'namespace': entry.ns, 'reason': reason})
                continue
            if not ns_filter.selects(entry.ns):
                plan.excluded_namespaces.append(entry.ns)
                continue
            target = ns_filter.target(entry.ns)
            if target in targets:
                raise MongoArchiveError('%s and %s would both be restored into %s; adjust ns_from/ns_to'
                                        % (targets[target], entry.ns, target))
            targets[target] = entry.ns
            plan.items.append(PlanItem(entry, target))
        if not read_documents:
            return plan  # the caller reads the documents (restore, single pass) and closes the source
        items = plan.by_source()
        for entry, raw in source.documents(verify_documents=True):
            if raw is not None:
                item = items.get((entry.db, entry.collection))
                if item is not None:
                    item.add(raw, source.where)
                elif collect is not None:
                    collect(entry, raw)
    except BaseException:
        source.close()
        raise
    source.close()
    return plan
