"""Errors the service layer raises, independent of whether the API or a form called it."""

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    message: str
    type: str = "value_error"


@dataclass
class FieldErrors(Exception):
    """Input that has the right shape but breaks a rule (API: 422; forms: errors by field)."""

    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)


class BadRequest(Exception):
    """A request the contract answers with 400 `{"detail": message}`."""


class NotFound(Exception):
    """Something the caller's organization does not have (API: 404 `{"detail": message}`)."""
