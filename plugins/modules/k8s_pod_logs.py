#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_pod_logs
short_description: Logs, facts and events of many pods in one run, identical lines collapsed
version_added: 0.1.0
author:
  - HaloBuzz DevOps Team (@halobuzz)
description:
  - Lists the pods of a Deployment (its selector), of a label selector, or by name, in one API call, then
    reads the logs of every container concurrently (at most O(max_concurrency) reads at a time), only from
    the last O(since_seconds), with the runtime's timestamps (C(timestamps=true)).
  - For a container that restarted, also the logs of its previous instance (C(previous=true)), as
    C(kubectl logs --previous). A container waiting after a crash (CrashLoopBackOff) is read once - the API
    answers its last terminated instance either way.
  - For the pods that are not Ready, their events (one list call with the field selector
    C(involvedObject.kind=Pod)).
  - Identical lines are collapsed across pods and containers into RV(matches) with a count and the first and
    last time seen (from the runtime's timestamps); a timestamp the application wrote at the start of its
    own line is not part of the message, so the same error logged by three pods is one entry.
  - A pod deleted while its logs are read keeps its facts, gets no logs, and is named in a warning; a
    container with no previous instance has C(previous_log=null), as the API's 400 answer says.
  - Why not M(kubernetes.core.k8s_log) - one task per pod and container (1.5-2 s each), no time window
    across pods, no collapsing. Read-only.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_k8s
  - halobuzz.ops.attributes.read_only
options:
  k8s_namespace:
    description: Namespace of the pods.
    type: str
    required: true
    aliases: [namespace]
  deployment:
    description:
      - Read the pods the Deployment's C(spec.selector) selects (the ReplicaSets of every revision).
      - Exactly one of O(deployment), O(label_selector) and O(pods).
    type: str
  label_selector:
    description: Read the pods this label selector selects (C(app=backend,tier in (api))).
    type: str
  pods:
    description: Read these pods by name; a name not found is a warning.
    type: list
    elements: str
  since_seconds:
    description: Only the log lines recorded in the last this many seconds (the API's C(sinceSeconds)).
    type: int
    default: 3600
  pattern:
    description:
      - A Python regular expression; RV(matches) keeps the lines whose message it matches (C(re.search)).
      - Omitted - every line is in RV(matches), collapsed.
    type: str
  tail_lines:
    description:
      - At most this many lines from the end of each log, before O(since_seconds) applies (the API's C(tailLines)).
    type: int
  previous:
    description: Also read the previous instance of every container that restarted (C(restartCount > 0)).
    type: bool
    default: true
  include_events:
    description: Read the events of the pods that are not Ready.
    type: bool
    default: true
  include_logs:
    description:
      - Return the log text of every container in RV(pods).
      - V(false) returns the pod facts and RV(matches) only (no raw log text in the result or the run record).
    type: bool
    default: true
  max_concurrency:
    description: At most this many log reads in flight at a time (1 to 64).
    type: int
    default: 8
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
seealso:
  - module: halobuzz.ops.k8s_rollout_info
  - module: kubernetes.core.k8s_log
notes:
  - The log API is C(GET /api/v1/namespaces/{namespace}/pods/{name}/log) (C(PodLogOptions)); what the kubelet
    answers is C(validateContainerLogStatus) in C(pkg/kubelet/kubelet_pods.go).
"""

EXAMPLES = r"""
- name: Fresh MongoDB connection errors of the backend, collapsed
  halobuzz.ops.k8s_pod_logs:
    k8s_namespace: halobuzz
    deployment: backend
    since_seconds: 3600
    pattern: "MongoNetworkError|MongoServerSelectionError"
    include_logs: false
  register: backend_logs

- name: Say how often and since when
  ansible.builtin.debug:
    msg: "{{ item.count }}x since {{ item.first_seen }} on {{ item.pods | join(', ') }}: {{ item.message }}"
  loop: "{{ backend_logs.matches }}"
"""

RETURN = r"""
pods:
  description: One entry per pod, in name order.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Pod name.
      type: str
    phase:
      description: status.phase.
      type: str
    ready:
      description: The Ready condition is True and the pod is not being deleted.
      type: bool
    node:
      description: spec.nodeName.
      type: str
    start_time:
      description: status.startTime.
      type: str
    restarts:
      description: Restarts of all its containers.
      type: int
    conditions:
      description: status.conditions as {type, status, reason, message}.
      type: list
      elements: dict
    containers:
      description: One entry per container status.
      type: list
      elements: dict
      contains:
        name:
          description: Container name.
          type: str
        ready:
          description: Whether the container is ready.
          type: bool
        restart_count:
          description: restartCount.
          type: int
        state:
          description: The container's state as the API gives it (running, waiting or terminated).
          type: dict
        last_state:
          description: The container's lastState (C(terminated) with reason, exitCode, times).
          type: dict
        log:
          description: The log of the current instance (timestamped lines), null when none or O(include_logs=false).
          type: str
        previous_log:
          description: The log of the previous instance, null when none, not read, or O(include_logs=false).
          type: str
    events:
      description: Events of the pod when it is not Ready (else empty), oldest last_seen first.
      type: list
      elements: dict
      sample:
        - {type: Warning, reason: BackOff, message: "Back-off restarting failed container backend", count: 3,
           first_seen: "2026-11-29T04:10:00Z", last_seen: "2026-11-29T04:12:00Z"}
matches:
  description: The log lines (matching O(pattern), if given) collapsed, in order of first_seen.
  returned: success
  type: list
  elements: dict
  sample:
    - {message: "ERROR MongoNetworkError: connection 12 to mongodb-0:27017 closed", count: 3,
       first_seen: "2026-11-29T04:41:07.120331Z", last_seen: "2026-11-29T04:41:07.5Z",
       pods: [backend-6d4cf56db6-2xk8p, backend-6d4cf56db6-9qv7m, backend-6d4cf56db6-tw5rb], containers: [backend]}
window:
  description: The time window the logs were read from (RFC 3339, UTC).
  returned: success
  type: dict
  sample: {since: "2026-11-29T03:51:26Z", until: "2026-11-29T04:51:26Z"}
label_selector:
  description: The label selector the pods were listed with (the Deployment's, with O(deployment)); null with O(pods).
  returned: success
  type: str
  sample: app=backend
"""

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import K8S_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.pod_logs import (
    POD_LOGS_MUTUALLY_EXCLUSIVE,
    POD_LOGS_OPTIONS,
    POD_LOGS_REQUIRED_ONE_OF,
    pod_logs,
)

OPTIONS = POD_LOGS_OPTIONS


def main():
    module = HaloBuzzModule(K8S_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True,
                            mutually_exclusive=POD_LOGS_MUTUALLY_EXCLUSIVE, required_one_of=POD_LOGS_REQUIRED_ONE_OF)
    module.run(lambda: pod_logs(module.params))


if __name__ == "__main__":
    main()
