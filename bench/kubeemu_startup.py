#!/usr/bin/env python3
"""Prints kubeemu figures: process start to ready file, in-process start/stop, and how long a
3-replica Deployment takes to roll out (ready_delay_seconds 0.5) and to roll back after a broken
release. Figures only; nothing here asserts on time.

    PYTHONPATH=tests/sandbox .venv/bin/python bench/kubeemu_startup.py   (or: make bench)"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SANDBOX = ROOT / "tests" / "sandbox"

# kubeemu: tests/sandbox is on PYTHONPATH (the Makefile's bench target sets it).
from kubeemu import KubeEmulator

BROKEN = "registry.halobuzz.com/backend:v1.5.1"


def call(base, method, path, body=None, ctype="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def rolled_out(base, name):
    d = call(base, "GET", "/apis/apps/v1/namespaces/default/deployments/" + name)
    st, want = d.get("status", {}), d["spec"]["replicas"]
    return st.get("observedGeneration", 0) >= d["metadata"]["generation"] and \
        st.get("updatedReplicas") == want == st.get("availableReplicas") == st.get("replicas")


def until(fn, timeout=60):
    start = time.monotonic()
    while not fn():
        if time.monotonic() - start > timeout:
            return float("nan")
        time.sleep(0.02)
    return time.monotonic() - start


def process_startup(runs=3):
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            ready = os.path.join(tmp, "ready")
            start = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "kubeemu", "--port", "0", "--kubeconfig-out",
                                     os.path.join(tmp, "kc"), "--ready-file", ready],
                                    env=dict(os.environ, PYTHONPATH=str(SANDBOX)), stderr=subprocess.DEVNULL)
            until(lambda: os.path.exists(ready), 30)
            times.append(time.monotonic() - start)
            proc.terminate()
            proc.wait(30)
    return times


def main():
    startup = process_startup()
    print("process start -> ready file: %s s (runs: %s)" % (
        "%.2f" % min(startup), ", ".join("%.2f" % t for t in startup)))
    t0 = time.monotonic()
    emu = KubeEmulator(config={"kubelet": {"ready_delay_seconds": 0.5, "broken_images": [BROKEN]}}).start()
    print("in-process start: %.3f s" % (time.monotonic() - t0))
    base = emu.url
    try:
        for n in range(3):
            call(base, "POST", "/api/v1/nodes", {"metadata": {"name": "node-%d" % n}})
        template = {"metadata": {"labels": {"app": "b"}},
                    "spec": {"containers": [{"name": "b", "image": "registry.halobuzz.com/backend:v1.4.0"}]}}
        call(base, "POST", "/apis/apps/v1/namespaces/default/deployments", {
            "metadata": {"name": "b"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "b"}},
                                                "template": template}})
        print("create 3-replica deployment -> rolled out: %.2f s" % until(lambda: rolled_out(base, "b")))
        for image in ("registry.halobuzz.com/backend:v1.5.0", BROKEN):
            call(base, "PATCH", "/apis/apps/v1/namespaces/default/deployments/b",
                 {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": image}]}}}},
                 "application/strategic-merge-patch+json")
            if image != BROKEN:
                print("set image -> rolled out: %.2f s" % until(lambda: rolled_out(base, "b")))
        rs = [r for r in call(base, "GET", "/apis/apps/v1/namespaces/default/replicasets")["items"]
              if r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"][0]
        tmpl = rs["spec"]["template"]
        del tmpl["metadata"]["labels"]["pod-template-hash"]
        time.sleep(1)
        call(base, "PATCH", "/apis/apps/v1/namespaces/default/deployments/b",
             [{"op": "replace", "path": "/spec/template", "value": tmpl}], "application/json-patch+json")
        print("rollback after a broken release -> rolled out: %.2f s" % until(lambda: rolled_out(base, "b")))
    finally:
        t = time.monotonic()
        emu.stop()
        print("in-process stop: %.3f s" % (time.monotonic() - t))


if __name__ == "__main__":
    main()
