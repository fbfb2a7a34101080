"""CustomResourceDefinitions (apiextensions.k8s.io/v1) and the custom resources they define.

Follows kube-apiserver's apiextensions-apiserver (kubernetes staging/src/k8s.io/apiextensions-apiserver):

- validation of a CRD (pkg/apis/apiextensions/validation/validation.go ValidateCustomResourceDefinition):
  metadata.name is `<spec.names.plural>.<spec.group>`, a group with a dot, scope Namespaced|Cluster, at least
  one version and exactly one storage version, a schema per version (required in v1); defaults
  (pkg/apis/apiextensions/v1/defaults.go): names.singular = lower(kind), names.listKind = kind + "List",
  conversion.strategy None.
- the naming controller (pkg/controller/status/naming_controller.go) sets NamesAccepted (reason NoConflicts,
  or PluralConflict/KindConflict when another CRD of the group holds the name) and status.acceptedNames; the
  establishing controller (pkg/controller/establish/establishing_controller.go) then sets Established
  (reason InitialNamesAccepted). Both run after the write, like any controller here.
- serving (pkg/apiserver/customresource_handler.go crdHandler.ServeHTTP): a custom resource is served once
  NamesAccepted or Established is true and only for a served version and the CRD's scope; anything else
  falls through to the delegate's 404 "the server could not find the requested resource". Patches take
  application/json-patch+json, application/merge-patch+json and application/apply-patch+yaml only
  (strategic merge is 415 UnsupportedMediaType: custom resources have no patch strategy); a create within 2 s
  of the Established transition waits out those 2 s ("justCreated").
- discovery (pkg/apiserver/customresource_discovery_controller.go sync): only Established CRDs are listed, with
  their served versions, the eight verbs, shortNames, categories and the status/scale subresources.
- deleting a CRD removes its custom resources (pkg/controller/finalizer/crd_finalizer.go; here at once: the
  CRD goes, then the controller below removes what it served), and a deleted namespace loses its custom
  resources as it loses every other object (the namespace controller).

Custom resources are stored by the Cluster like built-in objects, under a key of their own per CRD uid,
registered in resources.BY_KEY while the CRD exists. Unknown fields are pruned as the structural schema says
(pkg/apiserver/schema/pruning: properties, items, additionalProperties, x-kubernetes-preserve-unknown-fields).
"""

import copy
import re
import threading
import time

from . import errors, resources
from .errors import ApiError
from .resources import Resource
from .timefmt import now_iso

CRD = resources.BY_KEY["apiextensions.k8s.io/customresourcedefinitions"]
VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
JUST_CREATED_SECONDS = 2.0


def _condition(crd, ctype):
    return next((c for c in (crd.get("status") or {}).get("conditions") or [] if c.get("type") == ctype), None)


def condition_true(crd, ctype):
    cond = _condition(crd, ctype)
    return cond is not None and cond.get("status") == "True"


# ---- validation and defaults (called from defaults.validate for kind CustomResourceDefinition) ---------------
def crd_errors(obj, old=None):
    """field.ErrorList of ValidateCustomResourceDefinition, as (field, reason, message)."""
    errs = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", "FieldValueRequired", "Required value")]
    group = spec.get("group") or ""
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    plural, kind = names.get("plural") or "", names.get("kind") or ""
    if not group:
        errs.append(("spec.group", "FieldValueRequired", "Required value"))
    elif "." not in group:
        errs.append(("spec.group", "FieldValueInvalid", 'Invalid value: "%s": should be a domain with at least one dot'
                     % group))
    if obj["metadata"]["name"] != "%s.%s" % (plural, group):
        errs.append(("metadata.name", "FieldValueInvalid", 'Invalid value: "%s": must be spec.names.plural+"."+'
                     'spec.group' % obj["metadata"]["name"]))
    if not plural:
        errs.append(("spec.names.plural", "FieldValueRequired", "Required value"))
    elif not DNS_LABEL.match(plural):
        errs.append(("spec.names.plural", "FieldValueInvalid", 'Invalid value: "%s": a lowercase RFC 1123 label '
                     "must consist of lower case alphanumeric characters or '-'" % plural))
    if not kind:
        errs.append(("spec.names.kind", "FieldValueRequired", "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(("spec.scope", "FieldValueNotSupported", 'Unsupported value: "%s": supported values: "Cluster", '
                     '"Namespaced"' % (spec.get("scope") or "")))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(("spec.versions", "FieldValueInvalid", "Invalid value: []: must have exactly one version marked "
                     "as storage version"))
        versions = []
    elif len([v for v in versions if isinstance(v, dict) and v.get("storage") is True]) != 1:
        errs.append(("spec.versions", "FieldValueInvalid", "Invalid value: ...: must have exactly one version marked "
                     "as storage version"))
    for i, version in enumerate(versions):
        version = version if isinstance(version, dict) else {}
        if not DNS_LABEL.match(str(version.get("name") or "")):
            errs.append(("spec.versions[%d].name" % i, "FieldValueInvalid", 'Invalid value: "%s": a DNS-1035 label'
                         % (version.get("name") or "")))
        if not isinstance(version.get("served"), bool):
            errs.append(("spec.versions[%d].served" % i, "FieldValueRequired", "Required value"))
        if not isinstance((version.get("schema") or {}).get("openAPIV3Schema"), dict):
            errs.append(("spec.versions[%d].schema.openAPIV3Schema" % i, "FieldValueRequired",
                         "Required value: schemas are required"))
    if old is not None and (old.get("spec") or {}).get("group") != group:
        errs.append(("spec.group", "FieldValueInvalid", 'Invalid value: "%s": field is immutable' % group))
    if old is not None and (old.get("spec") or {}).get("scope") != spec.get("scope"):
        errs.append(("spec.scope", "FieldValueInvalid", 'Invalid value: "%s": field is immutable'
                     % spec.get("scope")))
    if not errs:
        names.setdefault("singular", kind.lower())
        names.setdefault("listKind", kind + "List")
        spec.setdefault("conversion", {"strategy": "None"})
    return errs


# ---- pruning (structural schema) ---------------------------------------------------------------------------
def prune(value, schema):
    """Drop the fields a structural schema does not declare (unless x-kubernetes-preserve-unknown-fields)."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
            return value
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            if props is not None and key in props:
                out[key] = prune(item, props[key])
            elif isinstance(extra, dict):
                out[key] = prune(item, extra)
            elif extra is True or schema.get("x-kubernetes-preserve-unknown-fields") or (props is None and extra is None
                                                                                        and schema.get("type") != "object"):
                out[key] = item
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"]) for item in value]
    return value


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def type_errors(value, schema, path):
    """The schema's type checks (pkg/apiserver/validation): a wrong type is 422 Invalid."""
    if not isinstance(schema, dict) or value is None:
        return []
    want = schema.get("type")
    ok = True
    if want in _TYPES:
        ok = isinstance(value, _TYPES[want])
    elif want == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif want == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if schema.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, (int, str)) and not isinstance(value, bool)
    if not ok:
        return [(path, "FieldValueTypeInvalid", 'Invalid value: "%s": %s in body must be of type %s'
                 % (_short(value), path, want))]
    errs = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key in schema.get("required") or []:
            if key not in value:
                errs.append(("%s.%s" % (path, key), "FieldValueRequired", "Required value"))
        for key, item in value.items():
            sub = props.get(key, schema.get("additionalProperties"))
            errs += type_errors(item, sub, "%s.%s" % (path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            errs += type_errors(item, schema.get("items"), "%s[%d]" % (path, i))
    return errs


def _short(value):
    text = str(value)
    return text if len(text) < 40 else text[:37] + "..."


# ---- the registry of served custom resources, one per cluster ----------------------------------------------
class CustomResources:
    """What the CRDs of one Cluster serve, and the controller that establishes them and cleans up after them."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.cache = {}            # (uid, version, scope, names) -> Resource
        self.keys = {}             # storage key -> crd uid, for what this registry registered in BY_KEY
        self.established_at = {}   # crd uid -> time.monotonic() of the Established transition
        self.thread = threading.Thread(target=self._run, name="kubeemu-crd-controllers", daemon=True)
        self.thread.start()

    # -- serving ---------------------------------------------------------------------------------------------
    def _crds(self):
        return list(self.cluster.objects.get(CRD.key, {}).values())

    def _resource(self, crd, version):
        spec, names = crd["spec"], crd["spec"]["names"]
        version_entry = next(v for v in spec["versions"] if v["name"] == version)
        sub = version_entry.get("subresources") or {}
        ident = (crd["metadata"]["uid"], version, spec["scope"], names["plural"], names["kind"],
                 tuple(names.get("shortNames") or ()), tuple(names.get("categories") or ()), "status" in sub,
                 "scale" in sub)
        r = self.cache.get(ident)
        if r is None:
            storage_key = "customresource/%s" % crd["metadata"]["uid"]
            r = Resource(spec["group"], version, names["plural"], names["kind"], namespaced=spec["scope"] == "Namespaced",
                         short=names.get("shortNames") or (), status="status" in sub, scale=False, generation=True,
                         categories=names.get("categories") or (), verbs=list(VERBS), storage=storage_key)
            r.crd_name = crd["metadata"]["name"]
            r.crd_uid = crd["metadata"]["uid"]
            r.schema = (version_entry.get("schema") or {}).get("openAPIV3Schema") or {}
            self.cache[ident] = r
        return r

    def _register(self, crd):
        """The storage of an accepted CRD: its store in the Cluster and BY_KEY -> its storage version."""
        storage = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
        r = self._resource(crd, storage)
        with self.cluster.lock:
            self.cluster.objects.setdefault(r.key, {})
            resources.BY_KEY[r.key] = r
            self.keys[r.key] = crd["metadata"]["uid"]
        return r

    def lookup(self, group, version, plural):
        """The Resource served at /apis/group/version/plural, or None (404)."""
        with self.cluster.lock:
            for crd in self._crds():
                spec = crd.get("spec") or {}
                accepted = (crd.get("status") or {}).get("acceptedNames") or {}
                if spec.get("group") != group or accepted.get("plural") != plural:
                    continue
                if not (condition_true(crd, "NamesAccepted") or condition_true(crd, "Established")):
                    return None
                if not any(v.get("name") == version and v.get("served") for v in spec.get("versions") or []):
                    return None
                self._register(crd)
                return self._resource(crd, version)
        return None

    def settle(self, r):
        """crdHandler serveResource "create": within 2 s of Established, the create waits out the 2 s."""
        since = self.established_at.get(getattr(r, "crd_uid", None))
        if since is not None:
            left = JUST_CREATED_SECONDS - (time.monotonic() - since)
            if left > 0:
                time.sleep(left)

    def intake(self, r, body):
        """Prune unknown fields (metadata, apiVersion and kind are always kept) and check the schema's types."""
        if not isinstance(body, dict) or not getattr(r, "schema", None):
            return body
        keep = {k: body[k] for k in ("apiVersion", "kind", "metadata") if k in body}
        pruned = prune({k: v for k, v in body.items() if k not in keep}, r.schema)
        schema = dict(r.schema, properties={k: v for k, v in (r.schema.get("properties") or {}).items()
                                            if k not in ("apiVersion", "kind", "metadata")})
        errs = type_errors(pruned, dict(schema, required=[k for k in schema.get("required") or []
                                                          if k not in keep]), "")
        errs = [(f.lstrip("."), reason, msg.replace(" .", " ")) for f, reason, msg in errs]
        if errs:
            raise errors.invalid(r, (body.get("metadata") or {}).get("name", ""), errs)
        pruned.update(keep)
        return pruned

    # -- discovery -------------------------------------------------------------------------------------------
    def _established(self):
        return [c for c in self._crds() if condition_true(c, "Established")]

    def group_versions(self):
        """{group: [served versions, preferred first]} of the Established CRDs."""
        out = {}
        with self.cluster.lock:
            for crd in self._established():
                for v in crd["spec"]["versions"]:
                    if v.get("served") and v["name"] not in out.setdefault(crd["spec"]["group"], []):
                        out[crd["spec"]["group"]].append(v["name"])
        return {g: sorted(vs, key=_kube_aware_key) for g, vs in out.items()}

    def api_group(self, group):
        versions = self.group_versions().get(group)
        if not versions:
            return None
        entries = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
                "preferredVersion": entries[0]}

    def extend_group_list(self, doc):
        for group in sorted(self.group_versions()):
            entry = self.api_group(group)
            del entry["kind"], entry["apiVersion"]
            doc["groups"].append(entry)
        return doc

    def resource_list(self, group, version):
        if version not in self.group_versions().get(group, []):
            return None
        out = []
        with self.cluster.lock:
            for crd in self._established():
                if crd["spec"]["group"] != group or not any(
                        v["name"] == version and v.get("served") for v in crd["spec"]["versions"]):
                    continue
                accepted = crd["status"]["acceptedNames"]
                namespaced = crd["spec"]["scope"] == "Namespaced"
                entry = {"name": accepted["plural"], "singularName": accepted.get("singular", ""),
                         "namespaced": namespaced, "kind": accepted["kind"], "verbs": list(VERBS)}
                for key in ("shortNames", "categories"):
                    if accepted.get(key):
                        entry[key] = accepted[key]
                out.append(entry)
                sub = next(v for v in crd["spec"]["versions"] if v["name"] == version).get("subresources") or {}
                if "status" in sub:
                    out.append({"name": accepted["plural"] + "/status", "singularName": "", "namespaced": namespaced,
                                "kind": accepted["kind"], "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "%s/%s" % (group, version),
                "resources": out}

    # -- the naming/establishing/finalizer controllers ------------------------------------------------------
    def _run(self):
        cluster = self.cluster
        while not cluster.stopping:
            with cluster.lock:
                cluster.cond.wait(0.5)
            lag = float(((cluster.config or {}).get("controllers") or {}).get("lag_seconds", 0.05))
            time.sleep(lag)   # an informer sees a write after it happened, never inside the request
            try:
                self.reconcile()
            except Exception:  # pragma: no cover - a bug here must not kill the controller; the next pass retries
                import traceback
                traceback.print_exc()

    def _status(self, crd, crds):
        spec, names = crd["spec"], crd["spec"]["names"]
        old = crd.get("status") or {}
        conflict = None
        for other in crds:
            if other is crd or other["spec"].get("group") != spec["group"]:
                continue
            taken = (other.get("status") or {}).get("acceptedNames") or {}
            if taken.get("plural") == names["plural"] or names["plural"] in (taken.get("shortNames") or []):
                conflict = ("PluralConflict", '"%s" is already in use' % names["plural"])
            elif taken.get("kind") == names["kind"]:
                conflict = ("KindConflict", '"%s" is already in use' % names["kind"])
        now = now_iso()

        def cond(ctype, status, reason, message):
            prev = _condition(crd, ctype)
            since = prev["lastTransitionTime"] if prev and prev.get("status") == status else now
            return {"type": ctype, "status": status, "lastTransitionTime": since, "reason": reason, "message": message}

        if conflict:
            accepted = old.get("acceptedNames") or {}
            conditions = [cond("NamesAccepted", "False", conflict[0], conflict[1]),
                          cond("Established", "False", "NotAccepted", "not all names are accepted")]
        else:
            accepted = {k: names[k] for k in ("plural", "singular", "kind", "listKind", "shortNames", "categories")
                        if names.get(k)}
            conditions = [cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                          cond("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")]
        stored = list(old.get("storedVersions") or [])
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        if not conflict and storage not in stored:
            stored.append(storage)
        return {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}

    def reconcile(self):
        cluster = self.cluster
        with cluster.lock:
            crds = self._crds()
            for crd in crds:
                status = self._status(crd, crds)
                if status != (crd.get("status") or {}):
                    new = copy.deepcopy(crd)
                    new["status"] = status
                    was = condition_true(crd, "Established")
                    cluster.write_status(CRD, new)
                    if condition_true(new, "Established") and not was:
                        self.established_at[crd["metadata"]["uid"]] = time.monotonic()
                        self._register(new)
            live = {c["metadata"]["uid"] for c in self._crds()}
            namespaces = {n["metadata"]["name"] for n in cluster.objects["namespaces"].values()}
            for key, uid in list(self.keys.items()):
                r = resources.BY_KEY.get(key)
                store = cluster.objects.get(key, {})
                for obj in list(store.values()):
                    if uid not in live or (r is not None and r.namespaced and
                                           obj["metadata"].get("namespace") not in namespaces):
                        cluster._remove(r, obj)   # pylint: disable=protected-access
                if uid not in live:
                    cluster.objects.pop(key, None)
                    resources.BY_KEY.pop(key, None)
                    self.keys.pop(key, None)
                    self.established_at.pop(uid, None)


def _kube_aware_key(version):
    """k8s.io/apimachinery version.CompareKubeAwareVersionStrings: GA > beta > alpha, higher numbers first."""
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if not m:
        return (3, 0, 0, version)
    rank = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (rank, -int(m.group(1)), -int(m.group(3) or 0), version)


_LOCK = threading.Lock()


def for_cluster(cluster):
    """The CustomResources of a Cluster (created, with its controller thread, on first use)."""
    registry = getattr(cluster, "custom_resources", None)
    if registry is None:
        with _LOCK:
            registry = getattr(cluster, "custom_resources", None)
            if registry is None:
                registry = CustomResources(cluster)
                cluster.custom_resources = registry
    return registry


def unsupported_patch(content_type):
    """PatchResource with the CRD handler's supportedTypes (no strategic merge)."""
    return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media "
                    "types include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml")
