"""API authentication: `x-api-key: KEY` or `authorization: Bearer KEY`, as Skyvern takes them."""

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security.base import AuthBase

from dashboard.models import ApiKey, Organization

MISSING_KEY = "Missing API key: send it in the x-api-key header or as 'Authorization: Bearer KEY'"
INVALID_KEY = "Invalid or revoked API key"

# Documented on every authenticated operation as Skyvern's FastAPI app documents
# them: two optional header parameters rather than an OpenAPI security scheme.
AUTH_HEADER_PARAMETERS = [
    {
        "name": header,
        "in": "header",
        "required": False,
        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": title},
    }
    for header, title in (("x-api-key", "X-Api-Key"), ("authorization", "Authorization"))
]


def credentials_from(request: HttpRequest) -> str | None:
    """The key the request carries; x-api-key wins when both headers are sent."""
    key = request.headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class ApiKeyAuth(AuthBase):
    openapi_type = "apiKey"

    def __call__(self, request: HttpRequest) -> Any:
        key = credentials_from(request)
        if key is None:
            raise AuthenticationError(message=MISSING_KEY)
        api_key = ApiKey.authenticate(key)
        if api_key is None:
            raise AuthenticationError(message=INVALID_KEY)
        return api_key


def organization_of(request: HttpRequest) -> Organization:
    """The organization whose key authenticated this API request."""
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    return api_key.organization
