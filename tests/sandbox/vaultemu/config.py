"""Load and validate the emulator's CONFIG (YAML file or an equivalent dict).

Every error names the offending key and says what is expected, so a typo in the
sandbox world gives one clear line instead of a traceback from deep inside a request.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CAPABILITIES = ("create", "read", "update", "patch", "delete", "list", "sudo", "deny")

# Vault's built-in defaults (vault server -dev): 768h for both the default and the maximum TTL.
DEFAULT_TTL = 768 * 3600


class ConfigError(ValueError):
    """The CONFIG does not describe a world the emulator can serve."""


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value, what="duration"):
    """Seconds (int) from Vault's duration forms: 90, "90", "90s", "15m", "1h30m", "7d".

    Raises ValueError naming `what` when the value is none of these (callers turn it into
    the error Vault gives for the field).
    """
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a number of seconds or a duration like '15m', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{what}: must not be negative, got {value!r}")
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{what}: expected a number of seconds or a duration like '15m', got {value!r}")
    return int(total)


@dataclass
class LdapUser:
    password: str
    policies: list


@dataclass
class AppRole:
    role_id: str
    secret_id: str
    policies: list
    token_ttl: int = 0
    token_max_ttl: int = 0


@dataclass
class Config:
    root_token: str
    default_ttl: int = DEFAULT_TTL
    max_ttl: int = DEFAULT_TTL
    ldap_token_ttl: int = 0
    ldap_token_max_ttl: int = 0
    ldap_users: dict = field(default_factory=dict)
    policies: dict = field(default_factory=dict)
    approle_roles: dict = field(default_factory=dict)
    kv: dict = field(default_factory=dict)
    token_roles: dict = field(default_factory=dict)
    version: str = "1.17.6"
    cluster_name: str = "vault-cluster-sandbox"


def _require_mapping(value, key):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"config key '{key}' must be a mapping, got {type(value).__name__}")
    return value


def _policy_list(value, key):
    if value is None:
        return []
    if isinstance(value, str):
        value = [p.strip() for p in value.split(",") if p.strip()]
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise ConfigError(f"config key '{key}' must be a list of policy names")
    return list(value)


def _duration(value, key):
    try:
        return parse_duration(value, key)
    except ValueError as exc:
        raise ConfigError(f"config key {exc}") from None


def _validate_policy(name, body):
    body = _require_mapping(body, f"policies.{name}")
    unknown = set(body) - {"path"}
    if unknown:
        raise ConfigError(f"config key 'policies.{name}' has unsupported keys {sorted(unknown)}; "
                          "only 'path' (the JSON form of Vault's HCL policy) is emulated")
    rules = {}
    for path, rule in _require_mapping(body.get("path"), f"policies.{name}.path").items():
        where = f"policies.{name}.path.{path!r}"
        rule = _require_mapping(rule, where)
        extra = set(rule) - {"capabilities"}
        if extra:
            raise ConfigError(f"config key '{where}' has unsupported keys {sorted(extra)}; "
                              "only 'capabilities' is emulated")
        caps = rule.get("capabilities")
        if not isinstance(caps, list) or not caps:
            raise ConfigError(f"config key '{where}.capabilities' must be a non-empty list")
        bad = [c for c in caps if c not in CAPABILITIES]
        if bad:
            raise ConfigError(f"config key '{where}.capabilities' has unknown capabilities {bad}; "
                              f"use some of {list(CAPABILITIES)}")
        if "*" in path[:-1]:
            raise ConfigError(f"config key '{where}': '*' is only allowed at the end of a policy path")
        rules[path.lstrip("/")] = list(caps)
    return rules


_HCL_PATH_BLOCK = re.compile(r'path\s+"([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]\s*\}', re.S)
_HCL_COMMENT = re.compile(r"(?m)^\s*(#|//).*$")


def parse_policy_document(name, text):
    """Rules {path: [capabilities]} from a policy's text: its JSON form, or HCL made only of
    `path "..." { capabilities = [...] }` blocks (what the emulator enforces)."""
    try:
        doc = json.loads(text)
    except ValueError:
        body = _HCL_COMMENT.sub("", text)
        paths = {}
        for match in _HCL_PATH_BLOCK.finditer(body):
            caps = [c.strip().strip('"') for c in match.group(2).split(",") if c.strip()]
            paths[match.group(1)] = {"capabilities": caps}
        if _HCL_PATH_BLOCK.sub("", body).strip():
            raise ConfigError("only path blocks with capabilities are emulated "
                              "(no allowed_parameters, min_wrapping_ttl, ...)") from None
        doc = {"path": paths}
    return _validate_policy(name, doc)


def parse_config(raw):
    """Config from a dict (the YAML document or the JSON body of POST /_sandbox/reset)."""
    raw = _require_mapping(raw, "<top level>")
    known = {"root_token", "default_ttl", "max_ttl", "ldap", "ldap_users", "policies", "approle",
             "kv", "token_roles", "version", "cluster_name"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown config keys {sorted(unknown)}; known keys are {sorted(known)}")
    root_token = raw.get("root_token")
    if not isinstance(root_token, str) or not root_token:
        raise ConfigError("config key 'root_token' is required: the token an operator (and the sandbox) "
                          "uses as Vault's root token")
    cfg = Config(root_token=root_token)
    cfg.default_ttl = _duration(raw.get("default_ttl", DEFAULT_TTL), "default_ttl") or DEFAULT_TTL
    cfg.max_ttl = _duration(raw.get("max_ttl", DEFAULT_TTL), "max_ttl") or DEFAULT_TTL
    if cfg.default_ttl > cfg.max_ttl:
        raise ConfigError("config key 'default_ttl' must not exceed 'max_ttl'")
    ldap = _require_mapping(raw.get("ldap"), "ldap")
    cfg.ldap_token_ttl = _duration(ldap.get("token_ttl"), "ldap.token_ttl")
    cfg.ldap_token_max_ttl = _duration(ldap.get("token_max_ttl"), "ldap.token_max_ttl")
    for user, spec in _require_mapping(raw.get("ldap_users"), "ldap_users").items():
        spec = _require_mapping(spec, f"ldap_users.{user}")
        password = spec.get("password")
        if not isinstance(password, str) or not password:
            raise ConfigError(f"config key 'ldap_users.{user}.password' is required (a non-empty string)")
        cfg.ldap_users[str(user)] = LdapUser(password, _policy_list(spec.get("policies"),
                                                                   f"ldap_users.{user}.policies"))
    for name, body in _require_mapping(raw.get("policies"), "policies").items():
        if name in ("root", "response-wrapping"):
            raise ConfigError(f"config key 'policies.{name}': the {name} policy is built in and cannot be defined")
        cfg.policies[str(name)] = _validate_policy(name, body)
    approle = _require_mapping(raw.get("approle"), "approle")
    for name, spec in _require_mapping(approle.get("roles"), "approle.roles").items():
        spec = _require_mapping(spec, f"approle.roles.{name}")
        for key in ("role_id", "secret_id"):
            if not isinstance(spec.get(key), str) or not spec.get(key):
                raise ConfigError(f"config key 'approle.roles.{name}.{key}' is required (a non-empty string)")
        cfg.approle_roles[str(name)] = AppRole(
            spec["role_id"], spec["secret_id"],
            _policy_list(spec.get("policies", spec.get("token_policies")), f"approle.roles.{name}.policies"),
            _duration(spec.get("token_ttl"), f"approle.roles.{name}.token_ttl"),
            _duration(spec.get("token_max_ttl"), f"approle.roles.{name}.token_max_ttl"))
    for mount, secrets in _require_mapping(raw.get("kv"), "kv").items():
        if mount != "secret":
            raise ConfigError(f"config key 'kv.{mount}': only the KV v2 mount 'secret' is emulated")
        for path, data in _require_mapping(secrets, f"kv.{mount}").items():
            if not isinstance(data, dict):
                raise ConfigError(f"config key 'kv.{mount}.{path}' must be a mapping of secret fields")
            cfg.kv[str(path).strip("/")] = data
    from .roles import FIELDS, TokenRole, apply_role_fields  # roles.py imports parse_duration from here

    for name, spec in _require_mapping(raw.get("token_roles"), "token_roles").items():
        spec = _require_mapping(spec, f"token_roles.{name}")
        unknown_fields = set(spec) - set(FIELDS) - {"explicit_max_ttl"}
        if unknown_fields:
            raise ConfigError(f"config key 'token_roles.{name}' has unsupported keys {sorted(unknown_fields)}; "
                              f"emulated: {list(FIELDS)}")

        def role_error(msg, name=name):
            return ConfigError(f"config key 'token_roles.{name}': {msg}")
        cfg.token_roles[str(name).lower()] = apply_role_fields(TokenRole(str(name).lower()), spec, role_error)
    cfg.version = str(raw.get("version", cfg.version))
    cfg.cluster_name = str(raw.get("cluster_name", cfg.cluster_name))
    return cfg


def load_config(path):
    """Config from a YAML file; ConfigError names the file when it cannot be read or parsed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    try:
        return parse_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
