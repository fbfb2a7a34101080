"""kubernetes.core against the cluster, through one real ansible-playbook run.

k8s create (with wait) -> k8s state: present patch that keeps list items -> k8s apply twice
(second run unchanged) -> k8s_info with label and field selectors -> k8s_scale with wait ->
k8s_json_patch (both waiting on a condition) -> k8s_rollback -> k8s_log (pod and deployment) ->
k8s_drain (drain with a pod selector, then uncordon). The playbook asserts each step.
"""

import os
import subprocess
import sys
from pathlib import Path

from kubeemu_testlib import IMAGES, LOG_LINES, USE_ENV

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

PLAYBOOK = """
- name: kubernetes.core against kubeemu (or a real cluster)
  hosts: localhost
  gather_facts: false
  vars:
    ns: "{{ lookup('ansible.builtin.env', 'TEST_NAMESPACE') }}"
    images: "{{ lookup('ansible.builtin.env', 'TEST_IMAGES') | split(',') }}"
    check_logs: "{{ lookup('ansible.builtin.env', 'TEST_CHECK_LOGS') == '1' }}"
    log_lines: "{{ lookup('ansible.builtin.env', 'TEST_LOG_LINES') | split('|') }}"
  module_defaults:
    group/kubernetes.core.k8s:
      kubeconfig: "{{ lookup('ansible.builtin.env', 'KUBECONFIG') }}"
  tasks:
    - name: Create a deployment and wait for it
      kubernetes.core.k8s:
        state: present
        wait: true
        wait_timeout: 60
        wait_sleep: 1
        definition:
          apiVersion: apps/v1
          kind: Deployment
          metadata: {name: logger, namespace: "{{ ns }}", labels: {app: logger}}
          spec:
            replicas: 2
            selector: {matchLabels: {app: logger}}
            template:
              metadata: {labels: {app: logger}}
              spec:
                containers:
                  - name: logger
                    image: "{{ images[0] }}"
                    env: [{name: A, value: "1"}, {name: B, value: "2"}]
      register: created

    - name: Patch in one more env variable (strategic merge keeps A and B)
      kubernetes.core.k8s:
        state: present
        definition:
          apiVersion: apps/v1
          kind: Deployment
          metadata: {name: logger, namespace: "{{ ns }}"}
          spec:
            template:
              spec:
                containers:
                  - name: logger
                    env: [{name: C, value: "3"}]
        wait: true
        wait_condition: {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
        wait_timeout: 60
        wait_sleep: 1
      register: patched

    - name: Apply a ConfigMap twice
      kubernetes.core.k8s:
        state: present
        apply: true
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: settings, namespace: "{{ ns }}"}
          data: {mode: normal}
      loop: [1, 2]
      register: applied

    - name: Find running logger pods
      kubernetes.core.k8s_info:
        kind: Pod
        namespace: "{{ ns }}"
        label_selectors: ["app=logger"]
        field_selectors: ["status.phase=Running"]
      register: running

    - name: Scale to 3 and wait
      kubernetes.core.k8s_scale:
        kind: Deployment
        name: logger
        namespace: "{{ ns }}"
        replicas: 3
        wait: true
        wait_timeout: 60
        wait_sleep: 1
      register: scaled

    - name: Change the image with a JSON patch
      kubernetes.core.k8s_json_patch:
        kind: Deployment
        name: logger
        namespace: "{{ ns }}"
        patch:
          - {op: replace, path: /spec/template/spec/containers/0/image, value: "{{ images[1] }}"}
        wait: true
        wait_condition: {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
        wait_timeout: 60
        wait_sleep: 1
      register: jsonpatched

    - name: Roll back to the previous revision
      kubernetes.core.k8s_rollback:
        api_version: apps/v1
        kind: Deployment
        name: logger
        namespace: "{{ ns }}"
      register: rolledback

    - name: Wait for the rollback to roll out
      kubernetes.core.k8s:
        kind: Deployment
        name: logger
        namespace: "{{ ns }}"
        wait: true
        wait_condition: {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
        wait_timeout: 60
        wait_sleep: 1
      register: after_rollback

    - name: Pods after the rollback
      kubernetes.core.k8s_info:
        kind: Pod
        namespace: "{{ ns }}"
        label_selectors: ["app=logger"]
      register: pods

    - name: Read a pod's log
      kubernetes.core.k8s_log:
        namespace: "{{ ns }}"
        name: "{{ pods.resources[0].metadata.name }}"
      register: pod_log

    - name: Read the deployment's log
      kubernetes.core.k8s_log:
        namespace: "{{ ns }}"
        kind: Deployment
        name: logger
        tail_lines: 1
      register: deploy_log

    - name: Drain the node of the first pod (this test's pods only)
      kubernetes.core.k8s_drain:
        name: "{{ pods.resources[0].spec.nodeName }}"
        state: drain
        pod_selectors: ["app=logger"]
        delete_options: {ignore_daemonsets: true, wait_timeout: 60, wait_sleep: 1}
      register: drained

    - name: Uncordon the node
      kubernetes.core.k8s_drain:
        name: "{{ pods.resources[0].spec.nodeName }}"
        state: uncordon
      register: uncordoned

    - name: Check every step
      ansible.builtin.assert:
        that:
          - created.changed
          - created.result.status.availableReplicas == 2
          - patched.changed
          - patched.result.spec.template.spec.containers[0].env | map(attribute='name') | list == ['A', 'B', 'C']
          - applied.results[0].changed
          - not applied.results[1].changed
          - running.resources | length >= 2   # a real cluster may still list terminating ones
          - running.resources | map(attribute='status.phase') | unique == ['Running']
          - scaled.changed
          - scaled.result.status.readyReplicas == 3
          - jsonpatched.changed
          - rolledback.changed
          - after_rollback.result.spec.template.spec.containers[0].image == images[0]
          - after_rollback.result.metadata.annotations['deployment.kubernetes.io/revision'] == '4'
          - not check_logs or (pod_log.log_lines | select | list) == log_lines
          - not check_logs or (deploy_log.log_lines | select | list) == log_lines[-1:]
          - drained.changed
          - drained.result is search('marked unschedulable')
          - uncordoned.changed
"""


def test_kubernetes_core_modules(kube, ns, tmp_path):
    playbook = tmp_path / "k8s.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, KUBECONFIG=kube.kubeconfig, TEST_NAMESPACE=ns, TEST_IMAGES=",".join(IMAGES),
               TEST_CHECK_LOGS="0" if USE_ENV else "1", TEST_LOG_LINES="|".join(LOG_LINES),
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)],
                          cwd=str(REPO), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "failed=0" in proc.stdout
    if kube.emulator is not None:
        assert not any(n["spec"].get("unschedulable") for n in kube.get("/api/v1/nodes")["items"])
