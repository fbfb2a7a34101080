"""The object store and the API verbs (create/get/list/update/patch/delete/watch) on it."""

import collections
import copy
import json
import random
import threading
import time
import uuid

import yaml

from . import errors
from .defaults import apply_defaults, check_shapes, random_suffix, validate, validate_name
from .errors import ApiError
from .hpa_conversion import from_v1, to_v1
from .netcheck import DEFAULT_NETWORK
from .patch import PatchError, json_merge_patch, json_patch, strategic_merge_patch, strip_nulls
from .quantity import CPU, MEMORY, parse_quantity
from .resources import BY_KEY, RESOURCES
from .selectors import (SelectorError, fields_match, labels_match, parse_field_selector,
                        parse_label_selector)
from .subresources import log_lines_problem
from .timefmt import now_iso

PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
# field selectors the real server accepts, per kind (metadata.name/namespace always)
FIELD_LABELS = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"},
    "Node": {"spec.unschedulable"},
    "Namespace": {"status.phase"},
    "Secret": {"type"},
    "ReplicaSet": {"status.replicas"},
    "StatefulSet": {"status.successful"},
}
# kubelet.broken_images crash (CrashLoopBackOff), kubelet.unpullable_images do not exist in the registry
# (ErrImagePull / ImagePullBackOff); grace_period_scale shortens a pod's termination grace period in the
# sandbox (never to zero: at least MIN_GRACE_SECONDS); node_pressure evicts pods of a node under pressure.
# controllers.lag_seconds: how long after a write the controllers see it (an informer's delivery and the
# workqueue; never zero); hpa_*: kube-controller-manager's --horizontal-pod-autoscaler-sync-period (15s)
# and --horizontal-pod-autoscaler-downscale-stabilization (5m) defaults.
DEFAULT_CONFIG = {"kubelet": {"ready_delay_seconds": 1.0, "broken_images": [], "unpullable_images": [],
                              "grace_period_scale": 0.01, "node_pressure": []},
                  "controllers": {"lag_seconds": 0.1, "hpa_sync_period_seconds": 15.0,
                                  "hpa_downscale_stabilization_seconds": 300.0},
                  "pod_logs": [], "metrics": [], "network": copy.deepcopy(DEFAULT_NETWORK)}
MIN_GRACE_SECONDS = 0.1


def _check_quantities(entry):
    try:
        parse_quantity(entry.get("cpu", "0"), CPU)
        parse_quantity(entry.get("cpu_total", "0"), CPU)
        parse_quantity(entry.get("memory", "0"), MEMORY)
    except ValueError as exc:
        raise errors.bad_request("sandbox config metrics: %s (cpu like 250m, memory like 512Mi)" % exc)
    if "cpu" in entry and "cpu_total" in entry:
        raise errors.bad_request("sandbox config metrics: give cpu (per pod) or cpu_total (spread over the Ready "
                                 "pods), not both")


def _number(section, key, value, positive):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise errors.bad_request("sandbox config %s.%s must be a number of seconds" % (section, key))
    if value < 0 or (positive and value <= 0):
        raise errors.bad_request("sandbox config %s.%s must be %s" % (section, key, "> 0" if positive else ">= 0"))
    return value


def _kubelet_config(given):
    kubelet = copy.deepcopy(DEFAULT_CONFIG["kubelet"])
    given = given or {}
    if not isinstance(given, dict) or set(given) - set(kubelet):
        raise errors.bad_request("sandbox config kubelet takes %s" % ", ".join(sorted(kubelet)))
    kubelet.update(given)
    kubelet["ready_delay_seconds"] = _number("kubelet", "ready_delay_seconds", kubelet["ready_delay_seconds"], False)
    # a pod is never removed the moment it is deleted: the grace period is scaled, not skipped
    kubelet["grace_period_scale"] = _number("kubelet", "grace_period_scale", kubelet["grace_period_scale"], True)
    for key in ("broken_images", "unpullable_images"):
        if not isinstance(kubelet[key] or [], list):
            raise errors.bad_request("sandbox config kubelet.%s must be a list of images" % key)
        kubelet[key] = [str(x) for x in kubelet[key] or []]
    pressure = kubelet["node_pressure"] or []
    if not isinstance(pressure, list) or not all(
            isinstance(e, dict) and isinstance(e.get("node"), str) and not set(e) - {"node", "resource", "evict"}
            and e.get("resource", "memory") in ("memory", "ephemeral-storage")
            and isinstance(e.get("evict", 1), int) and e.get("evict", 1) >= 0 for e in pressure):
        raise errors.bad_request("sandbox config kubelet.node_pressure must be a list of {node: NAME, resource: "
                                 "memory|ephemeral-storage, evict: N}")
    kubelet["node_pressure"] = [dict({"resource": "memory", "evict": 1}, **e) for e in pressure]
    return kubelet


def _network_config(given):
    """The answers of the network check pod (netcheck.py): dns on/off, extra names, unreachable host:ports."""
    net = copy.deepcopy(DEFAULT_NETWORK)
    given = given or {}
    if not isinstance(given, dict) or set(given) - set(net):
        raise errors.bad_request("sandbox config network takes %s" % ", ".join(sorted(net)))
    net.update(given)
    if not isinstance(net["dns"], bool):
        raise errors.bad_request("sandbox config network.dns must be true or false")
    for key in ("resolves", "unreachable"):
        if not isinstance(net[key] or [], list):
            raise errors.bad_request("sandbox config network.%s must be a list of names or host:port" % key)
        net[key] = [str(x) for x in net[key] or []]
    net["run_seconds"] = _number("network", "run_seconds", net["run_seconds"], True)
    return net


def _controllers_config(given):
    ctl = copy.deepcopy(DEFAULT_CONFIG["controllers"])
    given = given or {}
    if not isinstance(given, dict) or set(given) - set(ctl):
        raise errors.bad_request("sandbox config controllers takes %s" % ", ".join(sorted(ctl)))
    ctl.update(given)
    for key in ctl:
        # a lag of zero would be the old kindness: a controller reacting inside the API request
        ctl[key] = _number("controllers", key, ctl[key], key != "hpa_downscale_stabilization_seconds")
    return ctl


def pod_grace_seconds(pod, grace=None):
    """The grace period of a pod's deletion (pkg/registry/core/pod/strategy.go CheckGracefulDelete): the
    DeleteOptions' gracePeriodSeconds, else spec.terminationGracePeriodSeconds; 0 (at once) for a pod not
    yet bound to a node or already Succeeded/Failed; a negative one counts as 1 (rest.BeforeDelete)."""
    period = grace if grace is not None else (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
    if period < 0:
        period = 1
    if not (pod.get("spec") or {}).get("nodeName"):
        period = 0
    if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        period = 0
    return int(period)


def _body_sans_status_and_meta(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Cluster:
    """All cluster state, guarded by one re-entrant lock; watchers wait on its condition."""

    def __init__(self, config=None):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0
        self.objects = {r.key: {} for r in RESOURCES}
        self.log = collections.deque(maxlen=5000)
        # what the containers the kubelet stand-in "ran" printed (netcheck.py): (pod uid, container) -> lines
        self.container_output = {}
        self.rng = random.Random()
        self.stopping = False
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        # called with (resource, object) after each API write (create/update/patch), inside the request:
        # for admission-like checks only; the controllers never run here (they see writes after their lag)
        self.write_hooks = []
        self.config_version = 0
        self.set_config(config or {})
        self._bootstrap()
        for manifest in (config or {}).get("objects") or []:
            self.create_manifest(manifest)

    # ---- configuration and admin ----------------------------------------------------------------
    def set_config(self, config):
        """Replace the kubelet / controllers / pod_logs / metrics / network settings given (others stay); 400 on bad input."""
        if not isinstance(config, dict):
            raise errors.bad_request("the sandbox config must be a JSON object")
        known = ("kubelet", "controllers", "pod_logs", "metrics", "network", "objects")
        unknown = set(config) - set(known)
        if unknown:
            raise errors.bad_request("unknown sandbox config keys: %s (known: %s)"
                                     % (", ".join(sorted(unknown)), ", ".join(known)))
        new = {}
        if "kubelet" in config:
            new["kubelet"] = _kubelet_config(config["kubelet"])
        if "controllers" in config:
            new["controllers"] = _controllers_config(config["controllers"])
        if "network" in config:
            new["network"] = _network_config(config["network"])
        for key, fields in (("pod_logs", {"namespace", "selector", "container", "image", "lines", "previous"}),
                            ("metrics", {"namespace", "selector", "cpu", "cpu_total", "memory"})):
            if key not in config:
                continue
            entries = config[key] or []
            if not isinstance(entries, list) or not all(isinstance(e, dict) and not set(e) - fields
                                                        and isinstance(e.get("selector") or {}, dict)
                                                        for e in entries):
                raise errors.bad_request("sandbox config %s must be a list of mappings with keys %s"
                                         % (key, ", ".join(sorted(fields))))
            new[key] = copy.deepcopy(entries)
        for entry in new.get("pod_logs", []):
            problem = log_lines_problem(entry.get("lines") or [])
            if problem:
                raise errors.bad_request("sandbox config pod_logs: %s" % problem)
        for entry in new.get("metrics", []):
            _check_quantities(entry)
        with self.lock:
            self.config.update(new)
            self.config_version += 1
            self.cond.notify_all()

    def _bootstrap(self):
        for ns in ("default", "kube-system"):
            if (None, ns) not in self.objects["namespaces"]:
                self.create(BY_KEY["namespaces"], None, {"metadata": {"name": ns}})

    def reset(self):
        """Delete every object except the default namespaces; resourceVersion keeps increasing."""
        with self.lock:
            for r in RESOURCES:
                if r.key not in BY_KEY or BY_KEY[r.key] is not r:
                    continue
                for (ns, name), obj in list(self.objects[r.key].items()):
                    if r.plural == "namespaces" and name in ("default", "kube-system"):
                        continue
                    self._remove(r, obj)
            self._bootstrap()

    def create_manifest(self, manifest):
        api_version, kind = manifest.get("apiVersion", ""), manifest.get("kind", "")
        r = next((x for x in RESOURCES if x.kind == kind and x.group_version == api_version), None)
        if r is None:
            raise errors.bad_request("no kind %r is registered for version %r" % (kind, api_version))
        ns = (manifest.get("metadata") or {}).get("namespace") or ("default" if r.namespaced else None)
        return self.create(r, ns, manifest)

    # ---- store primitives -----------------------------------------------------------------------
    def _write(self, r, obj, etype, old=None):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        meta = obj["metadata"]
        self.objects[r.key][(meta.get("namespace"), meta["name"])] = obj
        self.log.append((self.rv, etype, r.key, copy.deepcopy(obj), old))
        self.cond.notify_all()
        return obj

    def _remove(self, r, obj):
        meta = obj["metadata"]
        if self.objects[r.key].pop((meta.get("namespace"), meta["name"]), None) is None:
            return
        self.rv += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, "DELETED", r.key, gone, None))
        self.cond.notify_all()

    def find(self, r, ns, name):
        return self.objects[r.key].get((ns if r.namespaced else None, name))

    def items(self, r, ns=None):
        with self.lock:
            return [o for (ons, _), o in sorted(self.objects[r.key].items(), key=lambda kv: (kv[0][0] or "",
                                                                                            kv[0][1]))
                    if ns is None or ons == ns]

    # ---- verbs ----------------------------------------------------------------------------------
    def get(self, r, ns, name):
        with self.lock:
            obj = self.find(r, ns, name)
            if obj is None:
                raise errors.not_found(r, name)
            return self._present(r, copy.deepcopy(obj))

    def list(self, r, ns=None, label_selector=None, field_selector=None):
        lreqs, freqs = self.selectors(r, label_selector, field_selector)
        with self.lock:
            items = [self._present(r, copy.deepcopy(o)) for o in self.items(r, ns)
                     if labels_match(o["metadata"].get("labels"), lreqs) and fields_match(o, freqs)]
            return {"kind": r.kind + "List", "apiVersion": r.group_version,
                    "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def selectors(self, r, label_selector, field_selector):
        try:
            lreqs = parse_label_selector(label_selector or "")
            freqs = parse_field_selector(field_selector or "")
        except SelectorError as exc:
            raise errors.bad_request("unable to parse requirement: %s" % exc)
        allowed = FIELD_LABELS.get(r.kind, set()) | {"metadata.name", "metadata.namespace"}
        for path, _, _ in freqs:
            if path not in allowed:
                raise errors.bad_request('field label not supported: %s' % path)
        return lreqs, freqs

    def _present(self, r, obj):
        """Convert a stored object to the served version (autoscaling/v1 HPAs)."""
        obj["apiVersion"] = r.group_version
        obj["kind"] = r.kind
        if r.key == "autoscaling/horizontalpodautoscalers" and r.version == "v1":
            obj = to_v1(obj)
        return obj

    def _intake(self, r, obj):
        if r.key == "autoscaling/horizontalpodautoscalers" and r.version == "v1":
            obj = from_v1(obj)
        if getattr(r, "crd_uid", None):   # a custom resource: pruned and type-checked by its CRD's schema
            obj = self.custom_resources.intake(r, obj)
        return obj

    def _check_body(self, r, ns, body):
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON or YAML object")
        body = strip_nulls(copy.deepcopy(body))
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if kind and kind != r.kind:
            raise errors.bad_request("the object provided is unrecognized (must be of type %s): kind %r"
                                     % (r.kind, kind))
        if api_version and api_version != r.group_version:
            raise errors.bad_request("the API version in the data (%s) does not match the expected API "
                                     "version (%s)" % (api_version, r.group_version))
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if r.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        body["apiVersion"], body["kind"] = r.group_version, r.kind
        check_shapes(body)
        return self._intake(r, body)

    def create(self, r, ns, body, dry_run=False):
        with self.lock:
            obj = self._check_body(r, ns, body)
            meta = obj["metadata"]
            if not meta.get("name"):
                if meta.get("generateName"):
                    meta["name"] = meta["generateName"] + random_suffix(self.rng)
                else:
                    raise errors.invalid(r, "", [("metadata.name", "FieldValueRequired",
                                                  "Required value: name or generateName is required")])
            name = meta["name"]
            validate_name(r, name, r.kind)
            if r.namespaced and self.find(BY_KEY["namespaces"], None, ns) is None:
                raise errors.not_found(BY_KEY["namespaces"], ns)
            if self.find(r, ns, name) is not None:
                raise errors.already_exists(r, name)
            for k in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "managedFields", "selfLink"):
                meta.pop(k, None)
            if r.status and r.kind not in ("Node", "Namespace", "Service"):
                obj["status"] = {"phase": "Pending"} if r.kind == "Pod" else {}
            apply_defaults(r.kind, obj, name)
            validate(r, obj)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
            if r.generation:
                meta["generation"] = 1
            if dry_run:
                obj["metadata"]["resourceVersion"] = str(self.rv)
                return self._present(r, obj)
            self._write(BY_KEY[r.key], obj, "ADDED")
            self._run_hooks(r, obj)
            return self._present(r, copy.deepcopy(obj))

    def update(self, r, ns, name, body, subresource=None, dry_run=False):
        with self.lock:
            old = self.find(r, ns, name)
            if old is None:
                raise errors.not_found(r, name)
            obj = self._check_body(r, ns, body)
            if obj["metadata"].get("name", name) != name:
                raise errors.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                         % (obj["metadata"].get("name"), name))
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(r, name)
            return self._update(r, old, obj, subresource, dry_run)

    def _update(self, r, old, obj, subresource=None, dry_run=False):
        meta = obj["metadata"]
        oldmeta = old["metadata"]
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status", {})
        else:
            new = obj
            for k in ("uid", "creationTimestamp", "namespace", "generation", "deletionTimestamp",
                      "deletionGracePeriodSeconds"):
                if k in oldmeta:
                    meta[k] = oldmeta[k]
                else:
                    meta.pop(k, None)
            meta["name"] = oldmeta["name"]
            if r.status and r.kind != "Namespace":
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            apply_defaults(r.kind, new, meta["name"])
            validate(r, new, old)
            if r.generation and (_body_sans_status_and_meta(new) != _body_sans_status_and_meta(old) or (
                    # pkg/registry/apps/deployment/strategy.go PrepareForUpdate: annotation updates bump the
                    # generation too, "because annotations are copied from deployments to their replica sets"
                    r.kind == "Deployment" and (meta.get("annotations") or {}) != (oldmeta.get("annotations") or {}))):
                meta["generation"] = oldmeta.get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = oldmeta["resourceVersion"]
        new["metadata"].pop("managedFields", None)
        if new == old or dry_run:
            return self._present(r, copy.deepcopy(new))
        self._write(BY_KEY[r.key], new, "MODIFIED", copy.deepcopy(old))
        self._run_hooks(r, new)
        return self._present(r, copy.deepcopy(new))

    def _run_hooks(self, r, obj):
        for hook in self.write_hooks:
            hook(BY_KEY[r.key], obj)

    def write_status(self, r, obj):
        """Controllers: store a new status (and only if it changed)."""
        with self.lock:
            old = self.find(r, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if old is None or old["metadata"]["uid"] != obj["metadata"]["uid"] or \
                    old.get("status") == obj.get("status"):
                return old
            new = copy.deepcopy(old)
            new["status"] = copy.deepcopy(obj["status"])
            return self._write(BY_KEY[r.key], new, "MODIFIED", copy.deepcopy(old))

    def write(self, r, obj):
        """Controllers: store an object as given (no validation; resourceVersion ignored)."""
        with self.lock:
            old = self.find(r, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if old is None or old["metadata"]["uid"] != obj["metadata"]["uid"]:
                return None
            new = copy.deepcopy(obj)
            if r.generation and _body_sans_status_and_meta(new) != _body_sans_status_and_meta(old):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            if new == old:
                return old
            return self._write(BY_KEY[r.key], new, "MODIFIED", copy.deepcopy(old))

    def patch(self, r, ns, name, content_type, body, subresource=None, dry_run=False, force=False):
        ctype = (content_type or "").split(";")[0].strip()
        try:
            if ctype == "application/apply-patch+yaml":
                patch = yaml.safe_load(body.decode() if isinstance(body, bytes) else body)
            else:
                patch = json.loads(body or b"null")
        except ValueError as exc:
            raise errors.bad_request("error decoding patch: %s" % exc)
        with self.lock:
            old = self.find(r, ns, name)
            if old is None:
                if ctype == "application/apply-patch+yaml" and subresource is None:
                    if isinstance(patch, dict):
                        patch.setdefault("metadata", {}).setdefault("name", name)
                    return self.create(r, ns, patch, dry_run)
                raise errors.not_found(r, name)
            current = self._present(r, copy.deepcopy(old))
            try:
                if ctype == "application/json-patch+json":
                    patched = json_patch(current, patch)
                elif ctype == "application/merge-patch+json":
                    patched = json_merge_patch(current, patch)
                elif ctype in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
                    if ctype == "application/apply-patch+yaml" and isinstance(patch, dict):
                        patch = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
                    patched = strategic_merge_patch(current, patch)
                else:
                    raise errors.unsupported_patch(ctype)
            except PatchError as exc:
                raise ApiError(422 if ctype == "application/json-patch+json" else 400,
                               "Invalid" if ctype == "application/json-patch+json" else "BadRequest", str(exc))
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch produced a non-object")
            if (patched.get("metadata") or {}).get("name", name) != name:
                raise errors.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                         % (patched["metadata"].get("name"), name))
            patched.setdefault("metadata", {})["name"] = name
            obj = self._check_body(r, ns, patched)
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(r, name)
            return self._update(r, old, obj, subresource, dry_run)

    def delete(self, r, ns, name, options=None, dry_run=False):
        options = options or {}
        with self.lock:
            obj = self.find(r, ns, name)
            if obj is None:
                raise errors.not_found(r, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise ApiError(409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object "
                               "meta: %s" % (pre["uid"], obj["metadata"]["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise errors.conflict(r, name)
            if r.plural == "namespaces" and name in PROTECTED_NAMESPACES:
                raise ApiError(403, "Forbidden", 'namespaces "%s" is forbidden: this namespace may not be deleted'
                               % name, {"name": name, "kind": "namespaces"})
            gone = copy.deepcopy(obj)
            if dry_run:
                return self._present(r, gone)
            grace = options.get("gracePeriodSeconds")
            if grace is not None and not isinstance(grace, int):
                raise errors.bad_request("gracePeriodSeconds must be an integer number of seconds")
            still = self.delete_object(r, obj, options.get("propagationPolicy") or "Background", grace)
            if still is not None:   # graceful: the pod stays, Terminating, until the kubelet is done
                return self._present(r, copy.deepcopy(still))
            gone["metadata"]["deletionTimestamp"] = now_iso()
            gone["metadata"]["deletionGracePeriodSeconds"] = 0
            return self._present(r, gone)

    def delete_object(self, r, obj, propagation="Background", grace=None):
        """Remove an object; dependents go with it (garbage collector) unless orphaned.

        A pod is deleted gracefully (kube-apiserver pkg/registry/core/pod/strategy.go CheckGracefulDelete and
        k8s.io/apiserver pkg/registry/rest/delete.go BeforeDelete): a bound, unfinished pod gets
        deletionTimestamp = now + grace and deletionGracePeriodSeconds, and stays (Terminating) until its
        kubelet has stopped it and deletes it with grace 0; `grace` None is the pod's
        terminationGracePeriodSeconds. Returns the pod still stored when the deletion is graceful, else None.
        """
        with self.lock:
            r = BY_KEY[r.key]
            if r.plural == "pods":
                seconds = pod_grace_seconds(obj, grace)
                if seconds > 0:
                    return self._start_graceful(r, obj, seconds)
            if r.plural == "namespaces":
                ns = obj["metadata"]["name"]
                for res in RESOURCES:
                    if res.namespaced and BY_KEY[res.key] is res:
                        for child in list(self.objects[res.key].values()):
                            if child["metadata"].get("namespace") == ns:
                                self._remove(res, child)
            self._remove(r, obj)
            uid = obj["metadata"]["uid"]
            for res in RESOURCES:
                if BY_KEY[res.key] is not res:
                    continue
                for child in list(self.objects[res.key].values()):
                    refs = child["metadata"].get("ownerReferences") or []
                    if not any(ref.get("uid") == uid for ref in refs):
                        continue
                    if propagation == "Orphan":
                        new = copy.deepcopy(child)
                        new["metadata"]["ownerReferences"] = [x for x in refs if x.get("uid") != uid]
                        if not new["metadata"]["ownerReferences"]:
                            del new["metadata"]["ownerReferences"]
                        self._write(res, new, "MODIFIED", copy.deepcopy(child))
                    elif len([x for x in refs if x.get("uid") != uid and self._owner_alive(x, child)]) == 0:
                        self.delete_object(res, child, "Background")
            return None

    def _start_graceful(self, r, pod, seconds):
        """rest.BeforeDelete: the first graceful delete sets deletionTimestamp/deletionGracePeriodSeconds; a
        later one may only shorten the period (a longer or equal one leaves the pod as it is)."""
        meta = pod["metadata"]
        current = meta.get("deletionGracePeriodSeconds")
        if meta.get("deletionTimestamp") and current is not None and current <= seconds:
            return pod
        new = copy.deepcopy(pod)
        new["metadata"]["deletionTimestamp"] = now_iso(time.time() + seconds)
        new["metadata"]["deletionGracePeriodSeconds"] = seconds
        return self._write(r, new, "MODIFIED", copy.deepcopy(pod))

    def _owner_alive(self, ref, child):
        for res in RESOURCES:
            if res.kind == ref.get("kind") and BY_KEY[res.key] is res:
                return any(o["metadata"]["uid"] == ref.get("uid") for o in self.objects[res.key].values()
                           if o["metadata"].get("namespace") == child["metadata"].get("namespace")
                           or not res.namespaced)
        return False

    def delete_collection(self, r, ns, label_selector=None, field_selector=None, options=None, dry_run=False):
        with self.lock:
            lst = self.list(r, ns, label_selector, field_selector)
            for item in lst["items"]:
                if r.plural == "namespaces" and item["metadata"]["name"] in PROTECTED_NAMESPACES:
                    continue
                if not dry_run:
                    obj = self.find(r, item["metadata"].get("namespace"), item["metadata"]["name"])
                    if obj is not None:
                        self.delete_object(r, obj, (options or {}).get("propagationPolicy") or "Background",
                                           (options or {}).get("gracePeriodSeconds"))
            return lst

    # ---- watch ----------------------------------------------------------------------------------
    def watch(self, r, ns, label_selector, field_selector, resource_version, timeout, stop=None):
        """Yield watch events ({type, object}) until timeout or stop; None is yielded as a keep-alive."""
        lreqs, freqs = self.selectors(r, label_selector, field_selector)
        if resource_version not in (None, "", "0") and not str(resource_version).isdigit():
            raise errors.bad_request("invalid resource version %r" % resource_version)
        return self._watch(r, ns, lreqs, freqs, resource_version, timeout, stop)

    def _watch(self, r, ns, lreqs, freqs, resource_version, timeout, stop):
        deadline = time.monotonic() + timeout

        def matches(o):
            return o is not None and (ns is None or o["metadata"].get("namespace") == ns) and \
                labels_match(o["metadata"].get("labels"), lreqs) and fields_match(o, freqs)

        with self.lock:
            if resource_version in (None, "", "0"):
                since = self.rv
                initial = [self._present(r, copy.deepcopy(o)) for o in self.items(r, ns) if matches(o)]
            else:
                since = int(resource_version)
                oldest = self.log[0][0] if self.log else self.rv + 1
                if since < oldest - 1 and since < self.rv:
                    initial = None
                else:
                    initial = []
        if initial is None:
            yield {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                               "status": "Failure", "message": "too old resource version: %s (%s)"
                                               % (since, self.log[0][0]), "reason": "Expired", "code": 410}}
            return
        for obj in initial:
            yield {"type": "ADDED", "object": obj}
        while True:
            out = []
            with self.lock:
                for rv, etype, key, obj, old in self.log:
                    if rv <= since or key != r.key:
                        continue
                    new_match, old_match = matches(obj), matches(old)
                    if etype == "MODIFIED" and new_match and not old_match:
                        etype = "ADDED"
                    elif etype == "MODIFIED" and old_match and not new_match:
                        etype = "DELETED"
                    elif not new_match:
                        continue
                    out.append({"type": etype, "object": self._present(r, copy.deepcopy(obj))})
                since = self.rv
                if not out:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.stopping or (stop is not None and stop()):
                        return
                    self.cond.wait(min(remaining, 1.0))
            for ev in out:
                yield ev
            if not out:
                yield None

    # ---- events ---------------------------------------------------------------------------------
    def record_event(self, obj, reason, message, component, etype="Normal"):
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        stamp = now_iso()
        event = {"metadata": {"name": "%s.%x" % (meta["name"], self.rng.getrandbits(60)), "namespace": ns},
                 "involvedObject": {"kind": obj.get("kind"), "namespace": meta.get("namespace"),
                                    "name": meta["name"], "uid": meta["uid"], "apiVersion": obj.get("apiVersion"),
                                    "resourceVersion": meta.get("resourceVersion")},
                 "reason": reason, "message": message, "source": {"component": component},
                 "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": etype,
                 "reportingComponent": component, "reportingInstance": ""}
        try:
            self.create(BY_KEY["events"], ns, event)
        except ApiError:
            pass
