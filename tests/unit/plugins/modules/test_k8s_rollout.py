"""halobuzz.ops.k8s_rollout(_info) main(): documentation matches the argspec (kubernetes.core's
auth options plus our own), bad input fails without touching a cluster, no secret in output."""
import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.halobuzz.ops.plugins.modules import k8s_rollout, k8s_rollout_info
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

OWN = {
    k8s_rollout: {"name", "namespace", "action", "to_revision", "wait", "wait_timeout", "wait_sleep"},
    k8s_rollout_info: {"name", "namespace"},
}


@pytest.mark.parametrize("module", [k8s_rollout, k8s_rollout_info])
def test_documentation_is_complete(module):
    documented = set(yaml.safe_load(module.DOCUMENTATION)["options"])
    assert documented == OWN[module]  # the auth options come from kubernetes.core.k8s_auth_options
    assert "kubernetes.core.k8s_auth_options" in yaml.safe_load(module.DOCUMENTATION)["extends_documentation_fragment"]
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


def test_argspec_carries_every_kubernetes_core_auth_option():
    from ansible_collections.halobuzz.ops.plugins.module_utils._k8s_rollout_service import argument_spec
    spec = argument_spec()
    assert set(AUTH_ARG_SPEC) <= set(spec)
    assert spec["name"]["aliases"] == ["deployment"]
