"""The browser pool: lazy start, fresh contexts that always close, relaunch after a crash."""

import asyncio
import os
import signal
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError

from runs.agent.browser import BrowserPool, unique_path
from tests.support.site_server import FixtureSite


def chromium_pids(marker: str) -> list[int]:
    """The main Chromium processes started with `marker` among their arguments."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in args and not any(a.startswith(b"--type=") for a in args):
            pids.append(int(entry.name))
    return pids


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_the_pool_starts_nothing_until_used() -> None:
    pool = BrowserPool()
    assert pool.browser is None
    assert not pool.is_running
    assert pool.launch_count == 0


def test_a_context_is_closed_after_use_even_when_the_body_raises(
    pool: BrowserPool, run: Any, tmp_path: Path
) -> None:
    seen: list[BrowserContext] = []

    async def use() -> None:
        async with pool.new_context(downloads_dir=tmp_path / "d") as context:
            seen.append(context)
            await context.new_page()
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError, match="the run failed"):
        run(use())
    context = seen[0]
    assert context not in pool.browser.contexts  # type: ignore[union-attr]
    with pytest.raises(PlaywrightError):
        run(context.new_page())
    assert (tmp_path / "d").is_dir()


def test_each_run_gets_a_fresh_context(
    pool: BrowserPool, run: Any, tmp_path: Path, site: FixtureSite
) -> None:
    async def log_in_then_look_again() -> tuple[str, str]:
        async with pool.new_context(
            downloads_dir=tmp_path, block_private_networks=False
        ) as context:
            page = await context.new_page()
            await page.goto(site.url + "/login")
            await page.fill("#username", "alice")
            await page.fill("#password", "wonderland")
            await page.click("button")
            first = page.url
        async with pool.new_context(
            downloads_dir=tmp_path, block_private_networks=False
        ) as context:
            page = await context.new_page()
            await page.goto(site.url + "/account")
            return first, page.url

    first, second = run(log_in_then_look_again())
    assert first.endswith("/account")
    assert second.endswith("/login")  # no cookie carried over


def test_contexts_have_the_agreed_shape(pool: BrowserPool, run: Any, tmp_path: Path) -> None:
    async def look() -> tuple[Any, str]:
        async with pool.new_context(downloads_dir=tmp_path) as context:
            page = await context.new_page()
            return page.viewport_size, await page.evaluate("navigator.userAgent")

    viewport, user_agent = run(look())
    assert viewport == {"width": 1280, "height": 800}
    assert "Headless" not in user_agent
    assert "Chrome/" in user_agent


def test_the_browser_is_relaunched_after_it_was_killed(
    run: Any, tmp_path: Path, site: FixtureSite
) -> None:
    marker = f"--harrier-test={uuid.uuid4().hex}"  # Chromium ignores unknown switches
    pool = BrowserPool(extra_args=[marker])

    async def title() -> str:
        async with pool.new_context(
            downloads_dir=tmp_path, block_private_networks=False
        ) as context:
            page = await context.new_page()
            await page.goto(site.url + "/table")
            return await page.title()

    try:
        assert run(title()) == "Products"
        pids = chromium_pids(marker)
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGKILL)

        def disconnected() -> bool:
            run(asyncio.sleep(0.05))  # let Playwright hear about it
            return not pool.is_running

        wait_until(disconnected)
        assert run(title()) == "Products"
        assert pool.launch_count == 2
        assert len(chromium_pids(marker)) == 1
    finally:
        run(pool.stop())
    wait_until(lambda: chromium_pids(marker) == [])


def test_stop_is_idempotent_and_the_pool_can_start_again(run: Any, tmp_path: Path) -> None:
    pool = BrowserPool()
    run(pool.stop())  # never started
    run(pool.start())
    assert pool.is_running
    run(pool.stop())
    run(pool.stop())
    assert not pool.is_running

    async def use() -> None:
        async with pool.new_context(downloads_dir=tmp_path) as context:
            await context.new_page()

    run(use())
    assert pool.launch_count == 2
    run(pool.stop())


def test_a_pool_moved_to_another_event_loop_starts_over(tmp_path: Path) -> None:
    marker = f"--harrier-test={uuid.uuid4().hex}"
    pool = BrowserPool(extra_args=[marker])

    async def use() -> None:
        async with pool.new_context(downloads_dir=tmp_path) as context:
            await (await context.new_page()).set_content("<p>hi</p>")

    asyncio.run(use())  # leaves the browser running, on a loop that is now closed
    asyncio.run(use())
    assert pool.launch_count == 2

    async def stop() -> None:
        await pool.stop()

    asyncio.run(stop())
    # The abandoned first browser goes away with its Playwright driver.
    wait_until(lambda: chromium_pids(marker) == [], timeout=15)


def test_internal_addresses_are_blocked_unless_allowed(
    pool: BrowserPool, run: Any, tmp_path: Path, site: FixtureSite, settings: Any
) -> None:
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = False

    async def visit(path: str) -> str:
        async with pool.new_context(downloads_dir=tmp_path) as context:
            page = await context.new_page()
            try:
                await page.goto(site.url + path)
            except PlaywrightError as exc:
                return str(exc)
            return await page.title()

    before = len(site.requests)
    assert "ERR_BLOCKED_BY_CLIENT" in run(visit("/table"))
    assert site.requests[before:] == []
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = True
    assert run(visit("/table")) == "Products"


def test_a_public_page_cannot_pull_from_internal_addresses(
    pool: BrowserPool, run: Any, tmp_path: Path, site: FixtureSite, settings: Any
) -> None:
    # A page (here set_content, standing in for a public site) loading a loopback image.
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = False

    async def load() -> None:
        async with pool.new_context(downloads_dir=tmp_path) as context:
            page = await context.new_page()
            await page.set_content(f'<img src="{site.url}/files/sample.txt?probe">')
            await page.wait_for_load_state("load")

    run(load())
    assert ("GET", "/files/sample.txt?probe") not in site.requests


def test_a_proxy_is_used_when_given(pool: BrowserPool, run: Any, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a proxy port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def visit() -> str:
        async with pool.new_context(
            downloads_dir=tmp_path,
            proxy={"server": f"http://127.0.0.1:{port}"},
            block_private_networks=False,
        ) as context:
            page = await context.new_page()
            try:
                await page.goto("http://example.invalid/", timeout=10_000)
            except PlaywrightError as exc:
                return str(exc)
            return "loaded"

    assert "ERR_PROXY_CONNECTION_FAILED" in run(visit())


def test_downloads_no_action_asked_for_are_kept(
    pool: BrowserPool, run: Any, tmp_path: Path, site: FixtureSite
) -> None:
    downloads = tmp_path / "downloads"

    async def click_download() -> None:
        async with pool.new_context(downloads_dir=downloads, block_private_networks=False) as ctx:
            page = await ctx.new_page()
            await page.goto(site.url + "/download")
            await page.click("text=Download the report")
            for _ in range(100):
                if list(downloads.iterdir()):
                    break
                await asyncio.sleep(0.05)

    run(click_download())
    assert [p.name for p in downloads.iterdir()] == ["report.csv"]


def test_unique_path_never_overwrites_and_stays_inside(tmp_path: Path) -> None:
    assert unique_path(tmp_path, "report.pdf") == tmp_path / "report.pdf"
    (tmp_path / "report.pdf").write_text("x")
    assert unique_path(tmp_path, "report.pdf") == tmp_path / "report-2.pdf"
    assert unique_path(tmp_path, "../../etc/passwd").parent == tmp_path
    assert unique_path(tmp_path, "").name == "download"
    assert unique_path(tmp_path, "a/b\\c:d?.txt").parent == tmp_path
