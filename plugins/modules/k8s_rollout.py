#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_rollout
short_description: Roll a Deployment back to a revision, or restart it, and wait for the rollout
version_added: 0.1.0
author:
  - HaloBuzz DevOps Team (@halobuzz)
description:
  - C(action=undo) has the semantics of C(kubectl rollout undo [--to-revision]) - it finds the
    ReplicaSet the Deployment controls (controller ownerReference) whose
    C(deployment.kubernetes.io/revision) is the target, and patches the Deployment with that
    ReplicaSet's pod template (without the C(pod-template-hash) label) and annotations,
    exactly as kubectl does. Kubernetes then renumbers the restored revision as the newest one.
  - C(action=restart) has the semantics of C(kubectl rollout restart) - it sets the
    C(kubectl.kubernetes.io/restartedAt) pod template annotation, which replaces every pod.
  - With O(wait=true) it then waits the way C(kubectl rollout status) does (observedGeneration,
    updated, total and available replicas), and then until every pod of the Deployment's new
    ReplicaSet is Ready (pods of other Deployments the selector also matches, and Failed,
    Succeeded or terminating pods, do not count). A Progressing condition with reason
    ProgressDeadlineExceeded fails the wait, but after a change only once the controller has
    observed it and C(progressDeadlineSeconds) have passed since (until then the condition may be
    the old release's, see C(pkg/controller/deployment/progress.go)). On timeout the error gives
    ready/desired replicas and the reason of every pod that is not Ready (CrashLoopBackOff,
    ImagePullBackOff, ...). When nothing needs changing there is nothing to wait for; RV(rollout)
    then says whether the live revision is rolled out and every pod of it Ready.
  - The undo patch carries the C(resourceVersion) the module read, as a precondition - if the
    Deployment changed in between (a concurrent deploy), the API answers 409 Conflict and the module
    fails with a "changed underneath, rerun" message instead of overwriting that change.
  - The Deployment and the namespace must be valid Kubernetes names (RFC 1123 subdomain and label);
    anything else is refused before any API call.
  - Why not M(kubernetes.core.k8s_rollback) - it only goes to revision - 1 (not even the
    previous revision once a rollback has renumbered them), cannot target a revision, does not
    wait for the rollout, ignores a paused Deployment, and is not in the
    C(group/kubernetes.core.k8s) action group, so C(module_defaults) does not reach it. This
    module is in C(group/halobuzz.ops.k8s) and takes the same auth options as kubernetes.core.
  - Idempotent. When the target template is already live, nothing is patched and
    C(changed=false). A plain undo (no O(to_revision)) does B(not) flip back and forth like
    kubectl - after a rollback done by this module, kubectl's "previous" revision is the bad
    release that was just rolled back. The module records each rollback in Deployment
    annotations (C(halobuzz.com/rolled-back-from-revision), C(halobuzz.com/rolled-back-to-revision),
    C(halobuzz.com/rolled-back-to-replicaset)); while the recorded ReplicaSet is still the live
    one, a plain undo that would pick the revision rolled back from does nothing
    (C(changed=false), RV(msg) says why), and O(to_revision) naming the revision that was
    restored (its old number no longer exists after the renumbering) is recognised as done.
    Give another O(to_revision) to move explicitly.
  - A paused Deployment is refused, as kubectl does.
options:
  action:
    description:
      - V(undo) rolls back to the previous revision or to O(to_revision).
      - V(restart) replaces every pod with the current template.
    type: str
    choices: [undo, restart]
    default: undo
  to_revision:
    description:
      - Revision to roll back to, as listed by M(halobuzz.ops.k8s_rollout_info) or
        C(kubectl rollout history). Omitted or V(0) means the previous revision.
      - A revision that is not in the history fails and lists the revisions that exist.
      - Only with O(action=undo).
    type: int
  wait:
    description: Wait for the rollout to complete after a change.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the rollout to complete before failing.
    type: int
    default: 300
  wait_sleep:
    description: Seconds between two status reads while waiting.
    type: int
    default: 1
extends_documentation_fragment:
  - halobuzz.ops.k8s_deployment
  - kubernetes.core.k8s_auth_options
  - halobuzz.ops.attributes
  - halobuzz.ops.attributes.action_group_k8s
attributes:
  check_mode:
    support: full
    details: Reads the Deployment and its ReplicaSets, decides, and reports what would be patched; sends nothing.
  diff_mode:
    support: full
    details:
      - Before and after are the Deployment's revision and images per container (and restartedAt for a restart).
      - For an undo they also carry what else the restored template changes - env variables (a Secret by
        name and key only, never a value; a plain value whose name looks like a credential is hidden), resources
        and the change-cause - only where they differ.
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
seealso:
  - module: halobuzz.ops.k8s_rollout_info
  - module: kubernetes.core.k8s_rollback
"""

EXAMPLES = r"""
- name: Roll backend back to the previous revision and wait for it
  halobuzz.ops.k8s_rollout:
    name: backend
    namespace: halobuzz
    wait_timeout: 240

- name: Roll back to a named revision
  halobuzz.ops.k8s_rollout:
    name: backend
    namespace: halobuzz
    to_revision: 42

- name: Restart the streaming pods (rollout restart)
  halobuzz.ops.k8s_rollout:
    name: streaming
    namespace: halobuzz
    action: restart
"""

RETURN = r"""
action:
  description: The action taken (undo or restart).
  returned: success
  type: str
  sample: undo
msg:
  description: What was done, or would be done in check mode, or why nothing was done.
  returned: always
  type: str
  sample: rolled back halobuzz/backend from revision 3 to revision 2 (backend-6d4cf56db6)
before:
  description: The Deployment before the change.
  returned: success
  type: dict
  contains:
    revision:
      description: The Deployment's revision (deployment.kubernetes.io/revision).
      type: int
      sample: 3
    images:
      description: Image per container; init containers are prefixed with C(init:).
      type: dict
      sample: {backend: registry.halobuzz.com/backend:v1.5.1}
    restarted_at:
      description: The restartedAt template annotation (restart only).
      type: str
      returned: when action is restart
after:
  description:
    - The Deployment after the change, same keys as RV(before).
    - In check mode, or without O(wait), the revision is the one Kubernetes will assign.
  returned: success
  type: dict
  sample: {revision: 4, images: {backend: registry.halobuzz.com/backend:v1.5.0}}
restored_revision:
  description: Revision number the restored ReplicaSet had before the rollback (undo only).
  returned: when action is undo
  type: int
  sample: 2
replicaset:
  description: Name of the ReplicaSet whose template is restored, or that is already live.
  returned: when action is undo
  type: str
  sample: backend-6d4cf56db6
to_revision:
  description: The requested revision (null for the previous one).
  returned: when action is undo
  type: int
history:
  description: The rollout history before the undo, oldest first (as M(halobuzz.ops.k8s_rollout_info) returns it).
  returned: when action is undo
  type: list
  elements: dict
  sample: [{revision: 2, replicaset: backend-6d4cf56db6, images: {backend: "registry.halobuzz.com/backend:v1.5.0"},
            live: false, change_cause: null, created: "2026-11-01T10:00:00Z", replicas: 0, ready_replicas: 0}]
label_selector:
  description: The Deployment's selector as a label selector string.
  returned: when action is undo
  type: str
  sample: app=backend
replicas:
  description: The Deployment's replica counts before the undo.
  returned: when action is undo
  type: dict
  sample: {desired: 3, updated: 3, ready: 0, available: 0, total: 3}
template_diff:
  description:
    - What the undo changes in the Deployment's pod template, per container - images, env (a variable from a
      Secret as C(secret <name>/<key>), never its value), resources - and the change-cause (before and after).
    - Each kind is empty when nothing of it differs; RV(template_diff.lines) says each difference in one line.
  returned: when action is undo and changed
  type: dict
  contains:
    images:
      description: "{container: {before, after}} for each container whose image differs."
      type: dict
    env:
      description: "{container: {before: {VAR: value}, after: {VAR: value}}}, only the variables that differ (null: unset)."
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
    images: {}
    env: {backend: {before: {AI_MODERATION: "false"}, after: {AI_MODERATION: "true"}}}
    resources: {}
    change_cause: {before: "ai_moderation_fallback: AI_MODERATION=false", after: "release v1.5.1"}
    lines: ["env backend AI_MODERATION: false -> true",
            "change-cause: ai_moderation_fallback: AI_MODERATION=false -> release v1.5.1"]
patch:
  description: The patch sent to the Deployment (or that would be sent, in check mode).
  returned: changed
  type: raw
rollout:
  description: Replica counts once the rollout completed (or, when nothing changed, as they are now).
  returned: wait and not check mode
  type: dict
  sample: {desired: 3, updated: 3, ready: 3, available: 3, total: 3, complete: true,
           message: "deployment 'backend' successfully rolled out"}
"""

from ansible_collections.halobuzz.ops.plugins.module_utils.common.module import HaloBuzzModule
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.client import K8S_CONNECTION
from ansible_collections.halobuzz.ops.plugins.module_utils.k8s.rollout_service import DEPLOYMENT_OPTIONS, rollout

OPTIONS = dict(
    DEPLOYMENT_OPTIONS,
    action=dict(type="str", choices=["undo", "restart"], default="undo"),
    to_revision=dict(type="int"),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
    wait_sleep=dict(type="int", default=1),
)


def main():
    module = HaloBuzzModule(K8S_CONNECTION, argument_spec=OPTIONS, supports_check_mode=True)
    module.run(lambda: rollout(module.params, module.check_mode))


if __name__ == "__main__":
    main()
