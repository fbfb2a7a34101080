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

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import SON
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.formats import ContentChecksum, MongoArchiveError
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.namespaces import NamespaceFilter, skip_reason
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.source import open_source


def index_fields(index):
    """An index compared by its key fields ("a,b"): servers may rename indexes or normalise key values."""
    return ','.join(index['key'].keys())


INDEX_TYPES = ('2d', '2dsphere', 'geoHaystack', 'hashed', 'text', 'wildcard')


def convert_legacy_index_key(key):
    """An index key old servers accepted and current ones refuse, made valid as mongorestore's
    --convertLegacyIndexes does: zero, non-numbers and unknown strings become 1; others are kept."""
    converted = SON()
    for field, value in key.items():
        if isinstance(value, bool) or value is None:
            value = 1
        elif isinstance(value, (int, float)):
            value = value if value != 0 else 1
        elif isinstance(value, str):
            value = value if value in INDEX_TYPES else 1
        elif hasattr(value, 'to_decimal'):  # Decimal128
            number = value.to_decimal()
            value = 1 if number.is_nan() or number == 0 else value
        else:
            value = 1
        converted[field] = value
    return converted


class PlanItem(object):
    """One collection to restore: where from, where to, and what it must hold afterwards."""

    def __init__(self, entry, target):
        self.entry = entry
        self.db, self.collection = target.split('.', 1)
        self.checksum = ContentChecksum()

    @property
    def ns(self):
        return '%s.%s' % (self.db, self.collection)

    @property
    def is_view(self):
        return self.entry.kind == 'view'

    @property
    def metadata(self):
        return self.entry.metadata or {}

    def index_specs(self, convert_legacy=False):
        """Secondary index definitions, as createIndexes wants them (no ns, no _id index)."""
        specs = []
        for index in self.metadata.get('indexes', []):
            if index.get('name') == '_id_':
                continue
            spec = SON((k, v) for k, v in index.items() if k != 'ns')
            if convert_legacy:
                spec['key'] = convert_legacy_index_key(spec['key'])
            specs.append(spec)
        return specs

    def expected(self):
        if self.is_view:
            return {'type': 'view', 'view_on': self.metadata.get('options', {}).get('viewOn')}
        return {'type': 'collection', 'documents': self.entry.count, 'checksum': self.checksum.hexdigest(),
                'indexes': sorted(['_id'] + [index_fields(s) for s in self.index_specs()])}

    def summary(self):
        result = dict(namespace=self.ns, source_namespace=self.entry.ns)
        result.update(self.expected())
        return result


class Plan(object):
    def __init__(self, source):
        self.source = source
        self.items = []
        self.skipped_namespaces = []
        self.excluded_namespaces = []

    @property
    def databases(self):
        return sorted(set(item.db for item in self.items))

    def by_source(self):
        return dict(((i.entry.db, i.entry.collection), i) for i in self.items)

    def summary(self):
        return [item.summary() for item in self.items]


def validate(path, ns_filter=None):
    """Read and check the whole archive or dump; return the :class:`Plan`. Writes nothing."""
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
        items = plan.by_source()
        for entry, raw in source.documents(verify_documents=True):
            if raw is not None:
                item = items.get((entry.db, entry.collection))
                if item is not None:
                    item.checksum.add(raw)
    finally:
        source.close()
    return plan
