"""How runs fail: each failure ends in a final status with a reason a person understands.

These run the real agent (real Chromium, real HTTP to the scripted model and the
fixture site) inside the test process by calling the Celery task's function,
so each can change a setting (a short navigation timeout, an unreachable model)
without restarting a worker. Runs are created without dispatch, so the worker
process other tests in this package start cannot take them first.
"""

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runs.agent import runner
from runs.models import Run, RunStatus, RunType, Step
from runs.tasks import execute_run
from tests.conftest import Tenant
from tests.support.e2e import element_id
from tests.support.model_server import Delay, ScriptedModelServer
from tests.support.site_server import FixtureSite

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _close_the_in_process_browser() -> Iterator[None]:
    yield
    runner.shutdown()


@pytest.fixture
def agent_settings(settings: Any, model: ScriptedModelServer) -> Any:
    for name, value in model.llm_settings("openai").items():
        setattr(settings, name, value)
    settings.LLM_MAX_RETRIES = 1
    settings.LLM_BACKOFF_BASE_SECONDS = 0.01
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = True
    settings.HARRIER_STEP_RETRIES = 2
    return settings


def execute(tenant: Tenant, **request: Any) -> Run:
    engine = request.pop("engine", "skyvern-1.0")
    run = Run.objects.create(
        organization=tenant.organization,
        run_type=RunType.TASK_V1 if engine == "skyvern-1.0" else RunType.TASK_V2,
        max_steps=request.pop("max_steps", 5),
        **request,
    )
    run.mark_queued()
    execute_run(run.pk)
    run.refresh_from_db()
    return run


def test_unreachable_model_fails_the_run(
    e2e_tenant: Tenant, site: FixtureSite, agent_settings: Any
) -> None:
    agent_settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    run = execute(e2e_tenant, prompt="p", url=f"{site.url}/table")
    assert run.status == RunStatus.FAILED
    assert "did not answer" in run.failure_reason
    assert "127.0.0.1:9" in run.failure_reason


def test_page_that_never_loads_fails_the_run(
    e2e_tenant: Tenant, site: FixtureSite, agent_settings: Any
) -> None:
    agent_settings.HARRIER_NAVIGATION_TIMEOUT_MS = 500
    run = execute(e2e_tenant, prompt="p", url=f"{site.url}/slow?ms=3000")
    assert run.status == RunStatus.FAILED
    assert (
        run.failure_reason
        == f"The page at {site.url}/slow?ms=3000 did not load within 0.5 seconds."
    )


def test_start_url_that_is_a_download_fails_the_run(
    e2e_tenant: Tenant, site: FixtureSite, agent_settings: Any
) -> None:
    run = execute(e2e_tenant, prompt="p", url=f"{site.url}/files/report.csv")
    assert run.status == RunStatus.FAILED
    assert "is a file download, not a page" in run.failure_reason


def test_unresolvable_host_fails_the_run(e2e_tenant: Tenant, agent_settings: Any) -> None:
    run = execute(e2e_tenant, prompt="p", url="https://harrier-test.invalid/")
    assert run.status == RunStatus.FAILED
    assert run.failure_reason.startswith("Could not open https://harrier-test.invalid/")


def test_without_url_the_model_picks_the_start_page(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, agent_settings: Any
) -> None:
    model.add_rule("start_url", {"url": f"{site.url}/table", "reasoning": "The catalogue."})
    model.add_rule("step", {"reasoning": "Here.", "actions": [{"type": "complete"}]})
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "Yes."})
    model.add_rule("extract", {"data": "Widget costs $9.99"})
    run = execute(e2e_tenant, prompt="What does a widget cost?")
    assert run.status == RunStatus.COMPLETED, run.failure_reason
    assert run.output == "Widget costs $9.99"
    assert Step.objects.get(run=run).url == f"{site.url}/table"


def test_without_url_and_no_idea_where_to_start_fails_clearly(
    e2e_tenant: Tenant, model: ScriptedModelServer, agent_settings: Any
) -> None:
    model.add_rule("start_url", {"url": None, "reasoning": "The prompt names no website."})
    run = execute(e2e_tenant, prompt="Do the thing")
    assert run.status == RunStatus.FAILED
    assert run.failure_reason == (
        "No url was given and the model could not tell which page to start from: "
        "The prompt names no website."
    )


def test_failed_action_is_retried_with_the_error_told_to_the_model(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, agent_settings: Any
) -> None:
    def pick_mars(request: Any) -> dict[str, Any]:
        country = element_id(request, 'select "Country"')
        return {"reasoning": "Choose Mars.", "actions": [
            {"type": "select_option", "element_id": country, "option": "Mars"}]}  # fmt: skip

    model.add_rule("step", pick_mars, times=1)
    model.add_rule(
        "step",
        {"reasoning": "Mars is not offered; done.", "actions": [{"type": "complete"}]},
        when="Your previous attempt at this step failed",
    )
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "ok"})
    model.add_rule("extract", {"data": {}})
    run = execute(e2e_tenant, prompt="Choose Mars", url=f"{site.url}/inputs")
    assert run.status == RunStatus.COMPLETED, run.failure_reason
    first, retry = Step.objects.filter(run=run).order_by("retry_index")
    assert (first.order, first.retry_index, first.status) == (1, 0, "failed")
    assert "Mars" in first.error
    assert first.actions[0]["result"]["ok"] is False
    assert (retry.order, retry.retry_index, retry.status) == (1, 1, "completed")
    told = model.requests_of("step")[1].text
    assert "Your previous attempt at this step failed" in told
    assert "Mars" in told.split("Your previous attempt at this step failed", 1)[1]


def test_step_failing_every_retry_fails_the_run(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, agent_settings: Any
) -> None:
    def pick_mars(request: Any) -> dict[str, Any]:
        country = element_id(request, 'select "Country"')
        return {"reasoning": "Mars!", "actions": [
            {"type": "select_option", "element_id": country, "option": "Mars"}]}  # fmt: skip

    model.add_rule("step", pick_mars)
    run = execute(e2e_tenant, prompt="Choose Mars", url=f"{site.url}/inputs")
    assert run.status == RunStatus.FAILED
    assert run.failure_reason.startswith("Step 1 failed 2 times; last error: Action select_option")


def test_extraction_that_never_fits_the_schema_fails_saying_why(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, agent_settings: Any
) -> None:
    model.add_rule("step", {"reasoning": "Here.", "actions": [{"type": "complete"}]})
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "Yes."})
    model.add_rule("extract", {"data": {"price": "cheap"}})
    schema = {"type": "object", "properties": {"price": {"type": "number"}}, "required": ["price"]}
    run = execute(
        e2e_tenant, prompt="Price?", url=f"{site.url}/table", data_extraction_schema=schema
    )
    assert run.status == RunStatus.FAILED
    assert run.failure_reason.startswith("The extracted data did not match data_extraction_schema")
    assert "price" in run.failure_reason
    assert len(model.requests_of("extract")) == 2  # the answer and its one retry


def test_unverified_complete_is_told_to_the_model_and_the_run_goes_on(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, agent_settings: Any
) -> None:
    model.add_rule("step", {"reasoning": "Done?", "actions": [{"type": "complete"}]})
    model.add_rule("verify_complete", {"goal_reached": False, "reasoning": "No total shown."})
    run = execute(e2e_tenant, prompt="Find the total", url=f"{site.url}/table", max_steps=2)
    assert run.status == RunStatus.FAILED
    assert run.failure_reason.startswith("Reached max_steps (2)")
    assert "No total shown." in model.requests_of("step")[1].text


def test_run_past_its_time_limit_times_out(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, agent_settings: Any
) -> None:
    agent_settings.HARRIER_RUN_TIMEOUT_SECONDS = 1.5
    agent_settings.LLM_TIMEOUT_SECONDS = 30
    model.add_rule("step", Delay(5, {"reasoning": "late", "actions": [{"type": "complete"}]}))
    run = execute(e2e_tenant, prompt="p", url=f"{site.url}/table")
    assert run.status == RunStatus.TIMED_OUT
    assert run.failure_reason == "The run did not finish within its time limit of 1.5 seconds."


def test_browser_crash_fails_the_run_with_a_reason(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, agent_settings: Any
) -> None:
    marker = f"--harrier-test={uuid.uuid4().hex}"  # Chromium ignores unknown switches
    runner.shutdown()  # the next run launches a browser that carries the marker
    agent_settings.HARRIER_BROWSER_ARGS = [marker]

    def kill_the_browser_then_answer(request: Any) -> dict[str, Any]:
        for pid in _browser_pids(marker):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        return {"reasoning": "Scroll.", "actions": [{"type": "scroll", "direction": "down"}]}

    model.add_rule("step", kill_the_browser_then_answer)
    try:
        run = execute(e2e_tenant, prompt="p", url=f"{site.url}/table")
    finally:
        runner.shutdown()
    assert run.status == RunStatus.FAILED
    assert run.failure_reason.startswith(
        "The browser crashed or closed unexpectedly while executing the run"
    )


def _browser_pids(marker: str) -> list[int]:
    """Chromium's main process (not its renderers) started with `marker` on its command line."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in arguments and not any(a.startswith(b"--type=") for a in arguments):
            pids.append(int(entry.name))
    return pids
