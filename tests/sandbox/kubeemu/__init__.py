"""kubeemu: a Kubernetes API emulator that kubectl and kubernetes.core accept as a cluster.

In-process use (tests)::

    from kubeemu import KubeEmulator
    with KubeEmulator(config={"kubelet": {"ready_delay_seconds": 0.5}}) as emu:
        emu.write_kubeconfig(path)      # cluster server http://127.0.0.1:<port>, context "sandbox"
        ...

`stop()` ends the controllers, every open connection (watches included) and the listening socket.
"""

import threading

import yaml

from .cluster import Cluster
from .controllers import Controllers
from .server import Server

__all__ = ["KubeEmulator", "kubeconfig_for"]


def kubeconfig_for(url):
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "sandbox", "cluster": {"server": url}}],
            "users": [{"name": "sandbox", "user": {}}],
            "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox"}}],
            "current-context": "sandbox"}


class KubeEmulator:
    def __init__(self, config=None, host="127.0.0.1", port=0, tick=0.1, verbose=False):
        self.config = config or {}
        self.host = host
        self.requested_port = port
        self.tick = tick
        self.verbose = verbose
        self.cluster = None
        self.server = None
        self.controllers = None
        self._thread = None

    @property
    def port(self):
        return self.server.server_port

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self):
        self.cluster = Cluster(self.config)
        self.server = Server((self.host, self.requested_port), self.cluster, self.verbose)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="kubeemu-http", daemon=True)
        self._thread.start()
        self.controllers = Controllers(self.cluster, self.tick)
        self.controllers.start()
        return self

    def stop(self):
        if self.server is None:
            return
        with self.cluster.lock:
            self.cluster.stopping = True
            self.cluster.cond.notify_all()
        self.controllers.stop()
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()   # joins the request threads
        self._thread.join(timeout=10)
        self.server = None

    def kubeconfig(self):
        return kubeconfig_for(self.url)

    def write_kubeconfig(self, path):
        with open(path, "w") as fh:
            yaml.safe_dump(self.kubeconfig(), fh, default_flow_style=False)
        return path

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
