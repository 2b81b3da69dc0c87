"""The browser sessions API: create, list, get, close."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Body, Router

from dashboard.api import contract_extra
from dashboard.auth import organization_of
from dashboard.errors import NotFound
from dashboard.schemas import HTTPValidationError
from sessions.models import DEFAULT_TIMEOUT_MINUTES, BrowserSession
from sessions.schemas import BrowserSessionResponse, CreateBrowserSessionRequest
from sessions.services import capture_screenshot, close_session, create_session

router = Router(tags=["Browser Sessions"])

UNAUTHORIZED = "Unauthorized - Invalid or missing authentication"


def session_response(session: BrowserSession) -> dict[str, Any]:
    return {
        "browser_session_id": session.public_id,
        "organization_id": session.organization.public_id,
        "runnable_type": session.runnable_type,
        "runnable_id": session.runnable_id,
        "created_at": session.created_at,
        "modified_at": session.modified_at,
        "deleted_at": session.deleted_at,
        "status": session.status,
        "timeout": session.timeout_minutes,
        "started_at": session.started_at,
        "expires_at": session.expires_at,
        "failure_reason": session.failure_reason,
    }


@router.post(
    "/browser_sessions",
    response={200: BrowserSessionResponse, 401: None, 422: HTTPValidationError},
    operation_id="create_browser_session_v1_browser_sessions_post",
    summary="Create a new browser session",
    description="Create a new browser session",
    openapi_extra=contract_extra(
        "browser_session",
        "create_browser_session",
        {200: "Successfully created browser session", 401: UNAUTHORIZED},
    ),
)
def create_browser_session(
    request: HttpRequest, payload: CreateBrowserSessionRequest | None = Body(None)
) -> dict[str, Any]:
    timeout = payload.timeout if payload and payload.timeout else DEFAULT_TIMEOUT_MINUTES
    proxy_location = payload.proxy_location if payload else None
    session = create_session(
        organization_of(request),
        timeout_minutes=timeout,
        proxy_location=proxy_location.value if proxy_location else None,
    )
    return session_response(session)


@router.get(
    "/browser_sessions",
    response={200: list[BrowserSessionResponse], 401: None, 422: HTTPValidationError},
    operation_id="get_browser_sessions_v1_browser_sessions_get",
    summary="Get all active browser sessions",
    description="Get all active browser sessions for the organization",
    openapi_extra=contract_extra(
        "browser_session",
        "get_browser_sessions",
        {200: "Successfully retrieved all active browser sessions", 401: UNAUTHORIZED},
    ),
)
def get_browser_sessions(request: HttpRequest) -> list[dict[str, Any]]:
    sessions = (
        BrowserSession.objects.for_organization(organization_of(request))
        .active()
        .select_related("organization")
    )
    return [session_response(session) for session in sessions]


@router.get(
    "/browser_sessions/{browser_session_id}",
    response={200: BrowserSessionResponse, 404: None, 401: None, 422: HTTPValidationError},
    operation_id="get_browser_session_v1_browser_sessions__browser_session_id__get",
    summary="Get browser session details",
    description="Get details about a specific browser session by ID",
    openapi_extra=contract_extra(
        "browser_session",
        "get_browser_session",
        {
            200: "Successfully retrieved browser session details",
            404: "Browser session not found",
            401: UNAUTHORIZED,
        },
    ),
)
def get_browser_session(request: HttpRequest, browser_session_id: str) -> dict[str, Any]:
    organization = organization_of(request)
    return session_response(BrowserSession.objects.get_active_for(organization, browser_session_id))


@router.post(
    "/browser_sessions/{browser_session_id}/close",
    response={200: Any, 401: None, 422: HTTPValidationError},
    operation_id="close_browser_session_v1_browser_sessions__browser_session_id__close_post",
    summary="Close a browser session",
    description="Close a browser session",
    openapi_extra=contract_extra(
        "browser_session",
        "close_browser_session",
        {200: "Successfully closed browser session", 401: UNAUTHORIZED},
    ),
)
def close_browser_session(request: HttpRequest, browser_session_id: str) -> dict[str, Any]:
    session = BrowserSession.objects.get_for(organization_of(request), browser_session_id)
    close_session(session)
    return {"message": "Browser session closed", "browser_session_id": session.public_id}


@router.get(
    "/browser_sessions/{browser_session_id}/screenshot",
    response={200: None},
    operation_id="get_browser_session_screenshot_v1_browser_sessions__browser_session_id__screenshot_get",
    summary="The session's current page as a JPEG image",
    description="A fresh capture when the session's browser answers within a few seconds, "
    "else the last one taken. 404 when the session is closed or has no image yet.",
)
def get_browser_session_screenshot(request: HttpRequest, browser_session_id: str) -> HttpResponse:
    organization = organization_of(request)
    session = BrowserSession.objects.get_active_for(organization, browser_session_id)
    image = capture_screenshot(session)
    if image is None:
        raise NotFound(f"No screenshot of browser session {browser_session_id} yet")
    response = HttpResponse(image, content_type="image/jpeg")
    response["Cache-Control"] = "no-store"
    return response
