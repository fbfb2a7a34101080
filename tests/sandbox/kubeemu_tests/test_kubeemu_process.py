"""kubeemu as a process (the launcher's interface) and as an in-process API: starts, answers,
stops cleanly, leaves no thread or port behind."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import yaml

from kubeemu import KubeEmulator
from kubeemu_testlib import wait_for

SANDBOX = Path(__file__).resolve().parents[1]


def _port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(SANDBOX))
    return subprocess.Popen([sys.executable, "-m", "kubeemu"] + args, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_cli_writes_kubeconfig_then_ready_file_and_stops_on_sigterm(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"kubelet": {"ready_delay_seconds": 0.1}, "objects": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "halobuzz"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seeded", "namespace": "halobuzz"}}]}))
    kubeconfig, ready = tmp_path / "kubeconfig", tmp_path / "ready"
    proc = _run(["--port", "0", "--config", str(cfg), "--kubeconfig-out", str(kubeconfig),
                 "--ready-file", str(ready)])
    try:
        wait_for(ready.exists, timeout=60, what="the ready file")
        port = int(ready.read_text())
        kc = yaml.safe_load(kubeconfig.read_text())
        assert kc["current-context"] == "sandbox"
        assert kc["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:%d" % port
        assert kc["users"][0]["user"] == {}
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/namespaces/halobuzz/configmaps/seeded" % port) as r:
            assert json.load(r)["metadata"]["name"] == "seeded"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert not _port_open(port)


def test_cli_refuses_a_bad_config_without_a_traceback(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("kubelet: {ready_delay_seconds: 1}\npod_log: []\n")
    proc = _run(["--port", "0", "--config", str(cfg)])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "pod_log" in err and "Traceback" not in err
    missing = _run(["--config", str(tmp_path / "nope.yaml")])
    out, err = missing.communicate(timeout=60)
    assert missing.returncode == 2 and "cannot read --config" in err and "Traceback" not in err


def test_in_process_stop_leaves_no_thread_or_port(tmp_path):
    before = set(threading.enumerate())
    emu = KubeEmulator().start()
    port = emu.port
    # an open watch and an idle keep-alive connection must not hold the stop up
    resp = urllib.request.urlopen("http://127.0.0.1:%d/api/v1/namespaces?watch=1" % port)
    idle = socket.create_connection(("127.0.0.1", port))
    idle.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    idle.recv(100)
    emu.stop()
    resp.close()
    idle.close()
    assert not _port_open(port)
    wait_for(lambda: set(threading.enumerate()) <= before, timeout=10, what="emulator threads to end")
