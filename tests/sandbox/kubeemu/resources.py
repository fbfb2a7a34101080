"""The resource table: every kind the emulator serves, and its discovery documents."""

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class Resource:
    """One served resource (group/version/plural) and how it behaves."""

    def __init__(self, group, version, plural, kind, namespaced=True, short=(), status=False,
                 scale=False, generation=False, categories=(), verbs=None, storage=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.status = status
        self.scale = scale
        self.generation = generation
        self.categories = list(categories)
        self.verbs = verbs or ALL_VERBS
        # storage key: resources served by several versions share one store
        self.key = storage or ((group + "/" if group else "") + plural)

    @property
    def group_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def qualified(self):
        """The name used in Status messages: `deployments.apps`, `pods`."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural

    def singular(self):
        return self.kind.lower()


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, short=["ns"], status=True),
    Resource("", "v1", "nodes", "Node", namespaced=False, short=["no"], status=True),
    Resource("", "v1", "pods", "Pod", short=["po"], status=True, categories=["all"]),
    Resource("", "v1", "services", "Service", short=["svc"], status=True, categories=["all"]),
    Resource("", "v1", "endpoints", "Endpoints", short=["ep"]),
    Resource("", "v1", "configmaps", "ConfigMap", short=["cm"]),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "events", "Event", short=["ev"]),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", short=["sa"]),
    Resource("apps", "v1", "deployments", "Deployment", short=["deploy"], status=True, scale=True,
             generation=True, categories=["all"]),
    Resource("apps", "v1", "replicasets", "ReplicaSet", short=["rs"], status=True, scale=True,
             generation=True, categories=["all"]),
    Resource("apps", "v1", "statefulsets", "StatefulSet", short=["sts"], status=True, scale=True,
             generation=True, categories=["all"]),
    Resource("apps", "v1", "daemonsets", "DaemonSet", short=["ds"], status=True, generation=True,
             categories=["all"]),
    Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=["hpa"],
             status=True, generation=True, categories=["all"]),
    Resource("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=["hpa"],
             status=True, generation=True, categories=["all"], storage="autoscaling/horizontalpodautoscalers"),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=["pdb"], status=True,
             generation=True),
    # the custom resources they define are served by crds.py
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False,
             short=["crd", "crds"], status=True, generation=True, categories=["api-extensions"]),
]

# metrics.k8s.io is computed on request (read-only), like metrics-server's aggregated API
METRICS = [
    Resource("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", verbs=["get", "list"]),
    Resource("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", namespaced=False, verbs=["get", "list"]),
]

# preferred version first
GROUP_VERSIONS = {"": ["v1"], "apps": ["v1"], "autoscaling": ["v2", "v1"], "policy": ["v1"],
                  "apiextensions.k8s.io": ["v1"], "metrics.k8s.io": ["v1beta1"]}

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES + METRICS}
BY_KEY = {}
for _r in RESOURCES:
    BY_KEY.setdefault(_r.key, _r)   # the first (preferred) version stores


def lookup(group, version, plural):
    return _BY_PATH.get((group, version, plural))


def by_kind(api_version, kind):
    group, _, version = api_version.rpartition("/")
    for r in RESOURCES:
        if r.group == group and r.version == version and r.kind == kind:
            return r
    return None


def _subresources(r):
    out = []
    if r.status:
        out.append({"name": r.plural + "/status", "singularName": "", "namespaced": r.namespaced,
                    "kind": r.kind, "verbs": ["get", "patch", "update"]})
    if r.scale:
        out.append({"name": r.plural + "/scale", "singularName": "", "namespaced": r.namespaced,
                    "group": "autoscaling", "version": "v1", "kind": "Scale",
                    "verbs": ["get", "patch", "update"]})
    if r.plural == "pods":
        out.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
        out.append({"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                    "version": "v1", "kind": "Eviction", "verbs": ["create"]})
    return out


def resource_list(group, version):
    """The APIResourceList for /api/v1 or /apis/{group}/{version}, or None."""
    if version not in GROUP_VERSIONS.get(group, []):
        return None
    resources = []
    for r in RESOURCES + METRICS:
        if r.group != group or r.version != version:
            continue
        entry = {"name": r.plural, "singularName": r.singular(), "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": r.verbs}
        if r.short:
            entry["shortNames"] = r.short
        if r.categories:
            entry["categories"] = r.categories
        resources.append(entry)
        resources.extend(_subresources(r))
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "%s/%s" % (group, version) if group else version, "resources": resources}


def api_group(group):
    versions = GROUP_VERSIONS.get(group)
    if not group or not versions:
        return None
    entries = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
            "preferredVersion": entries[0]}


def api_group_list():
    groups = []
    for group in GROUP_VERSIONS:
        if group:
            g = api_group(group)
            del g["kind"], g["apiVersion"]
            groups.append(g)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


# ---- OpenAPI v3: just enough for kubectl to see that the server validates fields itself ----------
# kubectl apply/create -f first ask /openapi/v3 whether a kind's PATCH takes `fieldValidation`
# (cli-runtime query_param_verifier_v3.go); saying yes makes it leave validation to the server.
# There are no schemas: `kubectl explain` has nothing to show.

def _gv_path(group, version):
    return "apis/%s/%s" % (group, version) if group else "api/%s" % version


def openapi_root():
    paths = {}
    for group, versions in GROUP_VERSIONS.items():
        for version in versions:
            if group != "metrics.k8s.io":
                path = _gv_path(group, version)
                paths[path] = {"serverRelativeURL": "/openapi/v3/%s?hash=kubeemu" % path}
    return {"paths": paths}


def openapi_document(path):
    gv = next(((g, v) for g, vs in GROUP_VERSIONS.items() for v in vs if _gv_path(g, v) == path), None)
    if gv is None or gv[0] == "metrics.k8s.io":
        return None
    params = [{"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
              for name in ("dryRun", "fieldManager", "fieldValidation", "force")]
    paths = {}
    for r in RESOURCES:
        if (r.group, r.version) != gv:
            continue
        url = "/%s/%s%s/{name}" % (path, "namespaces/{namespace}/" if r.namespaced else "", r.plural)
        paths[url] = {"patch": {"operationId": "patch" + r.kind, "parameters": params,
                                "x-kubernetes-action": "patch",
                                "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version,
                                                                    "kind": r.kind}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (kubeemu)", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": {}}}
