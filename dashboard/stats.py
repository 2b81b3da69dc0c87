"""The overview's numbers and its chart, computed in the database and drawn as plain SVG.

The chart is geometry computed here and rendered by the template: no chart
library and no JavaScript, so it works everywhere the page does, and a table
version of the same numbers is there for screen readers.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from dashboard.models import Organization
from runs.models import ACTIVE_STATUSES, FINAL_STATUSES, Run, RunStatus

DAYS = 14
# Bottom to top in each bar; the legend uses the same order. Runs not yet final
# (created/queued/running) share one "active" band.
SERIES: tuple[tuple[str, str], ...] = (
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("terminated", "Terminated"),
    ("timed_out", "Timed out"),
    ("canceled", "Canceled"),
    ("active", "Active"),
)
# The median is taken over at most this many of the most recent finished runs, so the
# overview stays one cheap query for organizations that run thousands a day.
MEDIAN_SAMPLE = 5000

# Chart geometry, in SVG user units (the SVG scales to its container's width).
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 28


@dataclass
class Segment:
    series: str
    label: str
    count: int
    y: float = 0.0
    height: float = 0.0


@dataclass
class Day:
    day: date
    segments: list[Segment]
    total: int = 0
    x: float = 0.0
    width: float = 0.0
    show_label: bool = True

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 2)

    @property
    def summary(self) -> str:
        parts = [f"{s.count} {s.label.lower()}" for s in self.segments if s.count]
        return f"{self.day:%b} {self.day.day}: " + (", ".join(parts) if parts else "no runs")


@dataclass
class Chart:
    days: list[Day]
    ticks: list[tuple[int, float]] = field(default_factory=list)  # (value, y)
    total: int = 0
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM
    right_edge: float = WIDTH - RIGHT
    series: tuple[tuple[str, str], ...] = SERIES


@dataclass
class Overview:
    chart: Chart
    finished: int
    completed: int
    success_rate: float | None  # percent of finished runs that completed
    median_duration: timedelta | None
    active_runs: int
    active_sessions: int
    runs_in_window: int


def _series_of(status: str) -> str:
    return "active" if status in ACTIVE_STATUSES else status


def window_start(today: date) -> datetime:
    """Midnight (in the current time zone) at the start of the first day shown."""
    first = today - timedelta(days=DAYS - 1)
    return timezone.make_aware(datetime.combine(first, time.min))


def runs_per_day(organization: Organization, today: date) -> dict[date, dict[str, int]]:
    start = window_start(today)
    counts: dict[date, dict[str, int]] = {
        start.date() + timedelta(days=i): {name: 0 for name, _ in SERIES} for i in range(DAYS)
    }
    rows = (
        Run.objects.for_organization(organization)
        .filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        if row["day"] in counts:
            counts[row["day"]][_series_of(row["status"])] += row["n"]
    return counts


def nice_ceiling(value: int) -> int:
    """A round axis maximum at or above `value`, divisible by 4 so that the four
    gridlines fall on whole numbers: 4, 8, 12, 20, 40, 80, 120, 200, ..."""
    magnitude = 1
    while True:
        for step in (4, 8, 12, 20):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def build_chart(counts: dict[date, dict[str, int]]) -> Chart:
    days = sorted(counts)
    peak = max((sum(counts[d].values()) for d in days), default=0)
    top = nice_ceiling(peak)
    plot_height = HEIGHT - TOP - BOTTOM
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / len(days)
    scale = plot_height / top
    chart_days: list[Day] = []
    for index, day in enumerate(days):
        segments = [Segment(name, label, counts[day][name]) for name, label in SERIES]
        y = HEIGHT - BOTTOM
        for segment in segments:
            segment.height = round(segment.count * scale, 2)
            y -= segment.height
            segment.y = round(y, 2)
        chart_days.append(
            Day(
                day=day,
                segments=segments,
                total=sum(s.count for s in segments),
                x=round(LEFT + index * slot + slot * 0.15, 2),
                width=round(slot * 0.7, 2),
                # Every other date under the bars, ending on today, so labels never collide.
                show_label=(len(days) - 1 - index) % 2 == 0,
            )
        )
    ticks = [
        (round(top * i / 4), round(HEIGHT - BOTTOM - plot_height * i / 4, 2)) for i in range(5)
    ]
    return Chart(days=chart_days, ticks=ticks, total=sum(d.total for d in chart_days))


def overview(
    organization: Organization, active_sessions: int, today: date | None = None
) -> Overview:
    today = today or timezone.localdate()
    counts = runs_per_day(organization, today)
    chart = build_chart(counts)
    completed = sum(day[RunStatus.COMPLETED] for day in counts.values())
    finished = sum(day[s] for day in counts.values() for s in FINAL_STATUSES)
    durations = [
        finished_at - started_at
        for started_at, finished_at in Run.objects.for_organization(organization)
        .filter(
            created_at__gte=window_start(today),
            status__in=FINAL_STATUSES,
            started_at__isnull=False,
            finished_at__isnull=False,
        )
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:MEDIAN_SAMPLE]
    ]
    return Overview(
        chart=chart,
        finished=finished,
        completed=completed,
        success_rate=round(100 * completed / finished, 1) if finished else None,
        median_duration=statistics.median(durations) if durations else None,
        active_runs=Run.objects.for_organization(organization).active().count(),
        active_sessions=active_sessions,
        runs_in_window=chart.total,
    )
