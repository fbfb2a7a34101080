"""Fixtures for every test directory, registered once for the whole tree.

The sandbox fixtures (`sandbox_env`, `scenario`, `sandbox_secrets`, `run_playbook`; code and
documentation in tests/integration/sandbox_support.py) are registered here, at the common root of
tests/integration and tests/sandbox, and nowhere else: pytest keeps one definition per conftest.py
that registers a fixture, so a session fixture registered by two of them would run twice in one
session (two sandboxes per xdist worker). Import paths come from pytest.ini (`pythonpath`).
"""
from sandbox_support import (  # noqa: F401  pylint: disable=unused-import
    run_playbook_fixture,
    sandbox_env,
    sandbox_secrets,
    scenario,
)
