"""Registers the sandbox fixtures (sandbox_env, scenario, sandbox_secrets, run_playbook) for these tests.

The code lives in sandbox_support.py, so that tests can import its plain helpers (use_real_env,
run_playbook) by a name no other directory's conftest.py shadows.
"""
from sandbox_support import (  # noqa: F401  pylint: disable=unused-import
    run_playbook_fixture,
    sandbox_env,
    sandbox_secrets,
    scenario,
)
