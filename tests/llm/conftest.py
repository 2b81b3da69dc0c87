"""Fixtures for the model client and protocol tests: a scripted model server and settings for it."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.model_server import ScriptedModelServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR fake png body"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF fake jpeg body"


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture(params=["openai", "anthropic"])
def provider(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def llm(settings: Any, model_server: ScriptedModelServer, provider: str) -> ScriptedModelServer:
    """LLM_* settings pointing at the scripted server, with backoff delays made tiny."""
    for name, value in model_server.llm_settings(provider).items():  # type: ignore[arg-type]
        setattr(settings, name, value)
    settings.LLM_TIMEOUT_SECONDS = 5
    settings.LLM_MAX_RETRIES = 3
    settings.LLM_SUPPORTS_IMAGES = True
    settings.LLM_JSON_MODE = True
    settings.LLM_BACKOFF_BASE_SECONDS = 0.001
    settings.LLM_BACKOFF_MAX_SECONDS = 1.0
    return model_server
