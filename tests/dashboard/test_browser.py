"""The dashboard in a real Chromium, as a person uses it, against a live server and a worker.

Everything is real but the model, which is scripted (tests/support/model_server.py):
the pages are served by Django's live server, runs go through the broker to a
`celery -A dashboard worker` process that drives Debian's Chromium on the fixture
site. A screenshot of each main page is saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Locator, Page, expect, sync_playwright

from dashboard.models import Membership
from runs.models import Run, RunStatus, Step
from sessions import browsers
from sessions.models import BrowserSession
from tests.conftest import Tenant
from tests.dashboard.conftest import PASSWORD, Person, make_person
from tests.support.e2e import ROOT, Worker, log_in
from tests.support.model_server import ScriptedModelServer
from tests.support.site_server import FixtureSite

pytestmark = pytest.mark.e2e

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PRODUCTS_SCHEMA = (
    '{"type": "object", "properties": {"products": {"type": "array", "items": '
    '{"type": "object", "properties": {"name": {"type": "string"}, '
    '"price": {"type": "number"}}}}}, "required": ["products"]}'
)
PRODUCTS = [{"name": "Widget", "price": 9.99}, {"name": "Gadget", "price": 24.5}]


@pytest.fixture(scope="module")
def browser(worker: Worker) -> Iterator[Browser]:
    """One Chromium for the module (a cold start costs ~110 ms, but a context is cheaper).

    Playwright's sync API keeps an asyncio event loop running on this thread while it
    is started, and Django's ORM refuses to run on a thread with a running loop
    (SynchronousOnlyOperation). The tests' fixtures and assertions use the ORM between
    Playwright calls, never concurrently with them, on this one thread; so the check
    is lifted for exactly as long as Playwright runs. The worker (which must keep the
    check) was started before, by the `worker` fixture, without the variable.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def person(e2e_tenant: Tenant) -> Person:
    return make_person("alice", e2e_tenant.organization, Membership.Role.OWNER)


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Page, username: str = "alice", password: str = PASSWORD) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Overview")


def nav(page: Page, name: str) -> Locator:
    """A link of the top bar's main navigation."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def screenshot(page: Page, name: str, *, phone: bool = False) -> None:
    """Save the page (whole length) under test-artifacts/screenshots/, at desktop size and,
    with `phone`, at a phone's width too."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    if phone:
        size = page.viewport_size or DESKTOP
        page.set_viewport_size(PHONE)
        page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
        page.set_viewport_size(size)


def mark_page(page: Page) -> Callable[[], bool]:
    """A marker in the page's JavaScript state: it survives HTMX swaps, not a reload."""
    page.evaluate("window.__notReloaded = true")
    return lambda: page.evaluate("window.__notReloaded === true")


def wait_until(condition: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def script_login_then_table(model: ScriptedModelServer, site: FixtureSite) -> None:
    model.add_rule("step", log_in, when="Title: Log in")
    model.add_rule(
        "step",
        {"reasoning": "Logged in; the products are on the table page.",
         "actions": [{"type": "goto_url", "url": f"{site.url}/table"}]},
        when="Title: Your account",
    )  # fmt: skip
    model.add_rule(
        "step",
        {"reasoning": "The products table is shown.", "actions": [{"type": "complete"}]},
        when="Title: Products",
    )
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "The table is shown."})
    model.add_rule("extract", {"data": {"products": PRODUCTS}})


# --- the tests ------------------------------------------------------------------------


def test_sign_in(page: Page, person: Person) -> None:
    page.goto("/accounts/login/")
    screenshot(page, "login", phone=True)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")

    sign_in(page)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("heading", name="Get started")).to_be_visible()
    screenshot(page, "overview-first-run", phone=True)

    page.locator(".user-menu summary").click()  # the account menu
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_launch_a_task_and_watch_it_complete(
    page: Page, person: Person, site: FixtureSite, model: ScriptedModelServer
) -> None:
    script_login_then_table(model, site)
    sign_in(page)
    nav(page, "New task").click()
    page.get_by_label("Prompt").fill(
        "Log in as alice (password wonderland) and list the products with prices"
    )
    page.get_by_label("Start URL").fill(f"{site.url}/login")
    page.get_by_label("Title").fill("Products <b>with</b> prices")
    page.get_by_label("Engine").select_option("skyvern-1.0")
    page.get_by_label("Data extraction schema").fill(PRODUCTS_SCHEMA)
    screenshot(page, "new-task", phone=True)
    page.get_by_role("button", name="Start task").click()

    expect(page).to_have_url(re.compile(r"/runs/tsk_\d+/$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    not_reloaded = mark_page(page)
    status = page.locator("#run-status [data-status]")
    expect(status).to_have_text("Completed", timeout=45_000)
    assert not_reloaded(), "the page was reloaded to show the new status"

    run = Run.objects.get(public_id=run_id)
    assert run.status == RunStatus.COMPLETED, run.failure_reason
    expect(page.locator("#run-status")).to_contain_text("Step 3 of 10")
    expect(page.get_by_role("heading", level=1)).to_have_text("Products <b>with</b> prices")
    output = page.locator("#run-output-text")
    expect(output).to_contain_text('"name": "Widget"')
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == {"products": PRODUCTS}
    with page.expect_download() as download:
        page.get_by_role("link", name="Download JSON").click()
    assert download.value.suggested_filename == f"{run_id}-output.json"
    assert json.loads(Path(download.value.path()).read_text()) == {"products": PRODUCTS}
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)

    # The timeline: three steps, each with its actions, reasoning and a screenshot.
    steps = page.locator("#run-timeline li.step")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_contain_text("input_text")
    expect(steps.nth(0)).to_contain_text("The login form is shown")
    expect(steps.nth(2)).to_contain_text("complete")
    thumbnail = steps.nth(1).locator("button.thumb img")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("img => img.naturalWidth") > 100
    screenshot(page, "run-completed", phone=True)
    steps.nth(1).locator("button.thumb").click()
    large = page.locator(".shot-popover:popover-open img")
    expect(large).to_be_visible()
    screenshot(page, "run-screenshot-enlarged")
    page.keyboard.press("Escape")
    expect(large).to_have_count(0)

    nav(page, "Runs").click()
    row = page.locator(f"#run-{run_id}")
    expect(row).to_contain_text("Completed")
    screenshot(page, "runs", phone=True)
    nav(page, "Overview").click()
    expect(page.locator(".chart rect.seg-completed")).to_have_count(1)
    screenshot(page, "overview", phone=True)


def test_new_runs_appear_in_the_table_and_a_running_task_can_be_canceled(
    page: Page,
    person: Person,
    e2e_tenant: Tenant,
    site: FixtureSite,
    model: ScriptedModelServer,
) -> None:
    model.add_rule(
        "step", {"reasoning": "Wait for it.", "actions": [{"type": "wait", "seconds": 1}] * 5}
    )
    sign_in(page)
    page.goto("/runs/")
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    not_reloaded = mark_page(page)

    created = e2e_tenant.post(
        "/v1/tasks",
        {"prompt": "Wait forever", "url": f"{site.url}/table", "engine": "skyvern-1.0",
         "max_steps": 20},
    ).json()  # fmt: skip
    run_id = created["run_id"]
    row = page.locator(f"#run-{run_id}")
    expect(row).to_be_visible(timeout=10_000)  # arrived without a reload
    expect(row).to_contain_text("Running", timeout=20_000)  # and updates itself
    expect(page.get_by_text("No runs yet.")).to_be_hidden()
    assert not_reloaded()

    row.get_by_role("link").click()
    expect(page.locator("#run-status [data-status]")).to_have_text("Running")
    wait_until(lambda: Step.objects.filter(run__public_id=run_id).exists(), what="a step")
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("#run-status [data-status]")).to_have_text("Canceled")
    expect(page.locator("#run-result")).to_contain_text("Canceled from the dashboard by alice")
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    assert Run.objects.get(public_id=run_id).status == RunStatus.CANCELED

    # The worker records the step it was in a moment after the cancel; the page keeps
    # listening until then. (Should a worker never record it, the page says it stopped.)
    def step_recorded() -> bool:
        return not Step.objects.filter(run__public_id=run_id, finished_at__isnull=True).exists()

    timeline = page.locator("#run-timeline")
    try:
        wait_until(step_recorded, timeout=15, what="the worker records its last step")
    except AssertionError:
        expect(timeline.locator(".step-stopped")).to_have_count(1)
    else:
        expect(timeline.locator(".step-running, .step-stopped")).to_have_count(0)
        expect(timeline.locator(".step").first).to_contain_text("wait")
    screenshot(page, "run-canceled")


def test_create_and_close_a_browser_session(page: Page, person: Person) -> None:
    sign_in(page)
    nav(page, "Sessions").click()
    expect(page.get_by_text("No open sessions.")).to_be_visible()
    page.get_by_label("Close after (minutes)").fill("15")
    page.get_by_role("button", name="Start a session").click()

    session = wait_until(
        lambda: BrowserSession.objects.filter(organization=person.membership.organization).first(),
        what="the session row",
    )
    card = page.locator(f"li#{session.public_id}")
    try:
        expect(card).to_be_visible()
        expect(card).to_contain_text("Ready", timeout=30_000)  # the worker started Chromium
        expect(card).to_contain_text("15 min")
        image = card.locator("img")
        wait_until(lambda: image.evaluate("i => i.complete && i.naturalWidth"), what="thumbnail")
        # The thumbnail's source: a capture of the live browser's page, taken by the worker.
        shot = page.request.get(f"/sessions/{session.public_id}/screenshot")
        assert shot.headers["content-type"] in ("image/png", "image/jpeg"), shot.text()[:200]
        screenshot(page, "sessions", phone=True)

        dialogs: list[str] = []

        def accept(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        card.get_by_role("link", name=f"Close session {session.public_id}").click()
        expect(card).to_have_count(0)
        assert dialogs
        assert dialogs[0].startswith(f"Close browser session {session.public_id}?")
        expect(page.get_by_text("No open sessions.")).to_be_visible()
        session.refresh_from_db()
        assert session.is_closed
    finally:
        # Sessions outlive workers by design: whatever happened above, end its browser.
        session.refresh_from_db()
        if session.pid:
            if not session.is_closed:
                browsers.stop(session.pid, session.user_data_dir)
            wait_until(lambda: not browsers.is_alive(session.pid), timeout=10, what="stop")


def test_api_key_create_use_and_revoke(page: Page, person: Person, live_server: Any) -> None:
    sign_in(page)
    nav(page, "Settings").click()
    keys = page.locator("#api-keys")
    keys.get_by_label("Name").fill("browser test")
    keys.get_by_role("button", name="Create key").click()
    new_key = page.get_by_label("The new API key")
    expect(new_key).to_be_visible()
    key = new_key.input_value()
    assert key.startswith("hk_")
    screenshot(page, "settings-new-key", phone=True)

    api = f"{live_server.url}/v1/browser_sessions"
    assert httpx.get(api, headers={"x-api-key": key}).status_code == 200
    page.reload()
    expect(page.get_by_label("The new API key")).to_have_count(0)  # shown once only
    expect(keys.get_by_role("row", name=re.compile("browser test"))).to_contain_text("ago")

    page.once("dialog", lambda dialog: dialog.accept())
    keys.get_by_role("link", name="Revoke browser test").click()
    expect(keys.get_by_role("row", name=re.compile("browser test"))).to_contain_text("Revoked")
    refused = httpx.get(api, headers={"x-api-key": key})
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Invalid or revoked API key"}


def test_webhook_secret_and_members(page: Page, person: Person) -> None:
    organization = person.membership.organization
    sign_in(page)
    page.goto("/settings/")
    page.get_by_role("link", name="Reveal").click()
    secret = page.get_by_label("The signing secret")
    expect(secret).to_have_value(organization.webhook_signing_secret)

    members = page.locator("#members")
    members.get_by_label("Username or email", exact=True).fill("bob@example.com")
    members.get_by_label("Role", exact=True).select_option("admin")
    members.get_by_label("Create an account if there is none").check()
    members.get_by_role("button", name="Add member").click()
    password = page.get_by_label("Password of bob").input_value()
    assert Membership.objects.get(organization=organization, user__username="bob").role == "admin"
    screenshot(page, "settings", phone=True)

    # Bob signs in with the password shown once, and can work in the organization.
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "bob", password)
    expect(page.locator(".org-name")).to_have_text(organization.name)


def test_keyboard_only_sign_in_and_skip_link(page: Page, person: Person) -> None:
    page.goto("/accounts/login/")
    expect(page.get_by_label("Username")).to_be_focused()  # Django's login form autofocuses
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Overview")

    page.keyboard.press("Tab")  # the first stop on every page: the skip link
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("main a").first).to_be_focused()  # past the top bar
