"""The one protocol between the agent and a model: what each prompt carries, what JSON comes back.

docs/agent-protocol.md is the human-readable version of this module; keep them in step.

Every request is a system message that starts with `harrier-protocol: <kind>` (so a
person reading logs, or the scripted model server in tests, can tell requests apart)
followed by the instructions and the answer's JSON shape, then one user message with
the facts (and a screenshot when there is one). Builders (`*_messages`) make those
messages; parsers (`parse_*`) turn the decoded JSON answer into typed results or raise
ProtocolError with a message that is shown to the model on the repair retry, so it is
written for the model and a person alike. `ask` ties them together.
"""

import json
import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

import jsonschema

from runs.agent.llm import LLMError, Message, ModelClient, ModelReply

logger = logging.getLogger(__name__)

T = TypeVar("T")

MARKER_PREFIX = "harrier-protocol: "
MAX_ACTIONS_PER_STEP = 5
MAX_MINI_GOALS = 10
MAX_WAIT_SECONDS = 30
# What the model said is replayed on the repair retry; an endless answer need not be.
MAX_REPLAYED_ANSWER_CHARS = 8000

# A data_extraction_schema as the API accepts it: a JSON schema (dict), or a description.
Schema = dict[str, Any] | list[Any] | str | None


class Kind(StrEnum):
    STEP = "step"
    VERIFY_COMPLETE = "verify_complete"
    EXTRACT = "extract"
    START_URL = "start_url"
    ERROR_CODES = "error_codes"
    PLAN = "plan"
    CHECK_GOAL = "check_goal"


# How error messages name each kind: "... not valid JSON for a step ...".
KIND_LABELS: dict[str, str] = {
    Kind.STEP: "a step",
    Kind.VERIFY_COMPLETE: "a completion check",
    Kind.EXTRACT: "a data extraction",
    Kind.START_URL: "choosing a start URL",
    Kind.ERROR_CODES: "choosing error codes",
    Kind.PLAN: "a plan",
    Kind.CHECK_GOAL: "a goal check",
}


class ProtocolError(Exception):
    """A model answer that cannot be used. The message is readable by people and models.

    From `ask`, `kind` names the request, `answer` is the model's last text and
    `replies` holds every reply received (they were billed even though they failed).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        answer: str | None = None,
        replies: Sequence[ModelReply] = (),
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.answer = answer
        self.replies = list(replies)


class AnswerNotJSON(ProtocolError):
    """The answer holds no JSON object at all (as opposed to one of the wrong shape)."""


# --- actions -------------------------------------------------------------------------------

# Only vertical: that is what the page executor (runs/agent/actions.py) scrolls.
ScrollDirection = Literal["up", "down"]
SCROLL_DIRECTIONS: tuple[str, ...] = ("up", "down")
MAX_KEYS = 50


@dataclass(frozen=True)
class Click:
    type: ClassVar[str] = "click"
    element_id: str


@dataclass(frozen=True)
class InputText:
    type: ClassVar[str] = "input_text"
    element_id: str
    text: str


@dataclass(frozen=True)
class SelectOption:
    type: ClassVar[str] = "select_option"
    element_id: str
    option: str


@dataclass(frozen=True)
class Checkbox:
    type: ClassVar[str] = "checkbox"
    element_id: str
    checked: bool


@dataclass(frozen=True)
class UploadFile:
    """Exactly one source: a URL to fetch, or a file the run already has (e.g. downloaded)."""

    type: ClassVar[str] = "upload_file"
    element_id: str
    file_url: str | None = None
    file_path: str | None = None


@dataclass(frozen=True)
class Download:
    type: ClassVar[str] = "download"
    element_id: str


@dataclass(frozen=True)
class Scroll:
    type: ClassVar[str] = "scroll"
    direction: ScrollDirection
    amount: int | None = None  # pixels; None means about one screen
    element_id: str | None = None  # None scrolls the page


@dataclass(frozen=True)
class Keypress:
    type: ClassVar[str] = "keypress"
    keys: tuple[str, ...]  # Playwright key names, pressed in order: "Enter", "Control+A"
    element_id: str | None = None


@dataclass(frozen=True)
class Hover:
    type: ClassVar[str] = "hover"
    element_id: str


@dataclass(frozen=True)
class Wait:
    type: ClassVar[str] = "wait"
    seconds: float


@dataclass(frozen=True)
class GoBack:
    type: ClassVar[str] = "go_back"


@dataclass(frozen=True)
class GotoUrl:
    type: ClassVar[str] = "goto_url"
    url: str


@dataclass(frozen=True)
class Extract:
    type: ClassVar[str] = "extract"


@dataclass(frozen=True)
class Complete:
    type: ClassVar[str] = "complete"


@dataclass(frozen=True)
class Terminate:
    type: ClassVar[str] = "terminate"
    reason: str


Action = (
    Click
    | InputText
    | SelectOption
    | Checkbox
    | UploadFile
    | Download
    | Scroll
    | Keypress
    | Hover
    | Wait
    | GoBack
    | GotoUrl
    | Extract
    | Complete
    | Terminate
)
ACTION_CLASSES: dict[str, type[Action]] = {
    cls.type: cls
    for cls in (
        Click,
        InputText,
        SelectOption,
        Checkbox,
        UploadFile,
        Download,
        Scroll,
        Keypress,
        Hover,
        Wait,
        GoBack,
        GotoUrl,
        Extract,
        Complete,
        Terminate,
    )
}
ACTION_TYPES: tuple[str, ...] = tuple(ACTION_CLASSES)
FINAL_ACTION_TYPES = frozenset({Complete.type, Terminate.type})


def action_to_dict(action: Action) -> dict[str, Any]:
    """The action as protocol JSON (the form the model writes), leaving out unset options."""
    out: dict[str, Any] = {"type": action.type}
    for f in fields(action):
        value = getattr(action, f.name)
        if value is not None:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


# --- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepAnswer:
    reasoning: str
    actions: tuple[Action, ...]

    def action_dicts(self) -> list[dict[str, Any]]:
        """The actions as protocol JSON, e.g. for recording them on the step."""
        return [action_to_dict(action) for action in self.actions]


@dataclass(frozen=True)
class VerifyAnswer:
    goal_reached: bool
    reasoning: str


@dataclass(frozen=True)
class ExtractAnswer:
    data: Any


@dataclass(frozen=True)
class StartUrlAnswer:
    url: str | None
    reasoning: str


@dataclass(frozen=True)
class ErrorCodesAnswer:
    error_codes: tuple[str, ...]
    ignored: tuple[Any, ...] = ()  # what the model named that is not in the mapping


@dataclass(frozen=True)
class PlanAnswer:
    mini_goals: tuple[str, ...]


@dataclass(frozen=True)
class CheckGoalAnswer:
    goal_met: bool
    reasoning: str


# --- what the engine passes in -------------------------------------------------------------


@dataclass(frozen=True)
class PastAction:
    action: Action | str  # an Action, or a description the engine already wrote
    result: str = "ok"  # "ok", or what went wrong


@dataclass(frozen=True)
class StepSummary:
    """One earlier step, as the model sees it in the history."""

    number: int
    actions: Sequence[PastAction]
    note: str = ""  # anything else worth remembering, e.g. "landed on https://..."


# --- the marker ----------------------------------------------------------------------------

_MARKER_RE = re.compile(r"\Aharrier-protocol:[ \t]*(\S+)")


def kind_of(messages: Sequence[Message]) -> str | None:
    """The kind named by the first system message's marker line, if any."""
    for message in messages:
        if message.role == "system":
            match = _MARKER_RE.match(message.text)
            return match.group(1) if match else None
    return None


def _system(kind: Kind, body: str) -> Message:
    return Message("system", f"{MARKER_PREFIX}{kind.value}\n{body.strip()}")


def _user(sections: Sequence[tuple[str, str | None]], screenshot: bytes | None) -> Message:
    parts = [f"## {title}\n{content.strip()}" for title, content in sections if content]
    if screenshot:
        parts.append("A screenshot of the browser viewport is attached.")
    return Message("user", "\n\n".join(parts), [screenshot] if screenshot else [])


_ONLY_JSON = "Answer with exactly one JSON object and no other text (no code fences):"


def _schema_text(schema: Schema) -> str | None:
    if schema is None or schema == "" or schema == {} or schema == []:
        return None
    if isinstance(schema, str):
        return schema
    return json.dumps(schema, indent=2, ensure_ascii=False)


# --- step ----------------------------------------------------------------------------------

_ACTIONS_REFERENCE = """\
- {"type": "click", "element_id": "e12"}: click the element.
- {"type": "input_text", "element_id": "e4", "text": "..."}: replace the field's content with text.
- {"type": "select_option", "element_id": "e7", "option": "..."}: choose an option of a select \
by its visible label (or its value).
- {"type": "checkbox", "element_id": "e9", "checked": true}: make a checkbox or radio button \
checked (true) or unchecked (false).
- {"type": "upload_file", "element_id": "e3", "file_url": "https://..."}: put the file found at \
file_url into the file input; instead of file_url, "file_path" names a file this run already \
has (e.g. one it downloaded).
- {"type": "download", "element_id": "e5"}: click the element and keep the file it downloads.
- {"type": "scroll", "direction": "down", "amount": 600, "element_id": "e2"}: scroll up or \
down; amount (optional) in pixels, about one screen when left out; element_id (optional) \
scrolls inside that element instead of the page.
- {"type": "keypress", "keys": ["Enter"], "element_id": "e4"}: press keys in order, named as \
in Playwright ("Enter", "Tab", "Escape", "ArrowDown", "Control+A"); element_id (optional) is \
focused first.
- {"type": "hover", "element_id": "e8"}: move the mouse over the element (opens menus).
- {"type": "wait", "seconds": 2}: wait for the page, more than 0 and at most 30 seconds.
- {"type": "go_back"}: the browser's back button.
- {"type": "goto_url", "url": "https://..."}: open a URL.
- {"type": "extract"}: the page shows the data the goal asks for: extract it now.
- {"type": "complete"}: the goal, or the current mini-goal, is reached (it will be checked).
- {"type": "terminate", "reason": "..."}: the goal cannot be reached: stop, and say why."""

_STEP_SYSTEM = """\
You are Harrier, an agent that operates a web browser to reach a user's goal. Each turn you \
see the current page: its interactive elements, one per line, each starting with an id like \
[e12], and usually a screenshot of the viewport. You decide the next actions.

{only_json}
{{"reasoning": "<what you see, what you do next and why>", "actions": [<1 to {max_actions} \
actions>]}}

Actions. Each is a JSON object with "type" plus the keys shown (no other keys, except an \
optional "reasoning" string):
{actions}

Rules:
- Use only element ids listed for the current page, without brackets: "e12".
- Actions run in order. When one fails, the rest are skipped and you see the error next turn. \
The page may change after a click or navigation, so only chain actions on elements you see \
now (e.g. fill several fields of one form, then submit).
- "complete" and "terminate" must be the last action of the step.
- Answer "complete" only when the page shows the goal (or the current mini-goal, when there \
is one) is reached. If the goal asks for information, complete on the page that shows it.
- Answer "terminate" to stop the whole run when the goal cannot be reached (the site \
refuses, required information is missing, it is impossible). Do not invent data that \
neither the goal nor the context gives.
"""


def step_messages(
    goal: str,
    url: str,
    observation: str,
    *,
    screenshot: bytes | None = None,
    history: Sequence[StepSummary | str] = (),
    mini_goal: str | None = None,
    context: str | None = None,
    previous_error: str | None = None,
    data_extraction_schema: Schema = None,
    steps_left: int | None = None,
    today: date | None = None,
    max_actions: int = MAX_ACTIONS_PER_STEP,
) -> list[Message]:
    """The request for the next actions. `observation` is the engine's page text, as is.

    `history` entries are StepSummary objects or lines the engine already wrote
    ("Step 2: click e4 -> ok"); `previous_error` is why the last attempt at this step
    failed, so the model can correct course.
    """
    system = _STEP_SYSTEM.format(
        only_json=_ONLY_JSON, max_actions=max_actions, actions=_ACTIONS_REFERENCE
    )
    sections: list[tuple[str, str | None]] = [
        ("Goal", goal),
        ("Current mini-goal (the part of the goal to work on now)", mini_goal),
        ("Context (facts to use, e.g. values for forms)", context),
        ("Today", today.isoformat() if today else None),
        ("Data the goal asks for (schema)", _schema_text(data_extraction_schema)),
        ("Previous steps", _history_text(history) or "None: this is the first step."),
        ("Your previous attempt at this step failed", previous_error),
        ("Steps left", f"{steps_left} (including this one)" if steps_left is not None else None),
        ("Current URL", url),
        ("Page elements", observation or "(the page shows no interactive elements)"),
    ]
    return [_system(Kind.STEP, system), _user(sections, screenshot)]


def _history_text(history: Sequence[StepSummary | str]) -> str:
    lines = []
    for step in history:
        if isinstance(step, str):
            lines.append(step)
            continue
        done = "; ".join(f"{_action_text(p.action)} -> {p.result}" for p in step.actions)
        line = f"Step {step.number}: {done or 'no actions'}"
        lines.append(f"{line} ({step.note})" if step.note else line)
    return "\n".join(lines)


def _action_text(action: Action | str) -> str:
    if isinstance(action, str):
        return action
    return json.dumps(action_to_dict(action), ensure_ascii=False)


def parse_step(
    data: Any,
    *,
    max_actions: int = MAX_ACTIONS_PER_STEP,
    element_ids: Collection[str] | None = None,
) -> StepAnswer:
    """A step answer; with `element_ids`, actions must name elements of the observed page."""
    answer = _object(data)
    errors: list[str] = []
    reasoning = _field_str(answer, "reasoning", errors)
    raw_actions = answer.get("actions")
    actions: list[Action] = []
    if "actions" not in answer:
        errors.append('"actions" is missing')
    elif not isinstance(raw_actions, list):
        errors.append(f'"actions" must be a list of actions, got {_shown(raw_actions)}')
    elif not raw_actions:
        errors.append('"actions" is empty: give at least one action (wait, complete, terminate…)')
    elif len(raw_actions) > max_actions:
        errors.append(f'"actions" has {len(raw_actions)} actions; at most {max_actions} per step')
    else:
        last = len(raw_actions) - 1
        for index, raw in enumerate(raw_actions):
            try:
                action = parse_action(raw, element_ids=element_ids)
            except ProtocolError as exc:
                errors.append(f"actions[{index}]: {exc}")
                continue
            if action.type in FINAL_ACTION_TYPES and index < last:
                errors.append(f'actions[{index}]: "{action.type}" must be the last action')
            actions.append(action)
    _raise_if(errors)
    return StepAnswer(reasoning=reasoning, actions=tuple(actions))


def parse_action(data: Any, *, element_ids: Collection[str] | None = None) -> Action:
    """One action object (also how stored actions are read back)."""
    if not isinstance(data, dict):
        raise ProtocolError(f"an action must be a JSON object, got {_shown(data)}")
    kind = data.get("type")
    cls = ACTION_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(
            f"unknown action type {_shown(kind)}; use one of {', '.join(ACTION_TYPES)}"
        )
    allowed = {f.name for f in fields(cls)}
    errors: list[str] = []
    # A misnamed argument would run the action with the wrong (default) arguments: reject it.
    unknown = sorted(set(data) - allowed - {"type", "reasoning"})
    if unknown:
        keys = ", ".join(sorted(allowed)) or "none"
        errors.append(f"unknown key(s) {', '.join(unknown)} (allowed: {keys})")
    values: dict[str, Any] = {}
    for f in fields(cls):
        # null for an optional key means "left out", as models often write it.
        if data.get(f.name) is None:
            if f.default is MISSING:
                errors.append(f"{f.name} is missing")
            continue
        try:
            values[f.name] = _ARG_CHECKS[f.name](data[f.name], element_ids)
        except ValueError as exc:
            errors.append(f"{f.name} {exc}")
    if cls is UploadFile and ("file_url" in values) == ("file_path" in values):
        errors.append("give exactly one of file_url or file_path")
    if errors:
        raise ProtocolError(f"({kind}) " + "; ".join(errors))
    return cls(**values)


def _check_element_id(value: Any, element_ids: Collection[str] | None) -> str:
    if not isinstance(value, str) or not value.strip("[] \t"):
        raise ValueError(f'must be an element id string like "e12", got {_shown(value)}')
    element_id = value.strip("[] \t")
    if element_ids is not None and element_id not in element_ids:
        raise ValueError(f"{element_id!r} is not an element of the current page")
    return element_id


def _check_text(value: Any, _ids: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_shown(value)}")
    return value


def _check_nonempty(value: Any, _ids: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {_shown(value)}")
    return value


def _check_bool(value: Any, _ids: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {_shown(value)}")
    return value


def _check_direction(value: Any, _ids: Any) -> str:
    if value not in SCROLL_DIRECTIONS:
        raise ValueError(f"must be one of {', '.join(SCROLL_DIRECTIONS)}, got {_shown(value)}")
    return value


def _check_amount(value: Any, _ids: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"must be a positive whole number of pixels, got {_shown(value)}")
    return value


def _check_keys(value: Any, _ids: Any) -> tuple[str, ...]:
    keys = [value] if isinstance(value, str) else value  # "Enter" is as clear as ["Enter"]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ValueError(f'must be a list of key names like ["Enter"], got {_shown(value)}')
    if len(keys) > MAX_KEYS:
        raise ValueError(f"may hold at most {MAX_KEYS} keys, not {len(keys)}")
    return tuple(keys)


def _check_seconds(value: Any, _ids: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {_shown(value)}")
    if not 0 < value <= MAX_WAIT_SECONDS:
        raise ValueError(f"must be more than 0 and at most {MAX_WAIT_SECONDS}, got {value}")
    return float(value)


def _check_url(value: Any, _ids: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a URL string, got {_shown(value)}")
    return _http_url(value.strip())


_SCHEME_RE = re.compile(r"\A[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")


def _http_url(url: str) -> str:
    # Models often write "example.com" or "localhost:8000"; "javascript:..." is a scheme.
    if "://" not in url and not _SCHEME_RE.match(url):
        url = f"https://{url}"
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"must be an http(s) URL, got {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, got {url!r}")
    return url


_ARG_CHECKS: dict[str, Callable[[Any, Collection[str] | None], Any]] = {
    "element_id": _check_element_id,
    "text": _check_text,
    "option": _check_nonempty,
    "checked": _check_bool,
    "file_url": _check_nonempty,
    "file_path": _check_nonempty,
    "direction": _check_direction,
    "amount": _check_amount,
    "keys": _check_keys,
    "seconds": _check_seconds,
    "url": _check_url,
    "reason": _check_nonempty,
}


# --- verify_complete -----------------------------------------------------------------------

_VERIFY_SYSTEM = """\
You check the work of a browser agent. It says it has reached the user's goal. Look at the \
current page (its interactive elements and, when attached, a screenshot) and decide whether \
the goal really is reached. Be strict: it is reached only when the page shows it (a \
confirmation, the requested information on screen, the expected state), not when it merely \
looks likely.

{only_json}
{{"goal_reached": true, "reasoning": "<what on the page shows it, or what is missing>"}}
"""


def verify_messages(
    goal: str,
    observation: str,
    claim: str,
    *,
    screenshot: bytes | None = None,
    url: str | None = None,
    mini_goal: str | None = None,
) -> list[Message]:
    """The check that a `complete` is real. `claim` is the agent's reasoning for completing."""
    sections = [
        ("Goal", goal),
        ("Mini-goal the agent worked on", mini_goal),
        ("What the agent claims", claim or "(the agent gave no reason)"),
        ("Current URL", url),
        ("Page elements", observation or "(the page shows no interactive elements)"),
    ]
    return [
        _system(Kind.VERIFY_COMPLETE, _VERIFY_SYSTEM.format(only_json=_ONLY_JSON)),
        _user(sections, screenshot),
    ]


def parse_verify(data: Any) -> VerifyAnswer:
    answer = _object(data)
    errors: list[str] = []
    reached = _field_bool(answer, "goal_reached", errors)
    reasoning = _field_str(answer, "reasoning", errors)
    _raise_if(errors)
    return VerifyAnswer(goal_reached=reached, reasoning=reasoning)


# --- extract -------------------------------------------------------------------------------

_EXTRACT_SYSTEM = """\
You extract information from a web page for a user's goal. Read the page (its text and \
elements and, when attached, a screenshot) and return the information the goal asks for.

{only_json}
{{"data": <the extracted information>}}

When a JSON schema is given, "data" must validate against it. When the schema is a \
description, follow it. Without a schema, return the information in the clearest JSON \
shape. Use null for anything the page does not show; never invent values.
"""


def extract_messages(
    goal: str,
    observation: str,
    *,
    data_extraction_schema: Schema = None,
    screenshot: bytes | None = None,
    url: str | None = None,
    previous_error: str | None = None,
) -> list[Message]:
    """`previous_error`: why an earlier extraction was rejected (e.g. the schema mismatch)."""
    if isinstance(data_extraction_schema, dict | bool):
        schema_title = 'JSON schema that "data" must validate against'
    else:
        schema_title = "What to extract"
    sections = [
        ("Goal", goal),
        (schema_title, _schema_text(data_extraction_schema)),
        ("Your previous extraction was rejected", previous_error),
        ("Current URL", url),
        ("Page", observation or "(the page shows nothing readable)"),
    ]
    return [
        _system(Kind.EXTRACT, _EXTRACT_SYSTEM.format(only_json=_ONLY_JSON)),
        _user(sections, screenshot),
    ]


def parse_extract(data: Any, schema: Schema = None) -> ExtractAnswer:
    """An extraction answer; with a JSON `schema`, the data must validate (so `ask` repairs it)."""
    answer = _object(data)
    if "data" not in answer:
        raise ProtocolError('"data" is missing: answer {"data": <the extracted information>}')
    problem = validate_extraction(answer["data"], schema)
    if problem:
        raise ProtocolError(problem)
    return ExtractAnswer(data=answer["data"])


def validate_extraction(data: Any, schema: Schema) -> str | None:
    """None when `data` fits `schema`, else a readable description of what does not.

    Only a dict is a JSON schema; a string (or list) schema is a description and any
    JSON fits it. A schema that is itself invalid cannot judge the data, so it is
    skipped (with a warning) rather than failing every run that uses it.
    """
    if not isinstance(schema, dict | bool):
        return None
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        logger.warning("data_extraction_schema is not a valid JSON schema: %s", exc.message)
        return None
    errors = sorted(
        validator_class(schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if not errors:
        return None
    shown = [f"at {_json_path(e.absolute_path)}: {_clip(e.message, 200)}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "the data does not match the schema: " + "; ".join(shown) + more


def _json_path(path: Sequence[Any]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


# --- start_url -----------------------------------------------------------------------------

_START_URL_SYSTEM = """\
A user gave a browser agent a goal but no URL to start from. Choose the web page where the \
agent should start: preferably the official site that serves the goal, or a search engine \
page as a fallback. Answer null when the goal names no website and none fits.

{only_json}
{{"url": "https://...", "reasoning": "<why this page>"}}
"""


def start_url_messages(goal: str) -> list[Message]:
    return [
        _system(Kind.START_URL, _START_URL_SYSTEM.format(only_json=_ONLY_JSON)),
        _user([("Goal", goal)], None),
    ]


def parse_start_url(data: Any) -> StartUrlAnswer:
    answer = _object(data)
    errors: list[str] = []
    reasoning = _field_str(answer, "reasoning", errors)
    url: str | None = None
    if "url" not in answer:
        errors.append('"url" is missing (use null when no page fits)')
    elif answer["url"] is not None:
        try:
            url = _check_url(answer["url"], None)
        except ValueError as exc:
            errors.append(f'"url" {exc}')
    _raise_if(errors)
    return StartUrlAnswer(url=url, reasoning=reasoning)


# --- error_codes ---------------------------------------------------------------------------

_ERROR_CODES_SYSTEM = """\
A browser agent's run failed or was stopped. The user defined error codes, each with a \
description of when it applies. Pick every code whose description matches what went wrong, \
and no other; an empty list when none matches.

{only_json}
{{"error_codes": ["<code>", ...]}}
"""


def error_codes_messages(
    goal: str,
    mapping: Mapping[str, str],
    what_went_wrong: str,
    *,
    observations: str | None = None,
) -> list[Message]:
    """The request to pick error codes for a failed or terminated run.

    `mapping` is the run's error_code_mapping, `what_went_wrong` its failure reason,
    `observations` a summary of the last steps and pages.
    """
    codes = "\n".join(f"- {code}: {text}" for code, text in mapping.items())
    sections = [
        ("Goal", goal),
        ("Error codes (code: when it applies)", codes),
        ("What went wrong", what_went_wrong),
        ("What the agent saw last", observations),
    ]
    return [
        _system(Kind.ERROR_CODES, _ERROR_CODES_SYSTEM.format(only_json=_ONLY_JSON)),
        _user(sections, None),
    ]


def parse_error_codes(data: Any, mapping: Mapping[str, str]) -> ErrorCodesAnswer:
    """Codes from the mapping only: anything else the model names is dropped, not an error."""
    answer = _object(data)
    codes = answer.get("error_codes")
    if not isinstance(codes, list):
        raise ProtocolError(f'"error_codes" must be a list of codes, got {_shown(codes)}')
    kept: list[str] = []
    ignored: list[Any] = []
    for code in codes:
        if isinstance(code, str) and code in mapping:
            if code not in kept:
                kept.append(code)
        else:
            ignored.append(code)
    if ignored:
        logger.info("Dropped error codes that are not in the mapping: %r", ignored)
    return ErrorCodesAnswer(error_codes=tuple(kept), ignored=tuple(ignored))


# --- plan ----------------------------------------------------------------------------------

_PLAN_SYSTEM = """\
You plan the work of a browser agent. Split the user's goal into 1 to {max_goals} mini-goals, \
in the order they must be done. Each mini-goal is one sentence, small enough to do in a few \
browser steps, and checkable on the page. A simple goal is one mini-goal. The last mini-goal \
gets whatever information the goal asks for onto the screen.

{only_json}
{{"mini_goals": ["<first mini-goal>", "..."]}}
"""


def plan_messages(
    goal: str,
    url: str,
    observation: str,
    *,
    screenshot: bytes | None = None,
    data_extraction_schema: Schema = None,
) -> list[Message]:
    sections = [
        ("Goal", goal),
        ("Data the goal asks for (schema)", _schema_text(data_extraction_schema)),
        ("Current URL", url),
        ("Page elements", observation or "(the page shows no interactive elements)"),
    ]
    return [
        _system(Kind.PLAN, _PLAN_SYSTEM.format(only_json=_ONLY_JSON, max_goals=MAX_MINI_GOALS)),
        _user(sections, screenshot),
    ]


def parse_plan(data: Any) -> PlanAnswer:
    answer = _object(data)
    goals = answer.get("mini_goals")
    if not isinstance(goals, list):
        raise ProtocolError(f'"mini_goals" must be a list of strings, got {_shown(goals)}')
    if not 1 <= len(goals) <= MAX_MINI_GOALS:
        raise ProtocolError(f'"mini_goals" must hold 1 to {MAX_MINI_GOALS} items, not {len(goals)}')
    bad = [i for i, g in enumerate(goals) if not isinstance(g, str) or not g.strip()]
    if bad:
        raise ProtocolError(f'"mini_goals" items must be non-empty strings (see items {bad})')
    return PlanAnswer(mini_goals=tuple(g.strip() for g in goals))


# --- check_goal ----------------------------------------------------------------------------

_CHECK_GOAL_SYSTEM = """\
A browser agent works through a user's goal one mini-goal at a time. Given the mini-goals \
done so far and the current page, decide whether the user's whole goal is met now. Be \
strict: met means the page shows it, not that it looks likely.

{only_json}
{{"goal_met": false, "reasoning": "<what shows it, or what is still missing>"}}
"""


def check_goal_messages(
    goal: str,
    mini_goals_done: Sequence[str],
    observation: str,
    *,
    screenshot: bytes | None = None,
    url: str | None = None,
) -> list[Message]:
    done = "\n".join(f"{i}. {g}" for i, g in enumerate(mini_goals_done, 1))
    sections = [
        ("Goal", goal),
        ("Mini-goals done so far", done or "None yet."),
        ("Current URL", url),
        ("Page elements", observation or "(the page shows no interactive elements)"),
    ]
    return [
        _system(Kind.CHECK_GOAL, _CHECK_GOAL_SYSTEM.format(only_json=_ONLY_JSON)),
        _user(sections, screenshot),
    ]


def parse_check_goal(data: Any) -> CheckGoalAnswer:
    answer = _object(data)
    errors: list[str] = []
    met = _field_bool(answer, "goal_met", errors)
    reasoning = _field_str(answer, "reasoning", errors)
    _raise_if(errors)
    return CheckGoalAnswer(goal_met=met, reasoning=reasoning)


# --- asking --------------------------------------------------------------------------------

REPAIR_REQUEST = (
    "Your answer could not be used: {error}\n"
    "Answer again with only the corrected JSON object, in exactly the shape the instructions "
    "give, and no other text."
)


async def ask(
    client: ModelClient, messages: Sequence[Message], parse: Callable[[Any], T]
) -> tuple[T, list[ModelReply]]:
    """Ask the model and parse its JSON answer, with exactly one repair retry.

    `parse` gets the decoded JSON object (use a lambda or functools.partial for
    parsers that take more arguments). Returns every ModelReply for token accounting;
    they also ride on the ProtocolError / LLMError raised when it fails.
    """
    kind = kind_of(messages)
    conversation = list(messages)
    replies: list[ModelReply] = []
    reply = await _complete(client, conversation, replies)
    try:
        return parse(extract_json(reply.text)), replies
    except ProtocolError as first:
        problem = str(first)
    conversation += [
        Message("assistant", _clip(reply.text, MAX_REPLAYED_ANSWER_CHARS) or "(empty answer)"),
        Message("user", REPAIR_REQUEST.format(error=problem)),
    ]
    reply = await _complete(client, conversation, replies)
    try:
        return parse(extract_json(reply.text)), replies
    except ProtocolError as second:
        label = KIND_LABELS.get(kind or "", f"a {kind or 'request'}")
        what = "was not valid JSON" if isinstance(second, AnswerNotJSON) else "was not valid"
        raise ProtocolError(
            f"The model's answer {what} for {label} after one repair attempt: {second}",
            kind=kind,
            answer=reply.text,
            replies=replies,
        ) from second


async def _complete(
    client: ModelClient, messages: list[Message], replies: list[ModelReply]
) -> ModelReply:
    try:
        reply = await client.complete(messages)
    except LLMError as exc:
        exc.replies = [*replies, *exc.replies]
        raise
    replies.append(reply)
    return reply


_FENCE_RE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> dict[str, Any]:
    """The outermost JSON object in a model's answer, tolerating fences and prose around it."""
    stripped = text.strip()
    if not stripped:
        raise AnswerNotJSON("the answer was empty; it must be a JSON object")
    candidates = [stripped, *(m.group(1).strip() for m in _FENCE_RE.finditer(stripped))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
        raise AnswerNotJSON(f"the answer must be a JSON object, not {_json_type(value)}")
    decoder = json.JSONDecoder()
    first_error: str | None = None
    for match in re.finditer(r"\{", stripped):
        try:
            value, _end = decoder.raw_decode(stripped, match.start())
        except ValueError as exc:
            first_error = first_error or str(exc)
            continue
        if isinstance(value, dict):
            return value
    if first_error:
        raise AnswerNotJSON(f"the JSON object is malformed ({first_error})")
    raise AnswerNotJSON(f"the answer holds no JSON object (it began: {_clip(stripped, 80)!r})")


# --- small validation helpers --------------------------------------------------------------


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(f"the answer must be a JSON object, not {_json_type(data)}")
    return data


def _field_str(answer: dict[str, Any], key: str, errors: list[str]) -> str:
    value = answer.get(key)
    if not isinstance(value, str):
        missing = key not in answer
        errors.append(f'"{key}" is missing' if missing else f'"{key}" must be a string')
        return ""
    return value


def _field_bool(answer: dict[str, Any], key: str, errors: list[str]) -> bool:
    value = answer.get(key)
    if not isinstance(value, bool):
        missing = key not in answer
        errors.append(
            f'"{key}" is missing' if missing else f'"{key}" must be true or false, not {value!r}'
        )
        return False
    return value


def _raise_if(errors: list[str]) -> None:
    if errors:
        raise ProtocolError("; ".join(errors))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _shown(value: Any) -> str:
    return _clip(json.dumps(value, ensure_ascii=False, default=str), 60)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
