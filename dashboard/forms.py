"""Forms of the organization settings: API keys and members."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db.models import Q

from dashboard.models import Membership


class DashboardForm(forms.Form):
    """Labels without Django's trailing colon, as the rest of the dashboard writes them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ApiKeyForm(DashboardForm):
    name = forms.CharField(
        max_length=100,
        help_text="What uses this key, e.g. “CI pipeline” or “billing service”.",
    )


def role_choices(actor: Membership) -> list[tuple[str, str]]:
    """Roles `actor` may hand out: only owners make owners."""
    roles = Membership.Role.choices
    if actor.role == Membership.Role.OWNER:
        return list(roles)
    return [(value, label) for value, label in roles if value != Membership.Role.OWNER]


class AddMemberForm(DashboardForm):
    user = forms.CharField(
        label="Username or email",
        max_length=254,
        help_text="Someone who already has an account here, or tick the box below to create one.",
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)
    create = forms.BooleanField(
        label="Create an account if there is none",
        help_text="A password is generated and shown to you once, to pass on.",
        required=False,
    )

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["role"].choices = role_choices(actor)
        self.existing_user: AbstractUser | None = None

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        identifier = (cleaned.get("user") or "").strip()
        if not identifier:
            return cleaned
        user_model = get_user_model()
        matches = list(
            user_model.objects.filter(
                Q(username__iexact=identifier) | Q(email__iexact=identifier)
            ).order_by("pk")[:2]
        )
        exact = [u for u in matches if u.get_username() == identifier]
        if len(matches) > 1 and not exact:
            self.add_error("user", "More than one account matches; use the username instead.")
            return cleaned
        user = exact[0] if exact else (matches[0] if matches else None)
        if user is None:
            if not cleaned.get("create"):
                self.add_error(
                    "user",
                    "No account has this username or email. Tick “Create an account” to add "
                    "someone new.",
                )
            else:
                self._check_new_username(identifier)
            return cleaned
        if Membership.objects.filter(organization=self.actor.organization, user=user).exists():
            self.add_error("user", f"{user.get_username()} is already a member.")
        self.existing_user = user
        return cleaned

    def _check_new_username(self, identifier: str) -> None:
        username = new_username_for(identifier)
        validator = get_user_model().username_validator
        try:
            validator(username)
        except forms.ValidationError:
            self.add_error(
                "user",
                "Not a valid username: use letters, digits and @ . + - _ only.",
            )


def new_username_for(identifier: str) -> str:
    """The username for a new account: the address's local part for an email."""
    return identifier.split("@", 1)[0] if "@" in identifier else identifier


class RoleForm(DashboardForm):
    role = forms.ChoiceField(choices=Membership.Role.choices)

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(actor)
