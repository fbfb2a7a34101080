"""Vault ACL evaluation: policy paths, globs, segment wildcards, deny, priority.

Follows vault/acl.go and the policy documentation ("Priority matching"):
- an exact path rule wins outright;
- otherwise every matching glob (`*` suffix) and segment-wildcard (`+`) rule is a
  candidate, and the most specific one decides, by Vault's ordering:
  1. the later the first `+` or `*` occurs, the higher the priority;
  2. a path ending in `*` is lower than one that does not;
  3. more `+` segments is lower;
  4. shorter is lower;
  5. lexicographically smaller is lower;
- the same path named by several of a token's policies merges their capabilities,
  and `deny` in any of them wins for that path;
- LIST on "a/b/" also matches an exact rule for "a/b".
"""

import re
from functools import cmp_to_key

# Vault's built-in "default" policy (the parts that concern the emulated endpoints).
DEFAULT_POLICY = {
    "auth/token/lookup-self": ["read"],
    "auth/token/renew-self": ["update"],
    "auth/token/revoke-self": ["update"],
    "sys/capabilities-self": ["update"],
    "sys/renew": ["update"],
    "sys/leases/renew": ["update"],
    "sys/leases/lookup": ["update"],
    "sys/tools/hash": ["update"],
    "sys/tools/hash/*": ["update"],
    "sys/internal/ui/resultant-acl": ["read"],
    # response wrapping (vault/policy_store.go defaultPolicy): wrap, look up and unwrap
    "sys/wrapping/wrap": ["update"],
    "sys/wrapping/lookup": ["update"],
    "sys/wrapping/unwrap": ["update"],
}

# The one policy of a response-wrapping token (vault/policy_store.go responseWrappingPolicy).
RESPONSE_WRAPPING_POLICY = {
    "cubbyhole/response": ["create", "read"],
    "sys/wrapping/unwrap": ["update"],
}

# Paths that need `sudo` besides the operation's capability (Vault's root-protected paths).
SUDO_PATHS = ("sys/audit-hash/", "sys/audit", "auth/token/accessors", "auth/token/revoke-orphan")


def needs_sudo(path):
    return any(path == p.rstrip("/") or path.startswith(p) for p in SUDO_PATHS)


class _Rule:
    __slots__ = ("path", "caps", "regex", "first_wc", "glob", "plus")

    def __init__(self, path, caps):
        self.path = path
        self.caps = set(caps)
        self.glob = path.endswith("*")
        body = path[:-1] if self.glob else path
        segments = body.split("/")
        self.plus = sum(1 for s in segments if s == "+")
        pattern = "/".join("[^/]*" if s == "+" else re.escape(s) for s in segments)
        self.regex = re.compile("^" + pattern + (".*" if self.glob else "") + r"\Z", re.S)
        self.first_wc = len(body) if self.glob else len(path)
        offset = 0
        for segment in segments:
            if segment == "+":
                self.first_wc = min(self.first_wc, offset)
                break
            offset += len(segment) + 1

    @property
    def exact(self):
        return not self.glob and not self.plus


def _priority(a, b):
    """cmp: negative when rule a has LOWER priority than rule b."""
    if a.first_wc != b.first_wc:
        return -1 if a.first_wc < b.first_wc else 1
    if a.glob != b.glob:
        return -1 if a.glob else 1
    if a.plus != b.plus:
        return -1 if a.plus > b.plus else 1
    if len(a.path) != len(b.path):
        return -1 if len(a.path) < len(b.path) else 1
    if a.path != b.path:
        return -1 if a.path < b.path else 1
    return 0


class ACL:
    """The merged rules of a token's policies."""

    def __init__(self, policy_names, policies):
        """policy_names: the token's policies; policies: name -> {path: [capabilities]}."""
        self.root = "root" in policy_names
        merged = {}
        for name in policy_names:
            rules = policies.get(name)
            if rules is None and name == "default":
                rules = DEFAULT_POLICY
            if name == "response-wrapping":  # built in, cannot be defined or replaced
                rules = RESPONSE_WRAPPING_POLICY
            for path, caps in (rules or {}).items():
                merged.setdefault(path, set()).update(caps)
        for caps in merged.values():
            if "deny" in caps:
                caps.intersection_update({"deny"})
        self.rules = [_Rule(p, c) for p, c in merged.items()]
        self._exact = {r.path: r for r in self.rules if r.exact}
        self._other = [r for r in self.rules if not r.exact]

    def capabilities(self, path):
        """The capability set that governs `path` (empty when no rule matches)."""
        if self.root:
            return {"root"}
        rule = self._exact.get(path)
        if rule is None and path.endswith("/"):
            rule = self._exact.get(path.rstrip("/"))
        if rule is None:
            candidates = [r for r in self._other if r.regex.match(path)]
            if candidates:
                rule = max(candidates, key=cmp_to_key(_priority))
        return set(rule.caps) if rule else set()

    def allowed(self, path, operation):
        """True when `operation` (create/read/update/patch/delete/list) is allowed on `path`."""
        if self.root:
            return True
        caps = self.capabilities(path)
        if "deny" in caps or operation not in caps:
            return False
        return not needs_sudo(path) or "sudo" in caps

    def capability_list(self, path):
        """What sys/capabilities-self answers for one path."""
        if self.root:
            return ["root"]
        caps = self.capabilities(path)
        if not caps or "deny" in caps:
            return ["deny"]
        return sorted(caps)
