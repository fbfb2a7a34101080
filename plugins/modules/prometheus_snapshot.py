#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: prometheus_snapshot
short_description: The runbook's key metrics from Prometheus, against its thresholds, with PNG charts
version_added: 0.1.0
description:
  - Reads every key metric of the runbook ("Key Metrics to Monitor") from Prometheus - business (active
    streams, concurrent users, payment success rate, gift volume) and system (API latency p50/p95/p99, error
    rate, database connections, Redis memory, pod restarts, stream latency p95, container memory against its
    limit) - through the recording rules of C(extensions/prometheus/halobuzz-rules.yml), as instant values at
    O(end), each compared with the runbook's threshold where the runbook gives one (error rate > 5 %, payment
    success < 90 %, stream latency p95 > 500 ms, memory > 90 % of the limit, more than 3 restarts in an hour).
  - With O(dest), writes into that folder (created C(0700); files C(0600)) one PNG line chart per topic over
    the window (range queries) - latency percentiles, error rate, payment success, active streams, container
    memory, Redis memory, restarts - with the thresholds as dashed lines and O(markers) as vertical lines, a
    C(metrics.json) of the values and a Markdown C(summary.md) naming each metric's value, threshold and status
    and embedding the charts.
  - Every run with O(dest) writes files, so it reports C(changed); without O(dest) it only reads.
  - In check mode it runs every query and writes nothing; the result names the files it would write.
author:
  - HaloBuzz DevOps Team (@halobuzz)
extends_documentation_fragment:
  - halobuzz.ops.prometheus
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_prometheus
attributes:
  check_mode:
    support: full
    details: Runs every query; writes nothing.
  diff_mode:
    support: none
options:
  dest:
    description:
      - Folder to write the charts, C(metrics.json) and C(summary.md) to; created (C(0700)) when missing.
      - When omitted, nothing is written and only the values are returned.
    type: path
  start:
    description: Start of the charts' window, RFC 3339 (C(2026-11-29T03:00:00Z)) or unix time; O(end) minus one hour when omitted.
    type: raw
  end:
    description: End of the window and time of the instant values, RFC 3339 or unix time; now when omitted.
    type: raw
  step:
    description:
      - Seconds between chart points, as a number or a Prometheus duration (C(15s), C(1m)).
      - When omitted, the window divided into 240 points (15 s for an hour). Prometheus refuses more than
        11,000 points per series.
    type: str
  charts:
    description: Draw the PNG charts (needs matplotlib). Defaults to V(true) when O(dest) is set; V(true) without O(dest) is an error.
    type: bool
  markers:
    description: Vertical lines drawn on every chart, for example the runs of an incident.
    type: list
    elements: dict
    suboptions:
      at:
        description: When, RFC 3339 or unix time.
        type: raw
        required: true
      label:
        description: Text beside the line.
        type: str
  metrics:
    description:
      - Only these key metrics (and the charts that plot them); all when omitted.
      - C(active_streams), C(concurrent_users), C(payment_success_rate), C(gift_volume), C(api_latency_p50),
        C(api_latency_p95), C(api_latency_p99), C(error_rate), C(db_connections), C(redis_memory),
        C(pod_restarts), C(stream_latency_p95), C(memory_limit_ratio).
    type: list
    elements: str
requirements:
  - matplotlib >= 3.8 (only to draw charts)
'''

EXAMPLES = r'''
- name: Key metrics of the last hour into the run-record folder
  halobuzz.ops.prometheus_snapshot:
    prometheus_url: "{{ prometheus_url }}"
    dest: "records/metrics-{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}"
  register: snapshot

- name: Only the values of the error rate and payment success, nothing written
  halobuzz.ops.prometheus_snapshot:
    prometheus_url: "{{ prometheus_url }}"
    metrics: [error_rate, payment_success_rate]
  register: now_values

- name: Charts of an incident window with its runs marked
  halobuzz.ops.prometheus_snapshot:
    prometheus_url: "{{ prometheus_url }}"
    dest: records/incident-INC-42-charts
    start: "2026-11-29T02:50:00Z"
    end: "2026-11-29T03:40:00Z"
    markers:
      - {at: "2026-11-29T03:05:12Z", label: high_error_rate.yml}
      - {at: "2026-11-29T03:12:40Z", label: rollback.yml}
'''

RETURN = r'''
metrics:
  description: One entry per key metric, in the runbook's order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Catalogue name (see O(metrics)).
      type: str
    title:
      description: What it is, for people.
      type: str
    group:
      description: C(business) or C(system).
      type: str
    query:
      description: The PromQL query (a recording rule, aggregated).
      type: str
    value:
      description: The value at O(end) in the metric's unit; null when Prometheus has no data.
      type: float
    unit:
      description: C(ratio) (0..1), C(seconds), C(bytes), C(per_second) or the name of what is counted.
      type: str
    threshold:
      description: The runbook's threshold in the same unit; null when the runbook gives none.
      type: float
    comparison:
      description: C(>) or C(<) (breached when the value is past the threshold that way); null without threshold.
      type: str
    breached:
      description: Whether the value is past the threshold.
      type: bool
    display:
      description: The value for people (C(8.00 %), C(180 ms), C(12.5 MiB)).
      type: str
  sample:
    - name: error_rate
      title: Error rate (5xx)
      group: system
      query: max(halobuzz:http_requests:error_ratio_rate5m)
      value: 0.08
      unit: ratio
      threshold: 0.05
      comparison: '>'
      breached: true
      display: 8.00 %
charts:
  description: The charts, written (or, in check mode, that would be written).
  returned: always
  type: list
  elements: dict
  sample:
    - name: latency
      title: API latency percentiles
      path: /runner/records/metrics-20261129T031500Z/latency.png
summary_path:
  description: The Markdown summary; null without O(dest).
  returned: always
  type: str
folder:
  description: The absolute path of O(dest); null without it.
  returned: always
  type: str
window:
  description: The charts' window and step (C(since), C(until) in RFC 3339 UTC; C(step) seconds).
  returned: always
  type: dict
breached:
  description: Names of the metrics past their threshold.
  returned: always
  type: list
  elements: str
'''

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.client import PROMETHEUS_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.snapshot import run_snapshot

OPTIONS = dict(
    dest=dict(type='path'),
    start=dict(type='raw'),
    end=dict(type='raw'),
    step=dict(type='str'),
    charts=dict(type='bool'),
    markers=dict(type='list', elements='dict', options=dict(at=dict(type='raw', required=True),
                                                            label=dict(type='str'))),
    metrics=dict(type='list', elements='str'),
)


def main():
    module = HaloBuzzModule(PROMETHEUS_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: run_snapshot(module.params, module.check_mode))


if __name__ == '__main__':
    main()
