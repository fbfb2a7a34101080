"""Run the web emulators: `PYTHONPATH=tests/sandbox python -m webemu --kubeconfig K --ready-file F`.

Each emulator listens on its own free 127.0.0.1 port; once all answer, the ports go to the
ready file as JSON {"metrics": P, "api": P, "providers": P, "slack": P, "pagerduty": P, "slack_path": ...,
"slack_alerts_path": ...}.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import threading
from pathlib import Path

from . import api, metrics, pagerduty, providers, slack
from .common import State


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="webemu", description=__doc__)
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the cluster healthz asks")
    parser.add_argument("--ready-file", required=True, help="where to write the ports as JSON")
    parser.add_argument("--slack-path", default=None,
                        help="webhook path to accept (default: /services/TSANDBOX/BSANDBOX/<random>)")
    args = parser.parse_args(argv)
    state = State()
    slack_path = args.slack_path or f"/services/TSANDBOX/BSANDBOX/{secrets.token_hex(12)}"
    alerts_path = f"/services/TSANDBOX/BALERTS/{secrets.token_hex(12)}"  # Alertmanager's own webhook
    servers = {
        "metrics": metrics.make_app(state, args.kubeconfig).serve(),
        "api": api.make_app(state, args.kubeconfig).serve(),
        "providers": providers.make_app(state).serve(),
        "slack": slack.make_app(state, slack_path, alerts_path).serve(),
        "pagerduty": pagerduty.make_app(state).serve(),
    }
    ports = {name: srv.server_address[1] for name, srv in servers.items()}
    ports["slack_path"] = slack_path
    ports["slack_alerts_path"] = alerts_path
    tmp = Path(args.ready_file + ".tmp")
    tmp.write_text(json.dumps(ports))
    os.replace(tmp, args.ready_file)
    print(f"webemu listening: {ports}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for srv in servers.values():
        srv.server_close()  # the serving threads are daemons: they end with the process
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
