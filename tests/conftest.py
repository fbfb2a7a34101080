"""Fixtures for every test directory, registered once for the whole tree.

The sandbox fixtures (`sandbox_env`, `scenario`, `sandbox_secrets`, `run_playbook`; code and
documentation in tests/integration/sandbox_support.py) are registered here, at the common root of
tests/integration and tests/sandbox, and nowhere else: pytest keeps one definition per conftest.py
that registers a fixture, so a session fixture registered by two of them would run twice in one
session (two sandboxes per xdist worker). Import paths come from pytest.ini (`pythonpath`).

The test files run longest first (tests/file_durations.json, written by scripts/file-durations): with
`--dist loadfile --no-loadscope-reorder` (the Makefile's integration target) pytest-xdist hands the files out in
this order, so the tier does not end on one worker running a long file while the others idle. Its own order
(most tests first) put the few-test, several-minute files last.
"""
import json
import statistics
from pathlib import Path

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


FILE_DURATIONS = Path(__file__).with_name('file_durations.json')


def pytest_collection_modifyitems(items):
    """Longest files first; a file the record does not know counts as an average one. Stable: the tests of a
    file keep their order, and files the record rates equal keep pytest's."""
    try:
        seconds = json.loads(FILE_DURATIONS.read_text())
    except (OSError, ValueError):
        return
    typical = statistics.mean(seconds.values()) if seconds else 0.0
    items.sort(key=lambda item: -seconds.get(item.nodeid.split('::', 1)[0], typical))
