"""The agent protocol: what each request carries, which answers pass, and `ask`'s one repair."""

import asyncio
import functools
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from runs.agent import protocol
from runs.agent.llm import LLMError, Message, client_from_settings
from runs.agent.protocol import (
    AnswerNotJSON,
    Checkbox,
    Click,
    Complete,
    Download,
    Extract,
    GoBack,
    GotoUrl,
    Hover,
    InputText,
    Keypress,
    PastAction,
    ProtocolError,
    Scroll,
    SelectOption,
    StepSummary,
    Terminate,
    UploadFile,
    Wait,
)
from tests.llm.conftest import PNG
from tests.support.model_server import HttpFailure, ScriptedModelServer

GOAL = "Log in as alice and tell me the total of the last invoice"
OBSERVATION = '[e1] input "Username"\n[e2] input "Password"\n[e3] button "Sign in"'
SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "price": {"type": "number"}},
                "required": ["name", "price"],
            },
        }
    },
    "required": ["items"],
}
MAPPING = {"LOGIN_FAILED": "the credentials were refused", "NO_INVOICE": "there is no invoice"}


def _user_text(messages: list[Message]) -> str:
    return messages[1].text


# --- builders --------------------------------------------------------------------------------

BUILDERS: list[tuple[str, Callable[[], list[Message]]]] = [
    ("step", lambda: protocol.step_messages(GOAL, "https://x.test", OBSERVATION)),
    ("verify_complete", lambda: protocol.verify_messages(GOAL, OBSERVATION, "I see it")),
    ("extract", lambda: protocol.extract_messages(GOAL, OBSERVATION)),
    ("start_url", lambda: protocol.start_url_messages(GOAL)),
    ("error_codes", lambda: protocol.error_codes_messages(GOAL, MAPPING, "login refused")),
    ("plan", lambda: protocol.plan_messages(GOAL, "https://x.test", OBSERVATION)),
    ("check_goal", lambda: protocol.check_goal_messages(GOAL, ["Log in"], OBSERVATION)),
]


@pytest.mark.parametrize(("kind", "build"), BUILDERS, ids=[kind for kind, _ in BUILDERS])
def test_every_request_starts_with_its_marker_line(
    kind: str, build: Callable[[], list[Message]]
) -> None:
    messages = build()

    assert [m.role for m in messages] == ["system", "user"]
    assert messages[0].text.splitlines()[0] == f"harrier-protocol: {kind}"
    assert protocol.kind_of(messages) == kind
    assert GOAL in messages[1].text
    assert "JSON" in messages[0].text  # OpenAI's JSON mode refuses prompts that never say it


def test_step_request_carries_everything_the_agent_knows() -> None:
    messages = protocol.step_messages(
        GOAL,
        "https://x.test/login",
        OBSERVATION,
        screenshot=PNG,
        history=[
            StepSummary(
                1,
                [PastAction(Click("e9")), PastAction(InputText("e1", "alice"), "failed: hidden")],
                note="landed on /login",
            ),
            "Step 2: scroll(direction='down') -> ok",
        ],
        mini_goal="Log in",
        context="username alice",
        previous_error="Action click failed: element e7 is covered",
        data_extraction_schema=SCHEMA,
        steps_left=4,
        today=date(2025, 3, 1),
        max_actions=3,
    )

    system, user = messages
    assert "1 to 3 actions" in system.text
    for action_type in protocol.ACTION_TYPES:
        assert f'"type": "{action_type}"' in system.text
    text = user.text
    for expected in (
        GOAL,
        "## Current mini-goal",
        "Log in",
        "username alice",
        "2025-03-01",
        '"price"',
        'Step 1: {"type": "click", "element_id": "e9"} -> ok; '
        '{"type": "input_text", "element_id": "e1", "text": "alice"} -> failed: hidden '
        "(landed on /login)",
        "Step 2: scroll(direction='down') -> ok",
        "element e7 is covered",
        "4 (including this one)",
        "https://x.test/login",
        OBSERVATION,
    ):
        assert expected in text
    assert user.images == [PNG]


def test_a_first_step_says_so_and_leaves_out_what_it_lacks() -> None:
    _system, user = protocol.step_messages(GOAL, "https://x.test", OBSERVATION)

    assert "None: this is the first step." in user.text
    for absent in ("mini-goal", "Context", "failed", "Steps left", "schema", "screenshot"):
        assert absent not in user.text
    assert user.images == []


def test_verify_request_carries_the_claim_and_the_fresh_page() -> None:
    _system, user = protocol.verify_messages(
        GOAL, OBSERVATION, "The dashboard greets alice", screenshot=PNG, url="https://x.test/home"
    )

    assert "The dashboard greets alice" in user.text
    assert OBSERVATION in user.text
    assert "https://x.test/home" in user.text
    assert user.images == [PNG]


def test_extract_request_tells_a_json_schema_from_a_description() -> None:
    with_schema = _user_text(
        protocol.extract_messages(
            GOAL, OBSERVATION, data_extraction_schema=SCHEMA, previous_error="price is a string"
        )
    )
    described = _user_text(
        protocol.extract_messages(GOAL, OBSERVATION, data_extraction_schema="the invoice total")
    )

    assert 'JSON schema that "data" must validate against' in with_schema
    assert '"required": [\n    "items"\n  ]' in with_schema
    assert "price is a string" in with_schema
    assert "## What to extract\nthe invoice total" in described


def test_start_url_request_carries_only_the_goal() -> None:
    _system, user = protocol.start_url_messages(GOAL)

    assert user.text == f"## Goal\n{GOAL}"
    assert user.images == []


def test_error_codes_request_lists_the_codes_and_what_went_wrong() -> None:
    text = _user_text(
        protocol.error_codes_messages(
            GOAL, MAPPING, "The password was refused", observations="Step 3: error banner"
        )
    )

    assert "- LOGIN_FAILED: the credentials were refused" in text
    assert "- NO_INVOICE: there is no invoice" in text
    assert "The password was refused" in text
    assert "Step 3: error banner" in text


def test_plan_and_check_goal_requests_carry_the_page_and_progress() -> None:
    plan = _user_text(protocol.plan_messages(GOAL, "https://x.test", OBSERVATION))
    check = _user_text(protocol.check_goal_messages(GOAL, ["Log in", "Open invoices"], OBSERVATION))

    assert "https://x.test" in plan
    assert OBSERVATION in plan
    assert "1. Log in\n2. Open invoices" in check
    assert OBSERVATION in check


# --- parse_step ------------------------------------------------------------------------------

EVERY_ACTION = [
    ({"type": "click", "element_id": "e1"}, Click("e1")),
    ({"type": "input_text", "element_id": "e1", "text": ""}, InputText("e1", "")),
    ({"type": "select_option", "element_id": "e2", "option": "Blue"}, SelectOption("e2", "Blue")),
    ({"type": "checkbox", "element_id": "e3", "checked": False}, Checkbox("e3", False)),
    (
        {"type": "upload_file", "element_id": "e4", "file_url": "https://f.test/a.pdf"},
        UploadFile("e4", "https://f.test/a.pdf"),
    ),
    (
        {"type": "upload_file", "element_id": "e4", "file_path": "invoice.pdf"},
        UploadFile("e4", file_path="invoice.pdf"),
    ),
    ({"type": "download", "element_id": "e5"}, Download("e5")),
    ({"type": "scroll", "direction": "down"}, Scroll("down")),
    (
        {"type": "scroll", "direction": "up", "amount": 300, "element_id": "e6"},
        Scroll("up", 300, "e6"),
    ),
    ({"type": "keypress", "keys": ["Control+A", "Delete"]}, Keypress(("Control+A", "Delete"))),
    ({"type": "keypress", "keys": "Enter", "element_id": "e1"}, Keypress(("Enter",), "e1")),
    ({"type": "hover", "element_id": "e7"}, Hover("e7")),
    ({"type": "wait", "seconds": 2}, Wait(2.0)),
    ({"type": "go_back"}, GoBack()),
    ({"type": "goto_url", "url": "https://x.test/a"}, GotoUrl("https://x.test/a")),
    ({"type": "goto_url", "url": "x.test/a"}, GotoUrl("https://x.test/a")),
    ({"type": "extract", "reasoning": "the table is visible"}, Extract()),
    ({"type": "terminate", "reason": "the site is down"}, Terminate("the site is down")),
    ({"type": "complete"}, Complete()),
]


@pytest.mark.parametrize(("raw", "expected"), EVERY_ACTION)
def test_every_action_type_parses_to_its_dataclass(raw: dict[str, Any], expected: Any) -> None:
    answer = protocol.parse_step({"reasoning": "r", "actions": [raw]})

    assert answer.actions == (expected,)
    assert protocol.parse_action(protocol.action_to_dict(expected)) == expected


def test_a_step_answer_keeps_reasoning_and_order() -> None:
    answer = protocol.parse_step(
        {
            "reasoning": "Fill the form and submit",
            "actions": [
                {"type": "input_text", "element_id": "[e1]", "text": "alice"},
                {"type": "click", "element_id": "e3", "reasoning": "submit"},
                {"type": "complete"},
            ],
            "memory": "extra top-level keys are ignored",
        }
    )

    assert answer.reasoning == "Fill the form and submit"
    assert answer.actions == (InputText("e1", "alice"), Click("e3"), Complete())
    assert answer.action_dicts()[0] == {"type": "input_text", "element_id": "e1", "text": "alice"}


def _six_clicks() -> dict[str, Any]:
    return {"reasoning": "r", "actions": [{"type": "click", "element_id": "e1"}] * 6}


INVALID_STEPS = [
    ([], "the answer must be a JSON object, not a list"),
    ({"actions": [{"type": "complete"}]}, '"reasoning" is missing'),
    ({"reasoning": 3, "actions": [{"type": "complete"}]}, '"reasoning" must be a string'),
    ({"reasoning": "r"}, '"actions" is missing'),
    ({"reasoning": "r", "actions": {"type": "complete"}}, '"actions" must be a list'),
    ({"reasoning": "r", "actions": []}, '"actions" is empty'),
    (_six_clicks(), '"actions" has 6 actions; at most 5 per step'),
    ({"reasoning": "r", "actions": ["click e1"]}, "actions[0]: an action must be a JSON object"),
    ({"reasoning": "r", "actions": [{"type": "tap"}]}, 'unknown action type "tap"; use one of'),
    ({"reasoning": "r", "actions": [{"element_id": "e1"}]}, "unknown action type null"),
    (
        {"reasoning": "r", "actions": [{"type": "click"}]},
        "actions[0]: (click) element_id is missing",
    ),
    (
        {"reasoning": "r", "actions": [{"type": "click", "element_id": 12}]},
        'element_id must be an element id string like "e12", got 12',
    ),
    (
        {"reasoning": "r", "actions": [{"type": "input_text", "element_id": "e1"}]},
        "(input_text) text is missing",
    ),
    (
        {"reasoning": "r", "actions": [{"type": "checkbox", "element_id": "e1", "checked": "yes"}]},
        'checked must be true or false, got "yes"',
    ),
    (
        {"reasoning": "r", "actions": [{"type": "scroll", "direction": "down", "pixels": 5}]},
        "unknown key(s) pixels (allowed: amount, direction, element_id)",
    ),
    (
        {"reasoning": "r", "actions": [{"type": "scroll", "direction": "left"}]},
        'direction must be one of up, down, got "left"',
    ),
    (
        {"reasoning": "r", "actions": [{"type": "scroll", "direction": "up", "amount": -3}]},
        "amount must be a positive whole number of pixels",
    ),
    ({"reasoning": "r", "actions": [{"type": "keypress", "keys": []}]}, "keys must be a list"),
    (
        {"reasoning": "r", "actions": [{"type": "keypress", "keys": ["a"] * 51}]},
        "keys may hold at most 50 keys, not 51",
    ),
    (
        {"reasoning": "r", "actions": [{"type": "upload_file", "element_id": "e1"}]},
        "(upload_file) give exactly one of file_url or file_path",
    ),
    (
        {"reasoning": "r", "actions": [{"type": "wait", "seconds": 90}]},
        "seconds must be more than 0 and at most 30, got 90",
    ),
    (
        {"reasoning": "r", "actions": [{"type": "wait", "seconds": True}]},
        "seconds must be a number",
    ),
    (
        {"reasoning": "r", "actions": [{"type": "goto_url", "url": "ftp://x.test"}]},
        "url must be an http(s) URL",
    ),
    ({"reasoning": "r", "actions": [{"type": "terminate"}]}, "(terminate) reason is missing"),
    (
        {
            "reasoning": "r",
            "actions": [{"type": "complete"}, {"type": "click", "element_id": "e1"}],
        },
        'actions[0]: "complete" must be the last action',
    ),
]


@pytest.mark.parametrize(("answer", "error"), INVALID_STEPS)
def test_invalid_step_answers_are_refused_with_a_clear_error(answer: Any, error: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_step(answer)

    assert error in str(caught.value)


def test_every_problem_of_a_step_answer_is_reported_at_once() -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_step({"actions": [{"type": "click"}, {"type": "hover"}]})

    assert str(caught.value) == (
        '"reasoning" is missing; actions[0]: (click) element_id is missing; '
        "actions[1]: (hover) element_id is missing"
    )


def test_element_ids_can_be_checked_against_the_page() -> None:
    answer = {"reasoning": "r", "actions": [{"type": "click", "element_id": "e99"}]}

    with pytest.raises(ProtocolError, match="'e99' is not an element of the current page"):
        protocol.parse_step(answer, element_ids={"e1", "e2"})
    assert protocol.parse_step(answer, element_ids={"e99"}).actions == (Click("e99"),)


def test_the_action_limit_is_configurable() -> None:
    with pytest.raises(ProtocolError, match="at most 1 per step"):
        protocol.parse_step(
            {"reasoning": "r", "actions": [{"type": "go_back"}, {"type": "go_back"}]},
            max_actions=1,
        )


# --- the other parsers -----------------------------------------------------------------------


def test_parse_verify() -> None:
    assert protocol.parse_verify({"goal_reached": True, "reasoning": "ok"}).goal_reached is True
    with pytest.raises(ProtocolError, match="\"goal_reached\" must be true or false, not 'yes'"):
        protocol.parse_verify({"goal_reached": "yes", "reasoning": "ok"})
    with pytest.raises(ProtocolError, match='"reasoning" is missing'):
        protocol.parse_verify({"goal_reached": False})


def test_parse_extract() -> None:
    assert protocol.parse_extract({"data": None}).data is None
    assert protocol.parse_extract({"data": [1, "two"]}).data == [1, "two"]
    with pytest.raises(ProtocolError, match='"data" is missing'):
        protocol.parse_extract({"items": []})


def test_parse_extract_with_a_schema_refuses_data_that_does_not_fit() -> None:
    good = {"data": {"items": [{"name": "Tea", "price": 3.5}]}}
    assert protocol.parse_extract(good, SCHEMA).data == good["data"]
    with pytest.raises(ProtocolError, match=r"at \$\.items\[0\]\.price: 'cheap' is not of type"):
        protocol.parse_extract({"data": {"items": [{"name": "Tea", "price": "cheap"}]}}, SCHEMA)


def test_parse_start_url() -> None:
    answer = protocol.parse_start_url({"url": "https://shop.test/", "reasoning": "the shop"})
    assert answer.url == "https://shop.test/"
    assert protocol.parse_start_url({"url": "shop.test", "reasoning": "r"}).url == (
        "https://shop.test"
    )
    assert protocol.parse_start_url({"url": None, "reasoning": "no idea"}).url is None
    with pytest.raises(ProtocolError, match='"url" is missing'):
        protocol.parse_start_url({"reasoning": "r"})
    assert protocol.parse_start_url({"url": "localhost:8000/a", "reasoning": "r"}).url == (
        "https://localhost:8000/a"
    )
    for bad in ("javascript:alert(1)", "mailto:a@b.test", "ftp://x.test", "https://", 7):
        with pytest.raises(ProtocolError, match='"url" must be'):
            protocol.parse_start_url({"url": bad, "reasoning": "r"})


def test_parse_error_codes_keeps_only_codes_from_the_mapping() -> None:
    answer = protocol.parse_error_codes(
        {"error_codes": ["NO_INVOICE", "MADE_UP", 7, "NO_INVOICE", "LOGIN_FAILED"]}, MAPPING
    )

    assert answer.error_codes == ("NO_INVOICE", "LOGIN_FAILED")
    assert answer.ignored == ("MADE_UP", 7)
    assert protocol.parse_error_codes({"error_codes": []}, MAPPING).error_codes == ()
    with pytest.raises(ProtocolError, match='"error_codes" must be a list'):
        protocol.parse_error_codes({"error_codes": "LOGIN_FAILED"}, MAPPING)


def test_parse_plan() -> None:
    plan = protocol.parse_plan({"mini_goals": [" Log in ", "Open the last invoice"]})
    assert plan.mini_goals == ("Log in", "Open the last invoice")
    for bad, error in (
        ({"mini_goals": []}, "1 to 10 items, not 0"),
        ({"mini_goals": ["x"] * 11}, "1 to 10 items, not 11"),
        ({"mini_goals": ["ok", ""]}, "must be non-empty strings (see items [1])"),
        ({"goals": ["x"]}, '"mini_goals" must be a list'),
    ):
        with pytest.raises(ProtocolError) as caught:
            protocol.parse_plan(bad)
        assert error in str(caught.value)


def test_parse_check_goal() -> None:
    assert protocol.parse_check_goal({"goal_met": False, "reasoning": "r"}).goal_met is False
    with pytest.raises(ProtocolError, match='"goal_met" is missing'):
        protocol.parse_check_goal({"goal_reached": True, "reasoning": "r"})


# --- validate_extraction ---------------------------------------------------------------------


def test_validate_extraction_with_a_json_schema() -> None:
    assert protocol.validate_extraction({"items": []}, SCHEMA) is None
    error = protocol.validate_extraction({"items": [{"name": "Tea"}, {"price": 2}]}, SCHEMA)
    assert error is not None
    assert error.startswith("the data does not match the schema: ")
    assert "at $.items[0]: 'price' is a required property" in error
    assert "at $.items[1]: 'name' is a required property" in error
    assert "at $: 'items' is a required property" in (
        protocol.validate_extraction({}, SCHEMA) or ""
    )


def test_validate_extraction_accepts_anything_for_a_described_or_missing_schema() -> None:
    for data in ({"total": 12}, [1, 2], "twelve", None):
        assert protocol.validate_extraction(data, "the invoice total") is None
        assert protocol.validate_extraction(data, None) is None
        assert protocol.validate_extraction(data, ["total"]) is None


def test_validate_extraction_skips_a_schema_that_is_itself_invalid() -> None:
    assert protocol.validate_extraction({"a": 1}, {"type": "no-such-type"}) is None


# --- extract_json ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"goal_met": true, "reasoning": "a {brace} inside"}',
        '```json\n{"goal_met": true, "reasoning": "a {brace} inside"}\n```',
        'Sure! Here it is:\n{"goal_met": true, "reasoning": "a {brace} inside"}\nHope it helps.',
        'I think {maybe}: ```\n{"goal_met": true, "reasoning": "a {brace} inside"}```',
    ],
)
def test_extract_json_finds_the_object_around_prose_and_fences(text: str) -> None:
    assert protocol.extract_json(text) == {"goal_met": True, "reasoning": "a {brace} inside"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "the answer was empty"),
        ("I cannot help with that.", "the answer holds no JSON object (it began: 'I cannot"),
        ('{"goal_met": true, "reasoning": }', "the JSON object is malformed (Expecting value"),
        ('["a", "b"]', "the answer must be a JSON object, not a list"),
    ],
)
def test_extract_json_explains_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(AnswerNotJSON) as caught:
        protocol.extract_json(text)

    assert error in str(caught.value)


# --- ask -------------------------------------------------------------------------------------

STEP_OK = {"reasoning": "done", "actions": [{"type": "complete"}]}


def _ask(messages: list[Message], parse: Callable[[Any], Any]) -> Any:
    return asyncio.run(protocol.ask(client_from_settings(), messages, parse))


def _step() -> list[Message]:
    return protocol.step_messages(GOAL, "https://x.test", OBSERVATION, screenshot=PNG)


def test_ask_tolerates_code_fences(llm: ScriptedModelServer) -> None:
    llm.add_rule(
        kind="step", reply='```json\n{"reasoning": "done", "actions": [{"type": "complete"}]}\n```'
    )

    answer, replies = _ask(_step(), protocol.parse_step)

    assert answer.actions == (Complete(),)
    assert len(replies) == 1
    assert replies[0].usage.total > 0


def test_ask_repairs_a_malformed_answer_once(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply='{"reasoning": "oops", "actions": [', times=1)
    llm.add_rule(kind="step", reply=STEP_OK)

    answer, replies = _ask(_step(), protocol.parse_step)

    assert answer.reasoning == "done"
    assert len(replies) == 2
    repair = llm.requests[1]
    assert repair.kind == "step"
    assert repair.is_repair
    assert [m.role for m in repair.messages] == ["system", "user", "assistant", "user"]
    assert repair.messages[2].text == '{"reasoning": "oops", "actions": ['
    assert repair.messages[3].text.startswith("Your answer could not be used: the JSON object")
    assert "only the corrected JSON object" in repair.messages[3].text


def test_ask_repairs_an_answer_of_the_wrong_shape(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", when=lambda r: not r.is_repair, reply={"actions": [{"type": "tap"}]})
    llm.add_rule(kind="step", when="could not be used", reply=STEP_OK)

    answer, _replies = _ask(_step(), protocol.parse_step)

    assert answer.actions == (Complete(),)
    feedback = llm.requests[1].messages[-1].text
    assert '"reasoning" is missing' in feedback
    assert 'unknown action type "tap"' in feedback


def test_ask_repairs_an_empty_answer(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="verify_complete", reply="", times=1)
    llm.add_rule(kind="verify_complete", reply={"goal_reached": True, "reasoning": "ok"})

    answer, _replies = _ask(
        protocol.verify_messages(GOAL, OBSERVATION, "done"), protocol.parse_verify
    )

    assert answer.goal_reached is True
    assert llm.requests[1].messages[2].text == "(empty answer)"


def test_ask_gives_up_after_one_repair(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="step", reply="I would click the button.")

    with pytest.raises(ProtocolError) as caught:
        _ask(_step(), protocol.parse_step)

    error = caught.value
    assert str(error).startswith(
        "The model's answer was not valid JSON for a step after one repair attempt: "
        "the answer holds no JSON object"
    )
    assert error.kind == "step"
    assert error.answer == "I would click the button."
    assert len(error.replies) == 2
    assert len(llm.requests) == 2


def test_ask_names_a_shape_problem_as_such(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="plan", reply={"mini_goals": []})

    with pytest.raises(ProtocolError) as caught:
        _ask(protocol.plan_messages(GOAL, "https://x.test", OBSERVATION), protocol.parse_plan)

    assert str(caught.value) == (
        "The model's answer was not valid for a plan after one repair attempt: "
        '"mini_goals" must hold 1 to 10 items, not 0'
    )


def test_a_provider_failure_during_repair_keeps_the_replies_already_billed(
    llm: ScriptedModelServer,
) -> None:
    llm.add_rule(kind="step", reply="not json", times=1)
    llm.add_rule(kind="step", reply=HttpFailure(400, message="context too long"))

    with pytest.raises(LLMError) as caught:
        _ask(_step(), protocol.parse_step)

    assert caught.value.status == 400
    assert len(caught.value.replies) == 1


def test_ask_repairs_extracted_data_that_does_not_fit_the_schema(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="extract", reply={"data": {"items": [{"name": "Tea"}]}}, times=1)
    llm.add_rule(kind="extract", reply={"data": {"items": [{"name": "Tea", "price": 3}]}})
    messages = protocol.extract_messages(GOAL, OBSERVATION, data_extraction_schema=SCHEMA)

    answer, replies = _ask(messages, functools.partial(protocol.parse_extract, schema=SCHEMA))

    assert answer.data == {"items": [{"name": "Tea", "price": 3}]}
    assert len(replies) == 2
    assert "'price' is a required property" in llm.requests[1].messages[-1].text


@pytest.mark.parametrize("provider", ["openai"])
def test_ask_filters_error_codes(llm: ScriptedModelServer) -> None:
    llm.add_rule(kind="error_codes", reply={"error_codes": ["LOGIN_FAILED", "SOMETHING_ELSE"]})
    messages = protocol.error_codes_messages(GOAL, MAPPING, "The password was refused")

    answer, _replies = _ask(messages, lambda data: protocol.parse_error_codes(data, MAPPING))

    assert answer.error_codes == ("LOGIN_FAILED",)


@pytest.mark.parametrize("provider", ["openai"])
@pytest.mark.parametrize(
    ("kind", "build", "parse", "reply"),
    [
        ("start_url", BUILDERS[3][1], protocol.parse_start_url, {"url": None, "reasoning": "?"}),
        ("plan", BUILDERS[5][1], protocol.parse_plan, {"mini_goals": ["Log in"]}),
        (
            "check_goal",
            BUILDERS[6][1],
            protocol.parse_check_goal,
            {"goal_met": True, "reasoning": ""},
        ),
    ],
)
def test_the_scripted_server_tells_kinds_apart(
    llm: ScriptedModelServer,
    kind: str,
    build: Callable[[], list[Message]],
    parse: Callable[[Any], Any],
    reply: dict[str, Any],
) -> None:
    llm.add_rule(kind=kind, reply=reply)

    _answer, replies = _ask(build(), parse)

    assert len(replies) == 1
    assert [r.kind for r in llm.requests] == [kind]
