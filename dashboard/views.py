"""HTML pages of the dashboard: the overview, the organization switcher and the settings.

Function views in healthchecks' manner: the first line resolves what the person
may work on (dashboard.access), so an outsider gets a 404 before anything else.
HTMX requests get a partial of the same template (`{% partialdef %}`); the same
URLs serve full pages without JavaScript.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from dashboard import stats
from dashboard.access import (
    current_membership,
    get_membership_for_user,
    manager_membership,
    switch_organization,
)
from dashboard.forms import AddMemberForm, ApiKeyForm, RoleForm
from dashboard.members import MembershipRefused, add_member, change_role, remove_member
from dashboard.models import ApiKey, Membership
from dashboard.pages import confirm_page, htmx_render
from runs.models import Run
from sessions.models import BrowserSession

# Pages that exist in every organization: after a switch, the person stays on the same one.
SWITCH_KEEPS_PATHS = ("/", "/runs/", "/runs/new/", "/sessions/", "/settings/")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    organization = membership.organization
    active_sessions = BrowserSession.objects.for_organization(organization).active().count()
    context = {
        "overview": stats.overview(organization, active_sessions),
        "recent_runs": Run.objects.for_organization(organization)[:5],
        "has_runs": Run.objects.for_organization(organization).exists(),
        "has_keys": organization.api_keys.active().exists(),
    }
    return render(request, "dashboard/overview.html", context)


@login_required
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    membership = switch_organization(request, request.POST.get("organization", ""))
    messages.info(request, f"You are now working in {membership.organization.name}.")
    target = request.POST.get("next", "/")
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    # A run or session page of the previous organization would be a 404 in the new one.
    return redirect(target if safe and target in SWITCH_KEEPS_PATHS else "home")


# --- organization settings ------------------------------------------------------------


def _settings_context(membership: Membership, **extra: Any) -> dict[str, Any]:
    organization = membership.organization
    context = {
        "membership": membership,
        "organization": organization,
        "api_keys": organization.api_keys.all(),
        "members": organization.memberships.select_related("user").order_by("user__username"),
        "owner_count": organization.memberships.filter(role=Membership.Role.OWNER).count(),
        "key_form": ApiKeyForm(),
        "member_form": AddMemberForm(actor=membership),
        "role_form": RoleForm(actor=membership),
        "reveal_secret": False,
    }
    context.update(extra)
    return context


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    reveal = request.GET.get("reveal") == "webhook"
    if reveal:
        manager_membership(request)  # the secret is for owners and admins only
    context = _settings_context(membership, reveal_secret=reveal)
    section = "webhook-secret" if reveal or request.GET.get("section") == "webhook" else None
    return htmx_render(request, "dashboard/settings.html", context, section)


@login_required
@require_POST
def api_key_create(request: HttpRequest) -> HttpResponse:
    membership = manager_membership(request)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        context = _settings_context(membership, key_form=form)
        return _form_errors(request, context, "api-keys")
    api_key, key = ApiKey.issue(membership.organization, form.cleaned_data["name"])
    # The key exists only in this response: it is never stored in clear, not even in
    # the session, so it is rendered here rather than after a redirect.
    context = _settings_context(membership, new_key=key, new_key_row=api_key)
    return htmx_render(request, "dashboard/settings.html", context, "api-keys")


def _form_errors(request: HttpRequest, context: dict[str, Any], section: str) -> HttpResponse:
    # 422 tells clients the form was refused; htmx swaps only 2xx answers by default, so
    # its requests get the section with the errors as a 200.
    status = 200 if request.htmx else 422
    return htmx_render(request, "dashboard/settings.html", context, section, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def api_key_revoke(request: HttpRequest, key_pk: int) -> HttpResponse:
    membership = manager_membership(request)
    api_key = _get_key(membership, key_pk)
    if request.method == "GET":
        return confirm_page(
            request,
            title=f"Revoke the API key “{api_key.name}”?",
            message="Clients using it get 401 from then on. This cannot be undone.",
            action=reverse("api-key-revoke", args=[api_key.pk]),
            button="Revoke key",
            back=reverse("settings") + "#api-keys",
        )
    api_key.revoke()
    if request.htmx:
        context = _settings_context(membership)
        return htmx_render(request, "dashboard/settings.html", context, "api-keys")
    messages.success(request, f"The API key “{api_key.name}” was revoked.")
    return redirect(reverse("settings") + "#api-keys")


def _get_key(membership: Membership, key_pk: int) -> ApiKey:
    return get_object_or_404(ApiKey, organization=membership.organization, pk=key_pk)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_secret_rotate(request: HttpRequest) -> HttpResponse:
    membership = manager_membership(request)
    if request.method == "GET":
        return confirm_page(
            request,
            title="Rotate the webhook signing secret?",
            message="Webhooks are signed with the new secret from now on; receivers that "
            "still check with the old one will reject them until you update them.",
            action=reverse("webhook-secret-rotate"),
            button="Rotate secret",
            back=reverse("settings") + "#webhook",
        )
    membership.organization.rotate_webhook_secret()
    context = _settings_context(membership, reveal_secret=True, rotated=True)
    if request.htmx:
        return htmx_render(request, "dashboard/settings.html", context, "webhook-secret")
    messages.success(request, "The webhook signing secret was rotated.")
    return redirect(reverse("settings") + "?reveal=webhook#webhook")


@login_required
@require_POST
def member_add(request: HttpRequest) -> HttpResponse:
    membership = manager_membership(request)
    form = AddMemberForm(request.POST, actor=membership)
    if not form.is_valid():
        return _form_errors(request, _settings_context(membership, member_form=form), "members")
    added, password = add_member(
        membership, form.existing_user, form.cleaned_data["user"].strip(), form.cleaned_data["role"]
    )
    context = _settings_context(membership, added=added, new_password=password)
    return htmx_render(request, "dashboard/settings.html", context, "members")


@login_required
@require_POST
def member_role(request: HttpRequest, membership_pk: int) -> HttpResponse:
    actor = manager_membership(request)
    target = get_membership_for_user(request, membership_pk)
    form = RoleForm(request.POST, actor=actor)
    error = None
    if not form.is_valid():
        error = "Choose one of the roles offered."
    else:
        try:
            change_role(actor, target, form.cleaned_data["role"])
        except MembershipRefused as exc:
            error = str(exc)
    if target.pk == actor.pk and not error:
        # Their own role changed: what the page lets them do changes with it.
        messages.success(request, f"You are now {target.get_role_display().lower()}.")
        url = reverse("settings") + "#members"
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _members_response(
        request,
        actor,
        error,
        f"{target.user.get_username()} is now {target.get_role_display().lower()}.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, membership_pk: int) -> HttpResponse:
    actor = manager_membership(request)
    target = get_membership_for_user(request, membership_pk)
    name = target.user.get_username()
    if request.method == "GET":
        return confirm_page(
            request,
            title=f"Remove {name} from {actor.organization.name}?",
            message="They lose access to this organization's runs, sessions and settings. "
            "Their account itself stays.",
            action=reverse("member-remove", args=[target.pk]),
            button="Remove member",
            back=reverse("settings") + "#members",
        )
    try:
        remove_member(actor, target)
    except MembershipRefused as exc:
        return _members_response(request, actor, str(exc), "")
    if target.pk == actor.pk:
        messages.info(request, f"You left {actor.organization.name}.")
        # The settings of an organization one left are no longer theirs to see.
        return HttpResponseClientRedirect(reverse("home")) if request.htmx else redirect("home")
    return _members_response(request, actor, None, f"{name} was removed.")


def _members_response(
    request: HttpRequest, actor: Membership, error: str | None, success: str
) -> HttpResponse:
    if request.htmx:
        context = _settings_context(actor, member_error=error, member_notice=success)
        return htmx_render(request, "dashboard/settings.html", context, "members")
    if error:
        messages.error(request, error)
    else:
        messages.success(request, success)
    return redirect(reverse("settings") + "#members")
