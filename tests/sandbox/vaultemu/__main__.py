"""python -m vaultemu --port 0 --config CONFIG.yaml --ready-file PATH --audit-log PATH"""

import argparse
import json
import os
import signal
import sys
import threading
import urllib.request

from .config import ConfigError, load_config
from .server import VaultEmulator


def _write_ready(path, port):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vaultemu", description="Vault HTTP API emulator for the sandbox")
    parser.add_argument("--config", required=True, help="YAML world: root_token, ldap_users, policies, kv, ...")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0 = pick a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--ready-file", help="write the port here once the server answers")
    parser.add_argument("--audit-log", help="file audit device: one JSON line per request and response")
    args = parser.parse_args(argv)
    try:
        vault = VaultEmulator(load_config(args.config), audit_log=args.audit_log, host=args.host, port=args.port)
        vault.start()
    except ConfigError as exc:
        parser.exit(2, f"vaultemu: error: {exc}\n")
    except OSError as exc:
        parser.exit(2, f"vaultemu: error: cannot listen on {args.host}:{args.port} or open the audit log: "
                       f"{exc.strerror or exc}\n")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with urllib.request.urlopen(f"{vault.url}/_sandbox/healthz", timeout=5) as resp:
            json.load(resp)
        if args.ready_file:
            _write_ready(args.ready_file, vault.port)
        print(f"vaultemu listening on {vault.url}", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        vault.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
