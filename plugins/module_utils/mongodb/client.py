# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by the halobuzz.ops MongoDB modules (doc fragment: halobuzz.ops.mongodb)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

try:
    import pymongo
    from pymongo.errors import PyMongoError

    HAS_PYMONGO = True
    PYMONGO_IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    HAS_PYMONGO = False
    PYMONGO_IMPORT_ERROR = traceback.format_exc()

    class PyMongoError(Exception):
        pass


class MongoClientError(Exception):
    """The server cannot be reached or refused a command; the message never holds credentials."""


def mongodb_argument_spec(**module_options):
    """The connection options of doc fragment halobuzz.ops.mongodb plus the module's own."""
    spec = dict(
        mongodb_uri=dict(type='str', no_log=True),
        host=dict(type='str'),
        port=dict(type='int', default=27017),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        auth_source=dict(type='str', default='admin'),
        tls=dict(type='bool', default=False),
        tls_ca_file=dict(type='path'),
        tls_allow_invalid_certificates=dict(type='bool', default=False),
        server_selection_timeout=dict(type='int', default=30),
    )
    spec.update(module_options)
    return spec


MONGODB_MUTUALLY_EXCLUSIVE = [['mongodb_uri', 'host'], ['mongodb_uri', 'username'], ['mongodb_uri', 'password']]
MONGODB_REQUIRED_TOGETHER = [['username', 'password']]


def describe_target(params):
    """Where the module connects, without credentials (for messages)."""
    uri = params.get('mongodb_uri')
    if uri:
        rest = uri.split('://', 1)[-1]
        hosts = rest.rsplit('@', 1)[-1].split('/', 1)[0].split('?', 1)[0]
        return 'MongoDB at %s' % hosts
    return 'MongoDB at %s:%s' % (params.get('host') or 'localhost', params.get('port'))


def connect(params):
    """A MongoClient for the module's connection options, after a ping."""
    timeout_ms = max(1, params.get('server_selection_timeout') or 30) * 1000
    options = dict(serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=min(timeout_ms, 20000),
                   appname='halobuzz.ops')
    if params.get('tls'):
        options['tls'] = True
        if params.get('tls_ca_file'):
            options['tlsCAFile'] = params['tls_ca_file']
        if params.get('tls_allow_invalid_certificates'):
            options['tlsAllowInvalidCertificates'] = True
    where = describe_target(params)
    try:
        if params.get('mongodb_uri'):
            client = pymongo.MongoClient(params['mongodb_uri'], **options)
        else:
            if params.get('username'):
                options.update(username=params['username'], password=params['password'],
                               authSource=params.get('auth_source') or 'admin')
            client = pymongo.MongoClient(host=params.get('host') or 'localhost', port=params.get('port') or 27017,
                                         **options)
        client.admin.command('ping')
    except PyMongoError as exc:
        raise MongoClientError('cannot reach %s: %s; check mongodb_uri (or host/port/credentials) and that '
                               'the server is up' % (where, redact(str(exc), params)))
    except (ValueError, TypeError) as exc:
        raise MongoClientError('invalid connection options for %s: %s' % (where, redact(str(exc), params)))
    return client


def redact(text, params):
    """``text`` with the URI and password removed, for error messages."""
    for secret in (params.get('mongodb_uri'), params.get('password')):
        if secret:
            text = text.replace(secret, '********')
    return text


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
