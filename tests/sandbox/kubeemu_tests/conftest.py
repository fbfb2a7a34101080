"""kubeemu test fixtures: `kube` (the emulator in-process, or KUBECONFIG's cluster when
HALOBUZZ_USE_ENV=1) and `ns` (a fresh namespace per test, deleted afterwards)."""

import os
import uuid

import pytest

from kubeemu import KubeEmulator
from kubeemu_testlib import EMULATOR_CONFIG, NODES, USE_ENV, Kube


@pytest.fixture(scope="session")
def kube(tmp_path_factory):
    if USE_ENV:
        yield Kube(os.environ["KUBECONFIG"])
        return
    emu = KubeEmulator(config=EMULATOR_CONFIG).start()
    try:
        path = emu.write_kubeconfig(str(tmp_path_factory.mktemp("kubeemu") / "kubeconfig"))
        k = Kube(path, emu)
        for node in NODES:
            k.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
        yield k
    finally:
        emu.stop()


@pytest.fixture
def ns(kube):
    name = "kubeemu-test-%s" % uuid.uuid4().hex[:8]
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube.api.request("DELETE", "/api/v1/namespaces/%s" % name)
