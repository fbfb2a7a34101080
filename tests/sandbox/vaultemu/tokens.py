"""The token store: service tokens, accessors, parent/child trees, TTLs, use counts.

Validity is decided on every lookup, as Vault's expiration manager would have done it:
a token is gone once revoked, once its TTL has run out, once its use count is spent, and
(not being an orphan) once its parent is gone — revoking or expiring a parent revokes
the whole tree under it.
"""

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timezone

_B62 = string.ascii_letters + string.digits


def _random(n):
    return "".join(secrets.choice(_B62) for _ in range(n))


def rfc3339(ts):
    """Vault's time format (RFC 3339, UTC, sub-second precision)."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sanitize_policies(policies, add_default):
    """policyutil.SanitizePolicies: trim, dedupe, sort; add "default" unless root is present."""
    out = {p.strip() for p in policies if p and p.strip()}
    if "root" in out:
        return ["root"]
    if add_default:
        out.add("default")
    return sorted(out)


@dataclass
class Token:
    id: str
    accessor: str
    policies: list
    path: str
    display_name: str
    creation_time: float
    ttl: int = 0                 # seconds; 0 = never expires (root tokens)
    creation_ttl: int = 0
    explicit_max_ttl: int = 0
    max_ttl: int = 0             # system/backend max for renewals, 0 = none
    parent: str = ""
    meta: dict = None
    renewable: bool = True
    num_uses: int = 0
    last_renewal: float = 0.0
    children: set = field(default_factory=set)
    entity_id: str = ""          # the identity entity (LDAP/AppRole logins; inherited by non-orphan children)
    wrapped: dict = None         # a response-wrapping token's cubbyhole: {"response": ..., "wrapinfo": ...}

    @property
    def orphan(self):
        return not self.parent

    def expire_time(self):
        if not self.ttl:
            return None
        return (self.last_renewal or self.creation_time) + self.ttl

    def remaining(self, now):
        exp = self.expire_time()
        return 0 if exp is None else max(0, int(round(exp - now)))


class TokenStore:
    def __init__(self, clock):
        self.clock = clock
        self.by_id = {}
        self.by_accessor = {}

    def create(self, policies, path, display_name, ttl=0, parent=None, meta=None, renewable=True,
               explicit_max_ttl=0, max_ttl=0, num_uses=0, token_id=None, entity_id=None, wrapped=None):
        now = self.clock()
        tok = Token(id=token_id or "hvs." + _random(24), accessor=_random(24), policies=list(policies),
                    path=path, display_name=display_name, creation_time=now, ttl=int(ttl),
                    creation_ttl=int(ttl), explicit_max_ttl=int(explicit_max_ttl), max_ttl=int(max_ttl),
                    parent=parent.id if parent else "", meta=meta, renewable=renewable and bool(ttl),
                    num_uses=int(num_uses), wrapped=wrapped)
        # token_store.go handleCreateCommon: "If the token is not going to be an orphan, inherit the
        # parent's entity identifier into the child token."
        tok.entity_id = entity_id if entity_id is not None else (parent.entity_id if parent else "")
        self.by_id[tok.id] = tok
        self.by_accessor[tok.accessor] = tok
        if parent:
            parent.children.add(tok.id)
        return tok

    def lookup(self, token_id):
        """The live token with this id, or None (revoking what has expired on the way)."""
        tok = self.by_id.get(token_id)
        if tok is None:
            return None
        exp = tok.expire_time()
        if exp is not None and self.clock() >= exp:
            self.revoke_tree(tok)
            return None
        if tok.parent and self.lookup(tok.parent) is None:
            self.revoke_tree(tok)
            return None
        return tok

    def lookup_accessor(self, accessor):
        tok = self.by_accessor.get(accessor)
        return self.lookup(tok.id) if tok else None

    def use(self, tok):
        """Count one use of a token with a use limit; the last use revokes it after the request."""
        if tok.num_uses > 0:
            tok.num_uses -= 1
            return tok.num_uses == 0
        return False

    def revoke_tree(self, tok):
        for child_id in list(tok.children):
            child = self.by_id.get(child_id)
            if child:
                self.revoke_tree(child)
        self.by_id.pop(tok.id, None)
        self.by_accessor.pop(tok.accessor, None)
        parent = self.by_id.get(tok.parent)
        if parent:
            parent.children.discard(tok.id)

    def effective_max(self, tok):
        limits = [m for m in (tok.explicit_max_ttl, tok.max_ttl) if m]
        return min(limits) if limits else 0

    def renew(self, tok, increment):
        """Extend the TTL like framework.CalculateTTL; returns (new ttl, warnings)."""
        now = self.clock()
        ttl = increment or tok.creation_ttl
        warnings = []
        max_ttl = self.effective_max(tok)
        if max_ttl:
            left = int(tok.creation_time + max_ttl - now)
            if ttl > left:
                warnings.append(f"TTL of \"{go_duration(ttl)}\" exceeded the effective max_ttl of \"{go_duration(max(left, 0))}\"; "
                                "TTL value is capped accordingly")
                ttl = max(left, 0)
        tok.last_renewal = now
        tok.ttl = ttl
        return ttl, warnings

    def lookup_data(self, tok, include_id=True):
        now = self.clock()
        data = {
            "accessor": tok.accessor,
            "creation_time": int(tok.creation_time),
            "creation_ttl": tok.creation_ttl,
            "display_name": tok.display_name,
            "entity_id": tok.entity_id,
            "expire_time": rfc3339(tok.expire_time()) if tok.ttl else None,
            "explicit_max_ttl": tok.explicit_max_ttl,
            "id": tok.id if include_id else "",
            "issue_time": rfc3339(tok.creation_time),
            "meta": dict(tok.meta) if tok.meta else None,
            "num_uses": tok.num_uses,
            "orphan": tok.orphan,
            "path": tok.path,
            "policies": list(tok.policies),
            "renewable": tok.renewable,
            "ttl": tok.remaining(now),
            "type": "service",
        }
        if tok.last_renewal:
            data["last_renewal"] = rfc3339(tok.last_renewal)
            data["last_renewal_time"] = int(tok.last_renewal)
        return data

    def auth_block(self, tok, ttl=None):
        """The `auth` object of a login / token-create / renew response."""
        return {
            "client_token": tok.id,
            "accessor": tok.accessor,
            "policies": list(tok.policies),
            "token_policies": list(tok.policies),
            "metadata": dict(tok.meta) if tok.meta else None,
            "lease_duration": tok.ttl if ttl is None else ttl,
            "renewable": tok.renewable,
            "entity_id": tok.entity_id,
            "token_type": "service",
            "orphan": tok.orphan,
            "mfa_requirement": None,
            "num_uses": tok.num_uses,
        }


def go_duration(seconds):
    """Go's time.Duration String() for whole seconds: 1h0m0s, 15m0s, 45s."""
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"
