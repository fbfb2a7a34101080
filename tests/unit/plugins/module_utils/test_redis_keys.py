"""Redis glob parsing, matching and the overlap guard (plugins/module_utils/redis/patterns.py, keys.py)."""
import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import RedisCheckError
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.keys import KeyAudit, ttl_stats
from ansible_collections.halobuzz.ops.plugins.module_utils.redis.patterns import (
    BUILTIN_PROTECTED_PATTERNS, STAR, ProtectedMatcher, check_purge_patterns, compile_pattern, parse_pattern,
    patterns_overlap, with_builtin)

PROTECTED = 'payment:idempotency:*'


def glob_match(pattern, key):
    """True when key (bytes or str) matches the Redis glob pattern (same result as SCAN MATCH).

    The reference matcher these tests hold the overlap guard and the fake server's SCAN against.
    """
    tokens = parse_pattern(pattern) if isinstance(pattern, str) else pattern
    if isinstance(key, str):
        key = key.encode('utf-8')
    states = _closure(tokens, {0})
    for b in key:
        bit = 1 << b
        nxt = set()
        for s in states:
            if s < len(tokens):
                kind, mask = tokens[s]
                if kind == STAR:
                    nxt.add(s)
                elif mask & bit:
                    nxt.add(s + 1)
        states = _closure(tokens, nxt)
        if not states:
            return False
    return len(tokens) in states


def _closure(tokens, states):
    out = set(states)
    for s in sorted(states):
        while s < len(tokens) and tokens[s][0] == STAR:
            s += 1
            out.add(s)
    return out


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
    assert [k for _expiry, k in acc.sample] == [k for k, r in zip(keys, replies) if r != -2]


def test_expiry_digest_depends_on_keys_and_expiries_not_order():
    def digest(pairs):
        acc = KeyAudit(sample_size=0, digest=True)
        acc.add_batch(0, [k for k, _expiry in pairs], [e for _key, e in pairs], True, 0)
        return acc.digest
    base = digest([(b'a', 10), (b'b', -1)])
    assert digest([(b'b', -1), (b'a', 10)]) == base
    assert digest([(b'a', 11), (b'b', -1)]) != base
    assert digest([(b'a', 10)]) != base


class FakeRedis(object):
    """Just enough of a server for purge_keys: SCAN pages over a dict, UNLINK, replies as run_pipelined sees them."""

    def __init__(self, keys, page=3, duplicate_first=False, leak=None):
        self.keys = dict((k, 1) for k in keys)
        self.page = page
        self.duplicate_first = duplicate_first
        self.leak = leak or {}  # {SCAN call number: keys returned whatever MATCH says} (a SCAN that misbehaves)
        self.scans = 0
        self.unlink_batches = []


@pytest.fixture
def fake_pipeline(monkeypatch):
    from ansible_collections.halobuzz.ops.plugins.module_utils.redis import keys as mod

    def run_pipelined(conn, commands, packed=None):
        if packed is not None:  # UNLINK batch
            conn.unlink_batches.append(list(commands))
            return [1 if conn.keys.pop(k, None) else 0 for k in commands]
        (name, cursor, _m, pattern, _c, _count), = commands
        start = int(cursor)
        if start == 0:  # the cursor walks a fixed order; keys deleted meanwhile are not returned
            conn.order = sorted(k for k in conn.keys if glob_match(pattern, k))
        order = conn.order
        page = [k for k in order[start:start + conn.page] if k in conn.keys]
        if conn.duplicate_first and start and order:
            page = page + [order[0]]  # SCAN may return a key twice
        conn.scans += 1
        page = page + [k for k in conn.leak.get(conn.scans, []) if k in conn.keys]
        nxt = start + conn.page
        return [(b'0' if nxt >= len(order) else str(nxt).encode(), page)]
    monkeypatch.setattr(mod, 'run_pipelined', run_pipelined)
    monkeypatch.setattr(mod, 'node_target', lambda conn, label: dict(label=label, tls=False, socket_timeout=1))
    return mod


@pytest.mark.parametrize('check_mode, rate_limit', [(True, 0), (False, 0), (False, 2)])
def test_purge_keys_counts_batches_and_rate(fake_pipeline, check_mode, rate_limit):
    keys = [b'stream:cache:%d' % i for i in range(7)] + [b'session:1']
    conn = FakeRedis(keys, duplicate_first=True)
    now, sleeps = [0.0], []
    result = fake_pipeline.purge_keys([('n:1', conn)], ['stream:cache:*', 'stream:*'], check_mode, batch_size=4,
                                      scan_count=3, rate_limit=rate_limit, clock=lambda: now[0],
                                      sleep=sleeps.append)
    assert result == {'stream:cache:*': {'matched': 7, 'deleted': 0 if check_mode else 7},
                      'stream:*': {'matched': 0, 'deleted': 0}}
    assert sorted(conn.keys) == ([b'session:1'] + sorted(keys[:7]) if check_mode else [b'session:1'])
    if not rate_limit:
        assert sleeps == [] and all(len(b) <= 4 for b in conn.unlink_batches)
    else:  # batches shrink to the rate; with a frozen clock each pause covers everything sent so far
        sent = [len(b) for b in conn.unlink_batches]
        assert max(sent) <= 2 and len(sleeps) == len(sent) and sleeps[-1] == sum(sent) / 2.0


def test_overlap_agrees_with_brute_force_on_random_patterns():
    """No overlap claimed where a short common key exists; every claimed overlap has a real witness."""
    import itertools
    import random
    rng = random.Random(7)
    atoms = ['a', 'b', ':', '*', '?', '[ab]', '[^a]', '\\*']
    strings = [''.join(p) for n in range(5) for p in itertools.product('ab:*', repeat=n)]
    for _round in range(200):
        p = ''.join(rng.choice(atoms) for _atom in range(rng.randint(1, 3)))
        q = ''.join(rng.choice(atoms) for _atom in range(rng.randint(1, 3)))
        witness = patterns_overlap(p, q)
        common = next((s for s in strings if glob_match(p, s) and glob_match(q, s)), None)
        if witness is None:
            assert common is None, (p, q, common)
        else:
            assert glob_match(p, witness) and glob_match(q, witness), (p, q, witness)


# --- issue 15: payment:idempotency:* is built in, and every UNLINK batch is re-checked -----------------------

def test_the_builtin_pattern_is_the_payment_idempotency_keys():
    assert BUILTIN_PROTECTED_PATTERNS == (PROTECTED,)


@pytest.mark.parametrize('given, expected', [
    (None, [PROTECTED]),
    ([], [PROTECTED]),
    (['session:*'], [PROTECTED, 'session:*']),
    (['session:*', PROTECTED, 'session:*'], [PROTECTED, 'session:*']),
    (['payment:idempotency:x*'], [PROTECTED, 'payment:idempotency:x*']),
])
def test_protected_patterns_only_add_to_the_builtin(given, expected):
    assert with_builtin(given) == expected
    assert ProtectedMatcher(given).patterns == expected


@pytest.mark.parametrize('protected', [[], ['session:*'], ['stream:*']])
def test_no_protected_list_lets_a_pattern_reach_the_idempotency_keys(protected):
    with pytest.raises(RedisCheckError) as err:
        check_purge_patterns(['*'], protected)
    message = str(err.value)
    assert message.startswith('refusing to purge, nothing was deleted')
    assert "the built-in protected pattern 'payment:idempotency:*' (always protected; protected_patterns cannot " \
           "remove it)" in message


def _random_key(rng):
    alphabet = b'ab:*?[]^\\-\n\x00\xff' + b'payment:idempotency'
    return bytes(rng.choice(alphabet) for _byte in range(rng.randint(0, 8)))


def test_compiled_matcher_agrees_with_the_reference_glob_on_random_patterns_and_keys():
    """compile_pattern (the per-batch re-check) == glob_match (the reference the overlap guard is held to)."""
    import random
    rng = random.Random(15)
    atoms = ['a', 'b', ':', '*', '?', '[ab]', '[^a]', '[a-c]', '[c-a]', '\\*', '\\[', '[\\]]', '[^]', 'p']
    keys = [_random_key(rng) for _key in range(300)] + [b'', b'\n', b'a\nb', b'payment:idempotency:1']
    for _round in range(300):
        pattern = ''.join(rng.choice(atoms) for _atom in range(rng.randint(1, 5)))
        match = compile_pattern(pattern).fullmatch
        for key in keys:
            assert bool(match(key)) is glob_match(pattern, key), (pattern, key)


def test_matcher_names_the_first_protected_key_and_its_pattern():
    matcher = ProtectedMatcher(['session:*'])
    assert matcher.first_protected([b'stream:cache:1', b'stream:cache:2']) is None
    assert matcher.first_protected([b'stream:cache:1', b'session:9', b'payment:idempotency:7']) == \
        (b'session:9', 'session:*')
    assert matcher.first_protected([b'payment:idempotency:\n\xff']) == (b'payment:idempotency:\n\xff', PROTECTED)
    assert matcher.first_protected([b'payment:idempotency', b'Payment:idempotency:1']) is None


@pytest.mark.parametrize('protected_patterns, leaked', [
    ((), b'payment:idempotency:0b5c'),          # nothing given: the built-in pattern is still re-checked
    ([], b'payment:idempotency:0b5c'),
    (['session:*'], b'payment:idempotency:0b5c'),
    (['session:*'], b'session:42'),
])
def test_a_protected_key_from_scan_stops_the_purge_before_its_batch(fake_pipeline, protected_patterns, leaked):
    """A (fake) SCAN MATCH that returns a protected key among others: the batch holding it is not sent."""
    keys = [b'stream:cache:%d' % i for i in range(10)]
    conn = FakeRedis(keys + [leaked], page=3, leak={2: [leaked]})
    with pytest.raises(RedisCheckError) as err:
        fake_pipeline.purge_keys([('n:1', conn)], ['stream:cache:*'], False, batch_size=3, scan_count=3,
                                 protected_patterns=protected_patterns)
    message = str(err.value)
    assert message.startswith("stopped the purge: SCAN MATCH 'stream:cache:*' on n:1 returned %r" % leaked.decode())
    assert 'nothing of this batch of 3 keys was deleted; 6 keys were deleted before it' in message
    assert 'narrower pattern' in message
    # Two clean batches went out; the third (leaked key + two cache keys) did not, nor anything after it.
    assert conn.unlink_batches == [keys[0:3], keys[3:6]]
    assert sorted(conn.keys) == sorted(keys[6:] + [leaked])


def test_check_mode_re_checks_every_key_it_counts(fake_pipeline):
    leaked = b'payment:idempotency:1'
    conn = FakeRedis([b'stream:cache:%d' % i for i in range(5)] + [leaked], page=3, leak={1: [leaked]})
    with pytest.raises(RedisCheckError, match='deleted nothing \\(check mode\\)'):
        fake_pipeline.purge_keys([('n:1', conn)], ['stream:cache:*'], True, protected_patterns=[])
    assert conn.unlink_batches == [] and len(conn.keys) == 6


def test_a_clean_scan_purges_as_before(fake_pipeline):
    keys = [b'stream:cache:%d' % i for i in range(7)]
    conn = FakeRedis(keys + [b'payment:idempotency:1', b'session:1'], page=3)
    result = fake_pipeline.purge_keys([('n:1', conn)], ['stream:cache:*'], False, batch_size=2, scan_count=3,
                                      protected_patterns=['session:*'])
    assert result == {'stream:cache:*': {'matched': 7, 'deleted': 7}}
    assert sorted(conn.keys) == [b'payment:idempotency:1', b'session:1']


class FlushTarget(object):
    label = 'n:1'
    target = dict(db=0)

    def primaries(self, db=None):
        return [('n:1', object())]


@pytest.mark.parametrize('protected_patterns', [[], ['session:*']])
def test_flush_is_refused_while_a_builtin_protected_key_exists_whatever_the_list(monkeypatch, protected_patterns):
    from ansible_collections.halobuzz.ops.plugins.module_utils.redis import keys as mod
    asked, flushed = [], []

    def count_keys(nodes, patterns, scan_count=1000, stop_at_first=False):
        asked.append(list(patterns))
        return dict((p, 1 if p == PROTECTED else 0) for p in patterns)
    monkeypatch.setattr(mod, 'count_keys', count_keys)
    monkeypatch.setattr(mod, 'flush', lambda nodes, all_dbs: flushed.append(all_dbs))
    with pytest.raises(RedisCheckError, match='refusing FLUSHDB on n:1, nothing was deleted: db 0 holds keys '
                                              'matching protected_patterns payment:idempotency:\\*'):
        mod.purge(FlushTarget(), [], protected_patterns, False, flush_mode='db')
    assert asked == [with_builtin(protected_patterns)] and flushed == []


def test_the_cache_purge_role_audits_the_builtin_pattern():
    """The role's before/after proof names the same built-in list as module_utils (no variable can drop it)."""
    import os
    import yaml
    root = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..')
    with open(os.path.join(root, 'roles', 'cache_purge', 'tasks', 'main.yml')) as handle:
        tasks = yaml.safe_load(handle)
    audits = [t for block in tasks for t in block.get('block', []) if t['name'].startswith('Audit the protected keys')]
    assert audits[0]['loop'] == "{{ (%r + cache_purge_protected_patterns) | unique }}" % list(BUILTIN_PROTECTED_PATTERNS)
    assert 'cache_purge_protected_before' in audits[1]['loop']
