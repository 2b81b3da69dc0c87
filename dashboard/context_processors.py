"""Template context for every dashboard page: the current organization and the switcher."""

from __future__ import annotations

from functools import cached_property

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from dashboard.access import current_membership, memberships_of
from dashboard.models import Membership, Organization

SECTIONS = (
    ("home", "overview"),
    ("run", "runs"),
    ("session", "sessions"),
    ("settings", "settings"),
    ("api-key", "settings"),
    ("webhook", "settings"),
    ("member", "settings"),
)


class DashboardContext:
    """Evaluated lazily: admin pages and error pages that never look pay no query."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @cached_property
    def membership(self) -> Membership | None:
        if not self._request.user.is_authenticated:
            return None
        try:
            return current_membership(self._request)
        except PermissionDenied:
            return None

    @cached_property
    def organization(self) -> Organization | None:
        return self.membership.organization if self.membership else None

    @cached_property
    def memberships(self) -> list[Membership]:
        return memberships_of(self._request)

    @property
    def can_manage(self) -> bool:
        return bool(self.membership and self.membership.can_manage)

    @cached_property
    def section(self) -> str:
        """The top bar's entry for this page (marked aria-current)."""
        match = self._request.resolver_match
        name = (match.url_name or "") if match else ""
        if name == "run-new":
            return "new"
        for prefix, section in SECTIONS:
            if name.startswith(prefix):
                return section
        return ""


def dashboard(request: HttpRequest) -> dict[str, DashboardContext]:
    return {"harrier": DashboardContext(request)}
