"""The request pipeline: token check, ACL, routing to a backend, envelope, audit.

Mirrors vault/request_handling.go: a request with no or a dead token is refused before
routing (403), a token without the capability is refused (403), a path outside every
mount is "no handler for route" (404), and every audited request leaves a request entry
and a response entry in the audit device.
"""

import json
import re
import threading
import uuid
from dataclasses import dataclass

from . import acl as aclmod
from .audit import AuditDevice
from .errors import INVALID_TOKEN, PERMISSION_DENIED, Resp, VaultError, bad_request, multierror
from .jwtauth import JwtAuth
from .kv import KVv2
from .config import ConfigError, parse_duration, parse_policy_document
from .roles import TokenRole, apply_role_fields
from .tokens import TokenStore, go_duration, rfc3339, sanitize_policies

# Requests answered in the HTTP layer without a token and without an audit entry, as in Vault.
UNAUTHENTICATED = ("sys/health", "sys/seal-status", "sys/leader")
LOGIN_PATHS = ("auth/ldap/login/", "auth/approle/login", "auth/jwt/login")

MOUNTS = {  # mount point -> (type, description, accessor, plugin version)
    "secret/": ("kv", "key/value secret storage", "kv_5e1a7a3c", "v0.20.0+builtin"),
    "sys/": ("system", "system endpoints used for control, policy and debugging", "system_0a1b2c3d",
             "v1.17.6+builtin.vault"),
    "auth/token/": ("token", "token based credentials", "auth_token_4b5c6d7e", "v1.17.6+builtin.vault"),
    "auth/ldap/": ("ldap", "", "auth_ldap_8f9a0b1c", "v1.17.6+builtin.vault"),
    "auth/approle/": ("approle", "", "auth_approle_2d3e4f5a", "v1.17.6+builtin.vault"),
    "auth/jwt/": ("jwt", "", "auth_jwt_6e7f8091", "v0.21.1+builtin"),
}
LDAP_BIND_FAILED = "ldap operation failed: failed to bind as user"
# sdk/helper/consts: ErrInvalidWrappingToken; http/logical.go answers it with 400 for sys/wrapping/*.
INVALID_WRAPPING_TOKEN = "wrapping token is not valid or does not exist"
WRAPPING_PATHS = ("sys/wrapping/lookup", "sys/wrapping/unwrap", "sys/wrapping/rewrap")


@dataclass
class Request:
    id: str
    operation: str
    path: str
    data: dict
    token: str
    remote_address: str
    remote_port: int
    mount_point: str = ""
    mount_type: str = ""
    wrap_ttl: str = ""           # the X-Vault-Wrap-TTL header
    wrap_token: object = None    # sys/wrapping/*: the validated wrapping token


def mount_of(path):
    best = ""
    for mount in MOUNTS:
        if (path + "/").startswith(mount) and len(mount) > len(best):
            best = mount
    return best


def _bool(value, default):
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t", "yes")
    return bool(value)


def _policies_param(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list):
        return [str(p).strip() for p in value if str(p).strip()]
    raise bad_request("error parsing policies: expected a list or comma-separated string")


def _ttl_param(body, key):
    try:
        return parse_duration(body.get(key), key)
    except ValueError as exc:
        raise bad_request(f"error converting input for field {exc}") from None


class VaultCore:
    def __init__(self, config, clock, audit_path=None):
        self.clock = clock
        self.lock = threading.RLock()
        self.audit = AuditDevice(audit_path, clock)
        self.cluster_id = str(uuid.uuid4())
        self.reset(config)

    # -- world -----------------------------------------------------------------------------
    def reset(self, config):
        with self.lock:
            self.config = config
            self.policies = {name: dict(rules) for name, rules in config.policies.items()}
            self.policy_texts = {name: json.dumps({"path": {p: {"capabilities": c} for p, c in rules.items()}},
                                                  indent=2) for name, rules in config.policies.items()}
            self.tokens = TokenStore(self.clock)
            self.tokens.create(["root"], "auth/token/root", "root", token_id=config.root_token)
            self.kv = KVv2(self.clock)
            for path, data in config.kv.items():
                self.kv.seed(path, data)
            self.token_roles = {name: TokenRole(**vars(role)) for name, role in config.token_roles.items()}
            self.jwt = JwtAuth(self.clock)

    def acl_for(self, tok):
        return aclmod.ACL(tok.policies, self.policies)

    # -- pipeline ---------------------------------------------------------------------------
    def handle(self, req):
        """(status, body dict or None) for one /v1/ request."""
        with self.lock:
            if req.path in UNAUTHENTICATED:
                return self._unauthenticated(req)
            req.mount_point = mount_of(req.path)
            req.mount_type = MOUNTS[req.mount_point][0] if req.mount_point else ""
            login = req.path.startswith(LOGIN_PATHS) and req.operation in ("update", "create")
            tok = None
            if req.path.endswith("/") and req.operation in ("update", "create"):
                return 400, {"errors": ["cannot write to a path ending in '/'"]}
            spent = False
            if req.path in WRAPPING_PATHS and req.operation in ("update", "create"):
                refused = self._validate_wrapping_token(req)
                if refused:
                    return refused
            try:
                wrap_ttl = self._wrap_ttl(req)
                if req.path == "sys/wrapping/lookup":  # unauthenticated (system backend PathsSpecial)
                    login = True
                if not login:
                    tok = self._authenticate(req)
                    spent = self.tokens.use(tok)  # a use counts even when the ACL then refuses, as in Vault
                    self._authorize(req, tok)
                self.audit.log("request", req, tok)
                resp = self._route(req, tok)
            except VaultError as err:
                self._audit_response(req, tok, None, error="; ".join(err.messages) or None)
                return err.status, {"errors": err.messages}
            finally:
                if spent:  # the token's last use: revoked once the request is done
                    self.tokens.revoke_tree(tok)
            if login and resp.auth:  # a login's response entry carries the new token, as Vault's does
                tok = self.tokens.by_id.get(resp.auth["client_token"])
            self._audit_response(req, tok, resp)
            if resp.status == 204:
                return 204, None
            if wrap_ttl and resp.status == 200 and (resp.data is not None or resp.auth):
                return 200, self._wrap(req, resp, wrap_ttl, tok)
            return resp.status, self._envelope(req, resp)

    # -- response wrapping (vault/wrapping.go, http/logical.go) -------------------------------
    def _wrap_ttl(self, req):
        if not req.wrap_ttl:
            return 0
        try:
            ttl = parse_duration(req.wrap_ttl, "wrap TTL")
        except ValueError:
            raise bad_request("error parsing wrap TTL: invalid duration") from None
        return ttl

    def _validate_wrapping_token(self, req):
        """Core.ValidateWrappingToken: the token in the body (third party) or the client token must be a
        live token whose only policy is response-wrapping; otherwise 400 before anything else."""
        third_party = "token" in req.data
        value = req.data.get("token") if third_party else req.token
        if third_party and (not isinstance(value, str) or not value):
            self.audit.log("request", req, None, error="error validating wrapping token")
            return 400, {"errors": ["error validating wrapping token: empty token in request body"]}
        wtok = self.tokens.lookup(value) if value else None
        if wtok is None or wtok.policies != ["response-wrapping"] or wtok.wrapped is None:
            self.audit.log("request", req, None, error=INVALID_WRAPPING_TOKEN)
            return 400, {"errors": [INVALID_WRAPPING_TOKEN]}
        req.wrap_token = wtok
        return None

    def _new_wrapping_token(self, envelope, creation_path, ttl):
        """A response-wrapping token: orphan, one use, only the response-wrapping policy, holding the
        response in its cubbyhole with creation_ttl/creation_time/creation_path (wrapping.go wrapInCubbyhole)."""
        now = self.clock()
        return self.tokens.create(["response-wrapping"], creation_path, "response-wrapping", ttl=ttl,
                                  num_uses=1, renewable=False, explicit_max_ttl=ttl, entity_id="",
                                  wrapped={"response": envelope,
                                           "wrapinfo": {"creation_ttl": ttl, "creation_time": rfc3339(now),
                                                        "creation_path": creation_path}})

    def _wrap_info(self, wtok, wrapped_accessor=""):
        info = wtok.wrapped["wrapinfo"]
        out = {"token": wtok.id, "accessor": wtok.accessor, "ttl": info["creation_ttl"],
               "creation_time": info["creation_time"], "creation_path": info["creation_path"]}
        if wrapped_accessor:
            out["wrapped_accessor"] = wrapped_accessor
        return out

    def _wrap(self, req, resp, ttl, tok):
        envelope = {"data": resp.data, "auth": resp.auth, "warnings": resp.warnings}
        wtok = self._new_wrapping_token(envelope, req.path, ttl)
        body = {"request_id": req.id, "lease_id": "", "renewable": False, "lease_duration": 0, "data": None,
                "wrap_info": self._wrap_info(wtok, (resp.auth or {}).get("accessor", "")), "warnings": None,
                "auth": None, "mount_type": req.mount_type}
        return body

    def _sys_wrapping(self, sub, op, body, tok, req):
        wtok = req.wrap_token
        if wtok is None or op not in ("update", "create"):
            raise VaultError(405, multierror("unsupported operation"))
        if sub == "wrapping/lookup":
            info = wtok.wrapped["wrapinfo"]
            return Resp(data={"creation_ttl": info["creation_ttl"], "creation_time": info["creation_time"],
                              "creation_path": info["creation_path"]})
        if sub == "wrapping/unwrap":
            # single use: the wrapping token is revoked once read (wrapping.go / the cubbyhole goes with it)
            envelope = wtok.wrapped["response"]
            self.tokens.revoke_tree(wtok)
            return Resp(data=envelope["data"], auth=envelope["auth"], warnings=envelope["warnings"])
        # rewrap: same response and creation TTL in a new token; the old one is invalidated
        info = wtok.wrapped["wrapinfo"]
        new = self._new_wrapping_token(wtok.wrapped["response"], info["creation_path"], info["creation_ttl"])
        self.tokens.revoke_tree(wtok)
        return Resp(data=None, wrap_info=self._wrap_info(new))

    def _audit_response(self, req, tok, resp, error=None):
        if resp is None:
            self.audit.log("response", req, tok, error=error)
        else:
            self.audit.log("response", req, tok,
                           response=self.audit.response_entry(req, resp.auth, resp.data, resp.warnings))

    def _authenticate(self, req):
        """The calling token (403 when there is none or it is unknown, expired or revoked)."""
        if not req.token:
            self._refuse(req, None, "permission denied")
        tok = self.tokens.lookup(req.token)
        if tok is None:
            self._refuse(req, None, INVALID_TOKEN)
        return tok

    def _authorize(self, req, tok):
        """The ACL check, after KV's existence check has made a write `create` or `update`."""
        if req.operation in ("create", "update"):
            exists = self.kv.exists(req.path[len("secret/"):]) if req.mount_point == "secret/" else None
            if req.path.startswith("auth/token/roles/"):  # pathRoles has an ExistenceCheck, as KV does
                exists = req.path[len("auth/token/roles/"):].lower() in self.token_roles
            if exists is not None:
                req.operation = "update" if exists else "create"
            else:
                req.operation = "update"
        if not self.acl_for(tok).allowed(req.path, req.operation):
            self._refuse(req, tok, PERMISSION_DENIED)

    def _refuse(self, req, tok, message):
        self.audit.log("request", req, tok, error=message)
        raise VaultError(403, message)

    def _envelope(self, req, resp):
        body = {"request_id": req.id, "lease_id": "", "renewable": False, "lease_duration": 0,
                "data": resp.data, "wrap_info": resp.wrap_info, "warnings": resp.warnings, "auth": resp.auth,
                "mount_type": req.mount_type}
        return {**resp.data, **body} if resp.top_level and resp.data else body

    # -- routing ----------------------------------------------------------------------------
    def _route(self, req, tok):
        path, op, body = req.path, req.operation, req.data
        if req.mount_point == "secret/":
            return self.kv.handle(op, path[len("secret/"):], body)
        if req.mount_point == "auth/token/":
            return self._token(path[len("auth/token/"):], op, body, tok)
        if req.mount_point == "auth/ldap/":
            return self._ldap(path[len("auth/ldap/"):], op, body)
        if req.mount_point == "auth/approle/":
            return self._approle(path[len("auth/approle/"):], op, body)
        if req.mount_point == "auth/jwt/":
            return self._jwt(path[len("auth/jwt/"):], op, body)
        if req.mount_point == "sys/":
            if path in WRAPPING_PATHS:
                return self._sys_wrapping(path[len("sys/"):], op, body, tok, req)
            return self._sys(path[len("sys/"):], op, body, tok)
        raise VaultError(404, f"no handler for route \"{path}\". route entry not found.")

    def _unauthenticated(self, req):
        sub = req.path[len("sys/"):]
        if sub == "health":
            now = int(self.clock())
            return 200, {"initialized": True, "sealed": False, "standby": False, "performance_standby": False,
                         "replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
                         "server_time_utc": now, "version": self.config.version, "enterprise": False,
                         "cluster_name": self.config.cluster_name, "cluster_id": self.cluster_id,
                         "echo_duration_ms": 0, "clock_skew_ms": 0, "replication_primary_canary_age_ms": 0}
        if sub == "seal-status":
            return 200, {"type": "shamir", "initialized": True, "sealed": False, "t": 1, "n": 1,
                         "progress": 0, "nonce": "", "version": self.config.version, "build_date": "",
                         "migration": False, "cluster_name": self.config.cluster_name,
                         "cluster_id": self.cluster_id, "recovery_seal": False, "storage_type": "inmem"}
        return 200, {"ha_enabled": False, "is_self": False, "active_time": "0001-01-01T00:00:00Z",
                     "leader_address": "", "leader_cluster_address": "", "performance_standby": False,
                     "performance_standby_last_remote_wal": 0}

    # -- auth methods -----------------------------------------------------------------------
    def entity_id(self, mount, alias_name):
        """The identity entity of a login alias: stable for the same alias, as Vault's identity store
        keeps one entity per (auth mount accessor, alias name) once created."""
        accessor = MOUNTS[mount][2]
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vaultemu:{self.cluster_id}:{accessor}:{alias_name}"))

    def _login(self, policies, path, display_name, meta, ttl, max_ttl, entity_id=""):
        system_max = self.config.max_ttl
        max_ttl = min(max_ttl, system_max) if max_ttl else system_max
        ttl = min(ttl or self.config.default_ttl, max_ttl)
        tok = self.tokens.create(sanitize_policies(policies, True), path, display_name, ttl=ttl,
                                 meta=meta, max_ttl=max_ttl, entity_id=entity_id)
        return Resp(auth=self.tokens.auth_block(tok))

    def _ldap(self, sub, op, body):
        if not sub.startswith("login/") or op not in ("create", "update"):
            raise VaultError(405, multierror("unsupported operation")) if sub.startswith("login/") \
                else VaultError(404, multierror("unsupported path"))
        username = sub[len("login/"):]
        password = body.get("password")
        if not password:
            raise bad_request("password cannot be empty")
        user = self.config.ldap_users.get(username)
        if user is None or user.password != password:
            raise bad_request(LDAP_BIND_FAILED)
        # builtin/credential/ldap: the alias name is the user name, lower-cased (case_sensitive_names false)
        return self._login(user.policies, f"auth/ldap/login/{username}", f"ldap-{username}",
                           {"username": username}, self.config.ldap_token_ttl, self.config.ldap_token_max_ttl,
                           entity_id=self.entity_id("auth/ldap/", username.lower()))

    def _approle(self, sub, op, body):
        if sub != "login" or op not in ("create", "update"):
            raise VaultError(404, multierror("unsupported path"))
        role_id = str(body.get("role_id") or "").strip()
        if not role_id:
            raise bad_request("missing role_id")
        secret_id = str(body.get("secret_id") or "").strip()
        for name, role in self.config.approle_roles.items():
            if role.role_id == role_id:
                if not secret_id:
                    raise bad_request("missing secret_id")
                if role.secret_id != secret_id:
                    break
                return self._login(role.policies, "auth/approle/login", "approle", {"role_name": name},
                                   role.token_ttl, role.token_max_ttl,
                                   entity_id=self.entity_id("auth/approle/", role.role_id))
        raise bad_request("invalid role or secret ID")

    def _jwt(self, sub, op, body):
        """auth/jwt/config, auth/jwt/role/:name, auth/jwt/login (vault-plugin-auth-jwt, static keys)."""
        write = op in ("create", "update")
        if sub == "login" and write:
            name, role, user = self.jwt.login(body)
            return self._login(role["token_policies"], "auth/jwt/login", f"jwt-{user}", {"role": name},
                               role["token_ttl"], role["token_max_ttl"], entity_id=self.entity_id("auth/jwt/", user))
        if sub == "config":
            if write:
                self.jwt.write_config(body)
                return Resp.empty()
            if op == "read":
                data = self.jwt.read_config()
                if data is None:
                    raise VaultError(404)
                return Resp(data=data)
        if sub.startswith("role/") and sub != "role/":
            name = sub[len("role/"):]
            if write:
                self.jwt.write_role(name, body)
                return Resp.empty()
            if op == "read":
                data = self.jwt.read_role(name)
                if data is None:
                    raise VaultError(404)
                return Resp(data=data)
            if op == "delete":
                self.jwt.roles.pop(name, None)
                return Resp.empty()
        if sub in ("login", "config") or sub.startswith("role/"):
            raise VaultError(405, multierror("unsupported operation"))
        raise VaultError(404, multierror("unsupported path"))

    # -- token store --------------------------------------------------------------------------
    def _token(self, sub, op, body, tok):
        if sub == "roles" or sub.startswith("roles/"):
            return self._token_roles(sub[len("roles/"):] if sub != "roles" else "", op, body)
        if sub.startswith("create/") and sub != "create/":
            if op not in ("update", "create"):
                raise VaultError(405, multierror("unsupported operation"))
            name = sub[len("create/"):].lower()
            role = self.token_roles.get(name)
            if role is None:
                raise bad_request(f"unknown role {name}")  # token_store.go handleCreateAgainstRole
            return self._token_create(body, tok, role=role)
        handler = {
            ("create", "update"): self._token_create,
            ("create-orphan", "update"): lambda b, t: self._token_create(b, t, orphan=True),
            ("lookup-self", "read"): lambda b, t: Resp(data=self.tokens.lookup_data(t)),
            ("lookup", "update"): self._token_lookup, ("lookup-accessor", "update"): self._token_lookup_accessor,
            ("renew-self", "update"): lambda b, t: self._token_renew(t, b),
            ("renew", "update"): lambda b, t: self._token_renew(self._token_param(b, "renew"), b),
            ("renew-accessor", "update"): lambda b, t: self._token_renew(self._accessor_param(b), b),
            ("revoke-self", "update"): self._token_revoke_self,
            ("revoke", "update"): self._token_revoke, ("revoke-accessor", "update"): self._token_revoke_accessor,
        }.get((sub, op))
        if handler is None:
            known = {"create", "create-orphan", "lookup-self", "lookup", "lookup-accessor", "renew-self",
                     "renew", "renew-accessor", "revoke-self", "revoke", "revoke-accessor"}
            if sub in known:
                raise VaultError(405, multierror("unsupported operation"))
            raise VaultError(404, multierror("unsupported path"))
        return handler(body, tok)

    def _token_roles(self, name, op, body):
        """auth/token/roles (LIST) and auth/token/roles/:name (read, create/update, delete)."""
        if not name:
            if op != "list":
                raise VaultError(405, multierror("unsupported operation"))
            if not self.token_roles:
                raise VaultError(404)
            return Resp(data={"keys": sorted(self.token_roles)})
        name = name.lower()
        role = self.token_roles.get(name)
        if op == "read":
            if role is None:
                raise VaultError(404)
            return Resp(data=role.read_data())
        if op in ("create", "update"):
            updated = apply_role_fields(TokenRole(**vars(role)) if role else TokenRole(name), body, bad_request)
            self.token_roles[name] = updated
            return Resp.empty()
        if op == "delete":
            self.token_roles.pop(name, None)
            return Resp.empty()
        raise VaultError(405, multierror("unsupported operation"))

    @staticmethod
    def _go_quote_list(items):
        """Go's %q of a []string: ["a" "b"]."""
        return "[" + " ".join(json.dumps(i) for i in items) + "]"

    def _role_policies(self, role, requested, no_default, parent):
        """handleCreateCommon, `case role != nil && (allowed or disallowed)`."""
        local_add_default = not no_default and "default" not in role.disallowed_policies
        final = sanitize_policies(requested, local_add_default) if requested else []
        if role.allowed_policies:
            role_policies = sanitize_policies(role.allowed_policies, local_add_default)
            if not final:
                final = role_policies
            elif not set(final) <= set(role_policies):
                raise bad_request(f"token policies ({self._go_quote_list(final)}) must be subset of the role's "
                                  f"allowed policies ({self._go_quote_list(role_policies)})")
        elif not final:
            final = sanitize_policies(parent.policies, local_add_default)
        for policy in final:
            if policy in role.disallowed_policies:
                raise bad_request(f"token policy {json.dumps(policy)} is disallowed by this role")
        return final

    def _token_create(self, body, parent, orphan=False, role=None):
        """auth/token/create, create-orphan (ACL'd by its path, not by sudo) and create/:role."""
        known = {"policies", "meta", "no_parent", "no_default_policy", "renewable", "ttl", "explicit_max_ttl",
                 "display_name", "num_uses", "id", "type"}
        warnings = []
        ignored = sorted(set(body) - known)
        if ignored:
            warnings.append(f"Endpoint ignored these unrecognized parameters: [{' '.join(ignored)}]")
        parent_acl = self.acl_for(parent)
        is_root = "root" in parent.policies
        is_sudo = is_root or "sudo" in parent_acl.capabilities("auth/token/create")
        if body.get("id") and not is_root:
            raise bad_request("root or sudo privileges required to directly generate a token ID")
        if str(body.get("type") or "service") != "service":
            raise bad_request("only service tokens are emulated")
        # token_store.go handleCreateCommon: inherit the parent's policies when none are given;
        # without root or sudo a child may only hold policies its parent holds.
        policies = _policies_param(body.get("policies"))
        no_default = _bool(body.get("no_default_policy"), False) or bool(role and role.token_no_default_policy)
        if role is not None and (role.allowed_policies or role.disallowed_policies):
            policies = self._role_policies(role, policies, no_default, parent)
            add_default = False
        elif not policies:
            policies = list(parent.policies)
            add_default = not no_default and "default" in parent.policies
        elif not is_sudo:
            if not set(sanitize_policies(policies, False)) <= set(sanitize_policies(parent.policies, False)):
                raise bad_request("child policies must be subset of parent")
            add_default = not no_default and "default" in parent.policies
        else:
            add_default = not no_default
        policies = sanitize_policies(policies, add_default)
        if no_default and "default" in policies:
            policies.remove("default")
        no_parent = _bool(body.get("no_parent"), False)
        if role is not None:  # the role decides: orphan or a child of the caller, no sudo needed
            no_parent = role.orphan
        elif no_parent and not is_sudo:
            raise bad_request("root or sudo privileges required to create orphan token")
        meta = body.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise bad_request("error parsing meta: expected a map of strings")
        ttl = _ttl_param(body, "ttl")
        explicit_max = _ttl_param(body, "explicit_max_ttl")
        try:
            num_uses = int(body.get("num_uses") or 0)
        except (TypeError, ValueError):
            raise bad_request("error parsing num_uses: expected an integer") from None
        if num_uses < 0:
            raise bad_request("number of uses cannot be negative")
        if role is not None and role.token_num_uses and (not num_uses or role.token_num_uses < num_uses):
            num_uses = role.token_num_uses
        display = "token"
        if body.get("display_name"):
            display = re.sub(r"[^a-zA-Z0-9-]", "-", "token-" + str(body["display_name"])).rstrip("-")
        root_child = policies == ["root"]
        if not ttl and not root_child:
            ttl = self.config.default_ttl
        if role is not None and role.token_explicit_max_ttl:
            if explicit_max:
                explicit_max = min(explicit_max, role.token_explicit_max_ttl)
                warnings.append("Explicit max TTL specified both during creation call and in role; using the "
                                f"lesser value of {explicit_max} seconds")
            else:
                explicit_max = role.token_explicit_max_ttl
        max_ttl = self.config.max_ttl
        if explicit_max and explicit_max < max_ttl:
            max_ttl = explicit_max
        if ttl > max_ttl:
            warnings.append(f"TTL of \"{go_duration(ttl)}\" exceeded the effective max_ttl of "
                            f"\"{go_duration(max_ttl)}\"; "
                            "TTL value is capped accordingly")
            ttl = max_ttl
        if root_child and not explicit_max and not body.get("ttl"):
            ttl, max_ttl = 0, 0
        path = "auth/token/create-orphan" if orphan else "auth/token/create"
        if role is not None:
            path = f"auth/token/create/{role.name}" + (f"/{role.path_suffix}" if role.path_suffix else "")
        renewable = _bool(body.get("renewable"), True) and (role is None or role.renewable)
        tok = self.tokens.create(policies, path,
                                 display, ttl=ttl, parent=None if no_parent or orphan else parent,
                                 meta={str(k): str(v) for k, v in meta.items()} if meta else None,
                                 renewable=renewable, explicit_max_ttl=explicit_max,
                                 max_ttl=max_ttl, num_uses=num_uses, token_id=body.get("id") or None)
        return Resp(auth=self.tokens.auth_block(tok), warnings=warnings or None)

    def _token_param(self, body, action):
        value = body.get("token")
        if not value:
            raise VaultError(400, multierror("missing token"))
        tok = self.tokens.lookup(str(value))
        if tok is None:
            if action == "lookup":
                raise VaultError(403, "bad token")
            raise bad_request("invalid lease ID" if action == "renew" else "token not found")
        return tok

    def _accessor_param(self, body):
        accessor = body.get("accessor")
        if not accessor:
            raise VaultError(400, multierror("missing accessor"))
        tok = self.tokens.lookup_accessor(str(accessor))
        if tok is None:
            raise VaultError(400, multierror("invalid accessor"))
        return tok

    def _token_lookup(self, body, caller):
        return Resp(data=self.tokens.lookup_data(self._token_param(body, "lookup")))

    def _token_lookup_accessor(self, body, caller):
        return Resp(data=self.tokens.lookup_data(self._accessor_param(body), include_id=False))

    def _token_renew(self, tok, body):
        if not tok.ttl:
            raise bad_request("lease not found or lease is not renewable")
        if not tok.renewable:
            raise bad_request("lease is not renewable")
        increment = _ttl_param(body, "increment")
        ttl, warnings = self.tokens.renew(tok, increment)
        return Resp(auth=self.tokens.auth_block(tok, ttl), warnings=warnings or None)

    def _token_revoke_self(self, body, tok):
        self.tokens.revoke_tree(tok)
        return Resp.empty()

    def _token_revoke(self, body, caller):
        value = body.get("token")
        if not value:
            raise VaultError(400, multierror("missing token"))
        target = self.tokens.lookup(str(value))
        if target is not None:
            self.tokens.revoke_tree(target)
        return Resp.empty()

    def _token_revoke_accessor(self, body, caller):
        self.tokens.revoke_tree(self._accessor_param(body))
        return Resp.empty()

    # -- sys ------------------------------------------------------------------------------
    def _mount_entry(self, mount):
        kind, description, accessor, version = MOUNTS[mount]
        entry = {"accessor": accessor, "config": {"default_lease_ttl": 0, "force_no_cache": False,
                                                   "max_lease_ttl": 0}, "description": description,
                 "external_entropy_access": False, "local": False, "options": None, "plugin_version": "",
                 "running_plugin_version": version, "running_sha256": "", "seal_wrap": False, "type": kind,
                 "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, mount))}
        if kind == "kv":
            entry["options"] = {"version": "2"}
        return entry

    def _sys(self, sub, op, body, tok):
        if sub == "mounts" and op == "read":
            data = {m: self._mount_entry(m) for m in MOUNTS if not m.startswith("auth/")}
            return Resp(data=data, top_level=True)
        if sub == "auth" and op == "read":
            return Resp(data={m[len("auth/"):]: self._mount_entry(m) for m in MOUNTS if m.startswith("auth/")},
                        top_level=True)
        if sub.startswith("mounts/") and sub.endswith("/tune") and op == "read":
            mount = sub[len("mounts/"):-len("/tune")].strip("/") + "/"
            if mount not in MOUNTS or mount.startswith("auth/"):
                raise bad_request(f"cannot fetch sysview for path \"{mount}\"")
            entry = self._mount_entry(mount)
            data = {"default_lease_ttl": self.config.default_ttl, "max_lease_ttl": self.config.max_ttl,
                    "force_no_cache": False, "description": entry["description"]}
            if entry["options"]:
                data["options"] = entry["options"]
            return Resp(data=data, top_level=True)
        for prefix in ("policies/acl", "policy"):
            if sub == prefix or sub.startswith(prefix + "/"):
                return self._sys_policy(sub[len(prefix):].strip("/"), op, body, prefix == "policy")
        if sub == "capabilities-self" and op == "update":
            paths = body.get("paths") or body.get("path") or []
            paths = [paths] if isinstance(paths, str) else list(paths)
            if not paths:
                raise bad_request("paths must be supplied")
            acl = self.acl_for(tok)
            data = {p: acl.capability_list(p.lstrip("/")) for p in paths}
            data["capabilities"] = sorted({c for caps in data.values() for c in caps})
            return Resp(data=data, top_level=True)
        if sub.startswith("audit-hash/") and op == "update":
            if sub[len("audit-hash/"):] != "file":
                raise bad_request(f"unknown audit backend {sub[len('audit-hash/'):]}")
            if "input" not in body:
                raise bad_request("the \"input\" parameter is empty")
            return Resp(data={"hash": self.audit.hash(body["input"])})
        raise VaultError(404, multierror("unsupported path"))

    def _sys_policy(self, name, op, body, legacy):
        """sys/policies/acl/:name and the older sys/policy/:name (read, write, delete, list)."""
        builtin = {"root", "default"}
        if not name:
            if op not in ("list", "read"):
                raise VaultError(405, multierror("unsupported operation"))
            names = sorted(set(self.policies) | builtin)
            return Resp(data={"keys": names, "policies": names} if legacy else {"keys": names}, top_level=legacy)
        name = name.lower()
        if op == "read":
            if name == "root":
                return Resp(data={"name": "root", "policy": "", "rules": ""})
            if name == "default" and name not in self.policies:
                text = json.dumps({"path": {p: {"capabilities": c} for p, c in aclmod.DEFAULT_POLICY.items()}},
                                  indent=2)
            elif name in self.policy_texts:
                text = self.policy_texts[name]
            else:
                raise VaultError(404)
            return Resp(data={"name": name, "policy": text, "rules": text} if legacy
                        else {"name": name, "policy": text}, top_level=legacy)
        if op in ("create", "update"):
            if name == "root":
                raise bad_request("cannot update \"root\" policy")
            text = body.get("policy", body.get("rules"))
            if not isinstance(text, str) or not text.strip():
                raise bad_request("'policy' parameter not supplied or empty")
            try:
                rules = parse_policy_document(name, text)
            except ConfigError as exc:
                raise bad_request(f"failed to parse policy: {exc}") from None
            self.policies[name], self.policy_texts[name] = rules, text
            return Resp.empty()
        if op == "delete":
            if name in builtin:
                raise bad_request(f"cannot delete \"{name}\" policy")
            self.policies.pop(name, None)
            self.policy_texts.pop(name, None)
            return Resp.empty()
        raise VaultError(405, multierror("unsupported operation"))
