"""The integration fixtures' own behaviour: run_playbook and its PLAY RECAP parser."""
from __future__ import annotations

import pytest

import sandbox_support as fixtures

RECAP = """
PLAY [x] ***

TASK [y] ***
ok: [localhost]

PLAY RECAP *********************************************************************
localhost                  : ok=3    changed=1    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0
other.example              : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0

"""


@pytest.mark.parametrize("stdout, expected", [
    (RECAP, {"localhost": {"ok": 3, "changed": 1, "unreachable": 0, "failed": 0, "skipped": 2, "rescued": 0,
                           "ignored": 0},
             "other.example": {"ok": 0, "changed": 0, "unreachable": 1, "failed": 0, "skipped": 0, "rescued": 0,
                               "ignored": 0}}),
    ("ERROR! the playbook could not be found\n", {}),
    ("PLAY RECAP ***\nlocalhost : ok=1 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0\n",
     {"localhost": {"ok": 1, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0, "rescued": 0,
                    "ignored": 0}}),
])
def test_parse_recap(stdout, expected):
    assert fixtures.parse_recap(stdout) == expected


def test_unknown_playbook_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="playbook 'no-such-runbook' not found"):
        fixtures.run_playbook("no-such-runbook", env={})


def test_run_playbook_uses_the_sandbox_inventory_and_env(run_playbook, tmp_path):
    playbook = tmp_path / "probe.yml"
    playbook.write_text("""
- name: Probe the sandbox endpoints through the inventory
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Ask healthz
      ansible.builtin.uri:
        url: "{{ healthz_url }}"
        status_code: [200, 503]
      register: health
    - name: Fail on purpose when asked
      ansible.builtin.fail:
        msg: "asked to fail ({{ health.status }})"
      when: fail_now | default(false) | bool
""")
    ok = run_playbook(str(playbook))
    assert ok.rc == 0 and ok.recap["localhost"]["ok"] == 1 and ok.recap["localhost"]["failed"] == 0
    rc, stdout, _stderr, recap = run_playbook(str(playbook), "-e", "fail_now=true", check=False)
    assert rc == 2 and recap["localhost"]["failed"] == 1 and "asked to fail" in stdout
