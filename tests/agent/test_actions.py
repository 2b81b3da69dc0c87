"""Every page action on the fixture website, and the failures the model must hear about."""

import ipaddress
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from runs.agent import actions
from runs.agent.actions import ActionResult, perform
from runs.agent.observe import Observation, observe
from tests.support.site_server import FixtureSite

Goto = Callable[[str], None]


class Agent:
    """Observe and act like the engine does, by element names instead of ids."""

    def __init__(self, page: Page, run: Any, files_dir: Path) -> None:
        self.page, self.run, self.files_dir = page, run, files_dir
        self.observation: Observation | None = None

    def observe(self) -> Observation:
        self.observation = self.run(observe(self.page, screenshot=False))
        return self.observation

    def id(self, name: str) -> str:
        observation = self.observe()
        for element in observation.elements:
            if element.name == name:
                return element.id
        raise AssertionError(f"no element named {name!r} in:\n{observation.text}")

    def do(self, action: dict[str, Any], timeout_ms: int = 10_000) -> ActionResult:
        return self.run(perform(self.page, action, files_dir=self.files_dir, timeout_ms=timeout_ms))

    def ok(self, action: dict[str, Any]) -> ActionResult:
        result = self.do(action)
        assert result.ok, result.error
        assert result.error is None
        return result

    def on(self, kind: str, name: str, **rest: Any) -> ActionResult:
        return self.ok({"type": kind, "element_id": self.id(name), **rest})

    def body_text(self) -> str:
        return self.run(self.page.inner_text("body"))


@pytest.fixture
def agent(page: Page, run: Any, files_dir: Path) -> Agent:
    return Agent(page, run, files_dir)


# -- click, input_text, keypress ----------------------------------------------------------


def test_click_follows_a_multi_page_flow(agent: Agent, goto: Goto) -> None:
    goto("/flow/1")
    for step in (2, 3):
        result = agent.on("click", "Next")
        assert agent.page.url.split("?")[0].endswith(f"/flow/{step}")
        assert result.message
        assert result.message.startswith("Clicked")
        assert result.duration_ms >= 0
    agent.on("click", "Next")
    assert agent.observe().title == "Flow complete"


def test_logging_in_with_input_text_and_click(agent: Agent, goto: Goto) -> None:
    goto("/login")
    agent.on("input_text", "Username", text="alice")
    agent.on("input_text", "Password", text="wonderland")
    agent.on("click", "Sign in")
    assert agent.page.url.endswith("/account")
    assert "Welcome, alice" in agent.observe().text


def test_wrong_password_shows_the_error_on_the_page(agent: Agent, goto: Goto) -> None:
    goto("/login")
    agent.on("input_text", "Username", text="alice")
    agent.on("input_text", "Password", text="guess")
    agent.on("click", "Sign in")
    assert "Invalid username or password." in agent.observe().text


def test_account_requires_logging_in(agent: Agent, goto: Goto) -> None:
    goto("/account")
    assert agent.page.url.endswith("/login")


def test_enter_submits_a_form(agent: Agent, goto: Goto) -> None:
    goto("/login")
    agent.on("input_text", "Username", text="alice")
    password = agent.id("Password")
    agent.ok({"type": "input_text", "element_id": password, "text": "wonderland"})
    result = agent.ok({"type": "keypress", "element_id": password, "keys": ["Enter"]})
    assert agent.page.url.endswith("/account")
    assert "Pressed Enter" in (result.message or "")


def test_keypress_without_an_element_goes_to_the_focused_one(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    agent.run(agent.page.focus("#email"))
    agent.ok({"type": "keypress", "keys": ["ctrl+a", "Backspace"]})
    agent.ok({"type": "keypress", "keys": ["x", "y"]})
    assert agent.run(agent.page.input_value("#email")) == "xy"


def test_unknown_key_is_explained(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    result = agent.do({"type": "keypress", "keys": ["Hyperspace"]})
    assert not result.ok
    assert result.error
    assert "Unknown key 'Hyperspace'" in result.error


def test_input_text_replaces_what_was_there(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    agent.on("input_text", "Email", text="bob@example.org")
    assert agent.run(agent.page.input_value("#email")) == "bob@example.org"
    email = next(e for e in agent.observe().elements if e.name == "Email")
    assert email.value == "bob@example.org"


def test_input_text_into_a_select_says_what_to_do_instead(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    result = agent.do({"type": "input_text", "element_id": agent.id("Country"), "text": "x"})
    assert not result.ok
    assert result.error == f"{agent.id('Country')} is a drop-down list: use select_option instead"


def test_input_text_into_a_contenteditable(agent: Agent, goto: Goto) -> None:
    goto("/hidden")
    editable = next(e for e in agent.observe().elements if e.kind == "textbox")
    agent.ok({"type": "input_text", "element_id": editable.id, "text": "New text"})
    assert agent.run(agent.page.inner_text("[contenteditable]")) == "New text"


# -- select_option, checkbox, submitting a form -------------------------------------------


def test_select_option_by_label_and_by_value(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    agent.on("select_option", "Country", option="Germany")
    assert agent.run(agent.page.input_value("#country")) == "de"
    agent.on("select_option", "Country", option="es")
    assert agent.run(agent.page.input_value("#country")) == "es"
    agent.on("select_option", "Country", option="  italy ")
    assert agent.run(agent.page.input_value("#country")) == "it"


def test_select_option_that_does_not_exist_lists_the_options(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    country = agent.id("Country")
    started = time.monotonic()
    result = agent.do({"type": "select_option", "element_id": country, "option": "Mars"})
    assert time.monotonic() - started < 3
    assert not result.ok
    assert result.error == (
        f"Option 'Mars' not found in {country}; options are: 'France', 'Germany', 'Spain', 'Italy'"
    )


def test_checkboxes_and_radios_then_submit(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    agent.on("checkbox", "Newsletter", checked=True)
    agent.on("checkbox", "Accept terms", checked=False)
    agent.on("checkbox", "Large", checked=True)
    agent.on("checkbox", "Dark mode", checked=True)  # a hidden input behind its label
    agent.on("input_text", "Full name", text="Jane Doe")
    agent.on("select_option", "Country", option="Germany")
    observation = agent.observe()
    states = {e.name: e.checked for e in observation.elements if e.checked is not None}
    assert states["Newsletter"]
    assert not states["Accept terms"]
    assert states["Large"]
    assert states["Dark mode"]
    assert not states["Small"]
    agent.on("click", "Submit")
    rows = agent.run(agent.page.inner_text("#submitted"))
    submitted = dict(line.split("\t", 1) for line in rows.splitlines())
    assert submitted == {
        "country": "de",
        "dark_mode": "on",
        "email": "a@b.c",
        "full_name": "Jane Doe",
        "newsletter": "yes",
        "notes": "",
        "secret": "hunter2",
        "size": "large",
    }


def test_unchecking_a_radio_button_is_explained(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    small = agent.id("Small")
    result = agent.do({"type": "checkbox", "element_id": small, "checked": False})
    assert not result.ok
    assert result.error
    assert "radio button" in result.error
    assert "another option" in result.error


def test_checkbox_on_a_button_is_explained(agent: Agent, goto: Goto) -> None:
    goto("/inputs")
    result = agent.do({"type": "checkbox", "element_id": agent.id("Submit"), "checked": True})
    assert not result.ok
    assert result.error
    assert "not a checkbox or radio button" in result.error


# -- uploads ------------------------------------------------------------------------------


def test_upload_file_from_a_url(agent: Agent, goto: Goto, site: FixtureSite) -> None:
    goto("/upload")
    before = len(site.uploads)
    sample = (Path(__file__).parents[1] / "support/site/files/sample.txt").read_bytes()
    result = agent.on("upload_file", "Document", file_url=site.url + "/files/sample.txt")
    assert "Attached sample.txt" in (result.message or "")
    assert (agent.files_dir / "sample.txt").read_bytes() == sample
    agent.on("click", "Upload")
    assert "Received sample.txt" in agent.body_text()
    received = site.uploads[before:]
    assert [(u.field, u.filename, u.size) for u in received] == [
        ("attachment", "sample.txt", len(sample))
    ]


def test_upload_through_a_button_that_opens_a_file_chooser(
    agent: Agent, goto: Goto, site: FixtureSite
) -> None:
    goto("/upload")
    before = len(site.uploads)
    agent.on("upload_file", "Choose avatar", file_url=site.url + "/files/sample.txt")
    agent.on("click", "Upload")
    assert [u.field for u in site.uploads[before:]] == ["avatar"]


def test_upload_from_an_internal_address_is_refused(
    agent: Agent, goto: Goto, site: FixtureSite, settings: Any
) -> None:
    goto("/upload")
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = False
    requests_before = len(site.requests)
    document = agent.id("Document")
    for url in (site.url + "/files/sample.txt", f"http://localhost:{site.port}/files/sample.txt"):
        result = agent.do({"type": "upload_file", "element_id": document, "file_url": url})
        assert not result.ok
        assert result.error
        assert "internal addresses are not allowed" in result.error
    assert site.requests[requests_before:] == []
    assert list(agent.files_dir.iterdir()) == []


def test_upload_refuses_a_name_that_resolves_inside(
    agent: Agent, goto: Goto, site: FixtureSite, settings: Any, monkeypatch: Any
) -> None:
    goto("/upload")
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = False

    async def resolve(host: str) -> list[str]:
        return ["10.1.2.3"] if host == "files.example.com" else []

    monkeypatch.setattr(actions, "resolve", resolve)
    result = agent.do(
        {
            "type": "upload_file",
            "element_id": agent.id("Document"),
            "file_url": "https://files.example.com/report.pdf",
        }
    )
    assert not result.ok
    assert result.error == (
        "Refused to download https://files.example.com/report.pdf: files.example.com points "
        "to an internal address (10.1.2.3), which Harrier does not fetch from"
    )


def test_upload_checks_every_redirect_hop(
    agent: Agent, goto: Goto, site: FixtureSite, settings: Any, monkeypatch: Any
) -> None:
    # files.test stands for a public host (it resolves to the fixture server, and only
    # 127.0.0.1 counts as public here); it redirects to localhost, which must be refused.
    goto("/upload")
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = False

    async def resolve(host: str) -> list[str]:
        return ["127.0.0.1"] if host == "files.test" else []

    real = actions.is_internal_address
    monkeypatch.setattr(actions, "resolve", resolve)
    monkeypatch.setattr(
        actions,
        "is_internal_address",
        lambda address: address != ipaddress.ip_address("127.0.0.1") and real(address),
    )
    inner = f"http://localhost:{site.port}/files/sample.txt"
    result = agent.do(
        {
            "type": "upload_file",
            "element_id": agent.id("Document"),
            "file_url": f"http://files.test:{site.port}/redirect?to={inner}",
        }
    )
    assert not result.ok
    assert result.error
    assert f"Invalid URL: {inner}" in result.error
    assert ("GET", f"/redirect?to={inner}") in site.requests  # the first hop was made
    assert ("GET", "/files/sample.txt") not in site.requests[-1:]


def test_upload_follows_redirects_when_allowed(agent: Agent, goto: Goto, site: FixtureSite) -> None:
    goto("/upload")
    result = agent.on(
        "upload_file", "Document", file_url=site.url + "/redirect?to=/files/sample.txt"
    )
    assert "sample.txt" in (result.message or "")


def test_upload_a_file_of_this_run_by_path(agent: Agent, goto: Goto, tmp_path: Path) -> None:
    goto("/upload")
    (agent.files_dir / "invoice.txt").write_text("total 42")
    agent.on("upload_file", "Document", file_path="invoice.txt")
    assert agent.run(agent.page.eval_on_selector("#attachment", "el => el.files[0].name")) == (
        "invoice.txt"
    )
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    for path in (str(outside), "../secret.txt", "missing.txt"):
        result = agent.do(
            {"type": "upload_file", "element_id": agent.id("Document"), "file_path": path}
        )
        assert not result.ok, path


# -- downloads ----------------------------------------------------------------------------


def test_download_saves_the_file(agent: Agent, goto: Goto) -> None:
    goto("/download")
    result = agent.on("download", "Download the report")
    assert [p.name for p in result.downloaded_files] == ["report.csv"]
    assert result.downloaded_files[0].parent == agent.files_dir
    assert result.downloaded_files[0].read_text().startswith("month,total")
    again = agent.on("download", "Download the report")
    assert [p.name for p in again.downloaded_files] == ["report-2.csv"]


def test_download_through_a_new_tab(agent: Agent, goto: Goto) -> None:
    goto("/download")
    result = agent.on("download", "Download in a new tab")
    assert [p.name for p in result.downloaded_files] == ["report.csv"]


def test_a_click_that_downloads_is_captured_too(agent: Agent, goto: Goto) -> None:
    goto("/download")
    result = agent.on("click", "Download the report")
    assert [p.name for p in result.downloaded_files] == ["report.csv"]


def test_download_on_something_that_does_not_download(agent: Agent, goto: Goto) -> None:
    goto("/download")
    sample = agent.id("View the sample text")
    result = agent.do({"type": "download", "element_id": sample}, timeout_ms=800)
    assert not result.ok
    assert result.error
    assert f"Clicking {sample} did not start a download" in result.error


def test_goto_a_file_served_as_attachment_downloads_it(
    agent: Agent, goto: Goto, site: FixtureSite
) -> None:
    goto("/download")
    result = agent.ok({"type": "goto_url", "url": site.url + "/files/report.csv"})
    assert [p.name for p in result.downloaded_files] == ["report.csv"]
    assert "downloaded instead of opened" in (result.message or "")
    assert agent.observe().title == "Download"


# -- scroll, hover, wait, go_back, goto_url -----------------------------------------------


def test_scroll_the_page_down_and_up(agent: Agent, goto: Goto) -> None:
    goto("/scroll")
    down = agent.ok({"type": "scroll", "direction": "down"})
    assert agent.run(agent.page.evaluate("scrollY")) == 720  # 90 % of the 800 px viewport
    assert "Scrolled the page down 720 px" in (down.message or "")
    agent.ok({"type": "scroll", "direction": "down", "amount": 100})
    assert agent.run(agent.page.evaluate("scrollY")) == 820
    agent.ok({"type": "scroll", "direction": "up", "amount": 5000})
    assert agent.run(agent.page.evaluate("scrollY")) == 0
    top = agent.ok({"type": "scroll", "direction": "up"})
    assert "already at the top" in (top.message or "")


def test_scroll_a_container(agent: Agent, goto: Goto) -> None:
    goto("/scroll")
    box_top = agent.id("Top of the box")
    assert "Bottom of the box" not in {e.name for e in agent.observe().elements if e.in_viewport}
    result = agent.ok(
        {"type": "scroll", "direction": "down", "amount": 2000, "element_id": box_top}
    )
    assert "scrollable area" in (result.message or "")
    assert agent.run(agent.page.evaluate("scrollY")) == 0
    assert agent.run(agent.page.evaluate("document.getElementById('box').scrollTop")) > 1500


def test_hover_reveals_a_menu(agent: Agent, goto: Goto) -> None:
    goto("/hover")
    assert "All products" not in agent.observe().text
    agent.on("hover", "Products menu")
    agent.on("click", "All products")
    assert agent.page.url.endswith("/table")


def test_hover_reveals_a_tooltip(agent: Agent, goto: Goto) -> None:
    goto("/hover")
    agent.on("hover", "Hover for a tip")
    assert "Tip: prices include VAT." in agent.observe().text


def test_wait_waits_and_is_capped(agent: Agent, goto: Goto, monkeypatch: Any) -> None:
    goto("/table")
    result = agent.ok({"type": "wait", "seconds": 0.3})
    assert result.duration_ms >= 300
    monkeypatch.setattr(actions, "MAX_WAIT_SECONDS", 0.1)
    capped = agent.ok({"type": "wait", "seconds": 3600})
    assert capped.duration_ms < 1_000


def test_go_back(agent: Agent, goto: Goto) -> None:
    goto("/flow/1")
    agent.on("click", "Next")
    agent.ok({"type": "go_back"})
    assert agent.page.url.endswith("/flow/1")
    assert agent.observe().title == "Flow step 1"


def test_go_back_without_history_is_explained(agent: Agent) -> None:
    result = agent.do({"type": "go_back"})
    assert not result.ok
    assert result.error == "There is no previous page to go back to"


def test_goto_url(agent: Agent, site: FixtureSite) -> None:
    result = agent.ok({"type": "goto_url", "url": site.url + "/table"})
    assert agent.page.url == site.url + "/table"
    assert result.message == f"Opened {site.url}/table"
    assert "| Widget | $9.99 | 12 |" in agent.observe().text


def test_goto_url_refuses_other_schemes_and_internal_hosts(
    agent: Agent, site: FixtureSite, settings: Any
) -> None:
    result = agent.do({"type": "goto_url", "url": "javascript:alert(1)"})
    assert not result.ok
    assert result.error
    assert result.error.startswith("Invalid URL: javascript:alert(1)")
    assert agent.page.url == "about:blank"
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = False
    result = agent.do({"type": "goto_url", "url": site.url + "/table"})
    assert not result.ok
    assert result.error
    assert "internal addresses are not allowed" in result.error


def test_goto_url_to_nowhere_is_explained(agent: Agent) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    result = agent.do({"type": "goto_url", "url": url})
    assert not result.ok
    assert result.error == f"Could not open {url}: the server refused the connection"


def test_a_slow_page(agent: Agent, goto: Goto, site: FixtureSite) -> None:
    result = agent.ok({"type": "goto_url", "url": site.url + "/slow?ms=1500"})
    assert result.duration_ms >= 1_400
    assert agent.observe().title == "Slow page"


def test_a_click_into_a_slow_page_does_not_fail(agent: Agent, goto: Goto) -> None:
    goto("/")
    result = agent.on("click", "Slow page")
    assert result.ok
    assert agent.observe().text.count("Finally loaded") == 1


# -- pages that change, tabs, bad actions -------------------------------------------------


def test_an_element_that_disappeared_is_explained_quickly(agent: Agent, goto: Goto) -> None:
    goto("/changing?replace_ms=300")
    soon_replaced = agent.id("Soon replaced")
    agent.run(agent.page.wait_for_selector("#second"))
    started = time.monotonic()
    result = agent.do({"type": "click", "element_id": soon_replaced})
    assert time.monotonic() - started < 2
    assert not result.ok
    assert result.error == (
        f"Element {soon_replaced} is not on the page any more; the page may have changed"
    )
    agent.on("click", "Continue")
    assert agent.run(agent.page.inner_text("#status")) == "continued"


def test_a_rerendered_list_needs_a_new_observation(agent: Agent, goto: Goto) -> None:
    goto("/changing?replace_ms=600000")
    apple = agent.id("Apple 1")
    agent.on("click", "Re-render list")
    result = agent.do({"type": "click", "element_id": apple})
    assert not result.ok
    assert "not on the page any more" in (result.error or "")
    agent.on("click", "Apple 2")


def test_dialogs_are_answered_and_reported(agent: Agent, goto: Goto) -> None:
    goto("/changing?replace_ms=600000")
    result = agent.on("click", "Delete item")
    assert agent.run(agent.page.inner_text("#status")) == "deleted"
    assert "confirm dialog saying 'Delete the item?'; it was accepted" in (result.message or "")
    result = agent.on("click", "Ask name")
    assert agent.run(agent.page.inner_text("#status")) == "name: null"
    assert "prompt dialog saying 'Your name?'; it was dismissed" in (result.message or "")


def test_a_link_opening_a_new_tab_hands_it_back(agent: Agent, goto: Goto) -> None:
    goto("/popup")
    result = agent.on("click", "Open the table in a new tab")
    assert result.new_page is not None
    agent.run(result.new_page.wait_for_load_state())
    assert result.new_page.url.endswith("/table")
    assert result.to_dict()["opened_new_page"] is True
    assert "A new tab opened" in (result.message or "")


def test_a_covered_element_is_explained(agent: Agent, goto: Goto) -> None:
    goto("/hidden")
    target = agent.id("Visible button")
    agent.run(
        agent.page.evaluate(
            """() => { const d = document.createElement('div'); d.id = 'overlay';
            d.style = 'position:fixed;inset:0;background:rgba(0,0,0,.3)';
            document.body.append(d); }"""
        )
    )
    result = agent.do({"type": "click", "element_id": target}, timeout_ms=1_000)
    assert not result.ok
    assert result.error
    assert "another element covers it" in result.error
    assert "overlay" in result.error


def test_a_disabled_button_fails_fast(agent: Agent, goto: Goto) -> None:
    goto("/hidden")
    started = time.monotonic()
    result = agent.do({"type": "click", "element_id": agent.id("Disabled button")})
    assert time.monotonic() - started < 3.5  # not the full 10 s timeout
    assert not result.ok
    assert result.error
    assert "disabled" in result.error


BAD_ACTIONS: list[tuple[Any, str]] = [
    ({"type": "fly"}, "Unknown action type 'fly'; page actions are: checkbox, click,"),
    ({}, "Unknown action type None"),
    ("click", "An action must be a JSON object, not str"),
    ({"type": "extract"}, "'extract' is not a page action"),
    ({"type": "complete"}, "'complete' is not a page action"),
    ({"type": "terminate"}, "'terminate' is not a page action"),
    ({"type": "click"}, "click needs 'element_id' (the id of an element, e.g. e12)"),
    ({"type": "click", "element_id": 12}, "click: 'element_id' must be the id of an element"),
    ({"type": "click", "element_id": "button"}, "'button' is not an element id"),
    ({"type": "click", "element_id": "e4242"}, "Element e4242 is not on the page any more"),
    ({"type": "input_text", "element_id": "e1"}, "input_text needs 'text'"),
    ({"type": "select_option", "element_id": "e1"}, "select_option needs 'option'"),
    ({"type": "checkbox", "element_id": "e1", "checked": 2}, "checkbox: 'checked' must be"),
    ({"type": "upload_file", "element_id": "e1"}, "upload_file needs 'file_url'"),
    ({"type": "scroll", "direction": "sideways"}, "scroll: 'direction' must be"),
    ({"type": "keypress"}, "keypress needs 'keys'"),
    ({"type": "wait", "seconds": "long"}, "wait: 'seconds' must be a number"),
    ({"type": "goto_url"}, "goto_url needs 'url'"),
]


def test_bad_actions_are_explained_not_raised(agent: Agent, goto: Goto) -> None:
    # One page for all the cases: none of them may change it.
    goto("/inputs")
    agent.observe()
    for action, error in BAD_ACTIONS:
        result = agent.do(action)
        assert not result.ok, action
        assert result.error is not None, action
        assert result.error.startswith(error), (action, result.error)
        assert result.to_dict()["ok"] is False
    assert agent.page.url.endswith("/inputs")
