"""The runs table: filters, search, pages, and the rows that update themselves."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from runs.models import RunStatus, RunType
from tests.conftest import Tenant
from tests.dashboard.conftest import Person, finished_run, make_run


def test_empty_table_says_how_to_start(member: Person) -> None:
    page = member.client.get("/runs/").content.decode()
    assert "No runs yet." in page
    assert 'href="/runs/new/"' in page
    assert "POST /v1/tasks" in page


def test_rows_show_runs_newest_first(member: Person, tenant: Tenant) -> None:
    older = make_run(
        tenant.organization, title="Older", created_at=timezone.now() - timedelta(hours=1)
    )
    newer = make_run(tenant.organization, title="Newer")
    page = member.client.get("/runs/").content.decode()
    assert page.index(newer.public_id) < page.index(older.public_id)


def test_filter_by_status_type_and_search(member: Person, tenant: Tenant) -> None:
    org = tenant.organization
    done = finished_run(org, title="Invoice download", prompt="Get it", run_type=RunType.TASK_V1)
    failed = finished_run(
        org, RunStatus.FAILED, prompt="Find the cheapest plan", run_type=RunType.TASK_V2
    )
    queued = make_run(org, title="Still waiting", prompt="Wait", run_type=RunType.TASK_V2)

    def ids(query: str) -> set[str]:
        page = member.client.get(f"/runs/?{query}").content.decode()
        return {run.public_id for run in (done, failed, queued) if run.public_id in page}

    assert ids("status=completed") == {done.public_id}
    assert ids("status=failed") == {failed.public_id}
    assert ids("status=active") == {queued.public_id}
    assert ids("run_type=task_v2") == {failed.public_id, queued.public_id}
    assert ids("q=cheapest") == {failed.public_id}  # in the prompt
    assert ids("q=invoice") == {done.public_id}  # in the title
    assert ids(f"q={queued.public_id}") == {queued.public_id}
    assert ids("q=nothing+like+this") == set()
    assert "No runs match these filters" in member.client.get("/runs/?q=zzz").content.decode()


def test_filter_by_date(member: Person, tenant: Tenant) -> None:
    now = timezone.now()
    old = make_run(tenant.organization, created_at=now - timedelta(days=10))
    recent = make_run(tenant.organization, created_at=now)
    since = (now - timedelta(days=2)).date().isoformat()
    until = (now - timedelta(days=5)).date().isoformat()
    page = member.client.get(f"/runs/?created_from={since}").content.decode()
    assert recent.public_id in page
    assert old.public_id not in page
    page = member.client.get(f"/runs/?created_to={until}").content.decode()
    assert old.public_id in page
    assert recent.public_id not in page
    # A range that ended cannot get new runs: the table does not poll for them.
    assert "/runs/newer/" not in page


def test_bad_date_range_is_explained(member: Person) -> None:
    page = member.client.get("/runs/?created_from=2025-05-02&created_to=2025-05-01")
    assert b"The end date is before the start date." in page.content


def test_pagination_keeps_the_filters(member: Person, tenant: Tenant) -> None:
    for i in range(30):
        make_run(
            tenant.organization, title=f"Run {i}", created_at=timezone.now() - timedelta(minutes=i)
        )
    page = member.client.get("/runs/?status=created").content.decode()
    assert "Page 1 of 2" in page
    assert "?status=created&amp;page=2" in page
    second = member.client.get("/runs/?status=created&page=2").content.decode()
    assert "Run 29" in second
    assert "Run 0<" not in second
    assert "/runs/newer/" not in second  # new runs only ever appear on page 1


def test_htmx_request_gets_only_the_results(member: Person, tenant: Tenant) -> None:
    make_run(tenant.organization, title="Visible")
    response = member.htmx("/runs/?q=Visible")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="runs-results">')
    assert "<html" not in page
    assert "Visible" in page
    assert "HX-Request" in response["Vary"]


def test_history_restore_gets_the_whole_page(member: Person) -> None:
    response = member.client.get(
        "/runs/", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in response.content


def test_only_unfinished_rows_poll(member: Person, tenant: Tenant) -> None:
    running = make_run(tenant.organization)
    running.mark_queued()
    done = finished_run(tenant.organization)
    page = member.client.get("/runs/").content.decode()
    running_row = page[page.index(f'id="run-{running.public_id}"') :][:400]
    done_row = page[page.index(f'id="run-{done.public_id}"') :][:400]
    assert f'hx-get="/runs/{running.public_id}/row/"' in running_row
    assert 'hx-trigger="every 2s"' in running_row
    assert "hx-get" not in done_row.split(">")[0]


def test_row_partial_stops_polling_once_final(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization)
    run.mark_queued()
    row = member.htmx(f"/runs/{run.public_id}/row/").content.decode()
    assert row.lstrip().startswith(f'<tr id="run-{run.public_id}"')
    assert "hx-trigger" in row
    assert "Queued" in row
    run.mark_running()
    run.finish(RunStatus.COMPLETED)
    row = member.htmx(f"/runs/{run.public_id}/row/").content.decode()
    assert "Completed" in row
    assert "hx-trigger" not in row


def test_newer_rows_bring_new_runs_and_a_new_sentinel(member: Person, tenant: Tenant) -> None:
    page = member.client.get("/runs/").content.decode()
    assert 'class="poll-sentinel"' in page
    since = timezone.now() - timedelta(seconds=1)
    new = make_run(tenant.organization, title="Brand new")
    other = make_run(tenant.organization, title="Filtered out", run_type=RunType.TASK_V2)
    response = member.htmx("/runs/newer/", data={"after": since.isoformat(), "run_type": "task_v1"})
    rows = response.content.decode()
    assert rows.lstrip().startswith('<tr class="poll-sentinel"')
    assert new.public_id in rows
    assert other.public_id not in rows  # the table's filters apply to new rows too
    assert "run_type=task_v1" in rows  # and the next sentinel keeps them
    assert '<p id="runs-count" class="result-count" role="status" hx-swap-oob="true">' in rows
    assert "1 run matches the filters" in rows
    assert f"after={new.created_at.isoformat()[:19]}" in rows.replace("%3A", ":")
    nothing = member.htmx("/runs/newer/", data={"after": timezone.now().isoformat()})
    assert "<td" not in nothing.content.decode()


def test_prompts_are_escaped(member: Person, tenant: Tenant) -> None:
    make_run(tenant.organization, prompt="<script>alert(1)</script>")
    page = member.client.get("/runs/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
