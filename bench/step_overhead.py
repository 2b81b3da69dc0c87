"""How long one agent step takes without the model: observe + screenshot + one action.

    python -m bench.step_overhead [--iterations 30] [--warmup 5] [--n 500]

Serves the fixture website on loopback, opens /many?n=500 (500 interactive
elements) in a real Chromium and, per iteration, observes the page (elements and
text), takes the viewport screenshot, and performs one action (alternately
input_text into a field and a click on a button, both in the viewport). Prints
median, p90 and min per part. Target: median total <= 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django.setup()

from runs.agent.actions import perform  # noqa: E402 - needs Django set up first
from runs.agent.browser import BrowserPool  # noqa: E402
from runs.agent.observe import observe, take_screenshot  # noqa: E402
from tests.support.site_server import FixtureSite  # noqa: E402

TARGET_MS = 150.0


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


async def measure(iterations: int, warmup: int, n: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {
        "observe": [],
        "screenshot": [],
        "action": [],
        "total": [],
        "observe+shot (concurrent)": [],
    }
    pool = BrowserPool()
    with FixtureSite() as site, tempfile.TemporaryDirectory() as tmp:
        files_dir = Path(tmp)
        try:
            async with pool.new_context(
                downloads_dir=files_dir, block_private_networks=False
            ) as context:
                page = await context.new_page()
                await page.goto(f"{site.url}/many?n={n}")
                first = await observe(page)
                print(
                    f"page: /many?n={n}: {len(first.elements)} elements sent, "
                    f"{first.dropped_count} left out, text {len(first.text)} chars, "
                    f"screenshot {len(first.screenshot or b'') // 1024} KB"
                )
                for i in range(warmup + iterations):
                    started = time.perf_counter()
                    observation = await observe(page, screenshot=False)
                    observed = time.perf_counter()
                    shot = await take_screenshot(page)
                    shot_done = time.perf_counter()
                    assert shot is not None
                    visible = [e for e in observation.elements if e.in_viewport]
                    if i % 2:
                        target = next(e for e in visible if e.kind == "button")
                        action = {"type": "click", "element_id": target.id}
                    else:
                        target = next(e for e in visible[i % 40 :] if e.kind == "input")
                        action = {"type": "input_text", "element_id": target.id, "text": f"v{i}"}
                    result = await perform(page, action, files_dir=files_dir)
                    done = time.perf_counter()
                    assert result.ok, result.error
                    concurrent_started = time.perf_counter()
                    await observe(page)
                    concurrent = time.perf_counter() - concurrent_started
                    if i < warmup:
                        continue
                    timings["observe"].append((observed - started) * 1000)
                    timings["screenshot"].append((shot_done - observed) * 1000)
                    timings["action"].append((done - shot_done) * 1000)
                    timings["total"].append((done - started) * 1000)
                    timings["observe+shot (concurrent)"].append(concurrent * 1000)
        finally:
            await pool.stop()
    return timings


def report(timings: dict[str, list[float]]) -> bool:
    print(f"{'part':<28}{'median':>9}{'p90':>9}{'min':>9}   (ms, {len(timings['total'])} runs)")
    for name, values in timings.items():
        print(f"{name:<28}{statistics.median(values):>9.1f}{_p90(values):>9.1f}{min(values):>9.1f}")
    median_total = statistics.median(timings["total"])
    verdict = "OK" if median_total <= TARGET_MS else "OVER"
    print(f"median total {median_total:.1f} ms, target <= {TARGET_MS:.0f} ms: {verdict}")
    print(f"(load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    return median_total <= TARGET_MS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--n", type=int, default=500, help="interactive elements on the page")
    args = parser.parse_args()
    report(asyncio.run(measure(args.iterations, args.warmup, args.n)))


if __name__ == "__main__":
    main()
