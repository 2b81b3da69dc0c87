"""Template filters of the dashboard. None of them marks anything safe: output stays escaped."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON for a <pre>; autoescaping still applies to the result."""
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.filter
def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


@register.filter
def duration(value: timedelta | float | int | None) -> str:
    """A short human duration: 850 ms, 12.4 s, 3 min 05 s, 2 h 10 min."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def milliseconds(value: int | None) -> str:
    return duration(value / 1000) if value else "—"


@register.filter
def get_item(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key)


@register.filter
def run_duration(run: Any) -> timedelta | None:
    """Started to finished (or to now, while it runs); None before a worker started it."""
    if not getattr(run, "started_at", None):
        return None
    return (run.finished_at or timezone.now()) - run.started_at


@register.filter
def age(value: timedelta | None) -> str:
    """A coarse span for "opened 5 min ago" / "12 min left": whole seconds, minutes or hours."""
    if value is None:
        return "—"
    seconds = max(0, round(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)  # "15 min" left just after opening a 15-minute session
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
