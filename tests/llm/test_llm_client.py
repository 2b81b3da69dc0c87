"""The model client against the scripted server: wire shapes, usage, retries, failures, settings."""

import asyncio
import base64
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from runs.agent.llm import (
    LLMClient,
    LLMError,
    LLMNotConfigured,
    LLMUnavailable,
    Message,
    ModelReply,
    client_from_settings,
    config_from_settings,
    image_media_type,
)
from tests.llm.conftest import JPEG, PNG
from tests.support.model_server import (
    Answer,
    Delay,
    Disconnect,
    HttpFailure,
    ScriptedModelServer,
)

SYSTEM = Message("system", "harrier-protocol: step\nYou are a test.")
OK = {"reasoning": "fine", "actions": [{"type": "complete"}]}


def ask(messages: list[Message]) -> ModelReply:
    return asyncio.run(client_from_settings().complete(messages))


def ask_recording_sleeps(messages: list[Message]) -> tuple[ModelReply, list[float]]:
    """Complete with a client whose backoff sleeps are recorded instead of slept."""
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    client = LLMClient(config_from_settings(), sleep=sleep)
    return asyncio.run(client.complete(messages)), delays


# --- wire shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai"])
def test_openai_request_carries_text_image_and_json_mode(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply=OK)

    reply = ask([SYSTEM, Message("user", "What now?", [PNG])])

    assert reply.text == '{"reasoning": "fine", "actions": [{"type": "complete"}]}'
    request = llm.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer scripted-key"
    body = request.body
    assert body["model"] == "scripted-model"
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0] == {"role": "system", "content": SYSTEM.text}
    png_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert body["messages"][1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What now?"},
            {"type": "image_url", "image_url": {"url": png_url}},
        ],
    }
    assert request.messages[1].images == [PNG]


@pytest.mark.parametrize("provider", ["anthropic"])
def test_anthropic_request_puts_system_on_top_and_images_as_base64_blocks(
    llm: ScriptedModelServer,
) -> None:
    llm.add_rule(kind="step", reply=OK)

    ask([SYSTEM, Message("user", "What now?", [JPEG])])

    request = llm.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "scripted-key"
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = request.body
    assert body["system"] == SYSTEM.text
    assert isinstance(body["max_tokens"], int)
    assert "response_format" not in body
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/jpeg",
                        "data": base64.b64encode(JPEG).decode(),
                    },
                },
                {"type": "text", "text": "What now?"},
            ],
        }
    ]
    assert request.kind == "step"
    assert request.messages[1].images == [JPEG]


def test_plain_text_messages_are_sent_as_strings(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply=OK)

    ask([SYSTEM, Message("user", "hello")])

    assert llm.requests[0].body["messages"][-1] == {"role": "user", "content": "hello"}


def test_images_are_dropped_with_a_note_when_the_model_takes_none(
    llm: ScriptedModelServer, settings: Any
) -> None:
    settings.LLM_SUPPORTS_IMAGES = False
    llm.add_rule(kind="step", reply=OK)

    ask([SYSTEM, Message("user", "What now?", [PNG])])

    request = llm.requests[0]
    assert not request.has_images
    assert request.messages[1].text.startswith("What now?")
    assert "does not accept images" in request.messages[1].text


@pytest.mark.parametrize("provider", ["openai"])
def test_json_mode_off_sends_no_response_format(llm: ScriptedModelServer, settings: Any) -> None:
    settings.LLM_JSON_MODE = False
    llm.add_rule(kind="step", reply=OK)

    ask([SYSTEM, Message("user", "hi")])

    assert "response_format" not in llm.requests[0].body


def test_usage_model_and_attempts_are_recorded(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply=Answer(OK, prompt_tokens=123, completion_tokens=45))

    reply = ask([SYSTEM, Message("user", "hi")])

    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (123, 45)
    assert reply.usage.total == 168
    assert reply.model == "scripted-model"
    assert reply.attempts == 1
    assert reply.duration_ms >= 0
    assert reply.stop_reason in ("stop", "end_turn")


def test_image_media_type_is_sniffed_from_magic_bytes() -> None:
    assert image_media_type(PNG) == "image/png"
    assert image_media_type(JPEG) == "image/jpeg"
    with pytest.raises(ValueError, match="not PNG, JPEG"):
        image_media_type(b"%PDF-1.7")


# --- retries ---------------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_delay(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply=HttpFailure(429, retry_after=0.25), times=1)
    llm.add_rule(kind="step", reply=OK)

    reply, delays = ask_recording_sleeps([SYSTEM, Message("user", "hi")])

    assert reply.attempts == 2
    assert delays == [0.25]
    assert len(llm.requests) == 2


def test_retry_after_is_capped(llm: ScriptedModelServer, settings: Any) -> None:
    settings.LLM_BACKOFF_MAX_SECONDS = 0.5
    llm.add_rule(kind="step", reply=HttpFailure(429, retry_after=3600), times=1)
    llm.add_rule(kind="step", reply=OK)

    _reply, delays = ask_recording_sleeps([SYSTEM, Message("user", "hi")])

    assert delays == [0.5]


def test_retry_after_as_an_http_date_is_understood(llm: ScriptedModelServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    llm.add_rule(kind="step", reply=HttpFailure(503, retry_after=when), times=1)
    llm.add_rule(kind="step", reply=OK)

    _reply, delays = ask_recording_sleeps([SYSTEM, Message("user", "hi")])

    assert delays == [1.0]  # 30 s away, capped by LLM_BACKOFF_MAX_SECONDS


def test_retry_after_is_really_waited(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply=HttpFailure(429, retry_after=0.2), times=1)
    llm.add_rule(kind="step", reply=OK)

    started = time.monotonic()
    reply = ask([SYSTEM, Message("user", "hi")])

    assert reply.attempts == 2
    assert time.monotonic() - started >= 0.2


def test_server_errors_are_retried_then_the_answer_is_used(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply=HttpFailure(500), times=1)
    llm.add_rule(kind="step", reply=HttpFailure(503), times=1)
    llm.add_rule(kind="step", reply=OK)

    reply = ask([SYSTEM, Message("user", "hi")])

    assert reply.attempts == 3
    assert "complete" in reply.text


def test_backoff_grows_exponentially_with_jitter(llm: ScriptedModelServer, settings: Any) -> None:
    settings.LLM_BACKOFF_BASE_SECONDS = 0.01
    llm.add_rule(kind="step", reply=HttpFailure(502))
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    with pytest.raises(LLMUnavailable):
        asyncio.run(
            LLMClient(config_from_settings(), sleep=sleep).complete([SYSTEM, Message("user", "hi")])
        )

    assert len(delays) == 3
    for attempt, delay in enumerate(delays):
        step = 0.01 * 2**attempt
        assert step / 2 <= delay <= step


def test_other_client_errors_are_not_retried(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply=HttpFailure(400, message="unknown field 'foo'"))

    with pytest.raises(LLMError) as caught:
        ask([SYSTEM, Message("user", "hi")])

    assert not isinstance(caught.value, LLMUnavailable)
    assert caught.value.status == 400
    assert "HTTP 400" in str(caught.value)
    assert "unknown field 'foo'" in str(caught.value)
    assert len(llm.requests) == 1


def test_a_wrong_api_key_names_the_setting(settings: Any, provider: str) -> None:
    with ScriptedModelServer(api_key="right-key") as server:
        for name, value in server.llm_settings(provider).items():  # type: ignore[arg-type]
            setattr(settings, name, value)
        settings.LLM_API_KEY = "wrong-key"
        server.add_rule(kind="step", reply=OK)

        with pytest.raises(LLMError) as caught:
            ask([SYSTEM, Message("user", "hi")])

    assert caught.value.status == 401
    assert "LLM_API_KEY" in str(caught.value)


def test_timeouts_are_retried_then_reported_as_unavailable(
    llm: ScriptedModelServer, settings: Any
) -> None:
    settings.LLM_TIMEOUT_SECONDS = 0.2
    settings.LLM_MAX_RETRIES = 1
    llm.add_rule(kind="step", reply=Delay(5, then=OK))

    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as caught:
        ask([SYSTEM, Message("user", "hi")])

    message = str(caught.value)
    assert message.startswith(f"The model provider at {settings.LLM_BASE_URL} did not answer")
    assert "after 2 attempts" in message
    assert "no answer within 0.2 s" in message
    assert len(llm.requests) == 2
    assert time.monotonic() - started < 2


def test_a_timeout_then_an_answer_succeeds(llm: ScriptedModelServer, settings: Any) -> None:
    settings.LLM_TIMEOUT_SECONDS = 0.2
    llm.add_rule(kind="step", reply=Delay(5, then=OK), times=1)
    llm.add_rule(kind="step", reply=OK)

    assert ask([SYSTEM, Message("user", "hi")]).attempts == 2


def test_a_dropped_connection_is_retried(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply=Disconnect(), times=1)
    llm.add_rule(kind="step", reply=OK)

    assert ask([SYSTEM, Message("user", "hi")]).attempts == 2


def test_connection_refused_is_reported_as_unavailable(settings: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.LLM_PROVIDER = "openai"
    settings.LLM_MODEL = "m"
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.LLM_MAX_RETRIES = 2
    settings.LLM_BACKOFF_BASE_SECONDS = 0.001

    with pytest.raises(LLMUnavailable) as caught:
        ask([SYSTEM, Message("user", "hi")])

    assert str(caught.value).startswith(
        f"The model provider at http://127.0.0.1:{port}/v1 did not answer after 3 attempts: "
        "network error (could not connect"
    )


def test_an_unscripted_request_fails_loudly(llm: ScriptedModelServer, settings: Any) -> None:
    settings.LLM_MAX_RETRIES = 0

    with pytest.raises(LLMUnavailable, match="no scripted reply for kind step"):
        ask([SYSTEM, Message("user", "hi")])


# --- settings --------------------------------------------------------------------------------


def _configure(settings: Any, **values: Any) -> None:
    for name in ("LLM_PROVIDER", "LLM_MODEL", "LLM_API_KEY", "LLM_BASE_URL"):
        setattr(settings, name, values.get(name, ""))


@pytest.mark.parametrize("value", ["", "gemini"])
def test_no_provider_names_the_setting(settings: Any, value: str) -> None:
    _configure(settings, LLM_PROVIDER=value, LLM_MODEL="m", LLM_API_KEY="k")

    with pytest.raises(LLMNotConfigured) as caught:
        client_from_settings()

    assert str(caught.value).startswith("No model provider is configured")
    assert "set LLM_PROVIDER to 'openai' or 'anthropic'" in str(caught.value)


def test_no_model_names_the_setting(settings: Any) -> None:
    _configure(settings, LLM_PROVIDER="anthropic", LLM_API_KEY="k")

    with pytest.raises(LLMNotConfigured, match="set LLM_MODEL"):
        client_from_settings()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_public_apis_need_a_key(settings: Any, provider: str) -> None:
    _configure(settings, LLM_PROVIDER=provider, LLM_MODEL="m")

    with pytest.raises(LLMNotConfigured, match="set LLM_API_KEY"):
        client_from_settings()


def test_defaults_point_at_the_public_apis(settings: Any) -> None:
    _configure(settings, LLM_PROVIDER="openai", LLM_MODEL="gpt-4o", LLM_API_KEY="k")
    openai = client_from_settings()
    _configure(settings, LLM_PROVIDER="anthropic", LLM_MODEL="claude", LLM_API_KEY="k")
    anthropic = client_from_settings()

    assert openai.endpoint == "https://api.openai.com/v1/chat/completions"
    assert anthropic.endpoint == "https://api.anthropic.com/v1/messages"


def test_a_self_hosted_server_needs_no_key(settings: Any) -> None:
    _configure(
        settings, LLM_PROVIDER="openai", LLM_MODEL="llama3", LLM_BASE_URL="http://gpu:11434/v1/"
    )

    client = client_from_settings()

    assert client.endpoint == "http://gpu:11434/v1/chat/completions"
    assert client.config.api_key == ""
