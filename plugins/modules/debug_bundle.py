#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: debug_bundle
short_description: Write an incident's debug evidence into one private .tar.gz with a manifest and sha256
version_added: 0.1.0
description:
  - The runbook's "Debugging Commands" in one file an engineer attaches to the incident. The role
    C(halobuzz.ops.debug_bundle) gathers the evidence with read-only modules and hands the results to this
    action, which renders and archives them on the controller.
  - "Parts: C(pods/<pod>/describe.txt) (pod status, conditions, containers, environment and events as
    C(kubectl describe) shows them), C(pods/<pod>/<container>.log) and C(.previous.log), C(pods.json),
    C(errors.txt) (the C(ERROR|CRITICAL) lines), C(error_matches.json), C(events.json), C(redis_info.json),
    C(mongodb_server_status.json), C(metrics/), C(network_check.txt) and C(.json), C(records/) (the newest run
    records). A part whose collector failed or was left out is named under C(omitted) in the manifest, with why."
  - The archive is C(debug-bundle-<deployment>-<UTC time>.tar.gz), mode 0600, in O(dest); C(manifest.json) in it
    lists every part with its size and sha256; the archive's own sha256 is returned and written beside it
    (C(<archive>.sha256), C(sha256sum -c) format). It is written through a temporary name, never half a file.
  - "Secret values are never included: environment variables from Secrets are shown by Secret and key NAME only;
    a plain value of a secret-looking name (PASSWORD, TOKEN, SECRET, KEY, ...) is hidden; URLs are reduced to
    scheme://host:port when they carry credentials or a query; the values in O(secrets) are masked everywhere."
  - Runs on the controller (an action plugin). It changes no system; the bundle is its output, like the run
    record, so it reports C(changed=false).
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_incident
attributes:
  check_mode:
    support: full
    details: Writes nothing; returns the path and the parts it would write.
  diff_mode:
    support: none
  action:
    support: full
    description: Runs on the controller.
    details: The logic is in plugins/plugin_utils/debug_bundle.py.
options:
  records_dir:
    description:
      - The run-record folder, C(lookup('halobuzz.ops.records_dir')), where the C(halobuzz.ops.incident_timeline)
        callback writes (C(HALOBUZZ_RECORDS_DIR), else C(records) under the current directory). Its newest records
        go into the bundle.
    type: path
    required: true
  dest:
    description: Folder the archive is written to (created 0700 when missing); default O(records_dir).
    type: path
  deployment:
    description: The deployment the bundle is about (in the archive's name and manifest).
    type: str
    required: true
  k8s_namespace:
    description: Its namespace (in the manifest).
    type: str
    required: true
  incident_id:
    description: Incident the bundle belongs to (in the manifest).
    type: str
  severity:
    description: Severity of the incident (in the manifest).
    type: str
    choices: [P0, P1, P2, P3]
  pods:
    description: The deployment's pods (v1 Pod objects, as C(kubernetes.core.k8s_info) returns them).
    type: list
    elements: dict
    default: []
  events:
    description: The namespace's events (v1 Event objects); each pod's are shown in its description.
    type: list
    elements: dict
    default: []
  pod_logs:
    description: The registered result of M(halobuzz.ops.k8s_pod_logs) (C(pods), C(matches), C(window)).
    type: dict
  redis:
    description: The registered result of M(halobuzz.ops.redis_info) (INFO, every section).
    type: dict
  mongodb:
    description: The registered result of M(halobuzz.ops.mongodb_info) (serverStatus subset, collection counts).
    type: dict
  metrics:
    description: The registered result of M(halobuzz.ops.prometheus_snapshot); the files of its C(folder) are included.
    type: dict
  network:
    description: The network check (C(log) the pod's output, plus its C(pod), C(phase), C(exit_code), C(commands), C(failed_checks)).
    type: dict
  records:
    description: How many of the newest run records (C(.jsonl) and C(.md)) of the run-record folder to include.
    type: int
    default: 20
  omitted:
    description: Parts left out by the caller, with the reason (e.g. C(network) not run in check mode).
    type: dict
    default: {}
  secrets:
    description: Values masked in every part (connection URIs; their passwords are masked too, raw and decoded).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Write the bundle
  halobuzz.ops.debug_bundle:
    records_dir: "{{ lookup('halobuzz.ops.records_dir') }}"
    deployment: backend
    k8s_namespace: halobuzz
    pods: "{{ pods.resources }}"
    pod_logs: "{{ logs }}"
    redis: "{{ redis }}"
    mongodb: "{{ mongodb }}"
    secrets: ["{{ mongodb_uri }}", "{{ redis_url }}"]
  register: bundle
'''

RETURN = r'''
path:
  description: The archive (in check mode, the path it would have).
  returned: always
  type: str
  sample: /srv/records/debug-bundle-backend-20261129T051500Z.tar.gz
sha256:
  description: The archive's sha256 (also in C(sha256_path)).
  returned: success, not in check mode
  type: str
sha256_path:
  description: The C(.sha256) file beside the archive.
  returned: success, not in check mode
  type: str
size:
  description: The archive's size in bytes.
  returned: success, not in check mode
  type: int
parts:
  description: Every part with its size and sha256 (in check mode, the names only).
  returned: always
  type: list
  elements: raw
omitted:
  description: Parts not in the bundle, with why (a collector failed, check mode, ...).
  returned: always
  type: dict
  sample: {network: "check mode: no pod is created"}
'''
