# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MongoDB connection of every halobuzz.ops MongoDB module (doc fragment: halobuzz.ops.mongodb).

The lowest layer of the mongodb package: the one guarded import of pymongo and its ``bson`` package
(every other file of the package takes the library names from here), ``MONGODB_CONNECTION`` for
``HaloBuzzModule``, and ``connect()``, which turns pymongo's errors into ``MongoClientError`` with a
message that never holds credentials.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback
from urllib.parse import unquote_plus

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.common.connection import Connection
from ansible_collections.halobuzz.ops.plugins.module_utils.common.redact import redact_text, redact_url

# bson, json_util, Int64, SON, OperationFailure and WriteConcern are imported for the package's other files.
try:
    import pymongo
    from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError  # noqa: F401  pylint: disable=unused-import
    from pymongo.write_concern import WriteConcern  # noqa: F401  pylint: disable=unused-import
    import bson  # noqa: F401  pylint: disable=unused-import
    from bson import json_util  # noqa: F401  pylint: disable=unused-import
    from bson.codec_options import CodecOptions
    from bson.int64 import Int64  # noqa: F401  pylint: disable=unused-import
    from bson.raw_bson import RawBSONDocument
    from bson.son import SON  # noqa: F401  pylint: disable=unused-import

    # Documents travel as the raw bytes the server returned or the dump holds, never decoded.
    RAW_OPTIONS = CodecOptions(document_class=RawBSONDocument)
    PYMONGO_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - HaloBuzzModule reports missing_required_lib('pymongo')
    PYMONGO_IMPORT_ERROR = traceback.format_exc()
    pymongo = bson = json_util = Int64 = RawBSONDocument = SON = RAW_OPTIONS = WriteConcern = None

    class PyMongoError(Exception):
        pass

    class ConfigurationError(PyMongoError):
        pass

    class OperationFailure(PyMongoError):
        code = None


class MongoClientError(HaloBuzzError):
    """The server cannot be reached or refused a command; the message never holds credentials."""


# The server's error code for a command the login may not run (mongo src/mongo/base/error_codes.yml: Unauthorized).
UNAUTHORIZED = 13


def server_version_text(client):
    """The version the server reports (buildInfo), '' when it does not say (some servers lack buildInfo)."""
    try:
        return client.server_info().get('version') or ''  # pymongo: the buildInfo command
    except PyMongoError:
        return ''


def server_message(exc):
    """What the server said when it refused a command (its errmsg), else the exception's text."""
    details = getattr(exc, 'details', None) or {}
    return details.get('errmsg') or str(exc)


MONGODB_CONNECTION = Connection(
    argument_spec=dict(
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
    ),
    libraries=[('pymongo', PYMONGO_IMPORT_ERROR)],
    mutually_exclusive=[['mongodb_uri', 'host'], ['mongodb_uri', 'username'], ['mongodb_uri', 'password']],
    required_together=[['username', 'password']],
)


def describe_target(params):
    """Where the module connects, without credentials (for messages): 'MongoDB at h1:27017,h2:27018'.

    The URI is shown through common/redact.py (hosts and ports only, whatever the input); a URI with no
    readable host says so ('MongoDB at mongodb:<no host>').
    """
    uri = params.get('mongodb_uri')
    if uri:
        shown = redact_url(uri)
        return 'MongoDB at %s' % (shown.split('://', 1)[1] if '://' in shown else shown)
    return 'MongoDB at %s:%s' % (params.get('host') or 'localhost', params.get('port'))


def _uri_secrets(uri):
    """The password of ``uri`` as typed and decoded, and its whole user information (never raises)."""
    try:
        rest = uri.split('://', 1)[-1]
        userinfo = rest.rpartition('@')[0]
        found = [userinfo, userinfo.partition(':')[2]] if ':' in userinfo else []
        return found + [unquote_plus(s) for s in found]
    except Exception:  # pylint: disable=broad-except
        return []  # best effort: the whole URI is removed anyway


def redact(text, params):
    """``text`` with the URI, its password and the password option removed, for error messages."""
    uri = params.get('mongodb_uri')
    secrets = [uri, params.get('password')]
    if isinstance(uri, str):
        secrets += _uri_secrets(uri)
    return redact_text(text, secrets)


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
    except ConfigurationError as exc:  # InvalidURI, unknown/invalid options: nothing was sent to a server
        raise MongoClientError('invalid connection options for %s: %s; check mongodb_uri (percent-encode the '
                               'user name and password) or host/port/credentials' % (where, redact(str(exc), params)))
    except PyMongoError as exc:
        raise MongoClientError('cannot reach %s: %s; check mongodb_uri (or host/port/credentials) and that '
                               'the server is up' % (where, redact(str(exc), params)))
    except (ValueError, TypeError) as exc:
        raise MongoClientError('invalid connection options for %s: %s' % (where, redact(str(exc), params)))
    return client
