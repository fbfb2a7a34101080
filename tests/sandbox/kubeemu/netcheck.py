"""The network check pod of halobuzz.ops' debug bundle, "run" by the kubelet stand-in.

kubeemu runs no containers. A pod whose only container is a `sh -c SCRIPT` and whose restartPolicy
is Never is run here when every line of SCRIPT belongs to this fixed command set (the one
roles/debug_bundle writes; any other pod keeps the stand-in's usual Running behaviour):

    rc=0
    check() { if "$@" >/dev/null 2>&1; then echo "OK $*"; else echo "FAIL $*"; rc=1; fi; }
    check nslookup NAME
    check nc -z -w SECONDS HOST PORT
    exit $rc

Each `check` line prints what the real shell would print, `OK <command>` or `FAIL <command>`, and the
container exits 1 when one failed (`exit $rc`). The answers come from the sandbox config `network`
(world.yml kubernetes.network), never from a real lookup or connection:

- `nslookup NAME` succeeds when NAME is a Service of the cluster under one of the names cluster DNS
  serves for it (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`, the short forms resolved
  through the pod namespace's search path: the Kubernetes DNS specification,
  https://github.com/kubernetes/dns/blob/master/docs/specification.md section 2.3.1, and resolv.conf's
  `search <ns>.svc.cluster.local svc.cluster.local cluster.local` that the kubelet writes,
  pkg/kubelet/network/dns/dns.go) or is listed in `network.resolves`; nothing resolves with
  `network.dns: false` (CoreDNS down);
- `nc -z HOST PORT` succeeds unless `HOST:PORT` (or HOST) is listed in `network.unreachable`.
"""

import re
import shlex

DEFAULT_NETWORK = {"dns": True, "resolves": [], "unreachable": [], "run_seconds": 0.5}
_DEFINE = 'check() { if "$@" >/dev/null 2>&1; then echo "OK $*"; else echo "FAIL $*"; rc=1; fi; }'
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
_PORT = re.compile(r"^[0-9]{1,5}$")


def parse_script(pod):
    """The check commands of a network check pod ([["nslookup", NAME] | ["nc", HOST, PORT]]), else None."""
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if spec.get("restartPolicy") != "Never" or len(containers) != 1:
        return None
    argv = list(containers[0].get("command") or []) + list(containers[0].get("args") or [])
    if len(argv) != 3 or argv[0] not in ("sh", "/bin/sh") or argv[1] != "-c":
        return None
    checks = []
    for line in str(argv[2]).splitlines():
        line = line.strip()
        if line in ("", "rc=0", _DEFINE, "exit $rc"):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            return None
        if len(words) == 3 and words[:2] == ["check", "nslookup"] and _NAME.match(words[2]):
            checks.append(["nslookup", words[2]])
        elif (len(words) == 7 and words[:5] == ["check", "nc", "-z", "-w", words[4]] and _PORT.match(words[4])
              and _NAME.match(words[5]) and _PORT.match(words[6])):
            checks.append(["nc", words[5], words[6], words[4]])
        else:
            return None
    return checks


def _resolves(name, namespace, services, network):
    if not network["dns"]:
        return False
    if name in network["resolves"]:
        return True
    name = name.rstrip(".")
    candidates = [name] if "." in name and name.endswith(".cluster.local") else [
        name + ".%s.svc.cluster.local" % namespace, name + ".svc.cluster.local", name + ".cluster.local"]
    for fqdn in candidates:
        parts = fqdn.split(".")
        if len(parts) == 5 and parts[2:] == ["svc", "cluster", "local"] and (parts[1], parts[0]) in services:
            return True
    return False


def run_checks(checks, namespace, services, network):
    """(output lines, exit code) the script prints; `services` is a set of (namespace, name)."""
    lines, rc = [], 0
    for check in checks:
        if check[0] == "nslookup":
            ok = _resolves(check[1], namespace, services, network)
            shown = "nslookup %s" % check[1]
        else:
            host, port, wait = check[1], check[2], check[3]
            ok = "%s:%s" % (host, port) not in network["unreachable"] and host not in network["unreachable"]
            shown = "nc -z -w %s %s %s" % (wait, host, port)
        lines.append("%s %s" % ("OK" if ok else "FAIL", shown))
        rc = rc if ok else 1
    return lines, rc
