"""One Chromium per worker process, and a fresh browser context for every run.

The pool starts lazily, on first use, never at import: a Playwright instance
started in the Celery parent before prefork forks is broken in the children.
Everything here is async Playwright, and all of it must be used from one event
loop (Playwright objects belong to the loop that created them): a worker should
run its runs on one long-lived loop rather than a new `asyncio.run` per run. If
the pool notices a different loop anyway, it starts over on that one.

No Django ORM here; only settings, read with defaults:
HARRIER_CHROMIUM_PATH, HARRIER_BROWSER_HEADLESS, HARRIER_BROWSER_ARGS,
HARRIER_ALLOW_PRIVATE_NETWORKS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import signal
import socket
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import (
    Browser,
    BrowserContext,
    Download,
    Page,
    Playwright,
    Route,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

log = logging.getLogger(__name__)

DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium"
# --no-sandbox: workers run as root in containers, where Chromium's sandbox cannot start.
# The rest keep Chromium from phoning home or using a GPU/shm that containers lack.
BASE_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
)
VIEWPORT = {"width": 1280, "height": 800}
CLOSE_TIMEOUT_S = 10.0
DNS_CACHE_SECONDS = 60.0


def _setting(name: str, default: Any) -> Any:
    """A Django setting, or the default when there is none (or no Django configured)."""
    try:
        from django.conf import settings

        return getattr(settings, name, default)
    except Exception:  # ImproperlyConfigured outside Django: scripts, the benchmark
        return default


class BrowserPool:
    """A lazily started Chromium, relaunched when it crashed, handing out fresh contexts.

    pool = BrowserPool()
    async with pool.new_context(downloads_dir=run_dir) as context:
        page = await context.new_page()
        ...
    await pool.stop()  # at worker shutdown
    """

    def __init__(
        self,
        *,
        executable_path: str | None = None,
        headless: bool | None = None,
        extra_args: Sequence[str] | None = None,
    ) -> None:
        self._executable_path = executable_path
        self._headless = headless
        self._extra_args = list(extra_args) if extra_args is not None else None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._driver_pid: int | None = None
        self.launch_count = 0  # how many times Chromium was (re)started: for tests and metrics

    @property
    def browser(self) -> Browser | None:
        return self._browser

    @property
    def is_running(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def start(self) -> Browser:
        """Start Playwright and Chromium if they are not running (again); return the browser."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._abandon()
            self._loop = loop
            self._lock = asyncio.Lock()
        assert self._lock is not None
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:
                log.warning("Chromium disconnected (crashed or killed); launching a new one")
                self._browser = None
            if self._playwright is None:
                await self._start_playwright()
            assert self._playwright is not None
            try:
                self._browser = await self._launch(self._playwright)
            except PlaywrightError:
                # The driver itself may be gone with the browser: start both afresh once.
                await self._stop_playwright()
                await self._start_playwright()
                assert self._playwright is not None
                self._browser = await self._launch(self._playwright)
            self.launch_count += 1
            return self._browser

    async def _start_playwright(self) -> None:
        before = _driver_pids()
        self._playwright = await async_playwright().start()
        # Remembered so that a pool abandoned on a closed event loop can still end it.
        started = _driver_pids() - before
        self._driver_pid = started.pop() if len(started) == 1 else None

    async def _launch(self, playwright: Playwright) -> Browser:
        executable = self._executable_path or _setting(
            "HARRIER_CHROMIUM_PATH", DEFAULT_CHROMIUM_PATH
        )
        headless = self._headless
        if headless is None:
            headless = bool(_setting("HARRIER_BROWSER_HEADLESS", True))
        extra = self._extra_args
        if extra is None:
            extra = list(_setting("HARRIER_BROWSER_ARGS", []))
        started = time.perf_counter()
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=headless, args=[*BASE_ARGS, *extra]
        )
        log.info(
            "Chromium %s started in %.0f ms",
            browser.version,
            (time.perf_counter() - started) * 1000,
        )
        return browser

    async def stop(self) -> None:
        """Close Chromium and Playwright. Safe to call twice, or when never started."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            self._abandon()
            return
        browser, self._browser = self._browser, None
        if browser is not None:
            with suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT_S)
        await self._stop_playwright()

    async def _stop_playwright(self) -> None:
        playwright, self._playwright = self._playwright, None
        self._driver_pid = None
        if playwright is not None:
            with suppress(Exception):  # the driver may already be dead
                await asyncio.wait_for(playwright.stop(), CLOSE_TIMEOUT_S)

    def _abandon(self) -> None:
        # Objects of another (probably closed) event loop cannot be awaited here. Ending
        # the Playwright driver process ends the Chromium it launched too.
        if self._playwright is not None or self._browser is not None:
            log.warning("BrowserPool used from a new event loop; starting a new browser")
            if self._driver_pid is not None:
                with suppress(OSError):
                    os.kill(self._driver_pid, signal.SIGTERM)
        self._playwright = None
        self._browser = None
        self._driver_pid = None

    @asynccontextmanager
    async def new_context(
        self,
        *,
        proxy: dict[str, str] | None = None,
        downloads_dir: Path,
        block_private_networks: bool | None = None,
    ) -> AsyncIterator[BrowserContext]:
        """A fresh context (cookies, storage, cache of its own) that is always closed afterwards.

        `proxy` is Playwright's dict: {"server": "http://host:port", "username": ...,
        "password": ..., "bypass": ...}. Downloads that no action claimed (a site that
        starts one on a timer) are saved into `downloads_dir` anyway. Unless private
        networks are allowed (HARRIER_ALLOW_PRIVATE_NETWORKS, or the argument), every
        request to a loopback, private or link-local address is refused, so a page
        cannot steer the browser at the machines behind Harrier.
        """
        downloads_dir.mkdir(parents=True, exist_ok=True)
        if block_private_networks is None:
            block_private_networks = not _setting("HARRIER_ALLOW_PRIVATE_NETWORKS", False)
        browser = await self.start()
        options: dict[str, Any] = {
            "viewport": VIEWPORT,
            "accept_downloads": True,
            "user_agent": _user_agent(browser),
            "locale": "en-US",
        }
        if proxy:
            options["proxy"] = proxy
        if block_private_networks:
            # A service worker's requests would bypass the route below.
            options["service_workers"] = "block"
        try:
            context = await browser.new_context(**options)
        except PlaywrightError:
            if browser.is_connected():
                raise
            # It died between start() and now: one more try on a fresh browser.
            browser = await self.start()
            options["user_agent"] = _user_agent(browser)
            context = await browser.new_context(**options)
        pending: set[asyncio.Task[None]] = set()
        try:
            _save_unclaimed_downloads(context, downloads_dir, pending)
            if block_private_networks:
                await context.route("**/*", refuse_internal)
            yield context
        finally:
            for task in pending:
                task.cancel()
            with suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(context.close(), CLOSE_TIMEOUT_S)


def _driver_pids() -> set[int]:
    """This process's Playwright driver children (Linux /proc; empty elsewhere)."""
    pids = set()
    me = str(os.getpid())
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            parent = stat.rsplit(")", 1)[1].split()[1]
            if parent == me and b"run-driver" in (entry / "cmdline").read_bytes():
                pids.add(int(entry.name))
        except (OSError, IndexError):
            continue
    return pids


def _user_agent(browser: Browser) -> str:
    # Headless Chromium says "HeadlessChrome" in its user agent, which many sites refuse.
    major = browser.version.split(".")[0]
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0 Safari/537.36"
    )


# -- downloads ----------------------------------------------------------------------------

_claimed: weakref.WeakSet[Download] = weakref.WeakSet()


def claim_download(download: Download) -> None:
    """Tell the context's fallback saver that an action handles this download itself.

    Call it synchronously from the page's "download" event handler."""
    _claimed.add(download)


def _save_unclaimed_downloads(
    context: BrowserContext, downloads_dir: Path, pending: set[asyncio.Task[None]]
) -> None:
    async def save(download: Download) -> None:
        # Listeners run in registration order: wait a turn so that an action's own
        # handler (registered later) has had the chance to claim it.
        await asyncio.sleep(0)
        if download in _claimed:
            return
        with suppress(PlaywrightError):
            target = unique_path(downloads_dir, download.suggested_filename)
            await download.save_as(target)
            log.info("Saved a download no action asked for: %s", target.name)

    def on_download(download: Download) -> None:
        task = asyncio.ensure_future(save(download))
        pending.add(task)
        task.add_done_callback(pending.discard)

    def watch(page: Page) -> None:
        page.on("download", on_download)

    for page in context.pages:
        watch(page)
    context.on("page", watch)


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def unique_path(directory: Path, filename: str) -> Path:
    """A path in `directory` for `filename`, made safe and not overwriting anything there."""
    name = _UNSAFE.sub("_", Path(filename or "").name).strip(" .") or "download"
    stem, suffix = Path(name).stem[:100] or "download", Path(name).suffix[:20]
    candidate = directory / f"{stem}{suffix}"
    counter = 1
    while candidate.exists():
        counter += 1
        candidate = directory / f"{stem}-{counter}{suffix}"
    return candidate


# -- private networks ---------------------------------------------------------------------

_dns_cache: dict[str, tuple[float, list[str]]] = {}


async def internal_addresses(host: str) -> list[str]:
    """Why `host` is internal: the internal addresses it names or resolves to; [] if none.

    A name that does not resolve is not internal (the request will fail on its own).
    """
    from dashboard.urlcheck import is_internal_address, is_internal_host

    host = host.strip("[]").lower()
    if is_internal_host(host):
        return [host]
    try:
        ipaddress.ip_address(host)
        return []  # a public literal address
    except ValueError:
        pass
    cached = _dns_cache.get(host)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        addresses = cached[1]
    else:
        addresses = await resolve(host)
        _dns_cache[host] = (now + DNS_CACHE_SECONDS, addresses)
    return [a for a in addresses if is_internal_address(ipaddress.ip_address(a))]


async def resolve(host: str) -> list[str]:
    """Every address `host` resolves to, or [] when it does not resolve."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


async def refuse_internal(route: Route) -> None:
    """A route handler (`context.route("**/*", refuse_internal)`) that aborts requests to
    loopback, private and link-local addresses and lets everything else through."""
    url = route.request.url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname:
        try:
            internal = await internal_addresses(parts.hostname)
        except ValueError:
            internal = []
        if internal:
            log.info("Refused a browser request to an internal address: %s", url)
            with suppress(PlaywrightError):
                await route.abort("blockedbyclient")
            return
    with suppress(PlaywrightError):  # the page may be gone already
        await route.fallback()


_refuse_internal = refuse_internal  # the name runs/agent/sessions.py imports
