"""Bodies of the browser sessions API, as the contract spells them."""

from datetime import datetime

from pydantic import BaseModel, Field

from runs.schemas import ProxyLocation
from sessions.models import DEFAULT_TIMEOUT_MINUTES, MAX_TIMEOUT_MINUTES, MIN_TIMEOUT_MINUTES


class BrowserSessionResponse(BaseModel):
    """Response model for browser session information."""

    browser_session_id: str = Field(
        title="Browser Session Id", description="Unique identifier for the browser session"
    )
    organization_id: str = Field(
        title="Organization Id", description="ID of the organization that owns this session"
    )
    runnable_type: str | None = Field(
        default=None,
        title="Runnable Type",
        description="Type of runnable associated with this session (workflow, task etc)",
    )
    runnable_id: str | None = Field(
        default=None, title="Runnable Id", description="ID of the associated runnable"
    )
    created_at: datetime = Field(
        title="Created At", description="Timestamp when the session was created"
    )
    modified_at: datetime = Field(
        title="Modified At", description="Timestamp when the session was last modified"
    )
    deleted_at: datetime | None = Field(
        default=None,
        title="Deleted At",
        description="Timestamp when the session was deleted, if applicable",
    )
    # Extensions beyond the contract (optional, so contract clients ignore them).
    status: str | None = Field(
        default=None, description="creating, ready, closed (by request or timeout) or failed"
    )
    timeout: int | None = Field(default=None, description="Minutes the session stays open")
    started_at: datetime | None = Field(default=None, description="When its browser was ready")
    expires_at: datetime | None = Field(default=None, description="When the sweep closes it")
    failure_reason: str | None = Field(default=None, description="Why it closed or failed")


class CreateBrowserSessionRequest(BaseModel):
    proxy_location: ProxyLocation | None = Field(
        default=None,
        description="Route the session's traffic through the proxy configured for this location",
    )
    timeout: int | None = Field(
        default=DEFAULT_TIMEOUT_MINUTES,
        ge=MIN_TIMEOUT_MINUTES,
        le=MAX_TIMEOUT_MINUTES,
        title="Timeout",
        description="Minutes the session stays open before it is closed automatically "
        f"({MIN_TIMEOUT_MINUTES}-{MAX_TIMEOUT_MINUTES}, default {DEFAULT_TIMEOUT_MINUTES})",
    )
