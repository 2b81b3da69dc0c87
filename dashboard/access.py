"""Who may see what in the dashboard: the current organization and the objects it owns.

Every dashboard view starts with one of these helpers. They scope each lookup to
the organization the person is working in (kept in their session, switched from
the top bar), so another organization's run, session or key is a 404, exactly as
the API answers an outsider; never a 403 that would confirm it exists.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from dashboard.errors import NotFound
from dashboard.models import Membership, Organization
from runs.models import Artifact, Run
from runs.services import get_artifact_for, get_run_for
from sessions.models import BrowserSession

# The session key holding the public id of the organization the person works in.
SESSION_KEY = "harrier_organization"
NO_ORGANIZATION = (
    "Your account is not a member of any organization yet. "
    "Ask an owner or admin of your team to add you on their Settings page."
)
MANAGERS_ONLY = "Only owners and admins of this organization can do this."


def memberships_of(request: HttpRequest) -> list[Membership]:
    """The signed-in person's memberships, by organization name (cached on the request)."""
    cached: list[Membership] | None = getattr(request, "_harrier_memberships", None)
    if cached is None:
        user: AbstractBaseUser | AnonymousUser = request.user
        cached = (
            list(
                Membership.objects.filter(user=user)
                .select_related("organization")
                .order_by("organization__name")
            )
            if user.is_authenticated
            else []
        )
        request._harrier_memberships = cached  # type: ignore[attr-defined]
    return cached


def current_membership(request: HttpRequest) -> Membership:
    """The membership of the organization the person is working in.

    The organization kept in the session wins; when there is none, or the person
    was removed from it meanwhile, the first of their organizations takes its place.
    Someone in no organization at all gets a 403 page that says what to do.
    """
    memberships = memberships_of(request)
    if not memberships:
        raise PermissionDenied(NO_ORGANIZATION)
    wanted = request.session.get(SESSION_KEY)
    membership = next((m for m in memberships if m.organization.public_id == wanted), None)
    if membership is None:
        membership = memberships[0]
        request.session[SESSION_KEY] = membership.organization.public_id
    return membership


def current_organization(request: HttpRequest) -> Organization:
    return current_membership(request).organization


def switch_organization(request: HttpRequest, public_id: str) -> Membership:
    """Make `public_id` the current organization; 404 unless the person is a member."""
    for membership in memberships_of(request):
        if membership.organization.public_id == public_id:
            request.session[SESSION_KEY] = public_id
            return membership
    raise Http404("No such organization")


def manager_membership(request: HttpRequest) -> Membership:
    """The current membership, if it may manage keys, secrets and members; 403 otherwise."""
    membership = current_membership(request)
    if not membership.can_manage:
        raise PermissionDenied(MANAGERS_ONLY)
    return membership


def get_run_for_user(request: HttpRequest, run_id: str) -> Run:
    try:
        return get_run_for(current_organization(request), run_id)
    except NotFound:
        raise Http404("Run not found") from None


def get_artifact_for_user(request: HttpRequest, run: Run, artifact_id: str) -> Artifact:
    """An artifact of `run` (itself already checked to belong to the organization)."""
    try:
        artifact = get_artifact_for(run.organization, artifact_id)
    except NotFound:
        raise Http404("Artifact not found") from None
    if artifact.run_id != run.pk:
        raise Http404("Artifact not found")
    return artifact


def get_session_for_user(request: HttpRequest, session_id: str) -> BrowserSession:
    """The organization's open browser session with this id; closed ones are gone (404)."""
    try:
        return BrowserSession.objects.get_active_for(current_organization(request), session_id)
    except NotFound:
        raise Http404("Browser session not found") from None


def get_membership_for_user(request: HttpRequest, membership_pk: int) -> Membership:
    """A membership of the current organization (to change or remove); 404 for any other."""
    organization = current_organization(request)
    membership = (
        Membership.objects.filter(organization=organization, pk=membership_pk)
        .select_related("user", "organization")
        .first()
    )
    if membership is None:
        raise Http404("Member not found")
    return membership
