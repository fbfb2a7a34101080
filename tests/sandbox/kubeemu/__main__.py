"""python -m kubeemu --port 0 --config CONFIG.yaml --kubeconfig-out PATH --ready-file PATH"""

import argparse
import http.client
import os
import signal
import sys
import threading

import yaml

from . import KubeEmulator


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kubeemu", description="Kubernetes API emulator for the HaloBuzz sandbox")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--config", help="YAML: kubelet, controllers, pod_logs, metrics, objects (all optional)")
    parser.add_argument("--kubeconfig-out", help="write a kubeconfig (context 'sandbox', no auth) here")
    parser.add_argument("--ready-file", help="write the port here once the server answers")
    parser.add_argument("--tick", type=float, default=0.1, help="controller tick in seconds")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    config = {}
    if args.config:
        try:
            with open(args.config) as fh:
                config = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            parser.exit(2, "kubeemu: cannot read --config %s: %s\n" % (args.config, exc))
        if not isinstance(config, dict):
            parser.exit(2, "kubeemu: --config %s must hold a YAML mapping\n" % args.config)
    try:
        emu = KubeEmulator(config=config, port=args.port, tick=args.tick, verbose=args.verbose).start()
    except Exception as exc:  # bad objects in the config, port in use: one clear line
        parser.exit(2, "kubeemu: cannot start: %s\n" % exc)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        if args.kubeconfig_out:
            _write_atomic(args.kubeconfig_out, yaml.safe_dump(emu.kubeconfig(), default_flow_style=False))
        conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
        try:
            conn.request("GET", "/_sandbox/healthz")
            if conn.getresponse().status != 200:
                parser.exit(2, "kubeemu: the server did not answer its health check\n")
        finally:
            conn.close()
        if args.ready_file:
            _write_atomic(args.ready_file, "%d\n" % emu.port)
        sys.stderr.write("kubeemu: serving %s\n" % emu.url)
        while not done.wait(0.5):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
