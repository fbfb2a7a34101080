# -*- coding: utf-8 -*-
"""The restart cooldown reads kubectl.kubernetes.io/restartedAt in any RFC 3339 offset (issue 13 bug 2:
kubectl writes time.Now().Format(time.RFC3339), e.g. +01:00, and to_datetime('%Y-%m-%dT%H:%M:%SZ') crashed)."""

import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.halobuzz.ops.plugins.filter.incident import rfc3339_datetime, seconds_since

NOW = datetime.datetime(2026, 11, 28, 20, 30, tzinfo=datetime.timezone.utc).timestamp()


@pytest.mark.parametrize("stamp, seconds", [
    ("2026-11-28T21:00:00+01:00", 1800),        # kubectl outside UTC: 20:00 UTC
    ("2026-11-28T20:00:00Z", 1800),
    ("2026-11-28T20:00:00.123456Z", 1799.876544),
    ("2026-11-28T15:00:00-05:00", 1800),
    ("2026-11-28t20:00:00z", 1800),
    ("2026-11-28T20:30:00+00:00", 0),
    ("2026-11-28T20:40:00Z", -600),
])
def test_seconds_since_any_offset(stamp, seconds):
    assert seconds_since(stamp, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("stamp", ["", "yesterday", "2026-11-28 21:00", "2026-11-28T21:00:00", "2026-13-28T21:00:00Z",
                                   "2026-11-28T21:00:00+1:00"])
def test_not_rfc3339_is_an_error_naming_the_value(stamp):
    with pytest.raises(AnsibleFilterError, match=r"seconds_since: .* not"):
        rfc3339_datetime(stamp)
