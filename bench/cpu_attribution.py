"""Where the CPU of a test tier goes: samples every process's CPU time (utime+stime from /proc/<pid>/stat)
every INTERVAL seconds while a command runs, and sums the growth per kind of process (an Ansible module by
name, the ansible-playbook controller, each sandbox service, pytest, molecule). A process's CPU after its last
sample is missed (at most INTERVAL of it), so short-lived module processes are slightly undercounted.

    python bench/cpu_attribution.py [--interval 0.25] -- make integration
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
KINDS = [
    (re.compile(r"AnsiballZ_(\w+)\.py"), lambda m: "module " + m.group(1)),
    (re.compile(r"bin/ansible-playbook"), lambda m: "ansible-playbook (controller, action plugins)"),
    (re.compile(r"-m (kubeemu|webemu|vaultemu)\b"), lambda m: "sandbox " + m.group(1)),
    (re.compile(r"/usr/bin/(prometheus|prometheus-alertmanager|prometheus-blackbox-exporter|prometheus-redis-exporter)"),
     lambda m: "sandbox " + m.group(1)),
    (re.compile(r"redis-server"), lambda m: "sandbox redis-server"),
    (re.compile(r"nx-27017|nx_27017"), lambda m: "sandbox mongodb (nx-27017)"),
    (re.compile(r"moto"), lambda m: "sandbox moto"),
    (re.compile(r"sandbox\.py"), lambda m: "sandbox.py (up/scenario/down)"),
    (re.compile(r"molecule"), lambda m: "molecule"),
    (re.compile(r"pytest|exec\(eval\(sys\.stdin"), lambda m: "pytest (workers, test code)"),
    (re.compile(r"promtool|amtool"), lambda m: "promtool/amtool"),
    (re.compile(r"ansible-lint|ansible-test"), lambda m: "lint/sanity"),
]


def kind_of(cmdline: str) -> str:
    for pattern, name in KINDS:
        match = pattern.search(cmdline)
        if match:
            return name(match)
    return "other: " + (cmdline.split(" ")[0].rsplit("/", 1)[-1] or "?")


def cpu_ticks(pid: str) -> tuple[str, int] | None:
    """(pid:start time, utime + stime): the start time tells a reused pid from the process that had it."""
    try:
        fields = open(f"/proc/{pid}/stat", encoding="ascii").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return f"{pid}:{fields[19]}", int(fields[11]) + int(fields[12])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    seen: dict[str, tuple[str, int]] = {}  # "pid:start time" -> (kind, ticks at the last sample)
    totals: collections.Counter = collections.Counter()
    me = str(os.getpid())
    for pid in filter(str.isdigit, os.listdir("/proc")):  # what ran before: not ours to count
        sample = cpu_ticks(pid)
        if sample is not None:
            seen[sample[0]] = ("before", sample[1])
    began = time.monotonic()
    child = subprocess.Popen(command)
    while child.poll() is None:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            if pid == me:
                continue
            sample = cpu_ticks(pid)
            if sample is None:
                continue
            key, ticks = sample
            if key not in seen:
                try:
                    cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                seen[key] = (kind_of(cmdline), 0)
            kind, last = seen[key]
            if kind != "before":
                totals[kind] += ticks - last
            seen[key] = (kind, ticks)
        time.sleep(args.interval)
    wall = time.monotonic() - began
    total = sum(totals.values()) / TICK
    print(f"\ncpu_attribution: rc {child.returncode}, wall {wall:.0f} s, CPU seen {total:.0f} s "
          f"({total / wall:.2f} cores busy)", file=sys.stderr)
    for kind, ticks in totals.most_common(40):
        print(f"  {ticks / TICK:8.0f} s  {100 * ticks / TICK / max(total, 1e-9):5.1f} %  {kind}", file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
