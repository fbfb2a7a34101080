"""No secret in any message (issue 15, item 4): plugins/module_utils/common/redact.py and its users.

Every case plants a recognisable secret (S3cretPW-<n>) in a malformed or valid credentials-bearing URL
or URI; the helper, the Redis/MongoDB/Vault clients and the modules must never print it, and no
exception may escape. The hosts and ports a case expects are what Python's urllib.parse.urlsplit
(https://docs.python.org/3/library/urllib.parse.html#urllib.parse.urlsplit) would connect to, which
redis-py (redis/connection.py parse_url) and requests (via urllib3's parse_url) also follow.
"""
import json
import re
from pathlib import Path

import pytest
import requests
from ansible.module_utils.testing import patch_module_args

from ansible_collections.halobuzz.ops.plugins.module_utils.common.redact import redact_text, redact_url, url_problem
from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb.client import (
    MongoClientError, connect, describe_target, redact)
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import RedisCheckError, resolve_target
from ansible_collections.halobuzz.ops.plugins.module_utils.vault.client import (
    VaultAccessError, describe_error, make_client, vault_request)
from ansible_collections.halobuzz.ops.plugins.modules import (
    mongodb_backup, mongodb_info, mongodb_restore, redis_info, redis_key_audit, redis_purge, vault_break_glass)

SECRET = re.compile(r'S3cretPW-\d+')
ARCHIVE = Path(__file__).resolve().parents[3] / 'fixtures' / 'mongodump' / 'archives' / 'test.bar.archive'

# (input, what redact_url shows). Every input carries the secret S3cretPW-<n>, often several times.
CASES = [
    # the ones the security review reported (issue 15, item 4)
    ('redis:/:S3cretPW-1@127.0.0.1:16399/0', 'redis:<no host>'),
    ('redis:///:S3cretPW-2@h', 'redis://<no host>'),
    (':S3cretPW-3@h:6379', '<not a URL: no scheme://host>'),
    ('redis://u:S3cretPW-4@[::1', 'redis://<bad host>'),
    # valid URLs: only scheme, host and port survive
    ('redis://:S3cretPW-5@127.0.0.1:6379/0', 'redis://127.0.0.1:6379'),
    ('rediss://default:S3cretPW-6@cache.example.com:6380/2?ssl_cert_reqs=none', 'rediss://cache.example.com:6380'),
    ('redis://u:S3cretPW-7@[::1]:6379/0', 'redis://[::1]:6379'),
    ('redis://u:S3cretPW-8%40x@cache', 'redis://cache'),
    ('REDIS://:S3cretPW-9@Cache:6379', 'redis://Cache:6379'),
    # malformed Redis URLs
    ('redis://:S3cretPW-10@cache:port/0', 'redis://cache:<bad port>'),
    ('redis://:S3cretPW-11@cache:99999/0', 'redis://cache:<bad port>'),
    ('redis://user:S3cretPW-12/0', 'redis://user:<bad port>'),
    ('redis://abc/S3cretPW-13@cache:6379/0', 'redis://<unclear host>'),
    ('redis://:S3cretPW-14@', 'redis://<no host>'),
    ('redis//:S3cretPW-15@cache:6379', '<not a URL: no scheme://host>'),
    ('http://:S3cretPW-16@cache:6379/0', 'http://cache:6379'),
    ('S3cretPW-17://cache', '<other scheme>://cache'),
    ('redis://:S3cretPW-18@ca che:6379', 'redis://<bad host>:6379'),
    ('redis://:S3cretPW-19@[::1]x:6379', 'redis://[::1]:<bad port>'),
    ('redis://:S3cretPW-20@[S3cretPW-20]:6379', 'redis://<bad host>:6379'),
    ('  redis://:S3cretPW-21@cache:6379/0\n', 'redis://cache:6379'),
    ('redis://:S3cretPW-22\n@cache:6379', 'redis://cache:6379'),
    ('redis://:S3cretPW-23@cache:6379#S3cretPW-23', 'redis://cache:6379'),
    ('redis://:S3cretPW-24@c\u00e4che:6379', 'redis://<bad host>:6379'),
    ('redis://:S3cretPW-25@cache:\uff16\uff13\uff17\uff19', 'redis://cache:<bad port>'),
    # MongoDB connection strings: several hosts, options
    ('mongodb://halobuzz:S3cretPW-26@db-0:27017,db-1:27017,db-2:27018/halobuzz?replicaSet=rs0&authSource=admin',
     'mongodb://db-0:27017,db-1:27017,db-2:27018'),
    ('mongodb+srv://halobuzz:S3cretPW-27@cluster0.example.net/halobuzz?retryWrites=true',
     'mongodb+srv://cluster0.example.net'),
    ('mongodb://halobuzz:S3cretPW-28@db-0,db-1:S3cretPW-28/halobuzz', 'mongodb://db-0,db-1:<bad port>'),
    ('mongodb:/halobuzz:S3cretPW-29@db-0:27017/halobuzz', 'mongodb:<no host>'),
    ('mongodb://halobuzz:S3cretPW-30@db-0:27017/halobuzz?authMechanismProperties=TOKEN:S3cretPW-30',
     'mongodb://db-0:27017'),
    ('mongodb://halobuzz:S3c/retPW-31@db-0:27017', 'mongodb://<unclear host>'),
    ('mongodb://h%3AS3cretPW-32@db-0', 'mongodb://db-0'),
    ('mongodb://u:S3cretPW-33@' + ','.join('db-%d:27017' % i for i in range(12)),
     'mongodb://' + ','.join('db-%d:27017' % i for i in range(10)) + ',<2 more>'),
    # Vault addresses
    ('https://oncall:S3cretPW-34@vault.example.com:8200', 'https://vault.example.com:8200'),
    ('http:/oncall:S3cretPW-35@127.0.0.1:8200', 'http:<no host>'),
    ('vault.example.com:S3cretPW-36', '<other scheme>:<no host>'),
    ('https://vault.example.com:8200/v1/secret?token=S3cretPW-37', 'https://vault.example.com:8200'),
    # not strings, empty
    ('', '<empty>'),
    (None, '<empty>'),
    (b'redis://:S3cretPW-38@cache:6379', 'redis://cache:6379'),
    (['redis://:S3cretPW-39@cache'], '<not a string: list>'),
    ({'url': 'redis://:S3cretPW-40@cache'}, '<not a string: dict>'),
]


def _ids():
    return ['%02d' % i for i in range(len(CASES))]


@pytest.mark.parametrize('url, shown', CASES, ids=_ids())
def test_redact_url_shows_scheme_host_port_only(url, shown):
    result = redact_url(url)
    assert result == shown
    assert not SECRET.search(result)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize('url', [
    '\x00' * 10, ':' * 50, '@' * 50, '[' * 50, 'redis://' + '[' * 20, 'redis://' + ':' * 20, 'redis://' + ',' * 20,
    'a' * 100000, '\ud800redis://:S3cretPW-41@h', 'redis://%', 'redis://[]', 'redis://[:]:',
])
def test_redact_url_never_raises_and_never_echoes(url):
    result = redact_url(url)
    assert isinstance(result, str) and len(result) < 3000
    assert 'S3cretPW' not in result


def test_redact_url_survives_a_str_that_fails():
    class Evil(str):
        def strip(self, *args):
            raise RuntimeError('S3cretPW-42')
    assert redact_url(Evil('redis://:S3cretPW-42@h')) == '<unreadable URL>'


def test_redact_text():
    assert redact_text('cannot parse redis://:S3cretPW-43@h (password S3cretPW-43)',
                       ['redis://:S3cretPW-43@h', 'S3cretPW-43', '', None]) == \
        'cannot parse ******** (password ********)'
    assert redact_text(ValueError('S3cretPW-44'), ['S3cretPW-44']) == '********'


# ---- Redis: resolve_target never lets a ValueError out and never names the password -----------------
REDIS_BAD = [CASES[i][0] for i in (0, 1, 2, 3, 9, 10, 11, 12, 13, 14, 15, 16, 19)]


@pytest.mark.parametrize('url', REDIS_BAD)
def test_resolve_target_refuses_malformed_urls_without_the_secret(url):
    with pytest.raises(RedisCheckError) as err:
        resolve_target({'redis_url': url})
    message = str(err.value)
    assert 'redis_url' in message
    assert not SECRET.search(message)


@pytest.mark.parametrize('url', [u for u, _s in CASES if isinstance(u, str) and u.startswith('redis')])
def test_resolve_target_raises_only_redis_check_error(url):
    try:
        target = resolve_target({'redis_url': url})
    except RedisCheckError as err:
        assert not SECRET.search(str(err))
    else:
        assert not SECRET.search(target['label'])


def test_resolve_target_ipv6_unclosed_is_a_clear_error():
    with pytest.raises(RedisCheckError, match=r"redis_url 'redis://<bad host>' .*not a URL that can be parsed"):
        resolve_target({'redis_url': 'redis://u:S3cretPW-4@[::1'})


# ---- MongoDB: describe_target, redact and connect ---------------------------------------------------
MONGO_URIS = [url for url, _shown in CASES if isinstance(url, str) and url.startswith('mongodb')]


@pytest.mark.parametrize('uri', MONGO_URIS)
def test_describe_target_has_no_secret(uri):
    where = describe_target({'mongodb_uri': uri})
    assert where.startswith('MongoDB at ') and not SECRET.search(where)


def test_describe_target_names_every_host():
    assert describe_target({'mongodb_uri': CASES[25][0]}) == 'MongoDB at db-0:27017,db-1:27017,db-2:27018'


def test_mongodb_redact_removes_the_uri_and_the_password_typed_or_decoded():
    uri = 'mongodb://halobuzz:S3cretPW-45%21@db-0/halobuzz'
    text = 'failed for %s: bad auth S3cretPW-45%%21 / S3cretPW-45! / pw S3cretPW-46' % uri
    out = redact(text, {'mongodb_uri': uri, 'password': 'S3cretPW-46'})
    assert not SECRET.search(out)


@pytest.mark.parametrize('uri', [
    'mongodb://u:S3cretPW-47@[::1',
    'mongodb:/u:S3cretPW-48@h',
    'mongodb://u:S3cretPW-49/x@h:1',
    'mongodb://u:S3c:retPW-50@h',
    'mongodb+srv://u:S3cretPW-51@h:27017',
    'mongodb://h1:1,h2:S3cretPW-52',
])
def test_connect_refuses_malformed_uris_without_the_secret(uri):
    # pymongo refuses these while parsing, before any network I/O.
    with pytest.raises(MongoClientError) as err:
        connect({'mongodb_uri': uri, 'server_selection_timeout': 1})
    assert not SECRET.search(str(err.value)) and 'S3c' not in str(err.value)


# ---- Vault: the address is never echoed raw (requests quotes the whole URL in InvalidURL) ------------
@pytest.mark.parametrize('addr', [
    'http://oncall:S3cretPW-54@[::1',
    'http:/oncall:S3cretPW-55@127.0.0.1:1',
    ':S3cretPW-56@vault:8200',
    'http://127.0.0.1:S3cretPW-57',
    'ftp://oncall:S3cretPW-58@vault',
    'http://oncall:S3cretPW-59@va ult:1',
])
def test_vault_request_with_a_malformed_address(addr):
    # refused either before any request (plain http to a host that is not loopback) or by the request
    with pytest.raises(VaultAccessError) as err:
        client = make_client({'vault_addr': addr, 'timeout': 1})
        with vault_request('logging in as LDAP user oncall at', 'auth/ldap/login/oncall', addr):
            client.auth.ldap.login(username='oncall', password='x')
    message = str(err.value)
    assert 'vault_addr' in message and not SECRET.search(message) and 'S3c' not in message


@pytest.mark.parametrize('exc', [
    requests.exceptions.SSLError('bad handshake with https://oncall:S3cretPW-60@vault:8200'),
    requests.exceptions.ConnectionError('https://oncall:S3cretPW-60@vault:8200 refused'),
])
def test_vault_describe_error_redacts_the_address(exc):
    message = str(describe_error(exc, 'reading', 'secret/data/x', 'https://oncall:S3cretPW-60@vault:8200'))
    assert 'https://vault:8200' in message and not SECRET.search(message)


# ---- the modules: main() fails with the message, never a traceback or the secret --------------------
def _main(capsys, module, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr()
    return json.loads(out.out), out.out + out.err


@pytest.mark.parametrize('module, args', [
    (redis_info, {'redis_url': 'redis:/:S3cretPW-61@127.0.0.1:16399/0'}),
    (redis_info, {'redis_url': 'redis://u:S3cretPW-62@[::1'}),
    (redis_key_audit, {'redis_url': ':S3cretPW-63@h:6379', 'pattern': 'session:*'}),
    (redis_purge, {'redis_url': 'redis:///:S3cretPW-64@h', 'patterns': ['cache:*']}),
    (mongodb_info, {'mongodb_uri': 'mongodb://u:S3cretPW-65@[::1'}),
    (mongodb_backup, {'mongodb_uri': 'mongodb:/u:S3cretPW-66@h', 'dest': '/nonexistent/x.archive'}),
    (mongodb_restore, {'mongodb_uri': 'mongodb://u:S3cretPW-67/x@h:1', 'src': str(ARCHIVE)}),
    (vault_break_glass, {'vault_addr': 'http://oncall:S3cretPW-68@[::1', 'username': 'oncall', 'password': 'x',
                         'incident_id': 'INC-1', 'reason': 'r', 'approved_by': 'teamlead', '_ansible_no_log': True}),
])
def test_module_fails_cleanly_without_the_secret(capsys, module, args):
    result, text = _main(capsys, module, args)
    print('MSG', result['msg'])
    assert result.get('failed') is True, result
    assert 'Traceback' not in text and 'exception' not in result
    assert not SECRET.search(text), text


# ---- url_problem: what roles check before a uri task would echo the URL ------------------------------
@pytest.mark.parametrize('url, problem', [
    ('http://127.0.0.1:8080/healthz', ''),
    ('https://api.halobuzz.example/healthz?probe=1', ''),
    ('http://[::1]:8080/healthz', ''),
    ('http://u:S3cretPW-69@127.0.0.1:8080/healthz', 'carries credentials'),
    ('http://:S3cretPW-70@h/healthz', 'carries credentials'),
    ('http://u:S3cretPW-71@[::1', 'cannot be parsed'),
    ('http:/u:S3cretPW-72@127.0.0.1/healthz', 'has no host'),
    (':S3cretPW-73@h:8080', 'must start with http:// or https://'),
    ('ftp://h/x', 'must start with http:// or https://'),
    ('http://h:S3cretPW-74/healthz', 'port that is not a number'),
    ('http://h/a@S3cretPW-75', 'cannot be read unambiguously'),
    ('', 'is empty'),
    (None, 'is empty'),
    (8080, 'is not a string'),
])
def test_url_problem(url, problem):
    found = url_problem(url)
    assert (found == '') if problem == '' else (problem in found)
    assert not SECRET.search(found)


def test_url_problem_schemes():
    assert url_problem('redis://h:6379/0', ('redis', 'rediss')) == ''
    assert 'redis://' in url_problem('http://h', ('redis', 'rediss'))


def test_the_filters_are_the_helper():
    from ansible_collections.halobuzz.ops.plugins.filter.incident import FilterModule
    filters = FilterModule().filters()
    assert filters['redact_url'] is redact_url and filters['url_problem'] is url_problem
