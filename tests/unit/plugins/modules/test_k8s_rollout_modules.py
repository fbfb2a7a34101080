"""halobuzz.ops.k8s_rollout(_info) main(): documentation matches the argspec (kubernetes.core's
auth options plus our own), bad input fails without touching a cluster, no secret in output."""
import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.halobuzz.ops.plugins.doc_fragments.k8s_deployment import ModuleDocFragment
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import K8S_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.rollout_service import DEPLOYMENT_OPTIONS
from ansible_collections.halobuzz.ops.plugins.modules import k8s_rollout, k8s_rollout_info
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

OWN = {
    k8s_rollout: {"action", "to_revision", "wait", "wait_timeout", "wait_sleep"},
    k8s_rollout_info: {"pods"},
}


@pytest.mark.parametrize("module", [k8s_rollout, k8s_rollout_info])
def test_documentation_is_complete(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert set(doc.get("options") or {}) == OWN[module]
    assert doc["extends_documentation_fragment"][:2] == ["halobuzz.ops.k8s_deployment", "kubernetes.core.k8s_auth_options"]
    assert "halobuzz.ops.attributes.action_group_k8s" in doc["extends_documentation_fragment"]
    assert yaml.safe_load(module.RETURN) and yaml.safe_load(module.EXAMPLES)


def run(capsys, module, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_restart_refuses_to_revision(capsys):
    result = run(capsys, k8s_rollout, dict(name="backend", namespace="halobuzz", action="restart", to_revision=2))
    assert result["failed"] is True
    assert result["msg"] == "to_revision applies to action=undo only; drop it for action=restart"


@pytest.mark.parametrize("module", [k8s_rollout, k8s_rollout_info])
def test_unusable_kubeconfig_is_a_clear_error_without_secrets(capsys, tmp_path, module):
    token = "s3cr3t-token-value"
    result = run(capsys, module, dict(name="backend", namespace="halobuzz", api_key=token,
                                      kubeconfig=str(tmp_path / "missing.yaml")))
    assert result["failed"] is True
    assert result["msg"].startswith("Could not create a Kubernetes API client (kubeconfig %s" % (tmp_path / "missing.yaml"))
    assert token not in json.dumps(result)


def test_argspec_is_the_fragments_plus_kubernetes_core_auth():
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = dict(K8S_CONNECTION.argument_spec, **DEPLOYMENT_OPTIONS)
    assert set(spec) == set(AUTH_ARG_SPEC) | set(fragment)
    assert set(k8s_rollout.OPTIONS) == set(DEPLOYMENT_OPTIONS) | OWN[k8s_rollout]
    for option, doc in fragment.items():
        assert spec[option].get("aliases") == doc.get("aliases") and spec[option]["required"] is doc["required"]
