# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""halobuzz.ops.k8s_pod_logs: the logs, facts and events of many pods in one module run.

One list call for the pods (a Deployment's selector, a label selector, or names), then the logs of every
container read concurrently with a bound, then (for the pods that are not Ready) their events in one list
call. What the API answers follows the Pod log API (``GET /api/v1/namespaces/{ns}/pods/{name}/log``,
``PodLogOptions``: container, sinceSeconds, timestamps, previous, tailLines) and the kubelet behind it
(``pkg/kubelet/kubelet_pods.go`` ``validateContainerLogStatus``; ``pkg/kubelet/kuberuntime/logs/logs.go``):

- ``timestamps=true`` prefixes every line with the time the runtime recorded it (RFC 3339, nanoseconds,
  ``time.RFC3339Nano``: trailing zeros trimmed); ``sinceSeconds`` keeps the lines recorded since then.
- ``previous=true`` reads the last terminated instance; with none the answer is 400 ``previous terminated
  container "c" in pod "p" not found``. A container waiting to start that never ran answers 400 ``container
  "c" in pod "p" is waiting to start: ...``. A container waiting after a crash (CrashLoopBackOff) answers
  its *last terminated* instance for a plain read, so only the previous read is made for it (the same text
  twice would double every count).
- A pod deleted between the list and the read answers 404: its facts stay, its logs are None, and a warning
  says so (what ``kubectl logs`` would print for it).

Identical lines are collapsed across pods and containers: the line's own time comes from the runtime's
prefix; a leading timestamp the application wrote itself is dropped from the message so that the same
event logged by three pods is one entry with ``count`` 3 (as kubectl's event printer collapses events).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import KubeApiError, connect
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.labels import selector_string
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.names import api_path, check_name, check_namespace
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pods import is_ready, is_terminating

POD_LOGS_OPTIONS = dict(
    k8s_namespace=dict(type="str", required=True, aliases=["namespace"]),
    deployment=dict(type="str"),
    label_selector=dict(type="str"),
    pods=dict(type="list", elements="str"),
    since_seconds=dict(type="int", default=3600),
    pattern=dict(type="str"),
    tail_lines=dict(type="int"),
    previous=dict(type="bool", default=True),
    include_events=dict(type="bool", default=True),
    include_logs=dict(type="bool", default=True),
    max_concurrency=dict(type="int", default=8),
)
POD_LOGS_MUTUALLY_EXCLUSIVE = [("deployment", "label_selector", "pods")]
POD_LOGS_REQUIRED_ONE_OF = [("deployment", "label_selector", "pods")]
MAX_CONCURRENCY = 64

# An RFC 3339 time at the start of a line: the runtime's prefix (timestamps=true) and, often, the
# application's own. Fractions of any length (RFC3339Nano trims trailing zeros).
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?(\s+|$)")
_PREVIOUS_NOT_FOUND = re.compile(r"previous terminated container .* not found")


class PodLogsError(HaloBuzzError):
    """The pods or their logs could not be read; nothing is changed by this module in any case."""


# -- pure functions -------------------------------------------------------------------------------
def parse_time(text):
    """An RFC 3339 time (any fraction length, Z or an offset) as an aware datetime, or None."""
    match = _STAMP.match((text or "") + " ")
    if not match:
        return None
    base, fraction, zone = match.group(1), match.group(2) or "", match.group(3) or "Z"
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        moment = datetime.datetime.strptime(base.replace("t", "T").replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    if zone in ("Z", "z"):
        offset = datetime.timedelta(0)
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(microsecond=micros, tzinfo=datetime.timezone(offset))


def split_stamp(line):
    """(the timestamp text, the rest) of one line read with timestamps=true; (None, line) without one."""
    match = _STAMP.match(line)
    if not match or parse_time(line) is None:
        return None, line
    return line[:match.end()].strip(), line[match.end():]


def message_of(text):
    """The line without a timestamp the application wrote itself (the key identical lines share)."""
    stamp, rest = split_stamp(text.strip())
    return (rest if stamp else text).strip()


def rfc3339(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collapse(entries, pattern=None):
    """Identical lines collapsed: ``entries`` are (pod, container, line) with the runtime's prefix;
    returns [{message, count, first_seen, last_seen, pods, containers}] for the lines whose message
    matches ``pattern`` (a compiled regex; None keeps every line), in order of first_seen."""
    found = {}
    for pod, container, line in entries:
        stamp, text = split_stamp(line)
        message = message_of(text)
        if not message or (pattern is not None and not pattern.search(message)):
            continue
        moment = parse_time(stamp) if stamp else None
        entry = found.get(message)
        if entry is None:
            entry = found[message] = dict(message=message, count=0, first=None, last=None,
                                          first_seen=None, last_seen=None, pods=[], containers=[])
        entry["count"] += 1
        if moment is not None:
            if entry["first"] is None or moment < entry["first"]:
                entry["first"], entry["first_seen"] = moment, stamp
            if entry["last"] is None or moment > entry["last"]:
                entry["last"], entry["last_seen"] = moment, stamp
        if pod not in entry["pods"]:
            entry["pods"].append(pod)
        if container not in entry["containers"]:
            entry["containers"].append(container)
    never = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)
    ordered = sorted(found.values(), key=lambda item: (item["first"] or never))
    for entry in ordered:
        del entry["first"], entry["last"]
        entry["pods"].sort()
        entry["containers"].sort()
    return ordered


def container_facts(status):
    return dict(name=status.get("name"), ready=bool(status.get("ready")),
                restart_count=int(status.get("restartCount") or 0),
                state=status.get("state") or {}, last_state=status.get("lastState") or {},
                log=None, previous_log=None)


def log_reads(pod, previous):
    """The reads one pod needs: [(container, previous?)], following validateContainerLogStatus."""
    statuses = dict((s.get("name"), s) for s in (pod.get("status") or {}).get("containerStatuses") or [])
    reads = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        status = statuses.get(container.get("name")) or {}
        state = status.get("state") or {}
        has_previous = bool(((status.get("lastState") or {}).get("terminated") or {}).get("containerID")) \
            or int(status.get("restartCount") or 0) > 0
        if "running" in state or "terminated" in state:
            reads.append((container["name"], False))
            if previous and has_previous:
                reads.append((container["name"], True))
        elif has_previous:
            # waiting after a crash: a plain read answers the last terminated instance; read it once
            reads.append((container["name"], bool(previous)))
        # waiting and never ran (ContainerCreating, ImagePullBackOff): the API answers 400, no log exists
    return reads


def pod_facts(pod):
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    containers = [container_facts(s) for s in status.get("containerStatuses") or []]
    return dict(
        name=meta.get("name"), phase=status.get("phase"), ready=is_ready(pod) and not is_terminating(pod),
        node=(pod.get("spec") or {}).get("nodeName"), start_time=status.get("startTime"),
        restarts=sum(c["restart_count"] for c in containers),
        conditions=[dict(type=c.get("type"), status=c.get("status"), reason=c.get("reason"),
                         message=c.get("message")) for c in status.get("conditions") or []],
        containers=containers, events=[])


def event_facts(event):
    """One core/v1 Event as {type, reason, message, count, first_seen, last_seen} (series-aware)."""
    series = event.get("series") or {}
    first = event.get("firstTimestamp") or event.get("eventTime") or (event.get("metadata") or {}).get(
        "creationTimestamp")
    last = event.get("lastTimestamp") or series.get("lastObservedTime") or event.get("eventTime") or first
    return dict(type=event.get("type"), reason=event.get("reason"), message=event.get("message"),
                count=int(event.get("count") or series.get("count") or 1), first_seen=first, last_seen=last)


def check_params(params):
    """Refuse bad input before any call, naming the option."""
    check_namespace(params["k8s_namespace"], "k8s_namespace")
    if params.get("deployment") is not None:
        check_name(params["deployment"], "Deployment", "deployment")
    for name in params.get("pods") or []:
        check_name(name, "Pod", "pods")
    if params.get("pods") is not None and not params["pods"]:
        raise PodLogsError("pods is an empty list: name at least one pod (or use deployment or label_selector). "
                           "Nothing was called.")
    if params["since_seconds"] is None or params["since_seconds"] < 1:
        raise PodLogsError("since_seconds must be a positive number of seconds (the API's sinceSeconds), got %r. "
                           "Nothing was called." % params["since_seconds"])
    if params.get("tail_lines") is not None and params["tail_lines"] < 0:
        raise PodLogsError("tail_lines must be 0 or more (the API's tailLines), got %r. Nothing was called."
                           % params["tail_lines"])
    if not 1 <= params["max_concurrency"] <= MAX_CONCURRENCY:
        raise PodLogsError("max_concurrency must be between 1 and %d, got %r. Nothing was called."
                           % (MAX_CONCURRENCY, params["max_concurrency"]))
    if params.get("pattern") is None:
        return None
    try:
        return re.compile(params["pattern"])
    except re.error as error:
        raise PodLogsError("pattern is not a valid regular expression (%s). Nothing was called." % error)


# -- the service ----------------------------------------------------------------------------------
class PodLogsService:
    """Reads pods, their logs and events through a ``client.KubeClient``."""

    def __init__(self, client, namespace, now=None):
        self.client = client
        self.namespace = namespace
        self.now = now or (lambda: datetime.datetime.now(datetime.timezone.utc))

    def _get(self, what, path, **params):
        try:
            return self.client.request("get", path, **params)
        except KubeApiError as error:
            raise PodLogsError("Kubernetes API call failed while %s (GET %s): %s" % (what, path, error))

    def selector_of(self, deployment):
        path = api_path("/apis/apps/v1/namespaces/%s/deployments/%s", self.namespace, deployment)
        try:
            obj = self.client.request("get", path)
        except KubeApiError as error:
            if error.status == 404:
                raise PodLogsError("Deployment %r not found in namespace %r; check the deployment and "
                                   "k8s_namespace options" % (deployment, self.namespace))
            raise PodLogsError("Kubernetes API call failed while reading Deployment %s/%s (GET %s): %s"
                               % (self.namespace, deployment, path, error))
        return selector_string((obj.get("spec") or {}).get("selector"))

    def list_pods(self, label_selector=None, names=None):
        path = api_path("/api/v1/namespaces/%s/pods", self.namespace)
        params = {"label_selector": label_selector} if label_selector else {}
        listing = self._get("listing the pods of namespace %s" % self.namespace, path, **params)
        items = listing.get("items") or []
        missing = []
        if names is not None:
            present = set((p.get("metadata") or {}).get("name") for p in items)
            missing = [name for name in names if name not in present]
            items = [p for p in items if (p.get("metadata") or {}).get("name") in set(names)]
        return sorted(items, key=lambda p: (p.get("metadata") or {}).get("name") or ""), missing

    def read_log(self, pod, container, previous, since_seconds, tail_lines):
        """The text, or (None, why) when the API says there is none (pod gone, no previous instance)."""
        path = api_path("/api/v1/namespaces/%s/pods/%s/log", self.namespace, pod)
        query = [("container", container), ("sinceSeconds", str(since_seconds)), ("timestamps", "true")]
        if previous:
            query.append(("previous", "true"))
        if tail_lines is not None:
            query.append(("tailLines", str(tail_lines)))
        try:
            return self.client.request_text(path, query), None
        except KubeApiError as error:
            if error.status == 404:
                return None, "gone"
            if error.status == 400:
                # previous terminated container not found / waiting to start: the kubelet has no such log
                return None, "none"
            raise PodLogsError("Kubernetes API call failed while reading the %slogs of container %s of pod "
                               "%s/%s (GET %s): %s" % ("previous " if previous else "", container,
                                                       self.namespace, pod, path, error))

    def events_of(self, names):
        """Events of the named pods, in one list call (involvedObject.kind=Pod; field selectors take no OR)."""
        path = api_path("/api/v1/namespaces/%s/events", self.namespace)
        listing = self._get("listing the pod events of namespace %s" % self.namespace, path,
                            field_selector="involvedObject.kind=Pod")
        found = dict((name, []) for name in names)
        for event in listing.get("items") or []:
            name = (event.get("involvedObject") or {}).get("name")
            if name in found:
                found[name].append(event_facts(event))
        for events in found.values():
            events.sort(key=lambda e: (parse_time(e["last_seen"]) or datetime.datetime.min.replace(
                tzinfo=datetime.timezone.utc)))
        return found

    def collect(self, params, pattern):
        label_selector, names = params.get("label_selector"), params.get("pods")
        if params.get("deployment"):
            label_selector = self.selector_of(params["deployment"])
        until = self.now()
        since = until - datetime.timedelta(seconds=params["since_seconds"])
        pods, missing = self.list_pods(label_selector, names)
        warnings = ["pod %s/%s not found" % (self.namespace, name) for name in missing]
        facts = [pod_facts(pod) for pod in pods]
        by_name = dict((f["name"], f) for f in facts)
        reads = [(pod["metadata"]["name"], container, previous)
                 for pod in pods for container, previous in log_reads(pod, params["previous"])]
        results = []
        if reads:
            workers = min(params["max_concurrency"], len(reads))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(self.read_log, pod, container, previous, params["since_seconds"],
                                       params.get("tail_lines")) for pod, container, previous in reads]
                results = [future.result() for future in futures]
        entries, gone = [], []
        for (pod, container, previous), (text, why) in zip(reads, results):
            if why == "gone" and pod not in gone:
                gone.append(pod)
            if text is None:
                continue
            lines = text.splitlines()
            entries.extend((pod, container, line) for line in lines)
            for fact in by_name[pod]["containers"]:
                if fact["name"] == container and params["include_logs"]:
                    fact["previous_log" if previous else "log"] = text
        warnings.extend("pod %s/%s was deleted while its logs were read" % (self.namespace, pod) for pod in gone)
        if params["include_events"]:
            troubled = [f["name"] for f in facts if not f["ready"]]
            if troubled:
                events = self.events_of(troubled)
                for name in troubled:
                    by_name[name]["events"] = events[name]
        return dict(changed=False, pods=facts, matches=collapse(entries, pattern),
                    window=dict(since=rfc3339(since), until=rfc3339(until)),
                    label_selector=label_selector, warnings=warnings)


def pod_logs(params):
    """k8s_pod_logs: read-only, so check mode reads as a real run does."""
    pattern = check_params(params)
    return PodLogsService(connect(params), params["k8s_namespace"]).collect(params, pattern)
