# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What differs between two pod templates (issue 19): images, env, resources, change-cause.

The one implementation of "what changed between two revisions", used by k8s_rollout (the rollback's diff and
summary) and by incident triage (the diff of the last two revisions). Pure functions over the Kubernetes API's
JSON (core/v1 PodTemplateSpec, Container, EnvVar, EnvFromSource, ResourceRequirements); no client, no I/O.

Secrets never leave the cluster through this diff:

* an env var from a Secret (``valueFrom.secretKeyRef``) is shown by reference only, ``secret <name>/<key>``: the
  template holds no value, and none is ever read;
* ``envFrom`` sources are shown by name (``envFrom secret <name>``);
* a plain ``value`` is shown as it is, except when the variable's name says it holds a credential
  (PASSWORD, SECRET, TOKEN, ...) or the value is a URL with credentials: then ``<hidden>`` (and
  ``<hidden, changed>`` on the side that differs), because a template's plain values are not secrets by
  contract, but people put passwords there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"

HIDDEN = "<hidden>"
HIDDEN_CHANGED = "<hidden, changed>"
# Names of variables whose plain value is never shown (a credential put in the template by hand).
_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH|SIGNING|_KEY$|^KEY$",
                          re.IGNORECASE)
# scheme://user:password@host -- a URL carrying credentials.
_URL_WITH_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]*:[^/@\s]*@")

KINDS = ("images", "env", "resources", "change_cause")


def _split(obj):
    """(pod template, change-cause) of a pod template, or of an object with spec.template (Deployment,
    ReplicaSet): the change-cause is the object's kubernetes.io/change-cause annotation, which Kubernetes keeps
    on the Deployment and copies to its ReplicaSets, not on the template."""
    obj = obj or {}
    spec = obj.get("spec") or {}
    if "template" in spec:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return spec.get("template") or {}, annotations.get(CHANGE_CAUSE_ANNOTATION)
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return obj, annotations.get(CHANGE_CAUSE_ANNOTATION)


def _containers(template):
    """{container name: container} in template order; init containers are named ``init:<name>``."""
    spec = (template or {}).get("spec") or {}
    containers = {}
    for container in spec.get("initContainers") or []:
        containers["init:%s" % container.get("name")] = container
    for container in spec.get("containers") or []:
        containers[container.get("name")] = container
    return containers


def _ref(kind, ref, key_field="key"):
    ref = ref or {}
    text = "%s %s/%s" % (kind, ref.get("name"), ref.get(key_field))
    return text + " (optional)" if ref.get("optional") else text


def env_value(var):
    """How an EnvVar reads in a diff: its value, or where the value comes from (never a Secret's value)."""
    if "valueFrom" not in var or var.get("valueFrom") is None:
        value = var.get("value")
        return "" if value is None else str(value)
    source = var["valueFrom"] or {}
    if "secretKeyRef" in source:
        return _ref("secret", source["secretKeyRef"])
    if "configMapKeyRef" in source:
        return _ref("configmap", source["configMapKeyRef"])
    if "fieldRef" in source:
        return "field %s" % (source["fieldRef"] or {}).get("fieldPath")
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"] or {}
        return "resource %s%s" % (ref.get("resource"),
                                  " of %s" % ref["containerName"] if ref.get("containerName") else "")
    return "from %s" % ", ".join(sorted(source))


def _hides(name, var):
    if "valueFrom" in var and var.get("valueFrom") is not None:
        return False  # a reference, never a value
    return bool(_SECRET_NAME.search(name or "")) or bool(_URL_WITH_CREDENTIALS.match(str(var.get("value") or "")))


def _env(container):
    """{variable: EnvVar} and {'envFrom secret|configmap <name>': source} of a container. A later duplicate
    name wins, as the kubelet resolves it."""
    variables = {}
    for var in container.get("env") or []:
        variables[var.get("name")] = var
    sources = {}
    for source in container.get("envFrom") or []:
        for field, kind in (("secretRef", "secret"), ("configMapRef", "configmap")):
            if field in source:
                label = "envFrom %s %s%s" % (kind, (source[field] or {}).get("name"),
                                             " (prefix %s)" % source["prefix"] if source.get("prefix") else "")
                sources[label] = label
    return variables, sources


def _env_diff(old, new):
    old_vars, old_sources = _env(old or {})
    new_vars, new_sources = _env(new or {})
    before, after = {}, {}
    for name in sorted(set(old_vars) | set(new_vars), key=str):
        old_var, new_var = old_vars.get(name), new_vars.get(name)
        old_text = None if old_var is None else env_value(old_var)
        new_text = None if new_var is None else env_value(new_var)
        if old_text == new_text:
            continue
        if (old_var is not None and _hides(name, old_var)) or (new_var is not None and _hides(name, new_var)):
            old_text = None if old_var is None else HIDDEN
            new_text = None if new_var is None else (HIDDEN_CHANGED if old_var is not None else HIDDEN)
        before[name], after[name] = old_text, new_text
    for label in sorted(set(old_sources) ^ set(new_sources)):
        before[label] = old_sources.get(label)
        after[label] = new_sources.get(label)
    return (before, after) if before or after else None


def _resources(container):
    """{'requests': {...}, 'limits': {...}} without empty sections; quantities as written."""
    resources = (container or {}).get("resources") or {}
    result = {}
    for section in ("requests", "limits"):
        values = resources.get(section) or {}
        if values:
            result[section] = dict((key, str(value)) for key, value in values.items())
    return result


def template_diff(old_template, new_template):
    """What differs from ``old_template`` to ``new_template``.

    Both are pod templates (spec.template) or objects that have one (a Deployment, a ReplicaSet: then the
    change-cause is their annotation). Returns {images, env, resources, change_cause}:

    * images: {container: {before, after}} for each container whose image differs (None where the container
      does not exist on that side; init containers are ``init:<name>``);
    * env: {container: {before: {VAR: text}, after: {VAR: text}}} with only the variables that differ (None:
      not set on that side); Secrets by name only (see the module docstring);
    * resources: {container: {before: {requests, limits}, after: {...}}} for each container whose requests
      or limits differ;
    * change_cause: {before, after} when the kubernetes.io/change-cause differs, else {}.

    Each is empty when nothing of its kind differs.
    """
    old, old_cause = _split(old_template)
    new, new_cause = _split(new_template)
    old_containers, new_containers = _containers(old), _containers(new)
    names = list(old_containers) + [name for name in new_containers if name not in old_containers]
    diff = {"images": {}, "env": {}, "resources": {}, "change_cause": {}}
    for name in names:
        old_c, new_c = old_containers.get(name), new_containers.get(name)
        old_image = None if old_c is None else old_c.get("image")
        new_image = None if new_c is None else new_c.get("image")
        if old_image != new_image:
            diff["images"][name] = {"before": old_image, "after": new_image}
        env = _env_diff(old_c, new_c)
        if env:
            diff["env"][name] = {"before": env[0], "after": env[1]}
        old_res = _resources(old_c)
        new_res = _resources(new_c)
        if old_res != new_res:
            diff["resources"][name] = {"before": old_res, "after": new_res}
    if (old_cause or None) != (new_cause or None):
        diff["change_cause"] = {"before": old_cause, "after": new_cause}
    return diff


def _side(value):
    if value is None:
        return "(unset)"
    if isinstance(value, dict):
        return ", ".join("%s %s" % (section, ",".join("%s=%s" % item for item in sorted(values.items())))
                         for section, values in sorted(value.items())) or "(none)"
    return '"%s"' % value if value == "" else str(value)


def diff_lines(diff):
    """One short line per difference, for a summary: 'env backend AI_MODERATION: false -> true'."""
    lines = []
    for name, change in (diff.get("images") or {}).items():
        lines.append("image %s: %s -> %s" % (name, _side(change.get("before")), _side(change.get("after"))))
    for name, change in (diff.get("env") or {}).items():
        before, after = change.get("before") or {}, change.get("after") or {}
        for var in sorted(set(before) | set(after)):
            lines.append("env %s %s: %s -> %s" % (name, var, _side(before.get(var)), _side(after.get(var))))
    for name, change in (diff.get("resources") or {}).items():
        lines.append("resources %s: %s -> %s" % (name, _side(change.get("before")), _side(change.get("after"))))
    cause = diff.get("change_cause") or {}
    if cause:
        lines.append("change-cause: %s -> %s" % (_side(cause.get("before")), _side(cause.get("after"))))
    return lines
