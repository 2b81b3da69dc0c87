"""Talking to a model provider: one small async interface over OpenAI-compatible and Anthropic APIs.

The agent only ever needs "send these messages, give me the text back", so that is
the whole interface (`complete`). Everything provider-specific — wire shapes,
authentication, how usage is reported — stays in this module, and so do the
timeouts and retries that make a flaky provider survivable.
"""

import asyncio
import base64
import email.utils
import functools
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

Role = Literal["system", "user", "assistant"]
Provider = Literal["openai", "anthropic"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic")
DEFAULT_BASE_URLS: dict[Provider, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_DEFAULT_MAX_TOKENS = 4096
# 408/409 are what Anthropic's own SDK retries besides 429 and 5xx: both are transient.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
IMAGES_DROPPED_NOTE = (
    "[{count} image(s) were attached here, but the configured model does not accept images "
    "(LLM_SUPPORTS_IMAGES is off): rely on the text instead.]"
)
BODY_EXCERPT_CHARS = 300


@dataclass(frozen=True)
class Message:
    """One chat message. Images are PNG/JPEG/GIF/WebP bytes; the media type is sniffed."""

    role: Role
    text: str
    images: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class ModelReply:
    text: str
    usage: TokenUsage
    model: str
    duration_ms: int
    attempts: int
    # "stop"/"end_turn" normally; "length"/"max_tokens" explains a truncated JSON answer.
    stop_reason: str | None = None


class LLMError(Exception):
    """The provider could not give an answer. `status` is the HTTP status when there was one.

    `replies` holds the replies already received (and billed) in the same exchange
    before this failure, so token accounting survives errors (see protocol.ask).
    """

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.replies: list[ModelReply] = []


class LLMNotConfigured(LLMError):
    """The settings do not name a usable provider; the message says which setting to set."""


class LLMUnavailable(LLMError):
    """The provider did not answer (network, timeouts, 429/5xx) even after all retries."""


class ModelClient(Protocol):
    """What the agent needs from a model; LLMClient implements it, test fakes may too."""

    async def complete(self, messages: list[Message]) -> ModelReply: ...


@dataclass(frozen=True)
class LLMConfig:
    provider: Provider
    model: str
    base_url: str
    api_key: str = ""
    timeout_seconds: float = 60.0
    max_retries: int = 3
    supports_images: bool = True
    json_mode: bool = True
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    # None: the provider's default for OpenAI-compatible servers (OpenAI's reasoning models
    # reject `max_tokens`); Anthropic requires a value, so it gets ANTHROPIC_DEFAULT_MAX_TOKENS.
    max_tokens: int | None = None
    temperature: float | None = None


def config_from_settings() -> LLMConfig:
    """Read the LLM_* settings, or raise LLMNotConfigured naming the setting to fix."""
    provider = (getattr(settings, "LLM_PROVIDER", "") or "").strip().lower()
    if provider not in PROVIDERS:
        given = f" (it is {provider!r})" if provider else ""
        raise LLMNotConfigured(
            f"No model provider is configured{given}: set LLM_PROVIDER to 'openai' or "
            "'anthropic' (and LLM_MODEL, LLM_API_KEY, LLM_BASE_URL as needed)"
        )
    model = (getattr(settings, "LLM_MODEL", "") or "").strip()
    if not model:
        raise LLMNotConfigured(
            f"No model is configured: set LLM_MODEL to the model name your {provider} "
            "provider serves (e.g. 'gpt-4o' or 'claude-sonnet-4-5')"
        )
    default_url = DEFAULT_BASE_URLS[provider]  # type: ignore[index]
    base_url = (getattr(settings, "LLM_BASE_URL", "") or default_url).strip().rstrip("/")
    api_key = (getattr(settings, "LLM_API_KEY", "") or "").strip()
    # Self-hosted servers (vLLM, Ollama, ...) often need no key; the public APIs always do.
    if not api_key and base_url == default_url.rstrip("/"):
        raise LLMNotConfigured(
            f"No API key is configured for {base_url}: set LLM_API_KEY, or point LLM_BASE_URL "
            "at a server that needs none"
        )
    return LLMConfig(
        provider=provider,  # type: ignore[arg-type]
        model=model,
        base_url=base_url,
        api_key=api_key,
        timeout_seconds=float(getattr(settings, "LLM_TIMEOUT_SECONDS", 60)),
        max_retries=max(0, int(getattr(settings, "LLM_MAX_RETRIES", 3))),
        supports_images=bool(getattr(settings, "LLM_SUPPORTS_IMAGES", True)),
        json_mode=bool(getattr(settings, "LLM_JSON_MODE", True)),
        backoff_base_seconds=float(getattr(settings, "LLM_BACKOFF_BASE_SECONDS", 1.0)),
        backoff_max_seconds=float(getattr(settings, "LLM_BACKOFF_MAX_SECONDS", 30.0)),
        max_tokens=_optional(getattr(settings, "LLM_MAX_TOKENS", None), int),
        temperature=_optional(getattr(settings, "LLM_TEMPERATURE", None), float),
    )


def _optional(value: Any, kind: Callable[[Any], _T]) -> _T | None:
    return None if value is None or value == "" else kind(value)


def client_from_settings() -> "LLMClient":
    """The configured model client; raises LLMNotConfigured when settings are missing."""
    return LLMClient(config_from_settings())


Sleep = Callable[[float], Awaitable[None]]


class _Retryable(Exception):
    """One failed attempt that deserves another; `wait` is the server's Retry-After, if any."""

    def __init__(self, description: str, wait: float | None = None) -> None:
        super().__init__(description)
        self.wait = wait


class LLMClient:
    """Calls the configured provider with timeouts and retries. Safe to use from any event loop.

    Without an injected `http` client a fresh httpx.AsyncClient is opened per call:
    a model call takes seconds, so connection reuse saves nothing worth the risk of
    an AsyncClient outliving the event loop it was bound to (each Celery task runs
    its own loop).
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        http: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self._http = http
        self._sleep = sleep

    @property
    def endpoint(self) -> str:
        base = self.config.base_url.rstrip("/")
        if self.config.provider == "openai":
            return f"{base}/chat/completions"
        # Accept both "https://api.anthropic.com" (the SDK's convention) and ".../v1".
        return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"

    async def complete(self, messages: list[Message]) -> ModelReply:
        started = time.monotonic()
        payload, headers = self._request(messages)
        attempts = 1 + self.config.max_retries
        last_problem = ""
        for attempt in range(1, attempts + 1):
            try:
                data = await self._post(payload, headers)
            except _Retryable as problem:
                last_problem = str(problem)
                if attempt == attempts:
                    break
                delay = self._delay(attempt, problem.wait)
                logger.warning(
                    "Model call to %s failed (attempt %d of %d): %s; retrying in %.2f s",
                    self.endpoint,
                    attempt,
                    attempts,
                    last_problem,
                    delay,
                )
                await self._sleep(delay)
                continue
            text, usage, model, stop_reason = self._parse(data)
            return ModelReply(
                text=text,
                usage=usage,
                model=model,
                duration_ms=round((time.monotonic() - started) * 1000),
                attempts=attempt,
                stop_reason=stop_reason,
            )
        raise LLMUnavailable(
            f"The model provider at {self.config.base_url} did not answer after {attempts} "
            f"attempt{'s' if attempts != 1 else ''}: {last_problem}"
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        cap = self.config.backoff_max_seconds
        if retry_after is not None:
            return min(max(retry_after, 0.0), cap)
        # Exponential with "equal jitter": never less than half the step, so waits still grow,
        # but workers that failed together do not all come back at the same instant.
        step = min(self.config.backoff_base_seconds * 2 ** (attempt - 1), cap)
        return step / 2 + random.uniform(0, step / 2)

    async def _post(self, payload: dict[str, Any], headers: dict[str, str]) -> Any:
        timeout = self.config.timeout_seconds
        try:
            # httpx's timeout bounds each read; this bounds the whole attempt.
            async with asyncio.timeout(timeout):
                if self._http is not None:
                    response = await self._http.post(self.endpoint, json=payload, headers=headers)
                else:
                    async with httpx.AsyncClient(timeout=timeout, verify=_ssl_context()) as http:
                        response = await http.post(self.endpoint, json=payload, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            raise _Retryable(f"no answer within {timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"network error ({_describe_transport_error(exc)})") from None

        status = response.status_code
        if status in RETRYABLE_STATUSES or status >= 500:
            raise _Retryable(
                f"HTTP {status}: {_excerpt(response.text)}",
                wait=_retry_after_seconds(response.headers.get("retry-after")),
            )
        if status >= 400:
            raise LLMError(
                f"The model provider at {self.config.base_url} rejected the request with "
                f"HTTP {status}{_hint(status)}: {_excerpt(response.text)}",
                status=status,
                body=_excerpt(response.text),
            )
        try:
            return response.json()
        except ValueError:
            raise LLMError(
                f"The model provider at {self.config.base_url} answered HTTP {status} with a body "
                f"that is not JSON: {_excerpt(response.text)}",
                status=status,
                body=_excerpt(response.text),
            ) from None

    def _request(self, messages: list[Message]) -> tuple[dict[str, Any], dict[str, str]]:
        if self.config.provider == "openai":
            return _openai_request(self.config, messages), _openai_headers(self.config)
        return _anthropic_request(self.config, messages), _anthropic_headers(self.config)

    def _parse(self, data: Any) -> tuple[str, TokenUsage, str, str | None]:
        try:
            if self.config.provider == "openai":
                return _openai_reply(data, self.config.model)
            return _anthropic_reply(data, self.config.model)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LLMError(
                f"The model provider at {self.config.base_url} answered in an unexpected shape "
                f"(is LLM_PROVIDER={self.config.provider!r} right for it?): "
                f"{_excerpt(str(data))}",
                status=200,
            ) from None


# --- OpenAI chat completions ---------------------------------------------------------------


def _openai_headers(config: LLMConfig) -> dict[str, str]:
    return {"authorization": f"Bearer {config.api_key}"} if config.api_key else {}


def _openai_request(config: LLMConfig, messages: list[Message]) -> dict[str, Any]:
    wire = []
    for message in messages:
        text, images = _text_and_images(config, message)
        if images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
            parts += [
                {"type": "image_url", "image_url": {"url": _data_url(image)}} for image in images
            ]
            wire.append({"role": message.role, "content": parts})
        else:
            # Plain-string content is what every OpenAI-compatible server understands.
            wire.append({"role": message.role, "content": text})
    payload: dict[str, Any] = {"model": config.model, "messages": wire}
    if config.max_tokens is not None:
        payload["max_tokens"] = config.max_tokens
    if config.json_mode:
        payload["response_format"] = {"type": "json_object"}
    if config.temperature is not None:
        payload["temperature"] = config.temperature
    return payload


def _openai_reply(data: Any, model: str) -> tuple[str, TokenUsage, str, str | None]:
    choice = data["choices"][0]
    content = choice["message"].get("content")
    if isinstance(content, list):  # some compatible servers answer with content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    usage = data.get("usage") or {}
    return (
        content or "",
        TokenUsage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        ),
        data.get("model") or model,
        choice.get("finish_reason"),
    )


# --- Anthropic messages --------------------------------------------------------------------


def _anthropic_headers(config: LLMConfig) -> dict[str, str]:
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if config.api_key:
        headers["x-api-key"] = config.api_key
    return headers


def _anthropic_request(config: LLMConfig, messages: list[Message]) -> dict[str, Any]:
    # Anthropic takes the system prompt as a top-level field, not as a message.
    system = "\n\n".join(m.text for m in messages if m.role == "system")
    wire = []
    for message in messages:
        if message.role == "system":
            continue
        text, images = _text_and_images(config, message)
        if images:
            blocks: list[dict[str, Any]] = [
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": image_media_type(image),
                        "data": base64.b64encode(image).decode("ascii"),
                    },
                }
                for image in images
            ]
            blocks.append({"type": "text", "text": text})  # Anthropic advises images first
            wire.append({"role": message.role, "content": blocks})
        else:
            wire.append({"role": message.role, "content": text})
    payload: dict[str, Any] = {
        "model": config.model,
        "max_tokens": config.max_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS,
        "messages": wire,
    }
    if system:
        payload["system"] = system
    if config.temperature is not None:
        payload["temperature"] = config.temperature
    return payload


def _anthropic_reply(data: Any, model: str) -> tuple[str, TokenUsage, str, str | None]:
    text = "".join(block["text"] for block in data["content"] if block.get("type") == "text")
    usage = data.get("usage") or {}
    # Cached prompt tokens are still prompt tokens for accounting.
    prompt = sum(
        int(usage.get(key) or 0)
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    return (
        text,
        TokenUsage(prompt_tokens=prompt, completion_tokens=int(usage.get("output_tokens") or 0)),
        data.get("model") or model,
        data.get("stop_reason"),
    )


# --- shared helpers ------------------------------------------------------------------------


def image_media_type(image: bytes) -> str:
    """The media type of PNG/JPEG/GIF/WebP bytes, from their magic numbers."""
    if image.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if image.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if image.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError(f"Unsupported image: not PNG, JPEG, GIF or WebP (starts with {image[:8]!r})")


def _data_url(image: bytes) -> str:
    return f"data:{image_media_type(image)};base64,{base64.b64encode(image).decode('ascii')}"


def _text_and_images(config: LLMConfig, message: Message) -> tuple[str, list[bytes]]:
    if not message.images or config.supports_images:
        return message.text, list(message.images)
    # Text-only models reject image parts outright; telling the model keeps its reasoning honest.
    note = IMAGES_DROPPED_NOTE.format(count=len(message.images))
    return f"{message.text}\n\n{note}", []


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~50 ms; a client per call must not pay it every time.
    return httpx.create_ssl_context()


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= BODY_EXCERPT_CHARS else flat[: BODY_EXCERPT_CHARS - 1] + "…"


def _hint(status: int) -> str:
    if status in (401, 403):
        return " (check LLM_API_KEY)"
    if status == 404:
        return " (check LLM_BASE_URL and LLM_MODEL)"
    return ""


def _describe_transport_error(exc: httpx.TransportError) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {detail}"
    return detail
