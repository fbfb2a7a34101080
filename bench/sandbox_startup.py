#!/usr/bin/env python3
"""How long the sandbox takes: `up` (goal < 20 s with Prometheus and Alertmanager), a scenario switch,
`up` again, `down`.

Prints the figures; asserts nothing about time. Uses a private temp dir, so it never touches
a sandbox you have running in .sandbox. `python bench/sandbox_startup.py [--runs N]`
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SANDBOX = REPO / "tests" / "sandbox" / "sandbox.py"


def timed(*args: str) -> float:
    began = time.monotonic()
    proc = subprocess.run([sys.executable, str(SANDBOX), *args], capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - began
    if proc.returncode != 0:
        raise SystemExit(f"sandbox.py {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="cold starts to measure (default 1)")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"up (cold)": [], "scenario bad-release": [], "scenario healthy": [],
                                       "up (already up)": [], "down": []}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
            box = str(Path(tmp) / "box")
            try:
                figures["up (cold)"].append(timed("up", "--dir", box))
                figures["scenario bad-release"].append(timed("scenario", "bad-release", "--dir", box))
                figures["scenario healthy"].append(timed("scenario", "healthy", "--dir", box))
                figures["up (already up)"].append(timed("up", "--dir", box))
            finally:
                figures["down"].append(timed("down", "--dir", box))
    load = os.getloadavg()[0]
    print(f"sandbox timings over {args.runs} run(s), {os.cpu_count()} CPUs, load average {load:.1f} "
          "(wall seconds, including the CLI's own start):")
    for name, values in figures.items():
        print(f"  {name:22} median {statistics.median(values):6.1f}s   max {max(values):6.1f}s")
    print("  goal: up (cold) < 20 s (issue 17: with Prometheus, Alertmanager and the exporters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
