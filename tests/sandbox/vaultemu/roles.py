"""Token roles (auth/token/roles/:name) and their effect on auth/token/create/:name.

Written from Vault's token store (vault/token_store.go: pathRoles, tokenStoreRoleCreateUpdate,
handleCreateCommon) and the API docs (website/content/api-docs/auth/token.mdx, "Create/Update
token role"): a role fixes the policies a token may get (`allowed_policies`, `disallowed_policies`),
whether it is an orphan (`orphan`: then it has no parent and, as handleCreateCommon says, no
inherited entity), how long it may live (`token_explicit_max_ttl`), how often it may be used
(`token_num_uses`) and whether it is renewable. The token's path is `auth/token/create/<role>`.
"""

from dataclasses import dataclass, field

from .config import parse_duration

FIELDS = ("allowed_policies", "disallowed_policies", "orphan", "renewable", "token_explicit_max_ttl",
          "token_num_uses", "token_no_default_policy", "path_suffix")


@dataclass
class TokenRole:
    name: str
    allowed_policies: list = field(default_factory=list)
    disallowed_policies: list = field(default_factory=list)
    orphan: bool = False
    renewable: bool = True
    token_explicit_max_ttl: int = 0
    token_num_uses: int = 0
    token_no_default_policy: bool = False
    path_suffix: str = ""

    def read_data(self):
        """What GET auth/token/roles/:name answers (the fields the emulator keeps)."""
        return {"name": self.name, "allowed_policies": list(self.allowed_policies),
                "disallowed_policies": list(self.disallowed_policies), "allowed_policies_glob": [],
                "disallowed_policies_glob": [], "allowed_entity_aliases": None, "orphan": self.orphan,
                "renewable": self.renewable, "path_suffix": self.path_suffix,
                "token_explicit_max_ttl": self.token_explicit_max_ttl, "explicit_max_ttl": self.token_explicit_max_ttl,
                "token_num_uses": self.token_num_uses, "token_no_default_policy": self.token_no_default_policy,
                "token_period": 0, "period": 0, "token_type": "default-service", "token_bound_cidrs": [],
                "bound_cidrs": []}


def _policy_names(value, key, error):
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise error(f"{key}: expected a list or a comma-separated string")
    # strutil.RemoveDuplicates(..., true): trimmed, lower-cased, sorted, empty entries dropped
    return sorted({str(p).strip().lower() for p in value if str(p).strip()})


def _flag(value, key, error):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "t", "f"):
        return value.strip().lower() in ("true", "1", "t")
    raise error(f"{key}: expected a boolean, got {value!r}")


def apply_role_fields(role, body, error):
    """Update ``role`` from a write body (or a CONFIG mapping); ``error(msg)`` makes the exception."""
    for key, value in body.items():
        if key in ("allowed_policies", "disallowed_policies"):
            setattr(role, key, _policy_names(value, key, error))
        elif key in ("orphan", "renewable", "token_no_default_policy"):
            setattr(role, key, _flag(value, key, error))
        elif key in ("token_explicit_max_ttl", "explicit_max_ttl"):
            try:
                role.token_explicit_max_ttl = parse_duration(value, key)
            except ValueError as exc:
                raise error(f"error converting input for field {exc}") from None
        elif key == "token_num_uses":
            try:
                uses = int(value)
            except (TypeError, ValueError):
                raise error(f"error converting input for field token_num_uses: {value!r}") from None
            if uses < 0:
                # tokenutil.ParseTokenFields: "'token_num_uses' cannot be negative"
                raise error("'token_num_uses' cannot be negative")
            role.token_num_uses = uses
        elif key == "path_suffix":
            role.path_suffix = str(value or "").strip("/")
    return role
