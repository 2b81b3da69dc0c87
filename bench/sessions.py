"""Browser sessions: create → ready, a run's start on a session against a fresh context,
and the memory an idle session holds.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harrier_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 uv run python -m bench.sessions [--n 10]

"Run start" is from the worker's claim (`started_at`) to the start of the run's
first step, i.e. with the page open and ready for the agent: on a session the
run attaches over CDP to a page that is already there; a fresh run opens a new
context and page and navigates to the same URL. Memory is the proportional set
size (PSS) summed over the session's Chromium processes, measured when idle.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from bench.harness import Harness, describe_backends, harness, print_table
from runs.models import FINAL_STATUSES, Run, Step
from sessions.models import BrowserSession


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    with harness() as h:
        h.model.add_rule("step", {"reasoning": "done", "actions": [{"type": "complete"}]})
        h.model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "ok"})
        h.model.add_rule("extract", {"data": {}})
        # Each session closed before the next is created: the time one create takes.
        ready_ms = [create_session(h, close=True)[0] for _ in range(args.n + 1)]
        url = f"{h.site.url}/many?n=500"
        session_id = create_session(h, close=False)[1]
        run_until_done(h, {"url": url, "browser_session_id": session_id})  # the page is there
        on_session = [start_ms(run_until_done(h, {"browser_session_id": session_id}))
                      for _ in range(args.n)]  # fmt: skip
        fresh = [start_ms(run_until_done(h, {"url": url})) for _ in range(args.n)]
        idle = [create_session(h, close=False)[1] for _ in range(5)]
        time.sleep(2)  # let the idle browsers settle
        memory = [session_pss_mb(sid) for sid in idle]
        for sid in [session_id, *idle]:
            close_and_wait(h, sid)
    print_table(
        f"browser sessions, n={args.n}; {describe_backends()}",
        {
            "POST /v1/browser_sessions → status ready": ready_ms[1:],  # first: warm-up
            "run start: claimed → first step, on a session": on_session,
            "run start: claimed → first step, fresh context+goto": fresh,
        },
    )
    print(
        f"ratio fresh/session run start (medians): "
        f"{statistics.median(fresh) / statistics.median(on_session):.1f}x"
    )
    each = ", ".join(f"{m:.0f}" for m in memory)
    print(
        f"memory per idle session (PSS, median of {len(memory)}): "
        f"{statistics.median(memory):.1f} MB  (each: {each})"
    )


def create_session(h: Harness, *, close: bool) -> tuple[float, str]:
    """Milliseconds from POST to `ready`, and the session's id."""
    before = time.monotonic()
    session_id = h.post("/v1/browser_sessions", {})["browser_session_id"]
    while BrowserSession.objects.get(public_id=session_id).status != "ready":
        if time.monotonic() - before > 30:
            raise SystemExit(f"session {session_id} not ready:\n{h.worker.log()}")
        time.sleep(0.005)
    elapsed = (time.monotonic() - before) * 1000
    if close:
        close_and_wait(h, session_id)
    return elapsed, session_id


def close_and_wait(h: Harness, session_id: str) -> None:
    """Close the session and wait until its browser is gone: the worker, which ends it,
    must not be stopped before it has."""
    pid = BrowserSession.objects.get(public_id=session_id).pid
    h.client.post(f"/v1/browser_sessions/{session_id}/close")
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def run_until_done(h: Harness, extra: dict[str, Any]) -> Run:
    body = h.post("/v1/tasks", {"prompt": "bench", "engine": "skyvern-1.0", **extra})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = Run.objects.get(public_id=body["run_id"])
        if run.status in FINAL_STATUSES:
            assert run.status == "completed", run.failure_reason
            return run
        time.sleep(0.02)
    raise SystemExit(f"run {body['run_id']} did not finish:\n{h.worker.log()}")


def start_ms(run: Run) -> float:
    first = Step.objects.filter(run=run).order_by("order", "retry_index").first()
    assert first is not None
    assert run.started_at is not None
    return (first.started_at - run.started_at).total_seconds() * 1000


def session_pss_mb(session_id: str) -> float:
    pid = BrowserSession.objects.get(public_id=session_id).pid
    total_kb = 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) != pid:  # field 5: the process group, led by the browser
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_kb / 1024


if __name__ == "__main__":
    main()
