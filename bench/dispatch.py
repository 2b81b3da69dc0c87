"""Dispatch latency: POST /v1/tasks returns → a worker has claimed the run → first navigation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harrier_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 uv run python -m bench.dispatch [--runs 20]

Uses whatever database and broker the environment names (the embedded default
when nothing is set) and what a user's request meets: the web logic in this
process, a real worker process, Chromium, the fixture site and the scripted
model on loopback. Times are wall-clock on one machine: the run's `started_at`
(written by the worker when it claims the run) and the moment the fixture site
received the browser's first request.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bench.harness import Harness, describe_backends, harness, print_table
from runs.models import FINAL_STATUSES, Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with harness() as h:
        h.model.add_rule("step", {"reasoning": "done", "actions": [{"type": "complete"}]})
        h.model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "ok"})
        h.model.add_rule("extract", {"data": {}})
        rows = [measure(h, run=i) for i in range(args.runs + 2)][2:]  # 2 warm-ups
    print_table(
        f"dispatch latency, {len(rows)} runs; {describe_backends()}",
        {
            "POST /v1/tasks (request → response)": [r["post"] for r in rows],
            "request → worker claimed the run": [r["claimed"] for r in rows],
            "request → first navigation reached the site": [r["navigation"] for r in rows],
        },
    )


def measure(h: Harness, run: int) -> dict[str, float]:
    path = f"/table?bench={run}-{time.time_ns()}"
    before = time.time()
    body = h.post(
        "/v1/tasks", {"prompt": "bench", "url": h.site.url + path, "engine": "skyvern-1.0"}
    )
    returned = time.time()
    row: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = Run.objects.filter(public_id=body["run_id"]).values("status", "started_at").get()
        if row["status"] in FINAL_STATUSES:
            break
        time.sleep(0.02)
    else:
        sys.exit(f"run {body['run_id']} did not finish: {row}")
    navigated = next(at for at, method, p in h.site.requests if method == "GET" and p == path)
    return {
        "post": (returned - before) * 1000,
        "claimed": (row["started_at"].timestamp() - before) * 1000,
        "navigation": (navigated - before) * 1000,
    }


if __name__ == "__main__":
    main()
