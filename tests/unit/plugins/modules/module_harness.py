"""Runs a module's main() in-process: exit_json and fail_json raise Exit / Fail carrying the result."""
from ansible.module_utils import basic


class Exit(Exception):
    pass


class Fail(Exception):
    pass


def raise_on_exit(monkeypatch):
    """Make AnsibleModule.exit_json / fail_json raise Exit / Fail with the result as their argument."""
    def exit_json(self, **result):
        raise Exit(result)

    def fail_json(self, **result):
        raise Fail(result)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
