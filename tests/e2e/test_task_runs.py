"""Runs end to end: API → database → broker → worker process → Chromium → database → API.

The model is scripted (tests/support/model_server.py), everything else is real:
the worker is a `celery -A dashboard worker` process, the browser is Debian's
Chromium, the site is served over HTTP on loopback.
"""

import time
from typing import Any

import jsonschema
import pytest

from runs.models import Run, RunStatus, Step
from runs.tasks import WORKER_LOST, sweep_stale_runs
from tests.conftest import Tenant
from tests.support.e2e import RunWaiter, Worker, log_in
from tests.support.model_server import Delay, ScriptedModelServer
from tests.support.site_server import FixtureSite

pytestmark = pytest.mark.e2e

PRODUCTS_SCHEMA = {
    "type": "object",
    "properties": {
        "products": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "price": {"type": "number"}},
                "required": ["name", "price"],
            },
        }
    },
    "required": ["products"],
}
PRODUCTS = [
    {"name": "Widget", "price": 9.99},
    {"name": "Gadget", "price": 24.5},
    {"name": "Doohickey", "price": 4.25},
    {"name": "Sprocket", "price": 12.0},
    {"name": "Thingamajig", "price": 99.95},
]


def script_login_then_table(model: ScriptedModelServer, site: FixtureSite) -> None:
    model.add_rule("step", log_in, when="Title: Log in")
    model.add_rule(
        "step",
        {
            "reasoning": "Logged in; the products are on the table page.",
            "actions": [{"type": "goto_url", "url": f"{site.url}/table"}],
        },
        when="Title: Your account",
    )
    model.add_rule(
        "step",
        {"reasoning": "The products table is shown.", "actions": [{"type": "complete"}]},
        when="Title: Products",
    )
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "The table is shown."})
    model.add_rule("extract", {"data": {"products": PRODUCTS}})


def test_v1_task_logs_in_and_extracts_a_table(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, wait_for_run: RunWaiter
) -> None:
    script_login_then_table(model, site)
    created = e2e_tenant.post(
        "/v1/tasks",
        {
            "prompt": "Log in as alice (password wonderland) and list the products with prices",
            "url": f"{site.url}/login",
            "engine": "skyvern-1.0",
            "data_extraction_schema": PRODUCTS_SCHEMA,
        },
    ).json()
    assert created["status"] == "queued"

    run = wait_for_run(created["run_id"])

    assert run["status"] == "completed", run["failure_reason"]
    jsonschema.validate(run["output"], PRODUCTS_SCHEMA)
    assert run["output"] == {"products": PRODUCTS}
    assert run["step_count"] == 3
    timeline = e2e_tenant.get(f"/v1/runs/{run['run_id']}/timeline").json()
    blocks = [entry["block"] for entry in timeline]
    assert [b["step_order"] for b in blocks] == [1, 2, 3]
    assert [b["status"] for b in blocks] == ["completed"] * 3
    assert [a["action_type"] for a in blocks[0]["actions"]] == ["input_text", "input_text", "click"]
    assert all(a["status"] == "completed" for a in blocks[0]["actions"])
    assert blocks[0]["page_title"] == "Log in"
    assert blocks[1]["page_title"] == "Your account"  # the login worked: the cookie was set
    assert blocks[2]["actions"][0]["verified"] is True
    assert all(b["reasoning"] and b["prompt_tokens"] > 0 for b in blocks)
    for block in blocks:
        screenshot = e2e_tenant.get(block["screenshot"]["uri"])
        assert screenshot.status_code == 200
        assert screenshot["Content-Type"] in ("image/jpeg", "image/png")
        assert b"".join(screenshot.streaming_content)[:2] in (b"\xff\xd8", b"\x89P")
    # The password was typed, but is neither in the page text the model saw nor in the
    # recorded actions (the prompt itself is the user's to word).
    assert "wonderland" not in blocks[1]["observation"]
    assert "wonderland" not in str([block["actions"] for block in blocks])
    assert blocks[0]["actions"][1]["text"] == "********"


def test_v2_task_runs_a_plan_of_two_mini_goals(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, wait_for_run: RunWaiter
) -> None:
    login_goal, table_goal = "Log in as alice", "Open the products table"

    def working_on(goal: str, title: str) -> Any:
        section = f"## Current mini-goal (the part of the goal to work on now)\n{goal}\n"
        return lambda request: section in request.text and f"Title: {title}" in request.text

    model.add_rule("plan", {"mini_goals": [login_goal, table_goal]})
    model.add_rule("step", log_in, when=working_on(login_goal, "Log in"))
    model.add_rule(
        "step",
        {"reasoning": "Logged in.", "actions": [{"type": "complete"}]},
        when=working_on(login_goal, "Your account"),
    )
    to_table = {"type": "goto_url", "url": f"{site.url}/table"}
    model.add_rule(
        "step",
        {"reasoning": "Go to the table.", "actions": [to_table]},
        when=working_on(table_goal, "Your account"),
    )
    model.add_rule(
        "step",
        {"reasoning": "Table shown.", "actions": [{"type": "complete"}]},
        when=working_on(table_goal, "Products"),
    )
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "Done."})
    model.add_rule("check_goal", {"goal_met": False, "reasoning": "Still need the table."}, times=1)
    model.add_rule("check_goal", {"goal_met": True, "reasoning": "All done."})
    model.add_rule("extract", {"data": {"products": PRODUCTS[:2]}})

    created = e2e_tenant.post(
        "/v1/tasks",
        {
            "prompt": "Log in as alice/wonderland, then list the products",
            "url": f"{site.url}/login",
            "data_extraction_schema": PRODUCTS_SCHEMA,
        },
    ).json()
    assert created["run_type"] == "task_v2"
    run = wait_for_run(created["run_id"])

    assert run["status"] == "completed", run["failure_reason"]
    assert run["output"] == {"products": PRODUCTS[:2]}
    blocks = [e["block"] for e in e2e_tenant.get(f"/v1/runs/{run['run_id']}/timeline").json()]
    assert [b["navigation_goal"] for b in blocks] == [
        login_goal,
        login_goal,
        table_goal,
        table_goal,
    ]
    assert len(model.requests_of("check_goal")) == 2


def test_max_steps_exhaustion_fails_saying_so(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, wait_for_run: RunWaiter
) -> None:
    model.add_rule(
        "step",
        {"reasoning": "Look further down.", "actions": [{"type": "scroll", "direction": "down"}]},
    )
    created = e2e_tenant.post(
        "/v1/tasks",
        {"prompt": "Find the hidden treasure", "url": f"{site.url}/table", "max_steps": 2,
         "engine": "skyvern-1.0"},
    ).json()  # fmt: skip
    run = wait_for_run(created["run_id"])
    assert run["status"] == "failed"
    assert run["failure_reason"].startswith("Reached max_steps (2) without completing the goal")
    assert run["step_count"] == 2


def test_terminate_ends_terminated_with_matching_error_codes(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, wait_for_run: RunWaiter
) -> None:
    model.add_rule(
        "step",
        {"reasoning": "No such account.", "actions": [
            {"type": "terminate", "reason": "The page says the account is locked."}]},
    )  # fmt: skip
    model.add_rule("error_codes", {"error_codes": ["ACCOUNT_LOCKED", "NOT_IN_MAPPING"]})
    created = e2e_tenant.post(
        "/v1/tasks",
        {
            "prompt": "Log in as bob",
            "url": f"{site.url}/login",
            "engine": "skyvern-1.0",
            "error_code_mapping": {
                "ACCOUNT_LOCKED": "the account is locked",
                "WRONG_PASSWORD": "the password was rejected",
            },
        },
    ).json()
    run = wait_for_run(created["run_id"])
    assert run["status"] == "terminated"
    assert run["failure_reason"] == "The page says the account is locked."
    assert run["error_codes"] == ["ACCOUNT_LOCKED"]


def test_invalid_model_json_fails_after_one_repair(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, wait_for_run: RunWaiter
) -> None:
    model.add_rule("step", "Sure! I would click the button. {not json")
    created = e2e_tenant.post(
        "/v1/tasks", {"prompt": "Log in", "url": f"{site.url}/login", "engine": "skyvern-1.0"}
    ).json()
    run = wait_for_run(created["run_id"])
    assert run["status"] == "failed"
    assert "not valid JSON" in run["failure_reason"]
    assert "after one repair attempt" in run["failure_reason"]
    assert len(model.requests_of("step")) == 2  # the question and the one repair


def test_cancel_while_running_stops_between_actions(
    e2e_tenant: Tenant, site: FixtureSite, model: ScriptedModelServer, wait_for_run: RunWaiter
) -> None:
    model.add_rule(
        "step",
        {"reasoning": "Wait for it.", "actions": [{"type": "wait", "seconds": 1}] * 5},
    )
    created = e2e_tenant.post(
        "/v1/tasks",
        {"prompt": "Wait forever", "url": f"{site.url}/table", "engine": "skyvern-1.0",
         "max_steps": 20},
    ).json()  # fmt: skip
    run_id = created["run_id"]
    wait_for_run(run_id, statuses={"running"})
    _wait_until(lambda: Step.objects.filter(run__public_id=run_id).exists())

    canceled = e2e_tenant.post(f"/v1/runs/{run_id}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    canceled_at = time.monotonic()

    # The worker notices (heartbeat or before its next action) and stops taking steps.
    _wait_until(
        lambda: _step_finished_count(run_id) == Step.objects.filter(run__public_id=run_id).count()
    )
    steps_then = Step.objects.filter(run__public_id=run_id).count()
    time.sleep(2.5)
    assert Step.objects.filter(run__public_id=run_id).count() == steps_then
    assert time.monotonic() - canceled_at < 10
    final = e2e_tenant.get(f"/v1/runs/{run_id}").json()
    assert final["status"] == "canceled"
    assert e2e_tenant.post(f"/v1/runs/{run_id}/cancel").json()["status"] == "canceled"


def test_cancel_of_unknown_or_other_organizations_run_is_404(
    e2e_tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = other_tenant.post("/v1/tasks", {"prompt": "p"}).json()["run_id"]
    assert e2e_tenant.post(f"/v1/runs/{theirs}/cancel").status_code == 404
    assert e2e_tenant.post("/v1/runs/tsk_1/cancel").status_code == 404
    # Untouched by the attempt (the worker may have taken it up meanwhile).
    assert Run.objects.get(public_id=theirs).status != RunStatus.CANCELED


def test_worker_killed_mid_run_is_finished_by_the_sweep(
    e2e_tenant: Tenant,
    site: FixtureSite,
    model: ScriptedModelServer,
    wait_for_run: RunWaiter,
    worker: Worker,
    settings: Any,
) -> None:
    model.add_rule(
        "step", Delay(30, {"reasoning": "slow", "actions": [{"type": "wait", "seconds": 1}]})
    )
    run_id = e2e_tenant.post(
        "/v1/tasks", {"prompt": "p", "url": f"{site.url}/table", "engine": "skyvern-1.0"}
    ).json()["run_id"]
    wait_for_run(run_id, statuses={"running"})
    _wait_until(lambda: bool(model.requests_of("step")))  # mid-run: waiting for the model
    try:
        worker.kill_hard()
        settings.HARRIER_HEARTBEAT_STALE_SECONDS = 1.5
        assert sweep_stale_runs() == 0 or Run.objects.get(public_id=run_id).is_final
        time.sleep(2)
        assert sweep_stale_runs() == 1
    finally:
        worker.start()
    run = e2e_tenant.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "failed"
    assert run["failure_reason"] == WORKER_LOST
    # The step the dead worker was in is closed too; none stays "running".
    assert not Step.objects.filter(run__public_id=run_id, status="running").exists()


def _step_finished_count(run_id: str) -> int:
    return Step.objects.filter(run__public_id=run_id, finished_at__isnull=False).count()


def _wait_until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
