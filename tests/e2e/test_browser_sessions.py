"""Browser sessions are live browsers that runs continue from (API → worker → Chromium)."""

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from dashboard.celery import this_host
from runs.models import Step
from sessions import browsers
from sessions.models import BrowserSession
from sessions.services import reconcile_host_sessions
from sessions.tasks import check_sessions, close_expired_sessions
from tests.conftest import Tenant
from tests.support.e2e import RunWaiter, Worker, log_in
from tests.support.model_server import Delay, ScriptedModelServer
from tests.support.site_server import FixtureSite

pytestmark = pytest.mark.e2e


def wait_until(condition: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not in {timeout}s: {what}")


@pytest.fixture
def ready_session(e2e_tenant: Tenant, worker: Worker) -> Iterator[dict[str, Any]]:
    created = e2e_tenant.post("/v1/browser_sessions", {"timeout": 30}).json()
    assert created["status"] == "creating"
    session_id = created["browser_session_id"]

    def ready() -> dict[str, Any] | None:
        body = e2e_tenant.get(f"/v1/browser_sessions/{session_id}").json()
        return body if body.get("status") == "ready" else None

    yield wait_until(ready, what=f"session {session_id} ready\n{worker.log()}")
    session = _session(session_id)
    browsers.stop(session.pid, session.user_data_dir)  # sessions outlive workers by design


def _session(session_id: str) -> BrowserSession:
    return BrowserSession.objects.get(public_id=session_id)


def test_new_session_is_a_running_browser(e2e_tenant: Tenant, ready_session: dict) -> None:
    session = _session(ready_session["browser_session_id"])
    assert browsers.is_alive(session.pid)
    assert session.cdp_url.startswith("http://127.0.0.1:")
    assert Path(session.user_data_dir, "DevToolsActivePort").exists()
    assert ready_session["timeout"] == 30
    assert ready_session["started_at"] is not None


def test_runs_continue_where_the_last_one_left_the_browser(
    e2e_tenant: Tenant,
    site: FixtureSite,
    model: ScriptedModelServer,
    wait_for_run: RunWaiter,
    ready_session: dict,
) -> None:
    session_id = ready_session["browser_session_id"]
    model.add_rule("step", log_in, when="Title: Log in")
    model.add_rule(
        "step",
        {"reasoning": "Logged in.", "actions": [{"type": "complete"}]},
        when="Title: Your account",
    )
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "ok"})
    model.add_rule("extract", {"data": {"plan": "Gold"}})

    first = e2e_tenant.post(
        "/v1/tasks",
        {"prompt": "Log in as alice/wonderland", "url": f"{site.url}/login",
         "engine": "skyvern-1.0", "browser_session_id": session_id},
    ).json()  # fmt: skip
    assert wait_for_run(first["run_id"])["status"] == "completed"

    second = e2e_tenant.post(
        "/v1/tasks",
        {"prompt": "Which plan am I on?", "engine": "skyvern-1.0",
         "browser_session_id": session_id},
    ).json()  # fmt: skip
    result = wait_for_run(second["run_id"])
    assert result["status"] == "completed", result["failure_reason"]
    assert result["output"] == {"plan": "Gold"}
    # No url and no navigation: the first step already saw the logged-in page (cookie kept).
    first_step = Step.objects.filter(run__public_id=second["run_id"]).first()
    assert first_step.page_title == "Your account"
    assert not model.requests_of("start_url")
    session = e2e_tenant.get(f"/v1/browser_sessions/{session_id}").json()
    assert (session["runnable_type"], session["runnable_id"]) == (None, None)
    assert browsers.is_alive(_session(session_id).pid)  # left open for the next run


def test_session_shows_the_run_using_it(
    e2e_tenant: Tenant,
    site: FixtureSite,
    model: ScriptedModelServer,
    wait_for_run: RunWaiter,
    ready_session: dict,
) -> None:
    session_id = ready_session["browser_session_id"]
    model.add_rule(
        "step", Delay(1.5, {"reasoning": "x", "actions": [{"type": "terminate", "reason": "stop"}]})
    )
    run_id = e2e_tenant.post(
        "/v1/tasks",
        {"prompt": "p", "url": f"{site.url}/table", "engine": "skyvern-1.0",
         "browser_session_id": session_id},
    ).json()["run_id"]  # fmt: skip
    wait_for_run(run_id, statuses={"running"})
    busy = e2e_tenant.get(f"/v1/browser_sessions/{session_id}").json()
    assert (busy["runnable_type"], busy["runnable_id"]) == ("task_v1", run_id)
    assert wait_for_run(run_id)["status"] == "terminated"
    idle = wait_until(
        lambda: (
            e2e_tenant.get(f"/v1/browser_sessions/{session_id}").json()["runnable_id"] is None
            or None
        )
    )
    assert idle


def test_two_runs_posted_together_run_one_after_the_other(
    e2e_tenant: Tenant,
    site: FixtureSite,
    model: ScriptedModelServer,
    wait_for_run: RunWaiter,
    ready_session: dict,
) -> None:
    session_id = ready_session["browser_session_id"]
    model.add_rule("step", Delay(0.7, {"reasoning": "done", "actions": [{"type": "complete"}]}))
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "ok"})
    model.add_rule("extract", {"data": {}})
    request = {"prompt": "p", "url": f"{site.url}/table", "engine": "skyvern-1.0",
               "browser_session_id": session_id}  # fmt: skip
    first = e2e_tenant.post("/v1/tasks", request).json()["run_id"]
    second = e2e_tenant.post("/v1/tasks", request).json()["run_id"]
    done = [wait_for_run(run_id) for run_id in (first, second)]
    assert [run["status"] for run in done] == ["completed", "completed"]
    a, b = done
    assert a["finished_at"] <= b["started_at"], (a, b)  # in the order they were posted


def test_close_ends_the_browser_and_refuses_further_runs(
    e2e_tenant: Tenant, site: FixtureSite, ready_session: dict
) -> None:
    session_id = ready_session["browser_session_id"]
    session = _session(session_id)
    assert e2e_tenant.post(f"/v1/browser_sessions/{session_id}/close").status_code == 200
    wait_until(lambda: not browsers.is_alive(session.pid), what="browser process gone")
    wait_until(lambda: not Path(session.user_data_dir).exists(), what="profile removed")
    assert e2e_tenant.get(f"/v1/browser_sessions/{session_id}").status_code == 404
    refused = e2e_tenant.post(
        "/v1/tasks", {"prompt": "p", "url": f"{site.url}/table", "browser_session_id": session_id}
    )
    assert refused.status_code == 404
    assert refused.json() == {"detail": f"Browser session not found: {session_id}"}
    assert e2e_tenant.post(f"/v1/browser_sessions/{session_id}/close").status_code == 200


def test_closing_cancels_the_run_using_the_session(
    e2e_tenant: Tenant,
    site: FixtureSite,
    model: ScriptedModelServer,
    wait_for_run: RunWaiter,
    ready_session: dict,
) -> None:
    session_id = ready_session["browser_session_id"]
    model.add_rule("step", Delay(3, {"reasoning": "x", "actions": [{"type": "complete"}]}))
    run_id = e2e_tenant.post(
        "/v1/tasks",
        {"prompt": "p", "url": f"{site.url}/table", "browser_session_id": session_id},
    ).json()["run_id"]
    wait_for_run(run_id, statuses={"running"})
    e2e_tenant.post(f"/v1/browser_sessions/{session_id}/close")
    run = wait_for_run(run_id)
    assert run["status"] == "canceled"
    assert run["failure_reason"] == (
        f"The browser session {session_id} was closed while this run was using it."
    )


def test_another_organization_can_neither_see_nor_use_the_session(
    e2e_tenant: Tenant, other_tenant: Tenant, site: FixtureSite, ready_session: dict
) -> None:
    session_id = ready_session["browser_session_id"]
    assert other_tenant.get(f"/v1/browser_sessions/{session_id}").status_code == 404
    assert other_tenant.get(f"/v1/browser_sessions/{session_id}/screenshot").status_code == 404
    assert session_id not in str(other_tenant.get("/v1/browser_sessions").json())
    used = other_tenant.post("/v1/tasks", {"prompt": "p", "browser_session_id": session_id})
    assert used.status_code == 404
    assert other_tenant.post(f"/v1/browser_sessions/{session_id}/close").status_code == 404
    assert browsers.is_alive(_session(session_id).pid)


def test_session_past_its_timeout_is_closed_by_the_sweep(
    e2e_tenant: Tenant, ready_session: dict
) -> None:
    session_id = ready_session["browser_session_id"]
    BrowserSession.objects.filter(public_id=session_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert close_expired_sessions() == 1
    session = _session(session_id)
    assert session.status == "closed"
    assert session.failure_reason == "Closed after its timeout"
    wait_until(lambda: not browsers.is_alive(session.pid), what="browser process gone")


def test_killed_browser_marks_the_session_failed(e2e_tenant: Tenant, ready_session: dict) -> None:
    import os
    import signal

    session_id = ready_session["browser_session_id"]
    os.kill(_session(session_id).pid, signal.SIGKILL)
    wait_until(lambda: not browsers.is_alive(_session(session_id).pid), what="killed")
    check_sessions()  # what beat runs periodically
    session = wait_until(
        lambda: (s := _session(session_id)).status == "failed" and s, what="session failed"
    )
    assert "stopped unexpectedly" in session.failure_reason


def test_worker_start_stops_browsers_of_sessions_that_ended_without_it(
    e2e_tenant: Tenant, worker: Worker, ready_session: dict
) -> None:
    kept = _session(ready_session["browser_session_id"])
    orphan_id = e2e_tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    orphan = wait_until(
        lambda: (s := _session(orphan_id)).status == "ready" and s, what="second session ready"
    )
    # Closed while no worker could end its browser (the message to its host was lost,
    # say with a broker restart): the row says closed, the Chromium still runs.
    assert orphan.close("closed without its host")
    assert browsers.is_alive(orphan.pid)

    reconcile_host_sessions(this_host())  # what a worker host does when it starts

    assert not browsers.is_alive(orphan.pid)
    assert not Path(orphan.user_data_dir).exists()
    assert browsers.is_alive(kept.pid)
    assert Path(kept.user_data_dir, "DevToolsActivePort").exists()


def test_screenshot_shows_the_current_page(
    e2e_tenant: Tenant, site: FixtureSite, ready_session: dict
) -> None:
    session_id = ready_session["browser_session_id"]
    response = e2e_tenant.get(f"/v1/browser_sessions/{session_id}/screenshot")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"
