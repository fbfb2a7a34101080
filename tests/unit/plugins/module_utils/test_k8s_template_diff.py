# -*- coding: utf-8 -*-
"""template_diff: what differs between two pod templates (issue 19), Secrets by name only.

Shapes follow core/v1 (k8s.io/api/core/v1/types.go): EnvVar{name, value, valueFrom{secretKeyRef, configMapKeyRef,
fieldRef, resourceFieldRef}}, EnvFromSource{prefix, secretRef, configMapRef}, ResourceRequirements{requests,
limits}.
"""

import copy
import json

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.k8s import rollout as ro
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.template_diff import (
    HIDDEN,
    HIDDEN_CHANGED,
    diff_lines,
    template_diff,
)
from k8s_rollout_objects import deployment, replicaset

SECRET_VALUE = "s3cr3t-Pa55"


def tpl(image="registry/backend:v1.5.1", env=None, env_from=None, resources=None, init=None):
    container = {"name": "backend", "image": image}
    if env is not None:
        container["env"] = env
    if env_from is not None:
        container["envFrom"] = env_from
    if resources is not None:
        container["resources"] = resources
    spec = {"containers": [container]}
    if init:
        spec["initContainers"] = [{"name": "migrate", "image": init}]
    return {"metadata": {"labels": {"app": "backend"}}, "spec": spec}


def obj(template, cause=None):
    annotations = {"kubernetes.io/change-cause": cause} if cause else {}
    return {"metadata": {"annotations": annotations}, "spec": {"template": template}}


EMPTY = {"images": {}, "env": {}, "resources": {}, "change_cause": {}}
AI_ON = [{"name": "AI_MODERATION", "value": "true"}]
AI_OFF = [{"name": "AI_MODERATION", "value": "false"}]
SECRET_REF = {"valueFrom": {"secretKeyRef": {"name": "backend-secrets", "key": "MONGODB_URI"}}}


@pytest.mark.parametrize("old, new, expected", [
    pytest.param(tpl(), tpl(), EMPTY, id="same-template"),
    pytest.param(tpl("a:1"), tpl("a:2"),
                 dict(EMPTY, images={"backend": {"before": "a:1", "after": "a:2"}}), id="image"),
    pytest.param(tpl(init="m:1"), tpl(init="m:2"),
                 dict(EMPTY, images={"init:migrate": {"before": "m:1", "after": "m:2"}}), id="init-image"),
    pytest.param(tpl(env=AI_OFF), tpl(env=AI_ON),
                 dict(EMPTY, env={"backend": {"before": {"AI_MODERATION": "false"},
                                              "after": {"AI_MODERATION": "true"}}}), id="env-value"),
    pytest.param(tpl(env=AI_OFF + [{"name": "X", "value": "1"}]), tpl(env=[{"name": "X", "value": "1"}]),
                 dict(EMPTY, env={"backend": {"before": {"AI_MODERATION": "false"},
                                              "after": {"AI_MODERATION": None}}}), id="env-removed"),
    pytest.param(tpl(env=[]), tpl(env=[dict(SECRET_REF, name="MONGODB_URI")]),
                 dict(EMPTY, env={"backend": {"before": {"MONGODB_URI": None},
                                              "after": {"MONGODB_URI": "secret backend-secrets/MONGODB_URI"}}}),
                 id="secret-by-name"),
    pytest.param(tpl(env=[{"name": "DB_PASSWORD", "value": SECRET_VALUE}]),
                 tpl(env=[{"name": "DB_PASSWORD", "value": SECRET_VALUE + "2"}]),
                 dict(EMPTY, env={"backend": {"before": {"DB_PASSWORD": HIDDEN},
                                              "after": {"DB_PASSWORD": HIDDEN_CHANGED}}}),
                 id="plain-password-hidden"),
    pytest.param(tpl(env=[{"name": "MONGO", "value": "mongodb://app:%s@db:27017/x" % SECRET_VALUE}]),
                 tpl(env=[{"name": "MONGO", "value": "mongodb://app:%s@db2:27017/x" % SECRET_VALUE}]),
                 dict(EMPTY, env={"backend": {"before": {"MONGO": HIDDEN}, "after": {"MONGO": HIDDEN_CHANGED}}}),
                 id="url-with-credentials-hidden"),
    pytest.param(tpl(env_from=[{"secretRef": {"name": "old-secrets"}}]),
                 tpl(env_from=[{"secretRef": {"name": "new-secrets"}}]),
                 dict(EMPTY, env={"backend": {
                     "before": {"envFrom secret new-secrets": None,
                                "envFrom secret old-secrets": "envFrom secret old-secrets"},
                     "after": {"envFrom secret new-secrets": "envFrom secret new-secrets",
                               "envFrom secret old-secrets": None}}}), id="env-from-by-name"),
    pytest.param(tpl(env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]),
                 tpl(env=[{"name": "POD", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "pod"}}}]),
                 dict(EMPTY, env={"backend": {"before": {"POD": "field metadata.name"},
                                              "after": {"POD": "configmap cfg/pod"}}}), id="field-to-configmap"),
    pytest.param(tpl(resources={"limits": {"memory": "512Mi"}}),
                 tpl(resources={"limits": {"memory": "1Gi"}, "requests": {}}),
                 dict(EMPTY, resources={"backend": {"before": {"limits": {"memory": "512Mi"}},
                                                    "after": {"limits": {"memory": "1Gi"}}}}), id="resources"),
    pytest.param(tpl(resources={}), tpl(), EMPTY, id="empty-resources-equal-none"),
    pytest.param(obj(tpl(), "release v1.5.1"), obj(tpl(), "release v1.5.0"),
                 dict(EMPTY, change_cause={"before": "release v1.5.1", "after": "release v1.5.0"}),
                 id="change-cause-of-objects"),
    pytest.param(obj(tpl(), "same"), obj(tpl(), "same"), EMPTY, id="same-change-cause"),
])
def test_template_diff(old, new, expected):
    before = copy.deepcopy((old, new))
    assert template_diff(old, new) == expected
    assert (old, new) == before  # inputs untouched


def test_no_secret_value_in_diff_or_lines():
    old = tpl(env=[{"name": "API_TOKEN", "value": SECRET_VALUE}, dict(SECRET_REF, name="MONGODB_URI")])
    new = tpl(env=[{"name": "API_TOKEN", "value": "other"}])
    diff = template_diff(old, new)
    text = json.dumps(diff) + "\n".join(diff_lines(diff))
    assert SECRET_VALUE not in text and "other" not in text
    assert "secret backend-secrets/MONGODB_URI" in text


def test_container_added_and_removed():
    old = tpl()
    new = copy.deepcopy(old)
    new["spec"]["containers"] = [{"name": "sidecar", "image": "envoy:1"}]
    assert template_diff(old, new)["images"] == {
        "backend": {"before": "registry/backend:v1.5.1", "after": None},
        "sidecar": {"before": None, "after": "envoy:1"}}


def test_diff_lines_read_as_sentences():
    diff = template_diff(obj(tpl("a:1", env=AI_OFF, resources={"limits": {"memory": "1Gi"}}), "fallback"),
                         obj(tpl("a:2", env=AI_ON), "release v1.5.1"))
    assert diff_lines(diff) == [
        "image backend: a:1 -> a:2",
        "env backend AI_MODERATION: false -> true",
        "resources backend: limits memory=1Gi -> (none)",
        "change-cause: fallback -> release v1.5.1",
    ]


def test_revision_diff_of_an_undo_after_a_fallback():
    """After ai_moderation_fallback set AI_MODERATION=false (new revision), an undo to the revision before it
    turns moderation back on: the rollback's diff says so, not only 'v1.5.1 -> v1.5.1'."""
    dep = deployment(4, "registry/backend:v1.5.1",
                     annotations={"kubernetes.io/change-cause": "ai_moderation_fallback: AI_MODERATION=false"})
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = AI_OFF
    target = replicaset(3, "registry/backend:v1.5.1", annotations={"kubernetes.io/change-cause": "release v1.5.1"})
    target["spec"]["template"]["spec"]["containers"][0]["env"] = AI_ON
    diff = ro.revision_diff(dep, target)
    assert diff["images"] == {}
    assert diff["env"] == {"api": {"before": {"AI_MODERATION": "false"}, "after": {"AI_MODERATION": "true"}}}
    assert diff["lines"] == ["env api AI_MODERATION: false -> true",
                             "change-cause: ai_moderation_fallback: AI_MODERATION=false -> release v1.5.1"]
