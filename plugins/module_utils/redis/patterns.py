# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis key patterns: the glob grammar and the guard that keeps a purge away from protected keys.

Glob patterns follow Redis' own matcher (stringmatchlen in util.c): `*` any run of bytes, `?` one
byte, `[abc]` / `[a-z]` / `[^...]` one byte from (or not from) a set, `\\x` the byte x (also inside
`[...]`). Matching is on bytes, case-sensitive. Patterns whose meaning differs between Redis
versions or is surely a typo (unterminated `[`, empty `[]`, a trailing lone backslash, non-ASCII
range ends) are rejected.

`patterns_overlap(p, q)` decides exactly whether some key matches both patterns (product of the
two pattern automata, breadth-first), and returns such a key as the witness. It is therefore a
sound guard: a purge pattern is refused whenever any key it could delete is protected.

`payment:idempotency:*` (BUILTIN_PROTECTED_PATTERNS) is always protected: `with_builtin()` adds it to
whatever protected_patterns a caller gives (an empty list included), and every function here and in
keys.py that guards keys goes through it, so no option or variable can remove it. `ProtectedMatcher`
re-checks each key SCAN returned before it is deleted (keys.py), with the same glob semantics.

Pure functions, no connection: checked before anything is sent to Redis.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import deque

from ansible_collections.halobuzz.ops.plugins.module_utils.redis.client import RedisCheckError

ALL_BYTES = (1 << 256) - 1
# Keys no purge or flush may ever delete (issue 15): the payment idempotency keys, without which a webhook
# retry can charge twice. Not an option default: with_builtin() adds them to every protected list.
BUILTIN_PROTECTED_PATTERNS = ('payment:idempotency:*',)
STAR = 'star'
ONE = 'one'


def parse_pattern(pattern):
    """Parse a Redis glob pattern into [(STAR, None) | (ONE, bitmask of allowed bytes)].

    Raises RedisCheckError naming the pattern and the problem for invalid patterns.
    """
    if not isinstance(pattern, str) or pattern == '':
        raise RedisCheckError("invalid key pattern %r: give a non-empty glob such as 'stream:cache:*'" % (pattern,))
    p = pattern.encode('utf-8')
    tokens = []
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == 0x2A:  # *
            if not tokens or tokens[-1][0] != STAR:
                tokens.append((STAR, None))
            i += 1
        elif c == 0x3F:  # ?
            tokens.append((ONE, ALL_BYTES))
            i += 1
        elif c == 0x5C:  # backslash
            if i + 1 >= n:
                raise RedisCheckError("invalid key pattern %r: it ends with a lone backslash; write \\\\ for a "
                                      "literal backslash" % pattern)
            tokens.append((ONE, 1 << p[i + 1]))
            i += 2
        elif c == 0x5B:  # [
            mask, i = _parse_class(pattern, p, i + 1)
            tokens.append((ONE, mask))
        else:
            tokens.append((ONE, 1 << c))
            i += 1
    return tokens


def _parse_class(pattern, p, i):
    """Parse after '[' exactly as Redis does; return (mask, index after ']')."""
    n = len(p)
    negate = i < n and p[i] == 0x5E  # ^
    if negate:
        i += 1
    mask = 0
    while True:
        if n - i >= 2 and p[i] == 0x5C:
            mask |= 1 << p[i + 1]
            i += 2
        elif i >= n:
            raise RedisCheckError("invalid key pattern %r: '[' is not closed by ']'; write \\[ for a literal "
                                  "bracket" % pattern)
        elif p[i] == 0x5D:  # ]
            break
        elif n - i >= 3 and p[i + 1] == 0x2D:  # a-z
            start, end = p[i], p[i + 2]
            if start > 0x7F or end > 0x7F:
                raise RedisCheckError("invalid key pattern %r: ranges in [...] must use ASCII characters"
                                      % pattern)
            start, end = min(start, end), max(start, end)
            for b in range(start, end + 1):
                mask |= 1 << b
            i += 3
        else:
            mask |= 1 << p[i]
            i += 1
    if mask == 0 and not negate:
        raise RedisCheckError("invalid key pattern %r: '[]' matches nothing; write \\[\\] for literal brackets"
                              % pattern)
    if negate:
        mask = ALL_BYTES & ~mask
    return mask, i + 1


def validate_patterns(patterns, option):
    """Parse every pattern of an option; a clear error names the option and the pattern."""
    parsed = []
    for pattern in patterns or []:
        try:
            parsed.append((pattern, parse_pattern(pattern)))
        except RedisCheckError as exc:
            raise RedisCheckError('%s: %s' % (option, exc))
    return parsed


_PREFERRED = [ord(c) for c in 'abcdefghijklmnopqrstuvwxyz0123456789:_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ']


def _pick_byte(mask):
    for b in _PREFERRED:
        if mask >> b & 1:
            return b
    return (mask & -mask).bit_length() - 1


def patterns_overlap(pattern_a, pattern_b):
    """Return a key (str) matched by both patterns, or None when no key can match both. Exact."""
    ta, tb = parse_pattern(pattern_a), parse_pattern(pattern_b)
    na, nb = len(ta), len(tb)
    start = (0, 0)
    parent = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        i, j = state
        if state == (na, nb):
            out = bytearray()
            while parent[state] is not None:
                state, byte = parent[state]
                if byte is not None:
                    out.append(byte)
            return bytes(reversed(out)).decode('utf-8', 'backslashreplace')
        moves = []
        if i < na and ta[i][0] == STAR:
            moves.append(((i + 1, j), None))
        if j < nb and tb[j][0] == STAR:
            moves.append(((i, j + 1), None))
        if i < na and j < nb:
            a_star, b_star = ta[i][0] == STAR, tb[j][0] == STAR
            common = (ALL_BYTES if a_star else ta[i][1]) & (ALL_BYTES if b_star else tb[j][1])
            if common and not (a_star and b_star):
                moves.append(((i if a_star else i + 1, j if b_star else j + 1), _pick_byte(common)))
        for nxt, byte in moves:
            if nxt not in parent:
                parent[nxt] = (state, byte)
                queue.append(nxt)
    return None


def with_builtin(protected_patterns):
    """BUILTIN_PROTECTED_PATTERNS followed by the caller's extra patterns, without repeats.

    protected_patterns only adds: a list without the built-in pattern (or an empty one) still protects it.
    """
    out = list(BUILTIN_PROTECTED_PATTERNS)
    for pattern in protected_patterns or []:
        if pattern not in out:
            out.append(pattern)
    return out


def _guard_name(protected):
    if protected in BUILTIN_PROTECTED_PATTERNS:
        return "the built-in protected pattern %r (always protected; protected_patterns cannot remove it)" % protected
    return "protected_patterns %r" % protected


def _byte_class(mask):
    """A regex character class (bytes) for a bitmask of allowed bytes."""
    if mask == ALL_BYTES:
        return b'[\\x00-\\xff]'
    return b'[' + b''.join(b'\\x%02x' % b for b in range(256) if mask >> b & 1) + b']'


def compile_pattern(pattern):
    """A compiled bytes regex whose fullmatch() accepts exactly the keys the Redis glob matches.

    Built from parse_pattern's tokens, i.e. Redis' stringmatchlen (redis/redis src/util.c) with nocase=0, the
    matcher behind SCAN MATCH: `*` any run of bytes (newlines included), `?` one byte, a class one byte.
    """
    parts = [b'[\\x00-\\xff]*' if kind == STAR else _byte_class(mask) for kind, mask in parse_pattern(pattern)]
    return re.compile(b''.join(parts))


class ProtectedMatcher(object):
    """The protected patterns (built-in included) as compiled matchers, to re-check keys before deletion."""

    def __init__(self, protected_patterns):
        self.patterns = with_builtin(protected_patterns)
        validate_patterns(self.patterns, 'protected_patterns')
        self._compiled = [(p, compile_pattern(p).fullmatch) for p in self.patterns]
        self._any = re.compile(b'|'.join(b'(?:%s)' % compile_pattern(p).pattern for p in self.patterns)).fullmatch

    def first_protected(self, keys):
        """(key, protected pattern) for the first key (bytes) that a protected pattern matches, or None."""
        hit = self._any
        for key in keys:
            if hit(key):
                return key, next(p for p, match in self._compiled if match(key))
        return None

    def describe(self, protected):
        return _guard_name(protected)


def check_purge_patterns(purge_patterns, protected_patterns):
    """Raise RedisCheckError listing every purge pattern that could match a protected key.

    The built-in protected patterns are always checked, whatever protected_patterns says.
    """
    validate_patterns(purge_patterns, 'patterns')
    validate_patterns(protected_patterns, 'protected_patterns')
    conflicts = []
    for pattern in purge_patterns:
        for protected in with_builtin(protected_patterns):
            witness = patterns_overlap(pattern, protected)
            if witness is not None:
                conflicts.append("%r could delete %r, which %s guards" % (pattern, witness, _guard_name(protected)))
    if conflicts:
        raise RedisCheckError(
            "refusing to purge, nothing was deleted: %s. Narrow the purge pattern so that it cannot match a "
            "protected key (for example 'stream:cache:*' instead of '*')" % '; '.join(conflicts))
