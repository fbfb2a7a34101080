#!/usr/bin/env python3
"""playbooks/service_down.yml with 3 and with 30 backend pods: does its cost grow with the pods? (issue 19)

On one private sandbox (kube + web only; healthy scenario, so service_down reads and changes nothing):
  3.  the world's 3 backend pods: ansible-playbook playbooks/service_down.yml -i inventories/sandbox
  30. three more nodes (the world's three fit 3 x 4 CPU; 30 pods request 15), backend scaled to 30 and every
      pod Ready, then the same run.
Prints both wall-clock times and the ratio 30/3 (goal <= 1.5: the pods' logs, facts and events are read in one
halobuzz.ops.k8s_pod_logs run, with bounded concurrency, not one task per pod). Asserts nothing about time.
`python bench/service_down_pods.py [--runs N]` (default 1 of each; each run starts from a fresh healthy world).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SANDBOX = REPO / "tests" / "sandbox" / "sandbox.py"
VENV_BIN = REPO / ".venv" / "bin"
MANY = 30
EXTRA_NODES = ["bench-node-4", "bench-node-5", "bench-node-6"]


def run(argv, env, what, stdin=None):
    began = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False, input=stdin)
    elapsed = time.monotonic() - began
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (rc={proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def sandbox(*args):
    run([sys.executable, str(SANDBOX), *args], dict(os.environ), "sandbox.py " + " ".join(args))


def kubectl(env, *args, stdin=None):
    return run(["kubectl", *args], env, "kubectl " + " ".join(args), stdin=stdin)[1]


def ready_backend_pods(env):
    pods = json.loads(kubectl(env, "-n", "halobuzz", "get", "pods", "-l", "app=backend", "-o", "json"))["items"]
    return sum(1 for pod in pods if not pod["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or []))


def scale_backend(env, replicas, timeout=300):
    """More nodes, then `kubectl scale`, then wait until `replicas` backend pods are Ready (a condition, polled)."""
    for node in EXTRA_NODES:
        kubectl(env, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Node",
                                                           "metadata": {"name": node}}))
    kubectl(env, "-n", "halobuzz", "scale", "deployment/backend", "--replicas=%d" % replicas)
    deadline = time.monotonic() + timeout
    while ready_backend_pods(env) < replicas:
        if time.monotonic() > deadline:
            raise SystemExit(f"backend did not reach {replicas} Ready pods in {timeout}s")
        time.sleep(1)


def service_down(env):
    elapsed, out = run([str(VENV_BIN / "ansible-playbook"), "playbooks/service_down.yml", "-i", "inventories/sandbox"],
                       env, "service_down.yml")
    changed = out.rsplit("changed=", 1)[-1].split()[0] if "changed=" in out else "?"
    if changed != "0":
        raise SystemExit(f"service_down.yml changed {changed} things in a healthy world:\n{out[-3000:]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each size (default 1)")
    args = parser.parse_args()
    times = {3: [], MANY: []}
    with tempfile.TemporaryDirectory(prefix="bench-service-down-") as tmp:
        sandbox_dir = str(Path(tmp) / "sandbox")
        sandbox("up", "--dir", sandbox_dir, "--scenario", "healthy", "--skip",
                "vault,redis,mongodb,aws,prometheus,alertmanager,redis_exporter,blackbox")
        try:
            env = dict(os.environ)
            env.update(json.loads((Path(sandbox_dir) / "env.json").read_text()))
            env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
            for index in range(args.runs):
                if index:
                    sandbox("scenario", "healthy", "--dir", sandbox_dir)
                times[3].append(service_down(env))
                print(f"  3 pods run {index + 1}: {times[3][-1]:6.2f} s")
                scale_backend(env, MANY)
                times[MANY].append(service_down(env))
                print(f"{MANY:3d} pods run {index + 1}: {times[MANY][-1]:6.2f} s")
        finally:
            sandbox("down", "--dir", sandbox_dir)
    few, many = statistics.median(times[3]), statistics.median(times[MANY])
    print(f"service_down.yml with  3 backend pods (median of {args.runs}): {few:6.2f} s")
    print(f"service_down.yml with {MANY} backend pods (median of {args.runs}): {many:6.2f} s")
    print(f"ratio {MANY}/3: {many / few:.2f} (goal <= 1.5)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
