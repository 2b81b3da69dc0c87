"""Driving a browser session's Chromium over CDP, from the worker host that owns it.

A run attaches to the session's default context (only its pages survive a
client disconnecting), continues in the tab the previous run left (found by
its CDP target id), and disconnects afterwards: `Browser.close()` on a CDP
connection ends the connection, not the browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from django.conf import settings
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from runs.agent.browser import refuse_internal

CONNECT_TIMEOUT_MS = 10_000
_playwright: dict[asyncio.AbstractEventLoop, Playwright] = {}


async def _driver() -> Playwright:
    # One Playwright driver per event loop: its objects belong to the loop that made them.
    loop = asyncio.get_running_loop()
    if loop not in _playwright:
        _playwright[loop] = await async_playwright().start()
    return _playwright[loop]


@asynccontextmanager
async def session_page(cdp_url: str, page_target_id: str) -> AsyncIterator[Page]:
    """The session's current tab, for the length of a run."""
    playwright = await _driver()
    browser = await playwright.chromium.connect_over_cdp(cdp_url, timeout=CONNECT_TIMEOUT_MS)
    try:
        context = browser.contexts[0]
        if not settings.HARRIER_ALLOW_PRIVATE_NETWORKS:
            await context.route("**/*", refuse_internal)
        yield await _current_page(context, page_target_id)
    finally:
        with suppress(PlaywrightError):
            await browser.close()


async def _current_page(context: BrowserContext, page_target_id: str) -> Page:
    pages = [page for page in context.pages if not page.is_closed()]
    for page in pages:
        if page_target_id and await target_id_of(page) == page_target_id:
            return page
    # The remembered tab is gone (or this is the first run): the newest open tab.
    return pages[-1] if pages else await context.new_page()


async def target_id_of(page: Page) -> str:
    cdp = await page.context.new_cdp_session(page)
    try:
        info = await cdp.send("Target.getTargetInfo")
    finally:
        with suppress(PlaywrightError):
            await cdp.detach()
    return info["targetInfo"]["targetId"]


async def screenshot_of(cdp_url: str, page_target_id: str) -> bytes | None:
    """A viewport JPEG of the session's current tab (None when the browser is unreachable)."""
    try:
        async with session_page(cdp_url, page_target_id) as page:
            return await page.screenshot(type="jpeg", quality=70, timeout=5_000)
    except PlaywrightError:
        return None
