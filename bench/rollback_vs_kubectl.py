#!/usr/bin/env python3
"""playbooks/rollback.yml against the same rollback done with kubernetes.core only, and by hand with kubectl.

On one private sandbox (kube + web only), from the bad-release scenario each time:
  A. ansible-playbook playbooks/rollback.yml -i inventories/sandbox
  P. a kubernetes.core-only peer playbook: kubernetes.core.k8s_rollback -> kubernetes.core.k8s_info with
     wait_condition Progressing/NewReplicaSetAvailable -> ansible.builtin.uri until 200
  B. kubectl rollout undo deployment/backend -n halobuzz
       && kubectl rollout status deployment/backend -n halobuzz
       && curl healthz (retrying until 200, as the playbook does)
All must end at backend v1.5.0, revision 4, healthz 200. Prints the three wall-clock times, the
ratios A/P (goal <= 0.8, issue 13) and A/B, and for scale the floor of ansible-playbook on this
machine (a play with one ansible.builtin.uri task against healthz). Asserts nothing about time.
`python bench/rollback_vs_kubectl.py [--runs N]` (default 1 run of each, alternating).
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


# The same rollback written with kubernetes.core alone: what rollback.yml is measured against.
PEER_PLAYBOOK = """\
- name: Roll back backend with kubernetes.core only
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Roll back to the previous ReplicaSet
      kubernetes.core.k8s_rollback:
        api_version: apps/v1
        kind: Deployment
        name: backend
        namespace: halobuzz

    - name: Wait for the rollout (Progressing NewReplicaSetAvailable)
      kubernetes.core.k8s_info:
        api_version: apps/v1
        kind: Deployment
        name: backend
        namespace: halobuzz
        wait: true
        wait_timeout: 300
        wait_condition:
          type: Progressing
          status: "True"
          reason: NewReplicaSetAvailable

    - name: Wait for healthz to return 200
      ansible.builtin.uri:
        url: "{{ healthz_url }}"
        status_code: 200
      register: peer_healthz
      retries: 20
      delay: 1
      until: peer_healthz.status == 200
"""


def run(argv, env, what):
    began = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    elapsed = time.monotonic() - began
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (rc={proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def sandbox(*args):
    run([sys.executable, str(SANDBOX), *args], dict(os.environ), "sandbox.py " + " ".join(args))


def end_state(env):
    proc = subprocess.run(["kubectl", "-n", "halobuzz", "get", "deployment", "backend", "-o", "json"],
                          capture_output=True, text=True, env=env, check=True)
    dep = json.loads(proc.stdout)
    return (dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            dep["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="rollbacks of each kind (default 1)")
    args = parser.parse_args()
    playbook = [str(VENV_BIN / "ansible-playbook"), "playbooks/rollback.yml", "-i", "inventories/sandbox"]
    times = {"playbook": [], "peer": [], "kubectl": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="bench-rollback-") as tmp:
        sandbox_dir = str(Path(tmp) / "sandbox")
        sandbox("up", "--dir", sandbox_dir, "--scenario", "bad-release", "--skip", "vault,redis,mongodb,aws")
        try:
            env = dict(os.environ)
            env.update(json.loads((Path(sandbox_dir) / "env.json").read_text()))
            env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
            by_hand = ["bash", "-c",
                       "kubectl rollout undo deployment/backend -n halobuzz"
                       " && kubectl rollout status deployment/backend -n halobuzz --timeout=300s"
                       " && curl -fsS -o /dev/null --retry 20 --retry-delay 1 --retry-all-errors \"$HEALTHZ_URL\""]
            floor_play = Path(tmp) / "floor.yml"
            floor_play.write_text(
                "- name: ansible-playbook floor\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
                "    - name: One uri task\n      ansible.builtin.uri:\n        url: \"{{ healthz_url }}\"\n"
                "        status_code: [200, 503]\n")
            peer_play = Path(tmp) / "peer.yml"
            peer_play.write_text(PEER_PLAYBOOK)
            peer = [playbook[0], str(peer_play), "-i", "inventories/sandbox"]
            for index in range(args.runs):
                times["floor"].append(run([playbook[0], str(floor_play), "-i", "inventories/sandbox"], env, "floor play"))
                for kind, argv in (("playbook", playbook), ("peer", peer), ("kubectl", by_hand)):
                    if index or kind != "playbook":
                        sandbox("scenario", "bad-release", "--dir", sandbox_dir)
                    elapsed = run(argv, env, kind)
                    state = end_state(env)
                    if state != ("4", "v1.5.0"):
                        raise SystemExit(f"{kind} ended at revision {state[0]}, image {state[1]}: not the same rollback")
                    times[kind].append(elapsed)
                    print(f"{kind:9s} run {index + 1}: {elapsed:6.2f} s  -> revision {state[0]}, backend {state[1]}, healthz 200")
        finally:
            sandbox("down", "--dir", sandbox_dir)
    playbook_s, kubectl_s = statistics.median(times["playbook"]), statistics.median(times["kubectl"])
    peer_s = statistics.median(times["peer"])
    print(f"rollback.yml (median of {args.runs}):      {playbook_s:6.2f} s")
    print(f"kubernetes.core peer playbook (median of {args.runs}): {peer_s:6.2f} s")
    print(f"kubectl undo+status+curl (median of {args.runs}): {kubectl_s:6.2f} s")
    print(f"ratio playbook/peer: {playbook_s / peer_s:.2f} (goal <= 0.8)")
    print(f"ratio playbook/kubectl: {playbook_s / kubectl_s:.2f}")
    print(f"ansible-playbook floor, one uri task (median of {args.runs}): {statistics.median(times['floor']):6.2f} s")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
