"""Fixtures for the agent's browser tests: the fixture website, one event loop and one
Chromium for the whole session, and a fresh context + page per test.

No database: these tests drive a real Chromium against a real local HTTP server.
pytest-asyncio is not installed, so async code runs on one long-lived loop through
the `run` fixture; Playwright objects belong to the loop that made them, which is
also why the loop lives as long as the browser.
"""

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.async_api import Page

from runs.agent.browser import BrowserPool
from tests.support.site_server import FixtureSite

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]


@pytest.fixture(scope="session")
def site() -> Iterator[FixtureSite]:
    with FixtureSite() as fixture_site:
        yield fixture_site


@pytest.fixture(scope="session")
def event_loop_runner() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture(scope="session")
def run(event_loop_runner: asyncio.AbstractEventLoop) -> Run[Any]:
    """run(coro) -> its result, on the session's event loop."""
    return event_loop_runner.run_until_complete


@pytest.fixture(scope="session")
def pool(run: Run[Any]) -> Iterator[BrowserPool]:
    browser_pool = BrowserPool()
    run(browser_pool.start())
    yield browser_pool
    run(browser_pool.stop())


@pytest.fixture(autouse=True)
def _allow_private_networks(settings: Any) -> None:
    # The fixture site is on 127.0.0.1; tests about refusing internal hosts turn it off.
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    path = tmp_path / "files"
    path.mkdir()
    return path


@pytest.fixture
def page(pool: BrowserPool, run: Run[Any], tmp_path: Path) -> Iterator[Page]:
    """A page in a fresh context, allowed to reach the fixture site on loopback."""
    manager = pool.new_context(downloads_dir=tmp_path / "stray", block_private_networks=False)
    context = run(manager.__aenter__())
    try:
        yield run(context.new_page())
    finally:
        run(manager.__aexit__(None, None, None))


@pytest.fixture
def goto(page: Page, site: FixtureSite, run: Run[Any]) -> Callable[[str], None]:
    """goto("/inputs"): open a fixture page and wait for it to load."""

    def open_path(path: str) -> None:
        run(page.goto(site.url + path))

    return open_path
