"""A scripted model server on loopback that speaks the OpenAI and Anthropic wire formats.

Tests point LLM_BASE_URL at it and script what "the model" answers, per protocol
kind (the `harrier-protocol: <kind>` first line of the system prompt), so the
real client, retries and parsing all run over a real socket. It checks requests
the way the real APIs would (a malformed request gets a 400), records every
request, and answers HTTP 500 "no scripted reply for kind X" when no rule matches,
so a test that forgot to script something fails loudly. Nothing here depends on
pytest or Django.

    server = ScriptedModelServer().start()
    server.add_rule(kind="step", reply={"reasoning": "done", "actions": [{"type": "complete"}]})
    server.add_rule(kind="verify_complete", reply={"goal_reached": True, "reasoning": "ok"})
    settings.LLM_BASE_URL = server.openai_base_url   # or .anthropic_base_url
    ...
    assert server.requests[0].kind == "step"
    server.stop()
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

MODEL_NAME = "scripted-model"
_MARKER_RE = re.compile(r"\Aharrier-protocol:[ \t]*(\S+)")
_DATA_URL_RE = re.compile(r"\Adata:(image/(?:png|jpeg|gif|webp));base64,(.+)\Z", re.DOTALL)
_MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


# --- replies a rule can give ---------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A model answer with explicit extras; a bare dict or str reply is shorthand for this.

    `content` as a dict is JSON-encoded; as a str it is sent as is (e.g. malformed
    JSON). Token counts default to a rough estimate from the text lengths.
    """

    content: dict[str, Any] | list[Any] | str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    stop_reason: Literal["stop", "length"] = "stop"


@dataclass(frozen=True)
class HttpFailure:
    """An HTTP error in the provider's error shape, e.g. 500, 503, 429 with Retry-After."""

    status: int = 500
    retry_after: float | str | None = None
    message: str = "scripted failure"


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` (e.g. past the client's timeout), then give `then`."""

    seconds: float
    then: Reply


@dataclass(frozen=True)
class Disconnect:
    """Close the connection without any response: a network error for the client."""


Reply = (
    dict[str, Any]
    | str
    | Answer
    | HttpFailure
    | Delay
    | Disconnect
    | Callable[["RecordedRequest"], "Reply"]
)
Predicate = str | Callable[["RecordedRequest"], bool]


# --- what was asked ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedMessage:
    role: str
    text: str
    images: list[bytes]  # decoded, so tests can compare them with what they sent


@dataclass(frozen=True)
class RecordedRequest:
    provider: Literal["openai", "anthropic"]
    path: str
    kind: str | None  # from the `harrier-protocol:` line; None when there is none
    model: str
    messages: list[RecordedMessage]  # the system prompt first, whatever the wire format
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]  # the raw JSON as received

    @property
    def text(self) -> str:
        """Every message's text, joined: what `when="..."` substrings are searched in."""
        return "\n\n".join(m.text for m in self.messages)

    @property
    def image_count(self) -> int:
        return sum(len(m.images) for m in self.messages)

    @property
    def has_images(self) -> bool:
        return self.image_count > 0

    @property
    def is_repair(self) -> bool:
        """A repair retry: the conversation already holds an answer of the model's."""
        return any(m.role == "assistant" for m in self.messages)


@dataclass
class Rule:
    kind: str | None  # None matches any kind
    when: Predicate | None
    reply: Reply
    times: int | None  # None: unlimited
    used: int = 0

    def matches(self, request: RecordedRequest) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.kind is not None and self.kind != request.kind:
            return False
        if self.when is None:
            return True
        if isinstance(self.when, str):
            return self.when in request.text
        return bool(self.when(request))


class BadRequest(Exception):
    """The request is not what the real provider would accept."""


# --- the server ----------------------------------------------------------------------------


@dataclass
class ScriptedModelServer:
    """The scripted model on 127.0.0.1 (any free port), served from a daemon thread.

    With `api_key`, requests without it (Bearer for OpenAI, x-api-key for
    Anthropic) get a 401, as from the real APIs.
    """

    api_key: str | None = None
    host: str = "127.0.0.1"
    _rules: list[Rule] = field(default_factory=list)
    _requests: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Set on stop/reset so that Delay replies still sleeping let go at once.
    _wake: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> ScriptedModelServer:
        server = self

        class Handler(_Handler):
            scripted = server

        self._wake.clear()
        self._server = _Server((self.host, 0), Handler)
        # A short poll interval makes stop() quick: shutdown waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="scripted-model-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._wake.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the scripted model server is not started")
        return self._server.server_address[1]

    @property
    def openai_base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def llm_settings(self, provider: Literal["openai", "anthropic"] = "openai") -> dict[str, Any]:
        """LLM_* settings (or environment variables) that point Harrier at this server."""
        base_url = self.openai_base_url if provider == "openai" else self.anthropic_base_url
        return {
            "LLM_PROVIDER": provider,
            "LLM_BASE_URL": base_url,
            "LLM_MODEL": MODEL_NAME,
            "LLM_API_KEY": self.api_key or "scripted-key",
        }

    # scripting

    def add_rule(
        self,
        kind: str | None = None,
        reply: Reply | None = None,
        *,
        when: Predicate | None = None,
        times: int | None = None,
    ) -> Rule:
        """Answer requests of `kind` (and `when`: a substring of the text, or a predicate).

        Rules are tried in the order they were added; a rule used `times` times is
        skipped from then on.
        """
        if reply is None:
            raise ValueError("a rule needs a reply")
        rule = Rule(kind=kind, when=when, reply=reply, times=times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def script(self, rules: Iterable[Rule | dict[str, Any]]) -> None:
        """Replace all rules: Rule objects or add_rule keyword dicts, in matching order."""
        with self._lock:
            self._rules.clear()
        for rule in rules:
            if isinstance(rule, Rule):
                with self._lock:
                    self._rules.append(rule)
            else:
                self.add_rule(**rule)

    def reset(self) -> None:
        """Forget rules and recorded requests (and release any Delay still sleeping)."""
        self._wake.set()
        with self._lock:
            self._rules.clear()
            self._requests.clear()
        self._wake = threading.Event()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_of(self, kind: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == kind]

    # answering (called from handler threads)

    def _record_and_match(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            self._requests.append(request)
            for rule in self._rules:
                if rule.matches(request):
                    rule.used += 1
                    return rule.reply
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops connections when parallel workers call at once.
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    scripted: ScriptedModelServer
    server_version = "ScriptedModel/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(
                200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]}
            )
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path == "/v1/chat/completions":
            provider: Literal["openai", "anthropic"] = "openai"
        elif path == "/v1/messages":
            provider = "anthropic"
        else:
            self._send_json(404, {"error": {"message": f"no route POST {self.path}"}})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            self._check_auth(provider)
            request = _parse_request(provider, path, body, self.headers)
        except (BadRequest, ValueError) as exc:
            self._send_error(provider, 400, f"invalid request: {exc}")
            return
        except PermissionError as exc:
            self._send_error(provider, 401, str(exc))
            return
        reply = self.scripted._record_and_match(request)
        if reply is None:
            self._send_error(
                provider,
                500,
                f"no scripted reply for kind {request.kind} "
                f"(first user text: {_first_user_text(request)[:120]!r})",
            )
            return
        self._answer(provider, request, reply)

    def _check_auth(self, provider: str) -> None:
        key = self.scripted.api_key
        if key is None:
            return
        if provider == "openai":
            sent = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        else:
            sent = self.headers.get("x-api-key") or ""
        if sent != key:
            raise PermissionError("invalid api key")

    def _answer(self, provider: str, request: RecordedRequest, reply: Reply) -> None:
        while True:  # unwrap callables and delays down to something to send
            if isinstance(reply, Delay):
                if self.scripted._wake.wait(reply.seconds):
                    return  # the server is stopping or reset: the client is long gone
                reply = reply.then
            elif callable(reply):
                reply = reply(request)
            else:
                break
        if isinstance(reply, Disconnect):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # the client sees the connection drop
            return
        if isinstance(reply, HttpFailure):
            headers = {}
            if reply.retry_after is not None:
                headers["retry-after"] = str(reply.retry_after)
            self._send_error(provider, reply.status, reply.message, headers)
            return
        answer = reply if isinstance(reply, Answer) else Answer(reply)  # type: ignore[arg-type]
        builder = _openai_completion if provider == "openai" else _anthropic_message
        self._send_json(200, builder(request, answer))

    def _send_error(
        self, provider: str, status: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        if provider == "anthropic":
            kind = "api_error" if status >= 500 else "invalid_request_error"
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            body = {"error": {"message": message, "type": "scripted_error", "code": status}}
        self._send_json(status, body, headers)

    def _send_json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout) before the scripted delay ended


# --- parsing the wire formats --------------------------------------------------------------


def _parse_request(
    provider: Literal["openai", "anthropic"], path: str, body: dict[str, Any], headers: Any
) -> RecordedRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model is required")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise BadRequest("messages must be a non-empty list")
    if provider == "openai":
        messages = [_openai_message(m) for m in raw_messages]
    else:
        messages = _anthropic_messages(body, raw_messages, headers)
    system = next((m.text for m in messages if m.role == "system"), "")
    marker = _MARKER_RE.match(system)
    return RecordedRequest(
        provider=provider,
        path=path,
        kind=marker.group(1) if marker else None,
        model=model,
        messages=messages,
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
    )


def _openai_message(raw: Any) -> RecordedMessage:
    if not isinstance(raw, dict) or raw.get("role") not in ("system", "user", "assistant"):
        raise BadRequest(f"each message needs a role of system, user or assistant: {raw!r:.80}")
    content = raw.get("content")
    if isinstance(content, str):
        return RecordedMessage(raw["role"], content, [])
    if not isinstance(content, list):
        raise BadRequest("content must be a string or a list of parts")
    texts, images = [], []
    for part in content:
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            match = _DATA_URL_RE.match(url)
            if not match:
                raise BadRequest("image_url.url must be a data:image/...;base64 URL")
            images.append(_b64(match.group(2)))
        else:
            raise BadRequest(f"unknown content part {part!r:.80}")
    return RecordedMessage(raw["role"], "\n".join(texts), images)


def _anthropic_messages(
    body: dict[str, Any], raw_messages: list[Any], headers: Any
) -> list[RecordedMessage]:
    if not headers.get("anthropic-version"):
        raise BadRequest("the anthropic-version header is required")
    if not isinstance(body.get("max_tokens"), int):
        raise BadRequest("max_tokens is required")
    system = body.get("system", "")
    if isinstance(system, list):
        system = "\n".join(block.get("text", "") for block in system)
    messages = [RecordedMessage("system", system, [])] if system else []
    for raw in raw_messages:
        if not isinstance(raw, dict) or raw.get("role") not in ("user", "assistant"):
            raise BadRequest(
                "messages: roles must be user or assistant (the system prompt is a top-level field)"
            )
        content = raw.get("content")
        if isinstance(content, str):
            if not content:
                raise BadRequest("messages: text content must be non-empty")
            messages.append(RecordedMessage(raw["role"], content, []))
            continue
        texts, images = [], []
        for block in content or []:
            if block.get("type") == "text" and block.get("text"):
                texts.append(block["text"])
            elif block.get("type") == "image":
                source = block.get("source") or {}
                if source.get("type") != "base64" or source.get("media_type") not in _MEDIA_TYPES:
                    raise BadRequest("image.source must be base64 with an image media_type")
                images.append(_b64(source.get("data", "")))
            else:
                raise BadRequest(f"unknown or empty content block {block!r:.80}")
        messages.append(RecordedMessage(raw["role"], "\n".join(texts), images))
    if (
        messages
        and messages[-1].role == "assistant"
        and messages[-1].text != messages[-1].text.rstrip()
    ):
        raise BadRequest("final assistant content cannot end with trailing whitespace")
    return messages


def _b64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("image data is not valid base64") from None


# --- building answers ----------------------------------------------------------------------


def _content_text(answer: Answer) -> str:
    if isinstance(answer.content, str):
        return answer.content
    return json.dumps(answer.content)


def _token_counts(request: RecordedRequest, answer: Answer, text: str) -> tuple[int, int]:
    # About four characters a token, plus a flat cost per image: deterministic, roughly real.
    prompt = answer.prompt_tokens
    if prompt is None:
        prompt = len(request.text) // 4 + 1 + 85 * request.image_count
    completion = answer.completion_tokens
    if completion is None:
        completion = len(text) // 4 + 1
    return prompt, completion


def _openai_completion(request: RecordedRequest, answer: Answer) -> dict[str, Any]:
    text = _content_text(answer)
    prompt, completion = _token_counts(request, answer, text)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": answer.stop_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _anthropic_message(request: RecordedRequest, answer: Answer) -> dict[str, Any]:
    text = _content_text(answer)
    prompt, completion = _token_counts(request, answer, text)
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn" if answer.stop_reason == "stop" else "max_tokens",
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": completion},
    }


def _first_user_text(request: RecordedRequest) -> str:
    return next((m.text for m in request.messages if m.role == "user"), "")
