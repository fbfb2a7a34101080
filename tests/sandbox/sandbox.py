#!/usr/bin/env python3
"""The HaloBuzz sandbox: every service the runbooks touch, on free loopback ports.

    sandbox.py up [--dir DIR] [--scenario NAME] [--skip kube,vault]
    sandbox.py down [--dir DIR]
    sandbox.py status [--dir DIR]
    sandbox.py scenario NAME [--dir DIR]

`up` starts Kubernetes (kubeemu), Vault (vaultemu), Redis (redis-server), MongoDB
(nx-27017), AWS (moto_server) and the web emulators (Prometheus, HaloBuzz API, provider
status pages, Slack), waits until each answers, seeds the scenario (world.yml) and writes
DIR/env (shell exports), DIR/env.json (the same as JSON) and DIR/kubeconfig. Processes are
detached, with pid files in DIR/run and logs in DIR/logs; `down` stops exactly those.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml

# sandboxlib sits beside this file: run as a script, Python puts this file's directory first on the
# import path; imported by a test (`import sandbox`), tests/sandbox is on pytest.ini's pythonpath.
from sandboxlib import seed, world
from sandboxlib.procs import Proc, SandboxError, free_port, is_zombie, proc_start_time

HERE = Path(__file__).resolve().parent

SERVICES = ("redis", "mongodb", "aws", "kube", "vault", "web")
OPTIONAL_EMULATORS = {"kube": "kubeemu", "vault": "vaultemu"}
AWS_REGION = "ap-south-1"
START_TIMEOUT = 40.0
ENV_NAMES = (
    "KUBECONFIG", "VAULT_ADDR", "MONGODB_URI", "REDIS_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "PROMETHEUS_URL", "HEALTHZ_URL", "HALOBUZZ_API_URL",
    "SLACK_WEBHOOK_URL", "STRIPE_STATUS_URL", "KHALTI_STATUS_URL", "AGORA_STATUS_URL", "CDN_HEALTH_URL",
    "SANDBOX_ONCALL_USER", "SANDBOX_ONCALL_PASSWORD", "HALOBUZZ_SANDBOX_DIR",
)


def log(msg: str) -> None:
    print(msg, flush=True)


def venv_tool(name: str) -> str:
    """A console script of the running Python's environment, else one on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise SandboxError(f"{name} not found next to {sys.executable} nor on PATH: "
                           "run `make venv` (it installs requirements-dev.txt)")
    return found


def system_tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if not found:
        raise SandboxError(f"{name} not found on PATH: install the Debian package {package} "
                           "(scripts/install-os-deps does it)")
    return found


class Sandbox:
    def __init__(self, directory: str):
        self.dir = Path(directory).resolve()
        self.run = self.dir / "run"
        self.state_file = self.dir / "sandbox.json"
        self.procs = {name: Proc(self.dir, name) for name in SERVICES}
        self.watcher = Proc(self.dir, "watch")
        self.ports: dict[str, int | None] = {}

    # ------------------------------------------------------------------ state
    def state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def save_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.state_file)

    def secrets(self) -> dict:
        path = self.dir / "secrets.json"
        if path.exists():
            return json.loads(path.read_text())
        users = world.load()["world"]["vault"]["ldap_users"]
        data = {
            "vault_root_token": "hvs.sandbox-root-" + secrets.token_hex(12),
            "ldap_passwords": {name: secrets.token_urlsafe(15) for name in users},
            "mongodb_password": secrets.token_urlsafe(18),
            "staging_password": secrets.token_urlsafe(18),
        }
        write_private(path, json.dumps(data, indent=2))
        return data

    @contextlib.contextmanager
    def locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def running(self) -> dict[str, int | None]:
        return {name: proc.ours() for name, proc in self.procs.items()}

    # ------------------------------------------------------------------ start
    def argv(self, name: str, port: int, secrets_: dict, scenario: dict) -> tuple[list[str], dict | None]:
        py = sys.executable
        emu_env = dict(os.environ, PYTHONPATH=str(HERE), PYTHONUNBUFFERED="1")
        data = self.dir / "data"
        if name == "redis":
            (data / "redis").mkdir(parents=True, exist_ok=True)
            return [system_tool("redis-server", "redis-server"), "--bind", "127.0.0.1", "--port", str(port),
                    "--dir", str(data / "redis"), "--save", "", "--appendonly", "no",
                    "--protected-mode", "yes", "--daemonize", "no", "--logfile", ""], None
        if name == "mongodb":
            (data / "mongodb").mkdir(parents=True, exist_ok=True)
            return [venv_tool("nx-27017"), "--host", "127.0.0.1", "-p", str(port),
                    "--data-dir", str(data / "mongodb"), "--log-file", str(self.dir / "logs" / "mongodb-server.log"),
                    "--pid-file", str(data / "mongodb-server.pid")], None
        if name == "aws":
            # EKS nodegroups make moto build its EC2 backend; its stock AMI catalogue is of
            # no use here and loading it costs seconds of the start.
            return [venv_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)], dict(
                os.environ, MOTO_EC2_LOAD_DEFAULT_AMIS="false")
        if name == "kube":
            cfg = self.dir / "kube-config.yaml"
            k = scenario["kubernetes"]
            cfg.write_text(yaml.safe_dump({"kubelet": k["kubelet"], "controllers": k.get("controllers") or {},
                                           "pod_logs": k["pod_logs"], "metrics": k["metrics"], "objects": []}))
            return [py, "-m", "kubeemu", "--port", "0", "--config", str(cfg),
                    "--kubeconfig-out", str(self.dir / "kubeconfig"),
                    "--ready-file", str(self.run / "kube.ready")], emu_env
        if name == "vault":
            cfg = self.dir / "vault-config.yaml"
            # Its KV holds this sandbox's MongoDB and Redis URLs: their ports are chosen already.
            known = self.endpoints({n: {"port": self.ports[n]} for n in ("mongodb", "redis") if self.ports.get(n)},
                                   secrets_)
            known.setdefault("MONGODB_URI", "mongodb://mongodb.invalid:27017/halobuzz")  # --skip mongodb
            known.setdefault("REDIS_URL", "redis://redis.invalid:6379/0")
            write_private(cfg, yaml.safe_dump(seed.vault_config(scenario, secrets_, known)))
            return [py, "-m", "vaultemu", "--port", "0", "--config", str(cfg),
                    "--ready-file", str(self.run / "vault.ready"),
                    "--audit-log", str(self.dir / "logs" / "vault-audit.log")], emu_env
        if name == "web":
            return [py, "-m", "webemu", "--kubeconfig", str(self.dir / "kubeconfig"),
                    "--ready-file", str(self.run / "web.ready")], emu_env
        raise AssertionError(name)

    def ready_file(self, name: str) -> Path:
        return self.run / f"{name}.ready"

    def probe(self, name: str, port: int | None) -> dict | None:
        """The endpoint facts of a service once it answers, else None."""
        try:
            if name in ("kube", "vault", "web"):
                path = self.ready_file(name)
                if not path.exists():
                    return None
                text = path.read_text().strip()
                if not text:
                    return None
                if name == "web":
                    ports = json.loads(text)
                    requests.get(f"http://127.0.0.1:{ports['api']}/_sandbox/scenario", timeout=1).raise_for_status()
                    return ports
                port = int(json.loads(text)["port"]) if text.startswith("{") else int(text)
                probe_path = "/_sandbox/healthz"
                resp = requests.get(f"http://127.0.0.1:{port}{probe_path}", timeout=1)
                if name == "kube" and not (resp.ok and (self.dir / "kubeconfig").exists()):
                    return None
                return {"port": port}
            if name == "redis":
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if not sock.recv(16).startswith(b"+PONG"):
                        return None
            elif name == "mongodb":
                import pymongo

                client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=500,
                                             connectTimeoutMS=500)
                try:
                    client.admin.command("ping")
                finally:
                    client.close()
            elif name == "aws":
                requests.get(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=1).raise_for_status()
            return {"port": port}
        except (OSError, ValueError, KeyError, requests.RequestException):
            return None
        except Exception:  # noqa: BLE001 - client libraries raise their own "not yet" errors
            return None

    def start_all(self, names: list[str], secrets_: dict, scenario: dict, on_ready=None) -> dict[str, dict]:
        """Start `names`, wait until every one answers (calling on_ready(name, facts so far)
        as each does); on failure stop them all and raise."""
        facts: dict[str, dict] = {}
        ports = self.ports
        attempts = dict.fromkeys(names, 0)
        pending = list(names)
        began = time.monotonic()

        def launch(name: str) -> None:
            attempts[name] += 1
            port = None if name in ("kube", "vault", "web") else free_port()
            ports[name] = port
            self.ready_file(name).unlink(missing_ok=True)
            argv, env = self.argv(name, port or 0, secrets_, scenario)
            self.procs[name].start(argv, env=env)

        try:
            # In SERVICES order: MongoDB and Redis have their ports before Vault's config names them.
            for name in pending:
                launch(name)
            deadline = time.monotonic() + START_TIMEOUT
            while pending:
                for name in list(pending):
                    # Exit first: a port taken by someone else may answer the probe.
                    proc = self.procs[name]
                    if not proc.exited():
                        got = self.probe(name, ports[name])
                        if got is not None:
                            facts[name] = dict(got, answered_after=time.monotonic() - began)
                            pending.remove(name)
                            if on_ready:
                                on_ready(name, dict(facts))
                        continue
                    if proc.exited():
                        tail = proc.log_tail()
                        if "already in use" in tail.lower() and attempts[name] < 3:
                            log(f"  {name}: port {ports[name]} was taken meanwhile, trying another")
                            launch(name)
                            continue
                        if "already in use" in tail.lower():
                            raise SandboxError(f"{name} could not bind a free port (busy port {ports[name]}); "
                                               f"log {proc.log_file}:\n{tail}")
                        raise SandboxError(f"{name} exited during start; log {proc.log_file}:\n{tail}")
                if pending and time.monotonic() > deadline:
                    raise SandboxError(f"{', '.join(pending)} did not answer within {START_TIMEOUT:.0f}s; "
                                       f"see the logs in {self.dir / 'logs'}")
                time.sleep(0.05)
        except BaseException:
            for name in names:
                self.procs[name].stop()
            raise
        return facts

    def endpoints(self, facts: dict[str, dict], secrets_: dict) -> dict[str, str]:
        # HALOBUZZ_SANDBOX_DIR (absolute) is also the sandbox's marker: inventories/sandbox (ansible.cfg's default)
        # refuses every module task unless it names a directory (group_vars/all/sandbox_guard.yml, issue 15).
        env: dict[str, str] = {"HALOBUZZ_SANDBOX_DIR": str(self.dir)}
        if "kube" in facts:
            env["KUBECONFIG"] = str(self.dir / "kubeconfig")
        if "vault" in facts:
            env["VAULT_ADDR"] = f"http://127.0.0.1:{facts['vault']['port']}"
            env["SANDBOX_ONCALL_USER"] = "oncall"
            env["SANDBOX_ONCALL_PASSWORD"] = secrets_["ldap_passwords"]["oncall"]
        if "mongodb" in facts:
            env["MONGODB_URI"] = f"mongodb://127.0.0.1:{facts['mongodb']['port']}/halobuzz"
        if "redis" in facts:
            env["REDIS_URL"] = f"redis://127.0.0.1:{facts['redis']['port']}/0"
        if "aws" in facts:
            env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{facts['aws']['port']}", AWS_ACCESS_KEY_ID="testing",
                       AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=AWS_REGION)
        if "web" in facts:
            ports = facts["web"]
            api = f"http://127.0.0.1:{ports['api']}"
            prov = f"http://127.0.0.1:{ports['providers']}"
            env.update(
                PROMETHEUS_URL=f"http://127.0.0.1:{ports['prometheus']}", HALOBUZZ_API_URL=api,
                HEALTHZ_URL=f"{api}/healthz", SLACK_WEBHOOK_URL=f"http://127.0.0.1:{ports['slack']}{ports['slack_path']}",
                STRIPE_STATUS_URL=f"{prov}/stripe/v1/status", KHALTI_STATUS_URL=f"{prov}/khalti/api/status",
                AGORA_STATUS_URL=f"{prov}/agora/v1/status", CDN_HEALTH_URL=f"{prov}/cdn/health")
        return {name: env[name] for name in ENV_NAMES if name in env}

    def write_env(self, env: dict[str, str]) -> None:
        lines = ["# HaloBuzz sandbox endpoints: `. %s`" % (self.dir / "env")]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
        write_private(self.dir / "env", "\n".join(lines) + "\n")
        write_private(self.dir / "env.json", json.dumps(env, indent=2) + "\n")

    # ------------------------------------------------------------------ commands
    def up(self, scenario_name: str | None, skip: set[str], owner_pid: int | None = None) -> int:
        with self.locked():
            state = self.state()
            alive = self.running()
            if state and all(alive[n] for n in state["services"]):
                wanted = scenario_name or state["scenario"]
                if wanted != state["scenario"]:
                    self._switch(state, wanted)
                log(f"sandbox already up in {self.dir} (scenario {wanted}); `. {self.dir / 'env'}`")
                return 0
            if any(alive.values()):
                log("sandbox half up (a service died): restarting it")
                self._stop_all()
            began = time.monotonic()
            scenario_name = scenario_name or "healthy"
            doc = world.load()
            scen = world.resolve(scenario_name, doc)
            names = [n for n in SERVICES if n not in skip]
            for name in names:
                module = OPTIONAL_EMULATORS.get(name)
                if module and not (HERE / module).is_dir():
                    raise SandboxError(f"{HERE / module} is missing, so the sandbox cannot start {name}; "
                                       f"pass --skip {name} (or HALOBUZZ_SANDBOX_SKIP={name}) to go without it")
            for sub in ("run", "logs", "data"):
                (self.dir / sub).mkdir(parents=True, exist_ok=True)
            secrets_ = self.secrets()
            # Each service is seeded as soon as it answers, while the others still start.
            pool = ThreadPoolExecutor(max_workers=len(names))
            seeding: dict = {}

            def on_ready(name: str, facts_so_far: dict) -> None:
                if name == "vault":
                    return  # seeded by its --config
                env_now = self.endpoints(facts_so_far, secrets_)
                seeding[name] = pool.submit(seed.seed_one, name, scen, env_now, secrets_)

            try:
                facts = self.start_all(names, secrets_, scen, on_ready)
                env = self.endpoints(facts, secrets_)
                self.write_env(env)
                timings = seed.collect(seeding)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                self._stop_all()
                raise
            pool.shutdown()
            self.save_state({"scenario": scenario_name, "services": names, "skip": sorted(skip),
                             "endpoints": env, "started_at": time.time()})
            log(f"sandbox up in {time.monotonic() - began:.1f}s, scenario {scenario_name} "
                f"(answered after: {', '.join(f'{k} {v['answered_after']:.1f}s' for k, v in facts.items())}; "
                f"seeding took: {', '.join(f'{k} {v:.1f}s' for k, v in sorted(timings.items()))})")
            log(f"  . {self.dir / 'env'}")
            if owner_pid:
                self.watcher.start([sys.executable, str(Path(__file__).resolve()), "watch", str(owner_pid),
                                    "--dir", str(self.dir)])
            return 0

    def watch(self, owner_pid: int) -> int:
        """Bring the sandbox down once process `owner_pid` (a test session) has gone."""
        owner_start = proc_start_time(owner_pid)
        while owner_start is not None and proc_start_time(owner_pid) == owner_start and not is_zombie(owner_pid):
            time.sleep(1)
        log(f"owner process {owner_pid} has gone: bringing the sandbox down")
        try:
            return self.down()
        finally:
            self.watcher.pid_file.unlink(missing_ok=True)

    def _switch(self, state: dict, name: str) -> None:
        began = time.monotonic()
        scen = world.resolve(name)
        skip = set(state.get("skip", []))
        timings = seed.apply(scen, state["endpoints"], self.secrets(), skip=skip)
        state["scenario"] = name
        self.save_state(state)
        log(f"scenario {name} applied in {time.monotonic() - began:.1f}s "
            f"({', '.join(f'{k} {v:.1f}s' for k, v in sorted(timings.items()))})")

    def scenario(self, name: str) -> int:
        with self.locked():
            state = self.state()
            alive = self.running()
            if not state or not all(alive[n] for n in state["services"]):
                raise SandboxError(f"no running sandbox in {self.dir}: run `sandbox.py up --dir {self.dir}` first")
            self._switch(state, name)
            return 0

    def _stop_all(self) -> list[str]:
        if self.watcher.ours() != os.getpid():
            self.watcher.stop()
        with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:  # each waits for its own exit
            results = dict(zip(SERVICES, pool.map(lambda name: self.procs[name].stop(), SERVICES)))
        stopped = [name for name in reversed(SERVICES) if results[name]]
        generated = ["sandbox.json", "env", "env.json", "secrets.json", "kubeconfig", "kube-config.yaml",
                     "vault-config.yaml"]
        for path in [self.dir / name for name in generated] + list(self.run.glob("*.ready")):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.dir / "data", ignore_errors=True)
        return stopped

    def down(self) -> int:
        if not self.dir.exists():
            log(f"no sandbox in {self.dir}")
            return 0
        with self.locked():
            stopped = self._stop_all()
        log(f"sandbox down in {self.dir}: stopped {', '.join(stopped) or 'nothing (none was running)'}")
        return 0

    def status(self) -> int:
        state = self.state()
        alive = self.running()
        if not state:
            log(f"no sandbox up in {self.dir}")
            for name, pid in alive.items():
                if pid:
                    log(f"  {name}: stray process {pid} (run `sandbox.py down --dir {self.dir}`)")
            return 1
        log(f"sandbox in {self.dir}: scenario {state['scenario']}")
        ok = True
        for name in state["services"]:
            pid = alive[name]
            ok = ok and bool(pid)
            log(f"  {name:8} {'running pid ' + str(pid) if pid else 'NOT RUNNING'}")
        for key, value in state["endpoints"].items():
            if "PASSWORD" not in key:
                log(f"  {key}={value}")
        return 0 if ok else 1


def write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="sandbox.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the sandbox (harmless when it is already up)")
    p_up.add_argument("--scenario", default=None, help="scenario to seed (default healthy)")
    p_up.add_argument("--skip", default=os.environ.get("HALOBUZZ_SANDBOX_SKIP", ""),
                      help="comma-separated services not to start: " + ",".join(SERVICES))
    p_up.add_argument("--owner-pid", type=int, default=None,
                      help="bring the sandbox down by itself once this process ends (test sessions)")
    sub.add_parser("down", help="stop every process this sandbox started")
    p_watch = sub.add_parser("watch", help=argparse.SUPPRESS)
    p_watch.add_argument("owner_pid", type=int)
    sub.add_parser("status", help="show the services and endpoints")
    p_sc = sub.add_parser("scenario", help="reset a running sandbox into a scenario")
    p_sc.add_argument("name")
    for p in sub.choices.values():
        p.add_argument("--dir", default=".sandbox", help="sandbox directory (default .sandbox)")
    args = parser.parse_args(argv)
    box = Sandbox(args.dir)
    try:
        if args.command == "up":
            skip = {s.strip() for s in args.skip.split(",") if s.strip()}
            unknown = skip - set(SERVICES)
            if unknown:
                raise SandboxError(f"--skip names unknown services {sorted(unknown)}: choose from {', '.join(SERVICES)}")
            if args.scenario:
                world.resolve(args.scenario)
            return box.up(args.scenario, skip, args.owner_pid)
        if args.command == "down":
            return box.down()
        if args.command == "status":
            return box.status()
        if args.command == "watch":
            return box.watch(args.owner_pid)
        return box.scenario(args.name)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sandbox: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
