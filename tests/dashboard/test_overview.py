"""The overview: runs per day as a server-drawn SVG chart, success rate, median, sessions."""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.utils import timezone

from dashboard import stats
from runs.models import Run, RunStatus
from sessions.models import BrowserSession
from tests.conftest import Tenant
from tests.dashboard.conftest import Person, make_run


def _finished(tenant: Tenant, status: str, seconds: int, days_ago: int = 0) -> Run:
    now = timezone.now() - timedelta(days=days_ago)
    return make_run(
        tenant.organization,
        status=status,
        created_at=now - timedelta(seconds=seconds + 5),
        started_at=now - timedelta(seconds=seconds),
        finished_at=now,
    )


def test_empty_overview_draws_an_empty_chart_and_first_run_hints(member: Person) -> None:
    page = member.client.get("/").content.decode()
    assert '<svg viewBox="0 0 720 240" role="img"' in page
    assert "0 runs in total" in page
    assert "<rect" not in page  # no bars
    assert "Get started" in page
    assert "ask an owner or admin for an API key" in page
    assert "Success rate" in page
    assert "—" in page


def test_admin_is_pointed_at_creating_a_key(admin: Person, tenant: Tenant) -> None:
    tenant.api_key.revoke()
    page = admin.client.get("/").content.decode()
    assert 'href="/settings/#api-keys">create an API key' in page


def test_numbers_and_bars(member: Person, tenant: Tenant) -> None:
    _finished(tenant, RunStatus.COMPLETED, 10)
    _finished(tenant, RunStatus.COMPLETED, 30)
    _finished(tenant, RunStatus.FAILED, 50, days_ago=3)
    _finished(tenant, RunStatus.CANCELED, 20, days_ago=20)  # outside the window
    running = make_run(tenant.organization)
    running.mark_queued()
    BrowserSession.objects.create(organization=tenant.organization)
    page = member.client.get("/").content.decode()
    assert "4 runs in total" in page
    assert "66.7%" in page
    assert "2 completed of 3 finished" in page
    assert "30.0 s" in page  # median of 10, 30, 50 seconds
    assert "1 run</a>" in page
    assert "1 browser session</a>" in page
    assert len(re.findall(r'<rect class="seg seg-completed"', page)) == 1
    assert len(re.findall(r'<rect class="seg seg-failed"', page)) == 1
    assert len(re.findall(r'<rect class="seg seg-active"', page)) == 1
    assert "Get started" not in page
    assert "Recent runs" in page


def test_chart_geometry_stacks_by_status() -> None:
    today = date(2025, 5, 14)
    counts = {today - timedelta(days=i): {name: 0 for name, _ in stats.SERIES} for i in range(14)}
    counts[today]["completed"] = 3
    counts[today]["failed"] = 1
    chart = stats.build_chart(counts)
    assert [tick for tick, _ in chart.ticks] == [0, 1, 2, 3, 4]
    last = chart.days[-1]
    completed, failed = last.segments[0], last.segments[1]
    assert completed.y + completed.height == chart.baseline
    assert failed.y + failed.height == completed.y  # stacked on top
    assert last.summary == "May 14: 3 completed, 1 failed"
    assert chart.days[0].summary == "May 1: no runs"


def test_axis_maximum_is_round() -> None:
    assert [stats.nice_ceiling(n) for n in (0, 3, 5, 9, 13, 21, 95, 130)] == [
        4, 4, 8, 12, 20, 40, 120, 200
    ]  # fmt: skip


def test_the_same_numbers_as_a_table(member: Person, tenant: Tenant) -> None:
    _finished(tenant, RunStatus.COMPLETED, 10)
    page = member.client.get("/").content.decode()
    table = page.split('<details class="chart-table">', 1)[1].split("</details>", 1)[0]
    assert table.count("<tr>") == 15  # a header and 14 days
    assert "<caption" in table


def test_other_organizations_runs_do_not_count(member: Person, other_tenant: Tenant) -> None:
    make_run(other_tenant.organization)
    page = member.client.get("/").content.decode()
    assert "0 runs in total" in page
