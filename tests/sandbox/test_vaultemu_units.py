"""The Vault emulator's pure parts, table-driven: ACL matching, durations, config errors.

Emulator-internal (no server): these run the same with or without HALOBUZZ_USE_ENV.
"""

import pytest

from vaultemu.acl import ACL
from vaultemu.config import ConfigError, parse_config, parse_duration, parse_policy_document
from vaultemu.errors import VaultError, multierror
from vaultemu.kv import KVv2
from vaultemu.tokens import TokenStore

POLICIES = {
    "breakglass": {
        "secret/data/production/*": ["read"],
        "secret/metadata/production/*": ["read", "list"],
        "secret/data/production/payments/*": ["deny"],
        "auth/token/create": ["update"],
    },
    "segments": {
        "secret/data/+/shared": ["read"],
        "secret/data/team/+/config*": ["read", "update"],
    },
    "overlap-a": {"secret/data/mixed/x": ["read"]},
    "overlap-b": {"secret/data/mixed/x": ["update"], "secret/data/denied": ["deny"]},
    "overlap-c": {"secret/data/denied": ["read"]},
    "lister": {"secret/metadata/apps": ["list"]},
    "sudoer": {"sys/audit-hash/*": ["update", "sudo"], "sys/audit-hash/nosudo": ["update"]},
}


@pytest.mark.parametrize("policies, path, operation, allowed", [
    # glob suffix
    (["breakglass"], "secret/data/production/mongodb", "read", True),
    (["breakglass"], "secret/data/production/mongodb", "update", False),
    (["breakglass"], "secret/data/production", "read", False),
    (["breakglass"], "secret/data/staging/mongodb", "read", False),
    (["breakglass"], "secret/metadata/production/", "list", True),
    # a more specific rule wins, even when it only denies
    (["breakglass"], "secret/data/production/payments/stripe", "read", False),
    # exact path
    (["breakglass"], "auth/token/create", "update", True),
    (["breakglass"], "auth/token/create-orphan", "update", False),
    # default policy comes with the token's policies only when the token holds "default"
    (["breakglass"], "auth/token/lookup-self", "read", False),
    (["breakglass", "default"], "auth/token/lookup-self", "read", True),
    (["default"], "auth/token/revoke-self", "update", True),
    (["default"], "secret/data/production/mongodb", "read", False),
    # + matches exactly one segment
    (["segments"], "secret/data/teamA/shared", "read", True),
    (["segments"], "secret/data/a/b/shared", "read", False),
    (["segments"], "secret/data/team/x/config", "update", True),
    (["segments"], "secret/data/team/x/config-prod/db", "read", True),
    (["segments"], "secret/data/team/x/y/config", "read", False),
    # same path in two policies: capabilities merge; deny in any of them wins
    (["overlap-a", "overlap-b"], "secret/data/mixed/x", "read", True),
    (["overlap-a", "overlap-b"], "secret/data/mixed/x", "update", True),
    (["overlap-b", "overlap-c"], "secret/data/denied", "read", False),
    # LIST on "dir/" matches an exact rule for "dir"
    (["lister"], "secret/metadata/apps/", "list", True),
    # root-protected paths need sudo too
    (["sudoer"], "sys/audit-hash/file", "update", True),
    (["sudoer"], "sys/audit-hash/nosudo", "update", False),
    # root can do everything
    (["root"], "anything/at/all", "delete", True),
])
def test_acl_allows(policies, path, operation, allowed):
    assert ACL(policies, POLICIES).allowed(path, operation) is allowed


@pytest.mark.parametrize("rules, path, expected", [
    # rule 1: the later the first wildcard, the higher the priority
    ({"secret/*": ["read"], "secret/data/*": ["list"]}, "secret/data/x", {"list"}),
    ({"secret/+/x": ["read"], "secret/data/*": ["list"]}, "secret/data/x", {"list"}),
    # rule 2: a glob is lower than a non-glob with its first wildcard at the same place
    ({"secret/+": ["read"], "secret/*": ["list"]}, "secret/a", {"read"}),
    # rule 3: more + segments is lower
    ({"secret/+/+/+": ["read"], "secret/+/b/+": ["list"]}, "secret/a/b/c", {"list"}),
    # rule 4: shorter is lower
    ({"secret/+/b*": ["read"], "secret/+/bc*": ["list"]}, "secret/a/bcd", {"list"}),
    # rule 5: lexicographically smaller is lower
    ({"secret/+/+/c": ["read"], "secret/+/b/+": ["list"]}, "secret/a/b/c", {"list"}),
    # nothing matches
    ({"secret/data/a/*": ["read"]}, "secret/data/b", set()),
])
def test_acl_priority(rules, path, expected):
    assert ACL(["p"], {"p": rules}).capabilities(path) == expected


@pytest.mark.parametrize("value, seconds", [
    (None, 0), ("", 0), (90, 90), ("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400),
    ("768h", 2764800), ("7d", 604800), ("1.5h", 5400),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["15 minutes", "-5", -5, "h", "1h-3m", True])
def test_parse_duration_rejects(value):
    with pytest.raises(ValueError, match="^ttl: "):
        parse_duration(value, "ttl")


@pytest.mark.parametrize("raw, message", [
    ({}, "'root_token' is required"),
    ({"root_token": "r", "ldap_user": {}}, "unknown config keys \\['ldap_user'\\]"),
    ({"root_token": "r", "ldap_users": {"oncall": {"policies": ["p"]}}}, "ldap_users.oncall.password"),
    ({"root_token": "r", "policies": {"p": {"path": {"a/*": {"capabilities": ["reed"]}}}}},
     "unknown capabilities \\['reed'\\]"),
    ({"root_token": "r", "policies": {"p": {"path": {"a/*/b": {"capabilities": ["read"]}}}}},
     "only allowed at the end"),
    ({"root_token": "r", "policies": {"root": {"path": {}}}}, "root policy is built in"),
    ({"root_token": "r", "kv": {"kv1": {"a": {"b": "c"}}}}, "only the KV v2 mount 'secret'"),
    ({"root_token": "r", "kv": {"secret": {"a": "not-a-map"}}}, "kv.secret.a"),
    ({"root_token": "r", "approle": {"roles": {"awx": {"role_id": "x"}}}}, "approle.roles.awx.secret_id"),
    ({"root_token": "r", "default_ttl": "2h", "max_ttl": "1h"}, "must not exceed"),
    ({"root_token": "r", "ldap": {"token_ttl": "soon"}}, "ldap.token_ttl"),
])
def test_config_errors_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


@pytest.mark.parametrize("text, rules", [
    ('{"path": {"secret/data/a/*": {"capabilities": ["read"]}}}', {"secret/data/a/*": ["read"]}),
    ('# comment\npath "secret/data/a/*" {\n  capabilities = ["read", "list"]\n}\n'
     'path "auth/token/create" { capabilities = ["update"] }',
     {"secret/data/a/*": ["read", "list"], "auth/token/create": ["update"]}),
])
def test_policy_documents(text, rules):
    assert parse_policy_document("p", text) == rules


def test_policy_document_with_unemulated_parts_is_refused():
    with pytest.raises(ConfigError, match="only path blocks"):
        parse_policy_document("p", 'path "a" { capabilities = ["read"]\n allowed_parameters = {} }')


@pytest.mark.parametrize("messages, text", [
    (("permission denied",), "1 error occurred:\n\t* permission denied\n\n"),
    (("permission denied", "invalid token"), "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"),
])
def test_multierror_text(messages, text):
    assert multierror(*messages) == text


# ---------------------------------------------------------------------------- KV v2 and tokens, clock-driven

class FakeClock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_kv_max_versions_prunes_the_oldest():
    kv = KVv2(FakeClock())
    kv.handle("update", "metadata/app", {"max_versions": 2})
    for n in range(1, 5):
        assert kv.handle("update", "data/app", {"data": {"n": str(n)}}).data["version"] == n
    meta = kv.handle("read", "metadata/app", {}).data
    assert sorted(meta["versions"]) == ["3", "4"] and meta["oldest_version"] == 3
    with pytest.raises(VaultError) as pruned:
        kv.handle("read", "data/app", {"version": "1"})
    assert pruned.value.status == 404 and pruned.value.messages == []


@pytest.mark.parametrize("setup, body, message", [
    ({"cas_required": True}, {"data": {"a": "b"}}, "check-and-set parameter required for this call"),
    ({}, {"data": {"a": "b"}, "options": {"cas": 5}}, "check-and-set parameter did not match the current version"),
    ({}, {"options": {"cas": 1}}, "no data provided"),
    ({}, {"data": ["not", "a", "map"]}, "error parsing data"),
])
def test_kv_write_refusals(setup, body, message):
    kv = KVv2(FakeClock())
    kv.handle("update", "data/app", {"data": {"a": "a"}})
    if setup:
        kv.handle("update", "metadata/app", setup)
    with pytest.raises(VaultError) as refused:
        kv.handle("update", "data/app", body)
    assert refused.value.status == 400 and message in refused.value.messages[0]


def test_kv_list_shows_leaves_and_folders_once():
    kv = KVv2(FakeClock())
    for path in ("production/mongodb", "production/redis", "production/payments/stripe", "staging/mongodb"):
        kv.seed(path, {"k": "v"})
    assert kv.handle("list", "metadata/", {}).data["keys"] == ["production/", "staging/"]
    assert kv.handle("list", "metadata/production/", {}).data["keys"] == ["mongodb", "payments/", "redis"]


def test_token_ttl_and_parent_expiry_revoke_the_tree():
    clock = FakeClock()
    store = TokenStore(clock)
    parent = store.create(["p"], "auth/ldap/login/oncall", "ldap-oncall", ttl=600)
    child = store.create(["p"], "auth/token/create", "token", ttl=3600, parent=parent)
    orphan = store.create(["p"], "auth/token/create", "token", ttl=3600)
    clock.now += 599
    assert store.lookup(child.id) is child and store.lookup(parent.id) is parent
    clock.now += 1
    assert store.lookup(child.id) is None          # its parent expired, so it went with it
    assert store.lookup(parent.id) is None
    assert store.lookup(orphan.id) is orphan
    assert store.lookup_accessor(child.accessor) is None


def test_token_renew_is_capped_by_the_max_from_issue_time():
    clock = FakeClock()
    store = TokenStore(clock)
    tok = store.create(["p"], "auth/token/create", "token", ttl=600, explicit_max_ttl=900)
    clock.now += 300
    ttl, warnings = store.renew(tok, 3600)
    assert ttl == 600 and warnings == ['TTL of "1h0m0s" exceeded the effective max_ttl of "10m0s"; '
                                       'TTL value is capped accordingly']
    clock.now += 599
    assert store.lookup(tok.id) is tok
    clock.now += 1
    assert store.lookup(tok.id) is None
