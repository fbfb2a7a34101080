"""sandbox.py itself: up twice is harmless, down leaves no process behind and kills nothing
else, a missing binary or a busy port is one clear error, status and scenario report."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import sandbox as launcher
from sandboxlib.procs import Proc, SandboxError

SANDBOX_PY = Path(launcher.__file__)
SKIP = os.environ.get("HALOBUZZ_SANDBOX_SKIP", "")


@pytest.fixture
def tmp_path():
    """A private dir outside pytest's basetemp, which concurrent sessions prune."""
    path = Path(tempfile.mkdtemp(prefix="halobuzz-sandbox-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def cli(*args, env=None):
    return subprocess.run([sys.executable, str(SANDBOX_PY), *args], capture_output=True, text=True,
                          timeout=180, env=env, check=False)


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line or working directory names `marker` (our sandbox dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (marker in cmdline or cwd.startswith(marker)):
            found.append(int(entry.name))
    return found


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_up_twice_status_then_down_leaves_no_process(tmp_path):
    box = tmp_path / "box"
    first = cli("up", "--dir", str(box), "--skip", SKIP)
    try:
        assert first.returncode == 0, first.stderr
        env = json.loads((box / "env.json").read_text())
        pids = {p.stem: json.loads(p.read_text())["pid"] for p in (box / "run").glob("*.pid")}
        assert pids and all(Path(f"/proc/{pid}").exists() for pid in pids.values())
        shell_env = (box / "env").read_text()
        assert all(f"export {name}=" in shell_env for name in env)
        assert oct((box / "env").stat().st_mode & 0o777) == "0o600"

        again = cli("up", "--dir", str(box), "--skip", SKIP)
        assert again.returncode == 0 and "already up" in again.stdout
        assert {p.stem: json.loads(p.read_text())["pid"] for p in (box / "run").glob("*.pid")} == pids

        status = cli("status", "--dir", str(box))
        assert status.returncode == 0 and "scenario healthy" in status.stdout
        assert env.get("SANDBOX_ONCALL_PASSWORD", "<none>") not in status.stdout
        ports = [int(v.rsplit(":", 1)[1].split("/")[0]) for k, v in env.items()
                 if k.endswith(("_URL", "_URI", "_ADDR")) and v.startswith(("http", "redis", "mongodb"))]
    finally:
        down = cli("down", "--dir", str(box))
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 5
    while processes_mentioning(str(box)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(box)) == []
    assert not any(Path(f"/proc/{pid}").exists() and pid in processes_mentioning(str(box)) for pid in pids.values())
    assert [p for p in set(ports) if port_open(p)] == []
    assert not (box / "env").exists() and cli("status", "--dir", str(box)).returncode == 1


def test_sandbox_of_a_vanished_owner_brings_itself_down(tmp_path):
    owner = subprocess.Popen(["sleep", "600"])  # stands in for a pytest session killed by SIGKILL
    try:
        up = cli("up", "--dir", str(tmp_path), "--skip", "kube,vault,aws", "--owner-pid", str(owner.pid))
        assert up.returncode == 0, up.stderr
        assert processes_mentioning(str(tmp_path))
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 30
    while processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(tmp_path)) == []
    assert "owner process" in (tmp_path / "logs" / "watch.log").read_text()


def test_down_never_kills_a_process_it_did_not_start(tmp_path):
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        run = tmp_path / "run"
        run.mkdir()
        # A stale pid file naming someone else's process (pid reused, or edited by hand).
        (run / "redis.pid").write_text(json.dumps({"pid": stranger.pid, "exe": "/usr/bin/redis-server",
                                                   "start_time": "1", "argv": ["redis-server"]}))
        assert Proc(tmp_path, "redis").ours() is None
        result = cli("down", "--dir", str(tmp_path))
        assert result.returncode == 0 and "stopped nothing" in result.stdout
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_missing_binary_is_a_clear_error_and_leaves_nothing(tmp_path):
    env = dict(os.environ, PATH="/nonexistent")  # redis-server is a system binary
    result = cli("up", "--dir", str(tmp_path), "--skip", "kube,vault,web,aws,mongodb", env=env)
    assert result.returncode == 2
    assert "redis-server not found on PATH: install the Debian package redis-server" in result.stderr
    assert "Traceback" not in result.stderr
    assert processes_mentioning(str(tmp_path)) == []


def test_busy_port_is_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        monkeypatch.setattr(launcher, "free_port", lambda: busy)
        box = launcher.Sandbox(str(tmp_path))
        with pytest.raises(SandboxError, match=f"redis could not bind a free port \\(busy port {busy}\\)"):
            # Redis alone: every other service would be handed the same busy port, and which of them
            # exits first is a race (CI stop 23 saw redis_exporter's failure reported instead).
            box.up(None, skip=set(launcher.SERVICES) - {"redis"})
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.parametrize("args, message", [
    (["scenario", "healthy"], "no running sandbox in"),
    (["up", "--scenario", "nope"], "unknown scenario 'nope'"),
    (["up", "--skip", "kafka"], "--skip names unknown services ['kafka']"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    result = cli(*args, "--dir", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
