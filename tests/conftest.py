"""Fixtures for every test directory, registered once for the whole tree.

The sandbox fixtures (`sandbox_env`, `scenario`, `sandbox_secrets`, `run_playbook`; code and
documentation in tests/integration/sandbox_support.py) are registered here, at the common root of
tests/integration and tests/sandbox, and nowhere else: pytest keeps one definition per conftest.py
that registers a fixture, so a session fixture registered by two of them would run twice in one
session (two sandboxes per xdist worker). Import paths come from pytest.ini (`pythonpath`).
"""
import pytest

from sandbox_support import (  # noqa: F401  pylint: disable=unused-import
    forget_untouched_world,
    record_test_outcome,
    run_playbook_fixture,
    sandbox_env,
    sandbox_secrets,
    scenario,
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    """`scenario(name, read_only=True)` skips a switch only after a passing read-only test (sandbox_support)."""
    outcome = yield
    report = outcome.get_result()
    record_test_outcome(report.when, report.passed)


def pytest_fixture_post_finalizer(fixturedef, request):  # pylint: disable=unused-argument
    if fixturedef.scope != "function":
        forget_untouched_world()
