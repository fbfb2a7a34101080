"""Detached service processes with pid files that remember exactly what was started.

A pid file (DIR/run/<name>.pid, JSON) records the pid, the executable (/proc/PID/exe) and
the kernel start time of the process (and the argv, for people). `stop()` kills only a
process whose /proc entry still shows that executable and that start time, so a recycled
pid never gets a signal from us. (argv itself is not compared: redis-server rewrites its
process title and a console script runs as `python script ...`.)
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class SandboxError(Exception):
    """A failure the launcher reports as one clear line (what, where, what to do)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def _proc_argv(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _proc_exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


class Proc:
    """One service process of a sandbox directory."""

    def __init__(self, sandbox_dir: Path, name: str):
        self.dir = sandbox_dir
        self.name = name
        self.pid_file = sandbox_dir / "run" / f"{name}.pid"
        self.log_file = sandbox_dir / "logs" / f"{name}.log"

    def record(self) -> dict | None:
        try:
            return json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def ours(self) -> int | None:
        """The pid when the recorded process is still the one we started, else None."""
        rec = self.record()
        if not rec:
            return None
        pid = rec["pid"]
        if _proc_exe(pid) != rec.get("exe") or proc_start_time(pid) != rec.get("start_time"):
            return None
        if is_zombie(pid):
            return None
        return pid

    def start(self, argv: list[str], env: dict | None = None, cwd: Path | None = None) -> int:
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            try:
                popen = subprocess.Popen(  # noqa: S603 - argv built by the launcher
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=str(cwd or self.dir), env=env, start_new_session=True, close_fds=True)
            except FileNotFoundError as exc:
                raise SandboxError(f"cannot start {self.name}: {argv[0]} not found ({exc})") from exc
        pid = popen.pid
        # Popen returns after the exec succeeded (its error pipe closes on exec), so /proc
        # already shows the service's executable, not the launcher's.
        exe, start_time = _proc_exe(pid), proc_start_time(pid)
        self.pid_file.write_text(json.dumps({"pid": pid, "exe": exe, "start_time": start_time, "argv": argv}))
        self._popen = popen
        return pid

    def exited(self) -> bool:
        popen = getattr(self, "_popen", None)
        if popen is not None:
            return popen.poll() is not None
        return self.ours() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the process (and its process group) if it is still ours; True if it was."""
        pid = self.ours()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(pid, sig)  # the process leads its own session/group
            except ProcessLookupError:
                break
            except PermissionError:
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                popen = getattr(self, "_popen", None)
                if popen is not None:
                    popen.poll()
                if proc_start_time(pid) is None or is_zombie(pid):
                    break
                time.sleep(0.05)
            else:
                continue
            break
        self.pid_file.unlink(missing_ok=True)
        return True
