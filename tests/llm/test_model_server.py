"""The scripted model server itself: rule order, times, predicates, wire formats, failures."""

import threading
import time
from typing import Any

import httpx
import pytest

from tests.llm.conftest import PNG
from tests.support.model_server import (
    Answer,
    Delay,
    HttpFailure,
    RecordedRequest,
    Rule,
    ScriptedModelServer,
)

# One client for the module: building one per request costs ~50 ms of CA-bundle loading.
_HTTP = httpx.Client(timeout=5, limits=httpx.Limits(max_connections=50))


def _openai(
    server: ScriptedModelServer,
    kind: str | None = "step",
    user: str | list[dict[str, Any]] = "hello",
    **extra: Any,
) -> httpx.Response:
    system = f"harrier-protocol: {kind}\ninstructions" if kind else "no marker here"
    body = {
        "model": "m",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        **extra,
    }
    return _HTTP.post(f"{server.openai_base_url}/chat/completions", json=body)


def _anthropic(
    server: ScriptedModelServer, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return _HTTP.post(
        f"{server.anthropic_base_url}/v1/messages",
        json=body,
        headers={"anthropic-version": "2023-06-01", **(headers or {})},
    )


def _content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_rules_are_matched_in_order(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="step", reply="first")
    model_server.add_rule(kind="step", reply="second")

    assert _content(_openai(model_server)) == "first"
    assert _content(_openai(model_server)) == "first"


def test_a_rule_used_up_is_skipped(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="step", reply="once", times=1)
    model_server.add_rule(kind="step", reply="always")

    assert [_content(_openai(model_server)) for _ in range(3)] == ["once", "always", "always"]


def test_rules_match_on_kind(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="plan", reply="a plan")
    model_server.add_rule(kind="step", reply="a step")
    model_server.add_rule(kind=None, reply="anything else")

    assert _content(_openai(model_server, "step")) == "a step"
    assert _content(_openai(model_server, "plan")) == "a plan"
    assert _content(_openai(model_server, "extract")) == "anything else"


def test_rules_match_on_a_substring_or_a_predicate(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="step", when="Sign in", reply="saw the button")
    model_server.add_rule(kind="step", when=lambda r: r.has_images, reply="saw a picture")
    model_server.add_rule(kind="step", reply="default")

    png_url = "data:image/png;base64,iVBORw0KGgo="
    with_image = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": png_url}},
    ]
    assert _content(_openai(model_server, user='[e1] button "Sign in"')) == "saw the button"
    assert _content(_openai(model_server, user=with_image)) == "saw a picture"
    assert _content(_openai(model_server, user="nothing special")) == "default"


def test_dict_replies_are_json_and_callables_see_the_request(
    model_server: ScriptedModelServer,
) -> None:
    model_server.add_rule(kind="plan", reply={"mini_goals": ["a"]})
    model_server.add_rule(kind="step", reply=lambda r: {"echo": r.messages[-1].text})

    assert _content(_openai(model_server, "plan")) == '{"mini_goals": ["a"]}'
    assert _content(_openai(model_server, "step", user="ping")) == '{"echo": "ping"}'


def test_an_unmatched_request_is_a_loud_500(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="step", reply="only steps")

    response = _openai(model_server, "plan")
    unmarked = _openai(model_server, None)

    assert response.status_code == 500
    assert "no scripted reply for kind plan" in response.json()["error"]["message"]
    assert "no scripted reply for kind None" in unmarked.json()["error"]["message"]


def test_openai_answers_are_chat_completions_with_usage(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="step", reply=Answer("hi", prompt_tokens=10, completion_tokens=2))

    body = _openai(model_server).json()

    assert body["object"] == "chat.completion"
    assert body["model"] == "m"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hi", "refusal": None}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}


def test_anthropic_answers_are_messages_with_usage(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="extract", reply={"data": 1})

    response = _anthropic(
        model_server,
        {
            "model": "claude",
            "max_tokens": 100,
            "system": "harrier-protocol: extract\nrules",
            "messages": [{"role": "user", "content": "the page"}],
        },
    )

    body = response.json()
    assert body["type"] == "message"
    assert body["content"] == [{"type": "text", "text": '{"data": 1}'}]
    assert body["stop_reason"] == "end_turn"
    assert set(body["usage"]) == {"input_tokens", "output_tokens"}
    assert model_server.requests[0].kind == "extract"


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        ({"model": "c", "messages": [{"role": "user", "content": "x"}]}, {}, "max_tokens"),
        (
            {"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            {},
            "top-level field",
        ),
        (
            {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": ""}]},
            {},
            "non-empty",
        ),
    ],
)
def test_anthropic_requests_the_real_api_would_refuse_get_400(
    model_server: ScriptedModelServer, body: dict[str, Any], headers: dict[str, str], error: str
) -> None:
    model_server.add_rule(reply="unused")

    response = _anthropic(model_server, body, headers)

    assert response.status_code == 400
    assert error in response.json()["error"]["message"]


def test_an_openai_image_must_be_a_data_url(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(reply="unused")
    remote = [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]

    assert _openai(model_server, user=remote).status_code == 400


def test_requests_are_recorded_parsed(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(reply="ok")
    _anthropic(
        model_server,
        {
            "model": "claude",
            "max_tokens": 10,
            "system": "harrier-protocol: verify_complete\nrules",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": "iVBORw0KGgo=",
                            },
                        },
                        {"type": "text", "text": "the page"},
                    ],
                }
            ],
        },
        headers={"x-api-key": "k"},
    )

    (request,) = model_server.requests
    assert isinstance(request, RecordedRequest)
    assert request.provider == "anthropic"
    assert request.kind == "verify_complete"
    assert request.model == "claude"
    assert request.has_images
    assert request.messages[1].images == [PNG[:8]]
    assert [m.role for m in request.messages] == ["system", "user"]
    assert "the page" in request.text
    assert request.headers["x-api-key"] == "k"
    assert request.body["max_tokens"] == 10
    assert model_server.requests_of("verify_complete") == [request]


def test_http_failures_carry_status_and_retry_after(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="step", reply=HttpFailure(429, retry_after=7, message="slow down"))

    response = _openai(model_server)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["message"] == "slow down"


def test_a_delay_delays(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="step", reply=Delay(0.2, then="late"))

    started = time.monotonic()
    assert _content(_openai(model_server)) == "late"
    assert time.monotonic() - started >= 0.2


def test_an_api_key_is_enforced_when_given() -> None:
    with ScriptedModelServer(api_key="secret") as server:
        server.add_rule(reply="ok")
        url = f"{server.openai_base_url}/chat/completions"
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}

        refused = _HTTP.post(url, json=body)
        allowed = _HTTP.post(url, json=body, headers={"authorization": "Bearer secret"})

    assert refused.status_code == 401
    assert allowed.status_code == 200


def test_script_replaces_rules_and_reset_forgets_everything(
    model_server: ScriptedModelServer,
) -> None:
    model_server.add_rule(kind="step", reply="old")
    model_server.script([Rule("step", None, "new", None), {"kind": "plan", "reply": "p"}])
    assert _content(_openai(model_server)) == "new"
    assert _content(_openai(model_server, "plan")) == "p"

    model_server.reset()

    assert model_server.requests == []
    assert _openai(model_server).status_code == 500


def test_concurrent_requests_respect_times(model_server: ScriptedModelServer) -> None:
    model_server.add_rule(kind="step", reply="limited", times=5)
    model_server.add_rule(kind="step", reply="rest")
    answers: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        content = _content(_openai(model_server))
        with lock:
            answers.append(content)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == ["limited"] * 5 + ["rest"] * 15
    assert len(model_server.requests) == 20


def test_llm_settings_point_at_the_server(model_server: ScriptedModelServer) -> None:
    assert model_server.llm_settings("anthropic") == {
        "LLM_PROVIDER": "anthropic",
        "LLM_BASE_URL": model_server.anthropic_base_url,
        "LLM_MODEL": "scripted-model",
        "LLM_API_KEY": "scripted-key",
    }
