"""Schema pieces shared by every API module: the error shapes and input hygiene."""

from typing import Any

from pydantic import BaseModel, Field


class ValidationError(BaseModel):
    loc: list[str | int] = Field(title="Location")
    msg: str = Field(title="Message")
    type: str = Field(title="Error Type")


class HTTPValidationError(BaseModel):
    detail: list[ValidationError] = Field(default=None, title="Detail")  # type: ignore[assignment]


def check_storable(value: Any) -> Any:
    """Refuse text a database cannot hold: NUL characters and lone surrogates.

    PostgreSQL rejects both in text and jsonb, so letting them through would
    turn a client's bad input into a server error instead of a 422.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL (\\u0000) characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key)
            check_storable(item)
    elif isinstance(value, list):
        for item in value:
            check_storable(item)
    return value
