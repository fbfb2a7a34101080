"""prometheus-operator's side of the cluster, as a site has it before playbooks/alerting.yml runs: the
PrometheusRule CRD (Established) and the monitoring namespace. Used by the alerting tests and the AWX job
of playbooks/alerting.yml; against a real cluster (HALOBUZZ_USE_ENV=1) the operator installed them."""
from __future__ import annotations

from pathlib import Path

import yaml

from sandbox_support import use_real_env, wait_for

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "tests" / "sandbox" / "kubeemu" / "crds" / "monitoring.coreos.com_prometheusrules.yaml"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/prometheusrules.monitoring.coreos.com"
MONITORING = "monitoring"


def established(api):
    resp = api.get(CRD_PATH)
    if resp.status_code != 200:
        return False
    return any(c["type"] == "Established" and c["status"] == "True"
               for c in (resp.json().get("status") or {}).get("conditions") or [])


def install_operator_crd(api) -> bool:
    """Create the CRD and the monitoring namespace where missing (sandbox only); wait for Established.
    True when this call created the CRD (the caller removes it again)."""
    created_crd = False
    if not use_real_env():
        if api.get(CRD_PATH).status_code == 404:
            api.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                     json=yaml.safe_load(CRD_FILE.read_text()))
            created_crd = True
        if api.get("/api/v1/namespaces/" + MONITORING).status_code == 404:
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MONITORING}}
            api.must("POST", "/api/v1/namespaces", json=namespace)
    wait_for(lambda: established(api), "the PrometheusRule CRD to be Established", timeout=30.0, poll=0.1)
    return created_crd
