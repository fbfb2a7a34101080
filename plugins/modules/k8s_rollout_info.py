#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_rollout_info
short_description: Rollout history of a Deployment, with images per revision and the live one
version_added: 0.1.0
author:
  - HaloBuzz DevOps Team (@halobuzz)
description:
  - The data of C(kubectl rollout history deployment/NAME), structured - one entry per
    revision from the ReplicaSets the Deployment controls (controller ownerReference uid),
    with the ReplicaSet name, the image of each container, the change-cause, the creation
    time and which revision is live (the ReplicaSet whose pod template equals the
    Deployment's, ignoring C(pod-template-hash)).
  - Also the Deployment's own revision, images, replica counts and rollout status (the
    C(kubectl rollout status) rules), and the rollback this collection recorded, if it is
    still live.
  - Why not M(kubernetes.core.k8s_info) - it returns raw ReplicaSets; revisions, images,
    the live flag and the ownership filter would each be Jinja in every playbook. Read-only.
options:
  pods:
    description:
      - Also return the pods the Deployment's selector matches, as the API lists them (C(pods)) - what
        M(kubernetes.core.k8s_info) with the same label selector returns as C(resources), without a second
        module run.
      - The selector may match pods of other workloads with overlapping labels and pods of old ReplicaSets;
        their C(metadata.ownerReferences) say whose they are.
    type: bool
    default: false
    version_added: 0.1.0
extends_documentation_fragment:
  - halobuzz.ops.k8s_deployment
  - kubernetes.core.k8s_auth_options
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_k8s
  - halobuzz.ops.attributes.read_only
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
seealso:
  - module: halobuzz.ops.k8s_rollout
"""

EXAMPLES = r"""
- name: Read the rollout history of backend
  halobuzz.ops.k8s_rollout_info:
    name: backend
    namespace: halobuzz
  register: backend_history

- name: Read backend's rollout state and its pods in one call
  halobuzz.ops.k8s_rollout_info:
    name: backend
    namespace: halobuzz
    pods: true
  register: backend_state

- name: Show the revisions
  ansible.builtin.debug:
    msg: "{{ backend_history.history | map(attribute='revision') | list }}"
"""

RETURN = r"""
deployment:
  description: The Deployment now.
  returned: success
  type: dict
  contains:
    name:
      description: Deployment name.
      type: str
    namespace:
      description: Deployment namespace.
      type: str
    revision:
      description: The Deployment's revision (deployment.kubernetes.io/revision).
      type: int
      sample: 3
    images:
      description: Image per container of the Deployment's template.
      type: dict
      sample: {backend: registry.halobuzz.com/backend:v1.5.1}
    paused:
      description: Whether the rollout is paused.
      type: bool
    revision_history_limit:
      description: spec.revisionHistoryLimit - older ReplicaSets are garbage-collected.
      type: int
      sample: 10
    label_selector:
      description: The Deployment's spec.selector as a label selector string, for listing its pods.
      type: str
      sample: app=backend
    replicas:
      description: Replica counts.
      type: dict
      sample: {desired: 3, updated: 3, ready: 0, available: 0, total: 3}
    rollout_complete:
      description: Whether C(kubectl rollout status) would report the rollout complete.
      type: bool
    rollout_message:
      description: The rollout status message.
      type: str
history:
  description: One entry per revision, oldest first.
  returned: success
  type: list
  elements: dict
  contains:
    revision:
      description: Revision number.
      type: int
    replicaset:
      description: ReplicaSet name.
      type: str
    images:
      description: Image per container.
      type: dict
    change_cause:
      description: The kubernetes.io/change-cause annotation, or null.
      type: str
    created:
      description: Creation time of the ReplicaSet (RFC 3339).
      type: str
    live:
      description: Whether this revision's template is the Deployment's template.
      type: bool
    replicas:
      description: Pods of this ReplicaSet.
      type: int
    ready_replicas:
      description: Ready pods of this ReplicaSet.
      type: int
  sample:
    - {revision: 2, replicaset: backend-6d4cf56db6, images: {backend: registry.halobuzz.com/backend:v1.5.0},
       change_cause: "release v1.5.0", created: "2026-11-26T21:58:00Z", live: false, replicas: 0,
       ready_replicas: 0}
live_revision:
  description: Revision of the live ReplicaSet, or null when none matches the template yet.
  returned: success
  type: int
  sample: 3
rollback_record:
  description:
    - The rollback recorded by M(halobuzz.ops.k8s_rollout) while it is still live
      (C(from), C(to) revision numbers and the restored C(replicaset)), else null.
  returned: success
  type: dict
  sample: {from: 3, to: 2, replicaset: backend-6d4cf56db6}
revision_diff:
  description:
    - What changed from the second-newest revision to the newest (their ReplicaSets' pod templates), or null with
      fewer than two revisions - images, env (a variable from a Secret as C(secret <name>/<key>), never its value),
      resources, the change-cause, and one line per difference.
  returned: success
  type: dict
  contains:
    from_revision:
      description: The older revision.
      type: int
    to_revision:
      description: The newer revision.
      type: int
    images:
      description: "{container: {before, after}} for each container whose image differs."
      type: dict
    env:
      description: "{container: {before: {VAR: value}, after: {VAR: value}}}, only the variables that differ."
      type: dict
    resources:
      description: "{container: {before: {requests, limits}, after: {requests, limits}}}."
      type: dict
    change_cause:
      description: "{before, after} of the kubernetes.io/change-cause annotation when it differs, else empty."
      type: dict
    lines:
      description: One short line per difference.
      type: list
      elements: str
  sample:
    from_revision: 2
    to_revision: 3
    images: {backend: {before: "registry.halobuzz.com/backend:v1.5.0", after: "registry.halobuzz.com/backend:v1.5.1"}}
    env: {}
    resources: {}
    change_cause: {before: "release v1.5.0", after: "release v1.5.1"}
    lines: ["image backend: registry.halobuzz.com/backend:v1.5.0 -> registry.halobuzz.com/backend:v1.5.1"]
pods:
  description:
    - The pods the Deployment's C(spec.selector) matches, as the API returns them (C(GET /api/v1/namespaces/NS/pods)
      with that label selector), in the API's order.
  returned: when I(pods=true)
  type: list
  elements: dict
  sample:
    - {metadata: {name: backend-64f787c467-abcde, namespace: halobuzz}, status: {phase: Running}}
"""

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import K8S_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.rollout_service import DEPLOYMENT_OPTIONS, rollout_info

OPTIONS = dict(DEPLOYMENT_OPTIONS, pods=dict(type="bool", default=False))


def main():
    module = HaloBuzzModule(K8S_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: rollout_info(module.params))


if __name__ == "__main__":
    main()
