"""Fixtures every integration test uses: the sandbox (or real services) and playbook runs.

- `sandbox_env` (session): a dict of the endpoint variables (docs/DEVELOPING.md). With
  HALOBUZZ_USE_ENV=1 they are taken from the environment (real services, or a sandbox you
  started yourself and sourced); otherwise `tests/sandbox/sandbox.py up --dir <tmp>` starts
  a private sandbox once per pytest session (one per xdist worker) in a fresh
  /tmp/halobuzz-sandbox-* dir and `down` stops it at the end (and, should the session be
  killed, the sandbox's owner watcher does). HALOBUZZ_SANDBOX_SKIP=kube,vault leaves
  services out (see sandbox.py --skip); their variables are then absent from the dict.
- `scenario` (session; a callable): `scenario("bad-release")` resets the sandbox into a
  scenario of tests/sandbox/world.yml (every service: Kubernetes objects, Redis keys,
  MongoDB data, Vault, the nodegroup, Prometheus values, provider states, Slack messages);
  the calling test is skipped when HALOBUZZ_USE_ENV=1. The session starts in `healthy`;
  a test that needs a known state asks for it (tests run in any order).
  `scenario(name, read_only=True)`: for a test that changes nothing (it asserts so) - the switch is
  skipped when the test that ran just before in this process was such a test in the same scenario
  and passed; any other test, a failure, or a module/session fixture's teardown in between forces
  the switch (the hooks in tests/conftest.py keep that record). A scenario switch re-seeds every
  service; this saves it where the world is known to be untouched. The switch is `sandbox.py scenario`'s
  own code (Sandbox.scenario), run in the test's process.
- `sandbox_secrets` (session): the sandbox's generated credentials (DIR/secrets.json:
  vault_root_token, ldap_passwords{oncall, teamlead, developer}, ...); skipped with
  HALOBUZZ_USE_ENV=1.
- `run_playbook(playbook, *args, env=sandbox_env, check=True)` (fixture, and a plain
  function of the same name here that needs `env=`): runs .venv's ansible-playbook from the
  repo root with `-i inventories/sandbox`, the env merged over os.environ and
  ANSIBLE_CONFIG=<repo>/ansible.cfg. Returns PlaybookResult(rc, stdout, stderr, recap) where
  recap = {"localhost": {"ok": 3, "changed": 1, "unreachable": 0, "failed": 0, ...}}.
  check=True fails the test (showing the output) when rc != 0; pass check=False to assert
  on a failing run yourself. `playbook` is a path from the repo root ("playbooks/x.yml")
  or a bare name ("x.yml" / "x") looked up in playbooks/.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
SANDBOX_PY = REPO / "tests" / "sandbox" / "sandbox.py"
VENV_BIN = REPO / ".venv" / "bin"
ENV_NAMES = (
    "KUBECONFIG", "VAULT_ADDR", "MONGODB_URI", "REDIS_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "PROMETHEUS_URL", "HEALTHZ_URL", "HALOBUZZ_API_URL",
    "SLACK_WEBHOOK_URL", "STRIPE_STATUS_URL", "KHALTI_STATUS_URL", "AGORA_STATUS_URL", "CDN_HEALTH_URL",
    "SANDBOX_ONCALL_USER", "SANDBOX_ONCALL_PASSWORD", "HALOBUZZ_SANDBOX_DIR", "ALERTMANAGER_URL",
    "PAGERDUTY_EVENTS_URL",
)
_RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


def wait_for(condition, what: str, timeout: float = 120.0, poll: float = 0.5):
    """Poll `condition` until it returns something truthy and return that; at the deadline fail naming
    `what` and the last value seen. Tests wait on conditions, never on time."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.0fs waiting for %s; last seen: %r" % (timeout, what, value))
        time.sleep(poll)


def healthz_status(env: dict) -> int:
    """The HTTP status of the API's healthz (HEALTHZ_URL of the sandbox or the real service)."""
    try:
        with urllib.request.urlopen(env["HEALTHZ_URL"], timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def use_real_env() -> bool:
    return os.environ.get("HALOBUZZ_USE_ENV") == "1"


def _python() -> str:
    candidate = VENV_BIN / "python"
    return str(candidate) if candidate.exists() else sys.executable


def sandbox_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run tests/sandbox/sandbox.py; raise with its output when it fails."""
    proc = subprocess.run([_python(), str(SANDBOX_PY), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"sandbox.py {' '.join(args)} failed (rc={proc.returncode}):\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return proc


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def sandbox_env(request) -> dict:
    if use_real_env():
        return {name: os.environ[name] for name in ENV_NAMES if os.environ.get(name)}
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        # `timeout pytest ...` sends SIGTERM: unwind like Ctrl-C so `down` still runs.
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    # Not under pytest's basetemp: pytest deletes all but the newest three of those,
    # also while another session still runs, and a deleted pid dir cannot be brought down.
    sandbox_dir = Path(tempfile.mkdtemp(prefix="halobuzz-sandbox-"))

    def down() -> None:
        sandbox_cli("down", "--dir", str(sandbox_dir))
        shutil.rmtree(sandbox_dir, ignore_errors=True)

    try:
        # --owner-pid: should this session die without cleanup (SIGKILL), the sandbox
        # brings itself down.
        sandbox_cli("up", "--dir", str(sandbox_dir), "--scenario", "healthy", "--owner-pid", str(os.getpid()))
    except BaseException:
        down()
        raise
    request.config.add_cleanup(down)
    return json.loads((sandbox_dir / "env.json").read_text())


# The scenario this process's sandbox is known to be in, untouched since its switch (None: unknown), and the
# one a read-only test in progress uses (recorded as untouched only if that test passes).
_UNTOUCHED = {"world": None, "read_only_test": None}


def record_test_outcome(when: str, passed: bool) -> None:
    """tests/conftest.py's pytest_runtest_makereport: after a test's call phase the world is known untouched
    only if that test was a passing read-only one; anything else (setup failures too) forgets it."""
    if when == "call" or not passed:
        _UNTOUCHED["world"] = _UNTOUCHED["read_only_test"] if (when == "call" and passed) else None
        _UNTOUCHED["read_only_test"] = None


def forget_untouched_world() -> None:
    """A module- or session-scoped fixture was torn down: it may have changed the world."""
    _UNTOUCHED["world"] = None


@pytest.fixture(scope="session")
def scenario(sandbox_env):
    def switch(name: str, read_only: bool = False) -> None:
        if use_real_env():
            pytest.skip(f"scenario {name!r} needs the sandbox (HALOBUZZ_USE_ENV=1 points at real services)")
        _UNTOUCHED["read_only_test"] = name if read_only else None
        if read_only and _UNTOUCHED["world"] == name:
            return
        _UNTOUCHED["world"] = None
        # `sandbox.py scenario` run in this process rather than a new one: the same code, without a Python
        # start-up and the imports of pymongo, boto3 and redis at every switch (1.8 s of CPU per switch as a
        # subprocess, 0.6 s in process, measured on the 2-core CI machine, where the suite is CPU-bound).
        # only integration tests switch: imported here, not by every test that loads tests/conftest.py
        from sandbox import Sandbox  # pylint: disable=import-outside-toplevel
        Sandbox(sandbox_env["HALOBUZZ_SANDBOX_DIR"]).scenario(name)
    return switch


@pytest.fixture(scope="session")
def sandbox_secrets(sandbox_env) -> dict:
    if use_real_env():
        pytest.skip("the sandbox's generated credentials exist only in a sandbox")
    return json.loads((Path(sandbox_env["HALOBUZZ_SANDBOX_DIR"]) / "secrets.json").read_text())


class PlaybookResult(NamedTuple):
    rc: int
    stdout: str
    stderr: str
    recap: dict


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    """{host: {ok, changed, unreachable, failed, skipped, rescued, ignored}} from PLAY RECAP."""
    recap: dict[str, dict[str, int]] = {}
    lines = stdout.splitlines()
    try:
        start = max(i for i, line in enumerate(lines) if line.startswith("PLAY RECAP"))
    except ValueError:
        return recap
    for line in lines[start + 1:]:
        match = _RECAP_LINE.match(line.strip())
        if not match:
            if line.strip():
                break
            continue
        recap[match["host"]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match["counts"])}
    return recap


def _playbook_path(playbook: str) -> str:
    for candidate in (REPO / playbook, REPO / "playbooks" / playbook, REPO / "playbooks" / f"{playbook}.yml"):
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError(f"playbook {playbook!r} not found under {REPO} or {REPO / 'playbooks'}")


def run_playbook(playbook: str, *args: str, env: dict, check: bool = True, timeout: float = 600) -> PlaybookResult:
    full_env = dict(os.environ)
    full_env.update(env)
    full_env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                    PYTHONUNBUFFERED="1")
    binary = VENV_BIN / "ansible-playbook"
    argv = [str(binary) if binary.exists() else "ansible-playbook",
            "-i", str(REPO / "inventories" / "sandbox"), _playbook_path(playbook), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=REPO, timeout=timeout, check=False)
    result = PlaybookResult(proc.returncode, proc.stdout, proc.stderr, parse_recap(proc.stdout))
    # Every run, passing or failing: no variable may use a name ansible-core reserves (issue 12:
    # `namespace` printed this warning on every run until it became `k8s_namespace`).
    assert "Found variable using reserved name" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(argv[1:])} failed (rc={proc.returncode})\n--- stdout\n{proc.stdout[-6000:]}"
                    f"\n--- stderr\n{proc.stderr[-3000:]}", pytrace=False)
    return result


@pytest.fixture(name="run_playbook")
def run_playbook_fixture(sandbox_env):
    def run(playbook: str, *args: str, env: dict | None = None, check: bool = True, timeout: float = 600):
        return run_playbook(playbook, *args, env=sandbox_env if env is None else env, check=check, timeout=timeout)
    return run
