"""The KV version 2 secrets engine (one mount), after vault-plugin-secrets-kv.

Paths relative to the mount: config, data/<p>, metadata/<p>, delete/<p>, undelete/<p>,
destroy/<p>. Versions keep created_time / deletion_time / destroyed; max_versions (10 by
default) prunes the oldest; options.cas and cas_required are enforced.
"""

import copy

from .errors import Resp, VaultError, bad_request, multierror, not_found
from .tokens import rfc3339

DEFAULT_MAX_VERSIONS = 10
_API = ("data", "metadata", "delete", "undelete", "destroy")


def _int_list(value, what):
    if value is None or value == "":
        return []
    if isinstance(value, (int, str)):
        value = [value]
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise bad_request(f"error parsing {what}: expected a list of version numbers") from None


class KVv2:
    def __init__(self, clock, mount="secret/"):
        self.clock = clock
        self.mount = mount
        self.secrets = {}
        self.config = {"cas_required": False, "delete_version_after": "0s", "max_versions": 0}

    # -- seeding ------------------------------------------------------------------------
    def seed(self, path, data):
        self._write(path.strip("/"), copy.deepcopy(data), cas=None)

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def split(rel):
        """('data', 'production/mongodb') from 'data/production/mongodb'; None if not a KV v2 path."""
        api, _, key = rel.partition("/")
        if rel == "config":
            return "config", ""
        if api in _API:
            return api, key
        return None

    def exists(self, rel):
        """The existence check that turns a write into `create` or `update` (None: no check)."""
        parts = self.split(rel)
        if parts and parts[0] in ("data", "metadata"):
            return parts[1] in self.secrets
        return None

    def _max_versions(self, meta):
        return meta["max_versions"] or self.config["max_versions"] or DEFAULT_MAX_VERSIONS

    def _version_meta(self, meta, number):
        v = meta["versions"][number]
        return {"created_time": v["created_time"], "custom_metadata": meta["custom_metadata"],
                "deletion_time": v["deletion_time"], "destroyed": v["destroyed"], "version": number}

    def _write(self, key, data, cas):
        now = rfc3339(self.clock())
        meta = self.secrets.get(key)
        cas_required = self.config["cas_required"] or (meta and meta["cas_required"])
        if cas is None and cas_required:
            raise bad_request("check-and-set parameter required for this call")
        current = meta["current_version"] if meta else 0
        if cas is not None and int(cas) != current:
            raise bad_request("check-and-set parameter did not match the current version")
        if meta is None:
            meta = self.secrets[key] = {
                "cas_required": False, "created_time": now, "current_version": 0,
                "custom_metadata": None, "delete_version_after": "0s", "max_versions": 0,
                "oldest_version": 0, "updated_time": now, "versions": {}}
        number = current + 1
        meta["versions"][number] = {"data": data, "created_time": now, "deletion_time": "", "destroyed": False}
        meta["current_version"] = number
        meta["updated_time"] = now
        pruned = sorted(meta["versions"])[:-self._max_versions(meta)]
        for old in pruned:
            del meta["versions"][old]
        if pruned:
            meta["oldest_version"] = min(meta["versions"])
        return self._version_meta(meta, number)

    def _versions(self, meta, body):
        versions = _int_list(body.get("versions"), "versions")
        if not versions:
            raise bad_request("no version number provided")
        return [v for v in versions if v in meta["versions"]]

    # -- dispatch ------------------------------------------------------------------------
    def handle(self, op, rel, body):
        parts = self.split(rel)
        if parts is None:
            raise VaultError(404, multierror("unsupported path"))
        api, key = parts
        handler = getattr(self, f"_{api}_{op}", None)
        if handler is None:
            raise VaultError(405, multierror("unsupported operation"))
        return handler(key, body)

    # config
    def _config_read(self, key, body):
        return Resp(data=dict(self.config))

    def _config_update(self, key, body):
        if "max_versions" in body:
            self.config["max_versions"] = int(body["max_versions"])
        if "cas_required" in body:
            self.config["cas_required"] = bool(body["cas_required"])
        return Resp.empty()

    _config_create = _config_update

    # data
    def _data_read(self, key, body):
        meta = self.secrets.get(key)
        if meta is None:
            raise not_found()
        try:
            number = int(body.get("version") or 0) or meta["current_version"]
        except (TypeError, ValueError):
            raise bad_request("error parsing version: expected an integer") from None
        if number not in meta["versions"]:
            raise not_found()
        version = meta["versions"][number]
        vmeta = self._version_meta(meta, number)
        if version["destroyed"] or version["deletion_time"]:
            return Resp(status=404, data={"data": None, "metadata": vmeta})
        return Resp(data={"data": copy.deepcopy(version["data"]), "metadata": vmeta})

    def _data_update(self, key, body):
        if not key:
            raise bad_request("missing path")
        data = body.get("data")
        if data is None:
            raise bad_request("no data provided")
        if not isinstance(data, dict):
            raise bad_request("error parsing data: expected a map of secret fields")
        options = body.get("options") or {}
        cas = options.get("cas") if isinstance(options, dict) else None
        return Resp(data=self._write(key, copy.deepcopy(data), cas))

    _data_create = _data_update

    def _data_delete(self, key, body):
        meta = self.secrets.get(key)
        if meta:
            version = meta["versions"].get(meta["current_version"])
            if version and not version["destroyed"] and not version["deletion_time"]:
                version["deletion_time"] = rfc3339(self.clock())
        return Resp.empty()

    # delete / undelete / destroy
    def _delete_update(self, key, body):
        meta = self.secrets.get(key)
        if meta is None:
            _int_list(body.get("versions"), "versions")
            return Resp.empty()
        now = rfc3339(self.clock())
        for number in self._versions(meta, body):
            version = meta["versions"][number]
            if not version["destroyed"] and not version["deletion_time"]:
                version["deletion_time"] = now
        return Resp.empty()

    def _undelete_update(self, key, body):
        meta = self.secrets.get(key)
        if meta is None:
            return Resp.empty()
        for number in self._versions(meta, body):
            version = meta["versions"][number]
            if not version["destroyed"]:
                version["deletion_time"] = ""
        return Resp.empty()

    def _destroy_update(self, key, body):
        meta = self.secrets.get(key)
        if meta is None:
            return Resp.empty()
        for number in self._versions(meta, body):
            meta["versions"][number]["destroyed"] = True
            meta["versions"][number]["data"] = None
        return Resp.empty()

    # metadata
    def _metadata_read(self, key, body):
        meta = self.secrets.get(key)
        if meta is None:
            raise not_found()
        out = {k: v for k, v in meta.items() if k != "versions"}
        out["versions"] = {str(n): {"created_time": v["created_time"], "deletion_time": v["deletion_time"],
                                    "destroyed": v["destroyed"]} for n, v in sorted(meta["versions"].items())}
        return Resp(data=copy.deepcopy(out))

    def _metadata_list(self, key, body):
        prefix = key if not key or key.endswith("/") else key + "/"
        keys = set()
        for path in self.secrets:
            if path.startswith(prefix):
                rest = path[len(prefix):]
                head, sep, _ = rest.partition("/")
                keys.add(head + sep)
        if not keys:
            raise not_found()
        return Resp(data={"keys": sorted(keys)})

    def _metadata_update(self, key, body):
        if not key:
            raise bad_request("missing path")
        meta = self.secrets.get(key)
        if meta is None:
            now = rfc3339(self.clock())
            meta = self.secrets[key] = {
                "cas_required": False, "created_time": now, "current_version": 0, "custom_metadata": None,
                "delete_version_after": "0s", "max_versions": 0, "oldest_version": 0, "updated_time": now,
                "versions": {}}
        if "max_versions" in body:
            meta["max_versions"] = int(body["max_versions"])
        if "cas_required" in body:
            meta["cas_required"] = bool(body["cas_required"])
        if "custom_metadata" in body:
            custom = body["custom_metadata"]
            if custom is not None and not isinstance(custom, dict):
                raise bad_request("custom_metadata must be a map of strings")
            meta["custom_metadata"] = {str(k): str(v) for k, v in custom.items()} if custom else None
        meta["updated_time"] = rfc3339(self.clock())
        return Resp.empty()

    _metadata_create = _metadata_update

    def _metadata_delete(self, key, body):
        self.secrets.pop(key, None)
        return Resp.empty()
