"""Redis glob parsing, matching and the overlap guard (plugins/module_utils/_redis_keys.py)."""
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils._redis_connection import RedisCheckError
from ansible_collections.halobuzz.ops.plugins.module_utils._redis_keys import (
    KeyAudit, check_purge_patterns, glob_match, parse_pattern, patterns_overlap, ttl_stats)

PROTECTED = 'payment:idempotency:*'


@pytest.mark.parametrize('pattern, key, expected', [
    ('*', '', True),
    ('*', 'anything', True),
    ('stream:cache:*', 'stream:cache:1', True),
    ('stream:cache:*', 'stream:cache:', True),
    ('stream:cache:*', 'stream:cach', False),
    ('?', 'a', True),
    ('?', '', False),
    ('?', 'ab', False),
    ('h[ae]llo', 'hallo', True),
    ('h[ae]llo', 'hillo', False),
    ('h[^e]llo', 'hallo', True),
    ('h[^e]llo', 'hello', False),
    ('h[a-c]llo', 'hbllo', True),
    ('h[c-a]llo', 'hbllo', True),          # Redis swaps reversed ranges
    ('h[a-c]llo', 'hdllo', False),
    ('a\\*', 'a*', True),
    ('a\\*', 'ab', False),
    ('[\\]]', ']', True),
    ('[\\^]', '^', True),
    ('[^]', 'x', True),                    # negated empty class: any byte
    ('*a*b', 'xxaxxb', True),
    ('*a*b', 'xxbxxa', False),
    ('a**b', 'ab', True),
    ('payment:idempotency:*', 'payment:idempotency:0b5c', True),
    ('Payment:*', 'payment:x', False),      # case-sensitive
])
def test_glob_match(pattern, key, expected):
    assert glob_match(pattern, key) is expected


@pytest.mark.parametrize('pattern, problem', [
    ('', 'non-empty'),
    ('abc\\', 'lone backslash'),
    ('a[bc', "'[' is not closed"),
    ('a[b-]', "'[' is not closed"),        # Redis reads b-] as a range and runs off the end
    ('a[]', "'[]' matches nothing"),
    ('[a-\u00e9]', 'ASCII'),
])
def test_invalid_patterns_are_rejected(pattern, problem):
    with pytest.raises(RedisCheckError, match='invalid key pattern') as err:
        parse_pattern(pattern)
    assert problem in str(err.value)


@pytest.mark.parametrize('purge, protected, overlaps', [
    ('*', PROTECTED, True),
    ('payment:*', PROTECTED, True),
    ('p?yment:*', PROTECTED, True),
    ('*:idempotency:*', PROTECTED, True),
    ('payment:idempotency:abc', PROTECTED, True),
    ('[a-p]ayment:*', PROTECTED, True),
    ('*x', PROTECTED, True),               # payment:idempotency:x
    ('payment:idempotency', PROTECTED, False),   # no trailing colon: not matched by the protected glob
    ('stream:cache:*', PROTECTED, False),
    ('session:*', PROTECTED, False),
    ('[^p]*', PROTECTED, False),
    ('payment:refund:*', PROTECTED, False),
    ('pay', PROTECTED, False),
    ('??', PROTECTED, False),              # protected keys are at least 20 bytes long
    ('a*b', 'a*c', False),
    ('a*b*', '*c', True),
    ('[ab]x', '[bc]x', True),
    ('[a]x', '[bc]x', False),
    ('\\*', '[*]', True),
    ('\\*', '\\?', False),
])
def test_patterns_overlap(purge, protected, overlaps):
    witness = patterns_overlap(purge, protected)
    assert (witness is not None) is overlaps
    if overlaps:  # the witness is a real key that both globs match
        assert glob_match(purge, witness) and glob_match(protected, witness)


def test_check_purge_patterns_names_every_conflict():
    with pytest.raises(RedisCheckError) as err:
        check_purge_patterns(['stream:cache:*', '*', 'payment:*'], [PROTECTED])
    message = str(err.value)
    assert 'nothing was deleted' in message
    assert "'*' could delete" in message and "'payment:*' could delete" in message
    assert "'stream:cache:*' could" not in message


def test_check_purge_patterns_rejects_invalid_before_overlap():
    with pytest.raises(RedisCheckError, match="patterns: invalid key pattern 'stream:\\[x'"):
        check_purge_patterns(['stream:[x'], [PROTECTED])
    with pytest.raises(RedisCheckError, match='protected_patterns: invalid key pattern'):
        check_purge_patterns(['stream:*'], ['payment\\'])
    check_purge_patterns(['stream:cache:*', 'session:*'], [PROTECTED])


@pytest.mark.parametrize('values, expected', [
    ([], dict(min=None, median=None, max=None)),
    ([5], dict(min=5, median=5, max=5)),
    ([3, 1, 2], dict(min=1, median=2, max=3)),
    ([4, 1, 3, 2], dict(min=1, median=2.5, max=4)),
])
def test_ttl_stats(values, expected):
    assert ttl_stats(values) == expected


@pytest.mark.parametrize('exact, replies, expiries, without_ttl, vanished', [
    (True, [2000, -1, -2, 3000], [2000, 3000], 1, 1),     # PEXPIRETIME: absolute ms
    (False, [500, -1, -2, 1500], [1500, 2500], 1, 1),     # PTTL: relative to the server clock (1000)
    (True, [-1, -1], [], 2, 0),
])
def test_key_audit_batch(exact, replies, expiries, without_ttl, vanished):
    acc = KeyAudit(sample_size=10, digest=True)
    keys = [b'k%d' % i for i in range(len(replies))]
    acc.keys.update(keys)
    acc.add_batch(0, keys, replies, exact, now_ms=1000)
    assert acc.expiries_ms == expiries
    assert (acc.without_ttl, acc.vanished) == (without_ttl, vanished)
    assert len(acc.keys) == len(replies) - vanished
    assert [k for _, k in acc.sample] == [k for k, r in zip(keys, replies) if r != -2]


def test_expiry_digest_depends_on_keys_and_expiries_not_order():
    def digest(pairs):
        acc = KeyAudit(sample_size=0, digest=True)
        acc.add_batch(0, [k for k, _ in pairs], [e for _, e in pairs], True, 0)
        return acc.digest
    base = digest([(b'a', 10), (b'b', -1)])
    assert digest([(b'b', -1), (b'a', 10)]) == base
    assert digest([(b'a', 11), (b'b', -1)]) != base
    assert digest([(b'a', 10)]) != base
