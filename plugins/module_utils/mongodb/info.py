# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A read-only view of a MongoDB server: a serverStatus subset and per-collection document counts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import MongoClientError, PyMongoError, connect

SERVER_STATUS_KEYS = ('version', 'uptime', 'connections', 'opcounters')
_INTERNAL = ('admin', 'local', 'config')


def server_info(client, databases=None):
    """(serverStatus subset, {db.collection: count}) — read-only."""
    try:
        status = client.admin.command('serverStatus')
        server = dict((k, status[k]) for k in SERVER_STATUS_KEYS if k in status)
        counts = {}
        for db in databases or [d for d in client.list_database_names() if d not in _INTERNAL]:
            for info in client[db].list_collections():
                if info.get('type', 'collection') == 'collection' and not info['name'].startswith('system.'):
                    counts['%s.%s' % (db, info['name'])] = client[db][info['name']].count_documents({})
    except PyMongoError as exc:
        raise MongoClientError('reading server status and counts failed: %s' % exc)
    return server, counts


def run_info(params):
    """mongodb_info: connect (the ping) and read; the same in check mode."""
    server, collections = server_info(connect(params), params['databases'])
    return dict(changed=False, ping=True, server=server, collections=collections)
