"""Rendering helpers shared by the dashboard's views (dashboard, runs, sessions)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def htmx_render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The page, or its `partial` for HTMX requests.

    A history restore (the person pressed Back and htmx had no snapshot) asks for
    the whole page, so it gets the whole page.
    """
    name = template
    if partial and request.htmx and not request.htmx.history_restore_request:
        name = f"{template}#{partial}"
    response = render(request, name, context, status=status)
    # One URL serves a page or a fragment: caches must keep the two apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def confirm_page(
    request: HttpRequest, *, title: str, message: str, action: str, button: str, back: str
) -> HttpResponse:
    """The confirmation step of a destructive action.

    With JavaScript, `hx-confirm` asks and the POST goes straight to `action`; the
    same link without JavaScript opens this page, whose form makes the POST.
    """
    context = {"title": title, "message": message, "action": action, "button": button, "back": back}
    return render(request, "dashboard/confirm.html", context)
