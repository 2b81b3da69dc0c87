"""Session browsers as processes: start one, tell whether it lives, end it.

A session's Chromium must outlive the Celery task (and the pool child) that
started it, and be reachable from other processes on the same host. So it is
not launched through Playwright but as a process of its own, in its own process
group, with remote debugging bound to loopback; runs attach with
`connect_over_cdp` (DESIGN.md §1: its endpoint is in DIR/DevToolsActivePort,
and only the default context's pages survive a client disconnecting).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from runs.agent.browser import BASE_ARGS, VIEWPORT

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 5.0
# Popen objects of browsers this process started, so it can reap them (no zombies).
_children: dict[int, subprocess.Popen[bytes]] = {}


class BrowserStartFailed(Exception):
    pass


@dataclass(frozen=True)
class SessionBrowser:
    pid: int
    cdp_url: str
    user_data_dir: Path


def sessions_dir() -> Path:
    return Path(settings.VAR_DIR) / "sessions"


def launch(session_id: str) -> SessionBrowser:
    """Start a Chromium for `session_id` and wait until its DevTools endpoint is up."""
    user_data_dir = sessions_dir() / session_id
    shutil.rmtree(user_data_dir, ignore_errors=True)
    user_data_dir.mkdir(parents=True)
    log = (user_data_dir.parent / f"{session_id}.log").open("ab")
    command = [
        settings.HARRIER_CHROMIUM_PATH,
        "--headless=new" if settings.HARRIER_BROWSER_HEADLESS else "--no-startup-window",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={VIEWPORT['width']},{VIEWPORT['height']}",
        *BASE_ARGS,
        *settings.HARRIER_BROWSER_ARGS,
        "about:blank",
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        preexec_fn=_default_signals,
    )
    _children[process.pid] = process
    port_file = user_data_dir / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserStartFailed(f"Chromium exited with code {process.returncode} at start")
        try:
            port = int(port_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            time.sleep(0.01)
            continue
        return SessionBrowser(process.pid, f"http://127.0.0.1:{port}", user_data_dir)
    stop(process.pid, str(user_data_dir))
    raise BrowserStartFailed(
        f"Chromium did not open its DevTools port in {START_TIMEOUT_SECONDS:g}s"
    )


def _default_signals() -> None:
    """In the child, before exec: signals as a fresh process has them.

    Dispositions set to "ignore" and blocked signals survive exec. A Celery pool
    process has some (SIGCHLD among them), and a Chromium that inherits them
    cannot reap its own helpers: it started three times slower from a worker than
    from a shell.
    """
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)


def is_alive(pid: int | None) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, counts as gone)."""
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return state not in ("Z", "X")


def stop(pid: int | None, user_data_dir: str) -> None:
    """End the browser's whole process group and remove its profile directory."""
    if pid and is_alive(pid):
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if is_alive(pid):
            _signal_group(pid, signal.SIGKILL)
    if pid:
        child = _children.pop(pid, None)
        if child is not None:
            child.wait(timeout=STOP_TIMEOUT_SECONDS)
    if user_data_dir:
        shutil.rmtree(user_data_dir, ignore_errors=True)
        Path(f"{user_data_dir}.log").unlink(missing_ok=True)


def profiles() -> list[Path]:
    """The profile directories under this host's sessions folder, one per session browser."""
    root = sessions_dir()
    return [entry for entry in root.iterdir() if entry.is_dir()] if root.is_dir() else []


def stop_leftover(profile: Path) -> None:
    """End the browser that uses `profile`, if one still runs, and remove the profile.

    The browser is found by its command line, not by a recorded pid: after a restart
    that pid may belong to another program.
    """
    stop(_leader_using(profile), str(profile))


def _leader_using(profile: Path) -> int | None:
    flag = f"--user-data-dir={profile}".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            pid = int(entry.name)
            # The browser leads its process group; its helpers carry the flag too.
            if os.getpgid(pid) != pid:
                continue
            if flag in (entry / "cmdline").read_bytes().split(b"\0"):
                return pid
        except (OSError, ValueError):
            continue
    return None


def _signal_group(pid: int, signum: int) -> None:
    # The browser leads its own process group (start_new_session): renderers and
    # helpers go with it.
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, signum)
