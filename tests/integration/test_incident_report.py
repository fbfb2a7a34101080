"""playbooks/incident_report.yml (issue 18): the post-incident report from the run records of one incident.

One incident in the `bad-release` world: high_error_rate.yml (the triage), rollback.yml (the fix, verified by
healthz and the pods), metrics_snapshot.yml when the collection has it, all launched with the same incident_id
(as an AWX survey or the alert's labels would), then incident_report.yml. The records are the callback's, in a
private HALOBUZZ_RECORDS_DIR.
"""
from __future__ import annotations

import html.parser
import json
import re
import stat
from pathlib import Path

import pytest

from sandbox_support import run_playbook as run_playbook_with

REPO = Path(__file__).resolve().parents[2]
INCIDENT = "INC-2026-0042"


class _References(html.parser.HTMLParser):
    """Every URL-bearing attribute of the page; a standalone page has only data: ones."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "srcset", "data", "action")]


def test_report_of_one_incident_across_runs(run_playbook, sandbox_env, scenario, tmp_path):
    scenario("bad-release")
    records = tmp_path / "records"
    env = dict(sandbox_env, HALOBUZZ_RECORDS_DIR=str(records))
    incident = ["-e", f"incident_id={INCIDENT}", "-e", "severity=P1"]
    playbooks = ["high_error_rate.yml", "rollback.yml"]
    if (REPO / "playbooks" / "metrics_snapshot.yml").is_file():
        playbooks.append("metrics_snapshot.yml")
    for playbook in playbooks:
        run_playbook(playbook, *incident, env=env)
    # a run of another incident, and one without any: neither is in the report
    run_playbook("redis_check.yml", "-e", "incident_id=INC-other", env=env)

    alert_started = json.loads(records.joinpath(next(p.name for p in records.glob("*-high_error_rate.jsonl")))
                               .read_text().splitlines()[0])["time"]
    result = run_playbook("incident_report.yml", "-e", f"incident_id={INCIDENT}",
                          "-e", f"alert_started_at={alert_started}", env=env)
    charts = (REPO / "plugins" / "modules" / "prometheus_snapshot.py").is_file()
    assert result.recap["localhost"]["changed"] == 2 + charts  # the .md, the .html (and the window's charts)
    markdown = (records / f"incident-{INCIDENT}.md").read_text()
    page = (records / f"incident-{INCIDENT}.html").read_text()
    for path in (records / f"incident-{INCIDENT}.md", records / f"incident-{INCIDENT}.html"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # every run stamped, in order, with who ran it; the other incident left out
    for line in (records / next(p.name for p in records.glob("*-rollback.jsonl"))).read_text().splitlines():
        assert json.loads(line)["incident_id"] == INCIDENT and json.loads(line)["severity"] == "P1"
    started = re.findall(r"\| started (\S+\.yml) \|", markdown)
    assert started == playbooks
    assert "redis_check.yml" not in markdown
    assert re.findall(r"^\| [-\d]+ [\d:]+ \| [-\d: ]+ \| (\S+\.yml) \|", markdown, re.M) == playbooks
    assert re.search(r"- Response time: 0m 0\ds \(within target\)", markdown)
    # the rollback's change with before/after, and the checklist ticked with its evidence
    assert re.search(r"\| rollback\.yml \| [^|]*Roll back[^|]* \| \{[^|]*\"revision\": 3\} \| \{[^|]*\"revision\": 4\}",
                     markdown)
    assert re.search(r"^- \[x\] Service restored and verified: rollback\.yml \d\d:\d\d UTC, healthz 200, "
                     r"(\d+)/\1 pods Ready$", markdown, re.M), markdown
    assert "- [ ] Root cause identified: left for people" in markdown

    # standalone HTML: no external fetch (no http(s) src/href, no @import, no script)
    parser = _References()
    parser.feed(page)
    assert [url for url in parser.urls if not url.startswith("data:")] == []
    assert "@import" not in page and "<script" not in page.lower() and "url(" not in page
    assert "Service restored and verified" in page
    if charts:  # the charts of the window, inlined
        assert [url for url in parser.urls if url.startswith("data:image/png;base64,")], page[:2000]
        assert re.search(r"^!\[\w+\]\(incident-%s-charts-\d{8}T\d{6}Z/\w+\.png\)$" % INCIDENT, markdown, re.M)

    # the same records: the same report (changed=0)
    again = run_playbook("incident_report.yml", "-e", f"incident_id={INCIDENT}",
                         "-e", f"alert_started_at={alert_started}", env=env)
    assert again.recap["localhost"]["changed"] == 0


@pytest.mark.parametrize("args, message", [
    (["-e", "incident_id=../../etc/passwd"], 'incident_id must be 1-64 letters, digits'),
    (["-e", "incident_id=INC-1", "-e", "severity=critical"], "value of severity must be one of: P0, P1, P2, P3"),
    (["-e", "incident_id=INC-none"], "no run record in"),
    ([], "incident_id is required"),
])
def test_bad_input_is_refused_by_name(args, message, tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    (records / "20260126T030000Z-rollback.jsonl").write_text(json.dumps(
        {"type": "run", "time": "2026-01-26T03:00:00+00:00", "playbook": "rollback.yml", "user": "bob",
         "incident_id": "INC-1"}) + "\n")
    # no sandbox needed: nothing is contacted; the sandbox inventory only needs its marker
    env = {"HALOBUZZ_RECORDS_DIR": str(records), "HALOBUZZ_SANDBOX_DIR": str(tmp_path)}
    result = run_playbook_with("incident_report.yml", *args, env=env, check=False)
    assert result.rc != 0
    assert message in result.stdout, result.stdout[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in records.iterdir() if p.name.startswith("incident-")) == []
    # severity is refused the same way by every playbook (each role entry point's argument spec)
    if "severity=critical" in args:
        other = run_playbook_with("redis_check.yml", *args, env=env, check=False)
        assert other.rc != 0 and message in other.stdout
