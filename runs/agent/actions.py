"""Carrying out one action the model asked for on a page.

The action dicts are the model's protocol (docs/agent-protocol.md), for example
{"type": "click", "element_id": "e12"}. `perform` never raises for anything the
model or the page did: every failure comes back as ActionResult(ok=False, error=...)
with a sentence that both the model and a person can act on.

Downloads are caught whatever starts them (a click, a keypress, a goto to a file
served as an attachment, a popup that downloads and closes) and saved in files_dir.
A tab the action opened is handed back in `ActionResult.new_page`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import httpx
from django.conf import settings
from playwright.async_api import Dialog, Download, Locator, Page, Request
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from dashboard.urlcheck import InvalidURL, is_internal_address, normalize_url
from runs.agent.browser import claim_download, resolve, unique_path
from runs.agent.observe import ElementNotFound, element_frame, find_and_inspect

log = logging.getLogger(__name__)

ENGINE_ACTIONS = frozenset({"extract", "complete", "terminate"})
MAX_WAIT_SECONDS = 30.0
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_KEYS = 50
SETTLE_LOAD_MS = 1_500  # after a navigation: how long to give "load" beyond DOMContentLoaded
NAVIGATION_TIMEOUT_MS = 30_000
DOWNLOAD_GRACE_S = 3.0
DOWNLOAD_TIMEOUT_S = 300.0
POPUP_GRACE_S = 3.0
DISABLED_TIMEOUT_MS = 2_000


@dataclass
class ActionResult:
    ok: bool
    error: str | None = None
    downloaded_files: list[Path] = field(default_factory=list)
    duration_ms: int = 0
    message: str | None = None  # what happened, for the step history: "Clicked e12; ..."
    # A tab the action opened (target=_blank, window.open); the engine may switch to it.
    new_page: Page | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (dataclasses.asdict would try to deep-copy the Page)."""
        return {
            "ok": self.ok,
            "error": self.error,
            "downloaded_files": [str(p) for p in self.downloaded_files],
            "duration_ms": self.duration_ms,
            "message": self.message,
            "opened_new_page": self.new_page is not None,
        }


class ActionError(Exception):
    """A failure to report to the model as it is (the message is the explanation)."""


# -- entry point --------------------------------------------------------------------------


async def perform(
    page: Page, action: dict[str, Any], *, files_dir: Path, timeout_ms: int = 10_000
) -> ActionResult:
    """Do `action` on `page`; never raises for a bad action or a misbehaving page."""
    started = time.perf_counter()
    watcher = _Watcher(page)
    message: str | None = None
    error: str | None = None
    try:
        if not isinstance(action, dict):
            raise ActionError(f"An action must be a JSON object, not {type(action).__name__}")
        kind = action.get("type")
        if kind in ENGINE_ACTIONS:
            raise ActionError(
                f"'{kind}' is not a page action: the engine handles it, not the browser"
            )
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            known = ", ".join(sorted(_HANDLERS))
            raise ActionError(f"Unknown action type {kind!r}; page actions are: {known}")
        files_dir.mkdir(parents=True, exist_ok=True)
        watcher.attach()
        context = _Context(page, action, files_dir, timeout_ms, watcher)
        message = await handler(context)
        await watcher.settle(timeout_ms)
    except ActionError as exc:
        error = str(exc)
    except ElementNotFound as exc:
        error = str(exc)
    except InvalidURL as exc:
        error = str(exc)
    except PlaywrightError as exc:  # includes TimeoutError
        error = _explain(exc, action)
    except Exception as exc:  # the contract: a result, never an exception, for any action
        log.exception("Action %r failed unexpectedly", action)
        error = f"The action failed unexpectedly: {type(exc).__name__}: {exc}"
    finally:
        downloaded = await watcher.finish(files_dir)
    new_page = watcher.new_page()
    notes = [message] if message and not error else []
    notes += watcher.dialogs
    if watcher.failed_downloads:
        notes.append(
            "These downloads failed or did not finish: " + ", ".join(watcher.failed_downloads)
        )
    if downloaded:
        notes.append("Downloaded " + ", ".join(p.name for p in downloaded))
    if new_page is not None:
        notes.append(f"A new tab opened: {new_page.url}")
    return ActionResult(
        ok=error is None,
        error=error,
        downloaded_files=downloaded,
        duration_ms=round((time.perf_counter() - started) * 1000),
        message="; ".join(notes) or None,
        new_page=new_page,
    )


@dataclass
class _Context:
    page: Page
    action: dict[str, Any]
    files_dir: Path
    timeout_ms: int
    watcher: _Watcher

    def require(self, key: str, kind: type | tuple[type, ...], hint: str) -> Any:
        value = self.action.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ActionError(f"{self.action['type']} needs '{key}' ({hint})")
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ActionError(f"{self.action['type']}: '{key}' must be {hint}")
        return value

    def element_id(self) -> str:
        return str(self.require("element_id", str, "the id of an element, e.g. e12")).strip()

    async def element(self) -> _Target:
        element_id = self.element_id()
        locator, info = await find_and_inspect(self.page, element_id, _INFO_JS)
        return _Target(element_id, locator, info, self.timeout_ms)


@dataclass
class _Target:
    """The element an action works on, with what one look at it told (tag, type, state)."""

    id: str
    locator: Locator
    info: dict[str, Any]
    action_timeout_ms: int

    @property
    def tag(self) -> str:
        return str(self.info["tag"])

    @property
    def type(self) -> str | None:
        return self.info["type"]

    @property
    def timeout(self) -> int:
        # A disabled control rarely becomes enabled by itself: fail in 2 s, not the full wait.
        if self.info["disabled"]:
            return min(self.action_timeout_ms, DISABLED_TIMEOUT_MS)
        return self.action_timeout_ms


class _Watcher:
    """Listens while an action runs: downloads (on this page and on tabs it opens),
    new tabs, and whether the main frame navigated."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.downloads: list[Download] = []
        self.got_download = asyncio.Event()
        self.got_page = asyncio.Event()
        self.pages: list[Page] = []
        self.navigated = False
        self.navigation_requests = 0  # main-frame document requests started
        self.navigation_aborted = False  # one ended in ERR_ABORTED: typically a download
        self.navigation_event = asyncio.Event()  # committed, failed or became a download
        self.dialogs: list[str] = []
        self.failed_downloads: list[str] = []
        self._attached = False

    # Handlers must never raise: Playwright re-raises listener errors into unrelated calls.
    def _on_download(self, download: Download) -> None:
        claim_download(download)
        self.downloads.append(download)
        self.got_download.set()
        self.navigation_event.set()

    def _is_main_navigation(self, request: Request) -> bool:
        try:
            return request.is_navigation_request() and request.frame == self.page.main_frame
        except PlaywrightError:  # a service worker's request has no frame
            return False

    def _on_request(self, request: Request) -> None:
        if self._is_main_navigation(request):
            self.navigation_requests += 1

    def _on_request_failed(self, request: Request) -> None:
        if self._is_main_navigation(request):
            self.navigation_aborted = "ERR_ABORTED" in (request.failure or "")
            self.navigation_event.set()

    def _on_page(self, page: Page) -> None:
        self.pages.append(page)
        page.on("download", self._on_download)
        page.on("dialog", self._on_dialog)
        self.got_page.set()

    def _on_dialog(self, dialog: Dialog) -> None:
        # The model clicked "Delete"; the "Are you sure?" that follows is part of that
        # intent, so confirm it (and alerts, and leaving the page). A prompt wants text
        # the model never gave: dismiss it. Either way the model is told.
        accept = dialog.type != "prompt"
        self.dialogs.append(
            f"The page showed a {dialog.type} dialog saying {dialog.message[:200]!r}; "
            f"it was {'accepted' if accept else 'dismissed'}"
        )
        task = asyncio.ensure_future(dialog.accept() if accept else dialog.dismiss())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # no loop warnings

    def _on_navigated(self, frame: Any) -> None:
        if frame == self.page.main_frame:
            self.navigated = True
            self.navigation_event.set()

    def attach(self) -> None:
        self.page.on("download", self._on_download)
        self.page.on("framenavigated", self._on_navigated)
        self.page.on("dialog", self._on_dialog)
        self.page.on("request", self._on_request)
        self.page.on("requestfailed", self._on_request_failed)
        self.page.context.on("page", self._on_page)
        self._attached = True

    async def finish(self, files_dir: Path) -> list[Path]:
        if not self._attached:
            return []
        self.page.remove_listener("framenavigated", self._on_navigated)
        self.page.remove_listener("request", self._on_request)
        self.page.remove_listener("requestfailed", self._on_request_failed)
        self.page.context.remove_listener("page", self._on_page)
        self.page.remove_listener("download", self._on_download)
        for page in self.pages:
            page.remove_listener("download", self._on_download)
        for page in [self.page, *self.pages]:
            page.remove_listener("dialog", self._on_dialog)
        saved = []
        limit = float(getattr(settings, "HARRIER_DOWNLOAD_TIMEOUT_S", DOWNLOAD_TIMEOUT_S))
        for download in self.downloads:
            target = unique_path(files_dir, download.suggested_filename)
            try:
                # save_as waits for the whole file: bound it, a download can be endless.
                await asyncio.wait_for(download.save_as(target), limit)
            except (PlaywrightError, TimeoutError):
                with suppress(PlaywrightError):
                    await download.cancel()
                target.unlink(missing_ok=True)
                self.failed_downloads.append(download.suggested_filename)
                continue
            saved.append(target)
        return saved

    def new_page(self) -> Page | None:
        # A tab that only delivered a download has closed itself by now.
        open_pages = [p for p in self.pages if not p.is_closed()]
        return open_pages[-1] if open_pages else None

    async def settle(self, timeout_ms: int) -> None:
        """Let a navigation the action started finish, or turn into the download it is."""
        if self.navigation_requests and not (self.navigated or self.downloads):
            # Started but not committed yet (a keypress does not wait like a click does).
            with suppress(TimeoutError):
                await asyncio.wait_for(self.navigation_event.wait(), min(timeout_ms, 5_000) / 1000)
        if self.navigation_aborted and not (self.downloads or self.navigated):
            # An attachment aborts the navigation a moment before the download event comes.
            await self.wait_for_download(DOWNLOAD_GRACE_S)
        if self.navigated:
            await _settle(self.page, timeout_ms)

    async def wait_for_page(self, timeout_s: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self.got_page.wait(), timeout_s)

    async def wait_for_download(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self.got_download.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


async def _settle(page: Page, timeout_ms: int) -> None:
    """After a navigation: wait for the new document, without failing if it is slow."""
    for state, limit in (("domcontentloaded", timeout_ms), ("load", SETTLE_LOAD_MS)):
        try:
            await page.wait_for_load_state(state, timeout=limit)  # type: ignore[arg-type]
        except PlaywrightError:
            return


# -- actions ------------------------------------------------------------------------------


async def _click(ctx: _Context) -> str:
    target = await ctx.element()
    await target.locator.click(timeout=target.timeout)
    if target.info["opensTab"]:
        # The new tab's "page" event comes a moment after the click returns.
        await ctx.watcher.wait_for_page(POPUP_GRACE_S)
    return f"Clicked {target.id}"


async def _input_text(ctx: _Context) -> str:
    target = await ctx.element()
    element_id, info = target.id, target.info
    text = ctx.action.get("text")
    if text is None:
        raise ActionError("input_text needs 'text' (the text to type)")
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ActionError("input_text: 'text' must be a string")
    text = str(text)
    tag, kind = info["tag"], info["type"]
    if tag == "select":
        raise ActionError(f"{element_id} is a drop-down list: use select_option instead")
    if tag == "input" and kind in ("checkbox", "radio"):
        raise ActionError(f"{element_id} is a {kind}: use the checkbox action instead")
    if tag == "input" and kind == "file":
        raise ActionError(f"{element_id} is a file input: use upload_file instead")
    if tag not in ("input", "textarea") and not info["editable"]:
        raise ActionError(
            f"{element_id} is a <{tag}>, not a text field; if clicking it opens one, "
            "click it first and type into the field that appears"
        )
    if info["readOnly"]:
        raise ActionError(f"{element_id} is read-only; its value cannot be changed")
    # fill() selects what is there and replaces it with real input events, which
    # framework-controlled fields (React, Vue) pick up like typing.
    await target.locator.fill(text, timeout=target.timeout)
    shown = text if kind != "password" else "********"
    return f"Typed {shown!r} into {element_id}" if len(shown) <= 60 else f"Typed into {element_id}"


async def _select_option(ctx: _Context) -> str:
    target = await ctx.element()
    element_id, info = target.id, target.info
    wanted = ctx.action.get("option")
    if wanted is None or isinstance(wanted, bool | dict | list):
        raise ActionError("select_option needs 'option' (the label or value of the option)")
    wanted = str(wanted)
    if info["tag"] != "select":
        return await _select_custom(ctx, target, wanted)
    options: list[dict[str, Any]] = info["options"]
    match = _match_option(options, wanted)
    if match is None:
        labels = [o["label"] for o in options[:30]]
        more = f" (and {len(options) - 30} more)" if len(options) > 30 else ""
        listed = ", ".join(f"'{label}'" for label in labels) or "none"
        raise ActionError(
            f"Option '{wanted}' not found in {element_id}; options are: {listed}{more}"
        )
    if match["disabled"]:
        raise ActionError(f"Option '{match['label']}' of {element_id} is disabled")
    await target.locator.select_option(index=match["index"], timeout=target.timeout)
    return f"Selected '{match['label']}' in {element_id}"


def _match_option(options: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    """Label first, then value; exact, then ignoring case and spaces, then a unique substring."""
    folded = " ".join(wanted.split()).casefold()
    for test in (
        lambda o: o["label"] == wanted,
        lambda o: o["value"] == wanted,
        lambda o: " ".join(o["label"].split()).casefold() == folded,
        lambda o: o["value"].casefold() == folded,
    ):
        found = [o for o in options if test(o)]
        if found:
            return found[0]
    partial = [o for o in options if folded and folded in o["label"].casefold()]
    return partial[0] if len(partial) == 1 else None


async def _select_custom(ctx: _Context, target: _Target, wanted: str) -> str:
    # A scripted drop-down (div role=combobox and friends): open it, click the option.
    element_id = target.id
    await target.locator.click(timeout=target.timeout)
    frame = await element_frame(ctx.page, element_id) or ctx.page.main_frame
    option = frame.get_by_role("option", name=wanted).or_(
        frame.get_by_role("menuitem", name=wanted)
    )
    try:
        await option.first.click(timeout=min(ctx.timeout_ms, 3_000))
    except PlaywrightError:
        raise ActionError(
            f"{element_id} is not a <select>; I clicked it but found no option '{wanted}'. "
            "Look at the page again and click the option you want"
        ) from None
    return f"Opened {element_id} and chose '{wanted}'"


async def _checkbox(ctx: _Context) -> str:
    target = await ctx.element()
    element_id, info = target.id, target.info
    checked = ctx.action.get("checked", True)
    if isinstance(checked, str) and checked.lower() in ("true", "false"):
        checked = checked.lower() == "true"
    if not isinstance(checked, bool):
        raise ActionError("checkbox: 'checked' must be true or false")
    if info["tag"] == "input" and info["type"] == "radio" and not checked:
        raise ActionError(
            f"{element_id} is a radio button; it cannot be unchecked directly: "
            "choose another option of the same group instead"
        )
    try:
        await target.locator.set_checked(checked, timeout=target.timeout)
    except PlaywrightError as exc:
        if "Not a checkbox or radio button" in str(exc):
            raise ActionError(
                f"{element_id} is not a checkbox or radio button; use click instead"
            ) from None
        raise
    return f"{'Checked' if checked else 'Unchecked'} {element_id}"


async def _upload_file(ctx: _Context) -> str:
    target = await ctx.element()
    element_id, info, locator = target.id, target.info, target.locator
    if ctx.action.get("file_path"):
        path = _file_in(ctx.files_dir, str(ctx.action["file_path"]))
    else:
        url = ctx.require("file_url", str, "the URL of the file to upload")
        path = await fetch_file(
            url,
            ctx.files_dir,
            allow_private=bool(getattr(settings, "HARRIER_ALLOW_PRIVATE_NETWORKS", False)),
            max_bytes=int(getattr(settings, "HARRIER_MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES)),
            timeout_s=max(ctx.timeout_ms / 1000, 30.0),
        )
    if info["tag"] == "input" and info["type"] == "file":
        await locator.set_input_files(path, timeout=ctx.timeout_ms)
    else:
        # A styled button that opens a hidden file input: answer the file chooser it opens.
        try:
            async with ctx.page.expect_file_chooser(timeout=min(ctx.timeout_ms, 5_000)) as chooser:
                await locator.click(timeout=ctx.timeout_ms)
            await (await chooser.value).set_files(path)
        except PlaywrightTimeoutError:
            raise ActionError(
                f"{element_id} is not a file input and clicking it opened no file chooser"
            ) from None
    return f"Attached {path.name} to {element_id}"


def _file_in(files_dir: Path, file_path: str) -> Path:
    candidate = Path(file_path)
    if not candidate.is_absolute():
        candidate = files_dir / candidate
    resolved = candidate.resolve()
    if not resolved.is_relative_to(files_dir.resolve()):
        raise ActionError(
            f"file_path {file_path!r} is not one of this run's files; give a file_url instead"
        )
    if not resolved.is_file():
        raise ActionError(f"There is no file {file_path!r} among this run's files")
    return resolved


async def _download(ctx: _Context) -> str:
    target = await ctx.element()
    element_id = target.id
    await target.locator.click(timeout=target.timeout)
    if not await ctx.watcher.wait_for_download(ctx.timeout_ms / 1000):
        where = f"; the page went to {ctx.page.url}" if ctx.watcher.navigated else ""
        raise ActionError(f"Clicking {element_id} did not start a download{where}")
    return f"Clicked {element_id} to download"


async def _scroll(ctx: _Context) -> str:
    direction = ctx.action.get("direction", "down")
    if direction not in ("down", "up"):
        raise ActionError('scroll: \'direction\' must be "down" or "up"')
    amount = ctx.action.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise ActionError("scroll: 'amount' must be a number of pixels")
    if ctx.action.get("element_id"):
        target = await ctx.element()
        element_id = target.id
        result = await target.locator.evaluate(
            _SCROLL_ELEMENT_JS, {"amount": amount, "up": direction == "up"}
        )
        what = f"the scrollable area of {element_id}" if result["what"] == "element" else "the page"
    else:
        result = await ctx.page.evaluate(
            _SCROLL_PAGE_JS, {"amount": amount, "up": direction == "up"}
        )
        what = "the page" if result["what"] == "page" else "the page's main scrolling area"
    moved = result["after"] - result["before"]
    if moved == 0:
        edge = "top" if direction == "up" else "bottom"
        return f"{what[0].upper()}{what[1:]} is already at the {edge}; nothing more to scroll"
    return (
        f"Scrolled {what} {direction} {abs(moved)} px "
        f"(now at {result['after']} of {result['max']} px)"
    )


_SCROLL_HELPERS = """
    const scrollable = (n) => {
        const s = getComputedStyle(n);
        return /(auto|scroll|overlay)/.test(s.overflowY) && n.scrollHeight > n.clientHeight + 1;
    };
    const scroll = (target, amount, up, viewportHeight) => {
        const before = Math.round(target.scrollTop);
        const step = amount == null ? Math.round(viewportHeight * 0.9) : Math.abs(amount);
        target.scrollBy({top: up ? -step : step, behavior: "instant"});
        return {before, after: Math.round(target.scrollTop),
                max: Math.round(target.scrollHeight - target.clientHeight)};
    };
"""
_SCROLL_ELEMENT_JS = f"""(el, {{amount, up}}) => {{
    {_SCROLL_HELPERS}
    let target = el;
    while (target && target.nodeType === 1 && !scrollable(target)) target = target.parentElement;
    if (!target || target.nodeType !== 1) {{
        const page = document.scrollingElement || document.documentElement;
        return {{...scroll(page, amount, up, innerHeight), what: "page"}};
    }}
    return {{...scroll(target, amount, up, target.clientHeight), what: "element"}};
}}"""
_SCROLL_PAGE_JS = f"""({{amount, up}}) => {{
    {_SCROLL_HELPERS}
    const page = document.scrollingElement || document.documentElement;
    const result = scroll(page, amount, up, innerHeight);
    if (result.after !== result.before || page.scrollHeight > innerHeight + 1) {{
        return {{...result, what: "page"}};
    }}
    // The window does not scroll (an app with its own full-height scrolling container):
    // scroll the biggest visible scrollable element instead.
    let best = null, bestArea = 0;
    for (const el of document.querySelectorAll("body *")) {{
        if (!scrollable(el)) continue;
        const r = el.getBoundingClientRect();
        const area = r.width * r.height;
        if (area > bestArea) {{ best = el; bestArea = area; }}
    }}
    if (!best) return {{...result, what: "page"}};
    return {{...scroll(best, amount, up, best.clientHeight), what: "container"}};
}}"""

_KEY_ALIASES = {
    "ctrl": "Control",
    "control": "Control",
    "cmd": "Meta",
    "command": "Meta",
    "meta": "Meta",
    "win": "Meta",
    "option": "Alt",
    "alt": "Alt",
    "shift": "Shift",
    "esc": "Escape",
    "escape": "Escape",
    "return": "Enter",
    "enter": "Enter",
    "del": "Delete",
    "delete": "Delete",
    "space": " ",
    "spacebar": " ",
    "tab": "Tab",
    "backspace": "Backspace",
    "up": "ArrowUp",
    "down": "ArrowDown",
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "pageup": "PageUp",
    "pagedown": "PageDown",
    "home": "Home",
    "end": "End",
}


def _normalize_key(key: str) -> str:
    """Accept what models write ("ctrl+a", "Return", "ESC") as Playwright key names."""
    if key == "+" or key == " ":
        return key
    parts = key.split("+")
    return "+".join(_KEY_ALIASES.get(p.strip().lower(), p.strip()) for p in parts)


async def _keypress(ctx: _Context) -> str:
    keys = ctx.action.get("keys")
    if isinstance(keys, str):
        keys = [keys]
    if not keys or not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise ActionError("keypress needs 'keys', a list of key names such as [\"Enter\"]")
    if len(keys) > MAX_KEYS:
        raise ActionError(f"keypress takes at most {MAX_KEYS} keys at a time")
    names = [_normalize_key(k) for k in keys]
    target = "the page"
    try:
        if ctx.action.get("element_id"):
            element = await ctx.element()
            target = element.id
            for name in names:
                await element.locator.press(name, timeout=ctx.timeout_ms)
        else:
            for name in names:
                await ctx.page.keyboard.press(name)
    except PlaywrightError as exc:
        unknown = re.search(r'Unknown key: "([^"]*)"', str(exc))
        if unknown:
            raise ActionError(
                f"Unknown key '{unknown.group(1)}'; use names like Enter, Tab, Escape, "
                "ArrowDown, Backspace, Control+a"
            ) from None
        raise
    return f"Pressed {' '.join(names)} on {target}"


async def _hover(ctx: _Context) -> str:
    target = await ctx.element()
    await target.locator.hover(timeout=ctx.timeout_ms)
    return f"Hovered over {target.id}"


async def _wait(ctx: _Context) -> str:
    seconds = ctx.action.get("seconds", 2)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ActionError("wait: 'seconds' must be a number")
    seconds = max(0.0, min(float(seconds), MAX_WAIT_SECONDS))
    await asyncio.sleep(seconds)
    return f"Waited {seconds:g} s"


async def _go_back(ctx: _Context) -> str:
    before = ctx.page.url
    response = await ctx.page.go_back(
        wait_until="commit", timeout=max(ctx.timeout_ms, NAVIGATION_TIMEOUT_MS)
    )
    if response is None and ctx.page.url == before:
        raise ActionError("There is no previous page to go back to")
    return f"Went back to {ctx.page.url}"


async def _goto_url(ctx: _Context) -> str:
    url = normalize_url(ctx.require("url", str, "the address to open, e.g. https://example.com"))
    try:
        await ctx.page.goto(
            url, wait_until="commit", timeout=max(ctx.timeout_ms, NAVIGATION_TIMEOUT_MS)
        )
    except PlaywrightError as exc:
        # A URL served as an attachment aborts the navigation and starts a download.
        if ctx.watcher.downloads or await ctx.watcher.wait_for_download(1.0):
            return f"{url} is a file; it was downloaded instead of opened"
        raise ActionError(_navigation_error(url, exc)) from None
    return f"Opened {ctx.page.url}"


def _navigation_error(url: str, exc: PlaywrightError) -> str:
    message = str(exc)
    code = re.search(r"net::(ERR_[A-Z_]+)", message)
    if code:
        reason = {
            "ERR_NAME_NOT_RESOLVED": "the host name does not exist",
            "ERR_CONNECTION_REFUSED": "the server refused the connection",
            "ERR_CONNECTION_TIMED_OUT": "the server did not answer",
            "ERR_BLOCKED_BY_CLIENT": "Harrier does not let the browser reach internal addresses",
            "ERR_CERT_AUTHORITY_INVALID": "its TLS certificate is not trusted",
            "ERR_INTERNET_DISCONNECTED": "there is no network connection",
        }.get(code.group(1), code.group(1))
        return f"Could not open {url}: {reason}"
    if isinstance(exc, PlaywrightTimeoutError):
        return f"Could not open {url}: the server did not respond in time"
    return f"Could not open {url}: {_first_line(message)}"


_HANDLERS: dict[str, Callable[[_Context], Awaitable[str]]] = {
    "click": _click,
    "input_text": _input_text,
    "select_option": _select_option,
    "checkbox": _checkbox,
    "upload_file": _upload_file,
    "download": _download,
    "scroll": _scroll,
    "keypress": _keypress,
    "hover": _hover,
    "wait": _wait,
    "go_back": _go_back,
    "goto_url": _goto_url,
}


# -- helpers ------------------------------------------------------------------------------

_INFO_JS = """(el) => {
    const t = (el.localName === "label" && el.control) || el;
    const info = {tag: t.localName, type: t.type ? String(t.type).toLowerCase() : null,
                  editable: t.isContentEditable, readOnly: !!t.readOnly,
                  disabled: t.matches(":disabled") || t.getAttribute("aria-disabled") === "true"};
    if (t.localName === "select") {
        info.options = [...t.options].map((o, index) => ({
            index, label: (o.label || o.text).replace(/\\s+/g, " ").trim(), value: o.value,
            disabled: o.disabled}));
    }
    // A link or form that opens a new tab: the click waits a moment for the tab to appear.
    const opener = el.closest("a[target], area[target]") || (t.form && t.form.target && t.form);
    const name = opener ? (opener.getAttribute("target") || "").toLowerCase() : "";
    info.opensTab = name !== "" && !["_self", "_top", "_parent"].includes(name);
    return info;
}"""


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return re.sub(r"^[A-Za-z]+\.[A-Za-z_]+: ", "", line)


_REASONS = (
    ("intercepts pointer events", None),  # handled separately: names the covering element
    ("element is not visible", "it is not visible"),
    ("element is not enabled", "it is disabled"),
    ("element is disabled", "it is disabled"),
    ("element is not editable", "it is read-only"),
    ("element is not stable", "it keeps moving (an animation)"),
    ("element is outside of the viewport", "it is outside the page and cannot be scrolled to"),
    ("not attached to the DOM", "it was removed from the page"),
    ("Element is not attached", "it was removed from the page"),
)


def _explain(exc: PlaywrightError, action: Any) -> str:
    """A sentence for the model out of a Playwright error and its call log."""
    message = str(exc)
    kind = action.get("type") if isinstance(action, dict) else None
    element_id = action.get("element_id") if isinstance(action, dict) else None
    verb = {
        "click": "click",
        "input_text": "type into",
        "select_option": "select an option in",
        "checkbox": "check",
        "upload_file": "attach a file to",
        "download": "click",
        "hover": "hover over",
        "keypress": "press keys on",
        "scroll": "scroll",
    }.get(str(kind), "act on")
    target = element_id if isinstance(element_id, str) else "the page"
    if "Target page, context or browser has been closed" in message or "Target closed" in message:
        return "The page was closed while the action ran"
    covered = re.findall(r"(<[^>]{1,120}>)(?:[^\n]*?) intercepts pointer events", message)
    if covered:
        return f"Could not {verb} {target}: another element covers it ({covered[-1]})"
    reason = next((text for needle, text in _REASONS if text and needle in message), None)
    if isinstance(exc, PlaywrightTimeoutError):
        if reason is None and "waiting for locator" in message and "resolved to" not in message:
            return f"Element {target} is not on the page any more; the page may have changed"
        return f"Could not {verb} {target} in time: {reason or 'the page did not let it happen'}"
    if reason:
        return f"Could not {verb} {target}: {reason}"
    return f"Could not {verb} {target}: {_first_line(message)}"


# -- fetching a file to upload ------------------------------------------------------------


async def fetch_file(
    url: str,
    directory: Path,
    *,
    allow_private: bool,
    max_bytes: int = MAX_UPLOAD_BYTES,
    timeout_s: float = 30.0,
) -> Path:
    """Download `url` into `directory` for an upload; ActionError says why it could not.

    Every hop of a redirect chain is checked, and the connection goes to the very
    address that was checked (the Host header and TLS SNI keep the name), so a name
    that resolves differently a second time (DNS rebinding) cannot reach inside.
    """
    current = url
    async with httpx.AsyncClient(
        timeout=timeout_s, follow_redirects=False, trust_env=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                checked = normalize_url(current)
            except InvalidURL as exc:
                raise ActionError(f"Cannot fetch the file: {exc}") from None
            parts = urlsplit(checked)
            host = parts.hostname or ""
            address = await _checked_address(host, allow_private, url)
            request = client.build_request(
                "GET",
                _with_address(parts, address),
                headers={"Host": _host_header(parts)},
                extensions={"sni_hostname": host} if parts.scheme == "https" else {},
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise ActionError(
                    f"Could not download {url}: {exc or type(exc).__name__}"
                ) from None
            try:
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(checked, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise ActionError(
                        f"Could not download {url}: the server answered {response.status_code}"
                    )
                return await _save_body(response, directory, parts.path, max_bytes, url)
            except httpx.HTTPError as exc:
                raise ActionError(
                    f"Could not download {url}: {exc or type(exc).__name__}"
                ) from None
            finally:
                await response.aclose()
    raise ActionError(f"Could not download {url}: too many redirects")


async def _checked_address(host: str, allow_private: bool, url: str) -> str:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses = [str(literal)]
    except ValueError:
        addresses = await resolve(host)
    if not addresses:
        raise ActionError(f"Could not download {url}: the host {host} does not exist")
    if not allow_private:
        internal = [a for a in addresses if is_internal_address(ipaddress.ip_address(a))]
        if internal:
            raise ActionError(
                f"Refused to download {url}: {host} points to an internal address "
                f"({internal[0]}), which Harrier does not fetch from"
            )
    return addresses[0]


def _with_address(parts: Any, address: str) -> str:
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def _host_header(parts: Any) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


async def _save_body(
    response: httpx.Response, directory: Path, url_path: str, max_bytes: int, url: str
) -> Path:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ActionError(f"Could not download {url}: larger than {max_bytes // 1_048_576} MB")
    directory.mkdir(parents=True, exist_ok=True)
    target = unique_path(directory, _filename(response, url_path))
    size = 0
    try:
        with target.open("wb") as out:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ActionError(
                        f"Could not download {url}: larger than {max_bytes // 1_048_576} MB"
                    )
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def _filename(response: httpx.Response, url_path: str) -> str:
    disposition = response.headers.get("content-disposition")
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        name = message.get_filename()
        if name:
            return name
    return PurePosixPath(unquote(url_path)).name or "upload"
