"""Who may change whose membership, and the changes themselves.

Owners and admins manage members; only an owner may make someone an owner or
change or remove an owner; and an organization always keeps at least one owner,
so that somebody can always manage it. Anything a member's role does not allow
is a PermissionDenied (the dashboard hides those controls; a crafted POST gets
a 403). Keeping the last owner is a rule people can trip over while allowed to
act, so it is a MembershipRefused with a message for them instead.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from dashboard.access import MANAGERS_ONLY
from dashboard.forms import new_username_for
from dashboard.models import Membership

OWNERS_ONLY = "Only an owner can make someone an owner or change an owner's membership."
LAST_OWNER = (
    "{name} is the last owner of {org}. Make someone else an owner first: an organization "
    "always needs an owner."
)


class MembershipRefused(Exception):
    """A change the rules refuse, with a message for the person who asked for it."""


def check_change(actor: Membership, target: Membership, new_role: str | None) -> None:
    """Raise unless `actor` may give `target` the role `new_role` (None: remove them)."""
    if not actor.can_manage:
        raise PermissionDenied(MANAGERS_ONLY)
    owner_involved = Membership.Role.OWNER in (target.role, new_role)
    if owner_involved and actor.role != Membership.Role.OWNER:
        raise PermissionDenied(OWNERS_ONLY)


def _keep_an_owner(target: Membership, new_role: str | None) -> None:
    """Inside a transaction: refuse if `target` is the only owner and is losing the role."""
    if target.role != Membership.Role.OWNER or new_role == Membership.Role.OWNER:
        return
    # Locking the owners' rows makes two owners demoting each other at once queue up
    # instead of both succeeding and leaving nobody in charge.
    owners = list(
        Membership.objects.select_for_update()
        .filter(organization=target.organization_id, role=Membership.Role.OWNER)
        .values_list("pk", flat=True)
    )
    if owners == [target.pk]:
        raise MembershipRefused(
            LAST_OWNER.format(name=target.user.get_username(), org=target.organization.name)
        )


def change_role(actor: Membership, target: Membership, role: str) -> None:
    check_change(actor, target, role)
    with transaction.atomic():
        _keep_an_owner(target, role)
        Membership.objects.filter(pk=target.pk).update(role=role)
    target.role = role


def remove_member(actor: Membership, target: Membership) -> None:
    check_change(actor, target, None)
    with transaction.atomic():
        _keep_an_owner(target, None)
        Membership.objects.filter(pk=target.pk).delete()


def add_member(
    actor: Membership, user: AbstractUser | None, identifier: str, role: str
) -> tuple[Membership, str | None]:
    """Add an existing user, or create one; returns the membership and a new account's
    generated password (the only copy: it is shown once and never stored in clear)."""
    if not actor.can_manage:
        raise PermissionDenied(MANAGERS_ONLY)
    if role == Membership.Role.OWNER and actor.role != Membership.Role.OWNER:
        raise PermissionDenied(OWNERS_ONLY)
    password = None
    with transaction.atomic():
        if user is None:
            user, password = _create_user(identifier)
        membership = Membership.objects.create(
            organization=actor.organization, user=user, role=role
        )
    return membership, password


def _create_user(identifier: str) -> tuple[AbstractUser, str]:
    user_model = get_user_model()
    base = new_username_for(identifier)
    username, suffix = base, 1
    while user_model.objects.filter(username__iexact=username).exists():
        suffix += 1
        username = f"{base}{suffix}"
    password = secrets.token_urlsafe(12)
    email = identifier if "@" in identifier else ""
    return user_model.objects.create_user(username=username, email=email, password=password), (
        password
    )
