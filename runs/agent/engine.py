"""The agent: drives one claimed run from its start page to exactly one final status.

skyvern-1.0 runs the step loop on the whole prompt. skyvern-2.0 first asks the
model for a plan of mini-goals, runs the step loop on each, and after each one
asks whether the whole goal is met. Both end the same way: a verified
`complete`, then an extraction shaped by `data_extraction_schema`.

Every way out is an `Outcome`; the caller writes it with `Run.finish`, which
refuses to overwrite a status set meanwhile (a cancel, the sweep).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from dashboard.urlcheck import InvalidURL, normalize_url
from runs.agent import protocol, recorder
from runs.agent.actions import perform
from runs.agent.llm import LLMClient, LLMError, LLMUnavailable, ModelReply
from runs.agent.observe import Observation, observe
from runs.agent.recorder import StepRecord
from runs.models import ArtifactKind, Run, RunStatus, RunType

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Actions the engine handles itself; everything else is performed on the page.
ENGINE_ACTIONS = {"complete", "terminate", "extract"}


@dataclass
class Outcome:
    status: RunStatus
    output: Any = None
    failure_reason: str | None = None


class Finished(Exception):
    """Raised anywhere in the agent to end the run with `outcome`."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        super().__init__(outcome.failure_reason or outcome.status)


def failed(reason: str) -> Finished:
    return Finished(Outcome(RunStatus.FAILED, failure_reason=reason))


class ActionFailed(Exception):
    pass


class Stopped(Exception):
    """The run became final elsewhere (canceled, or finished by the sweep)."""


class Agent:
    def __init__(
        self,
        run: Run,
        client: LLMClient,
        page: Page,
        files_dir: Path,
        *,
        continues_session: bool = False,
    ) -> None:
        self.run = run
        # On a browser session the run starts from where the previous one left the page.
        self.continues_session = continues_session
        self.client = client
        self.page = page
        self.files_dir = files_dir
        self.goal = run.prompt
        self.max_steps = run.max_steps or settings.HARRIER_DEFAULT_MAX_STEPS[run.engine]
        self.steps_taken = 0
        self.history: list[str] = []
        # Told to the model on its next step: why its last attempt did not work out.
        self.feedback: str | None = None
        self.extracted: Any = None
        # Ids of password inputs on the page the current step observed.
        self.secret_fields: set[str] = set()

    # --- the run ----------------------------------------------------------------

    async def execute(self) -> Outcome:
        try:
            await self.open_start_page()
            if self.run.run_type == RunType.TASK_V2:
                return await self.run_plan()
            await self.run_goal(mini_goal=None)
            return await self.completed()
        except Finished as finished:
            return finished.outcome

    async def open_start_page(self) -> None:
        url = self.run.url
        on_a_page = self.continues_session and self.page.url != "about:blank"
        if on_a_page and (not url or _same_page(url, self.page.url)):
            return
        if not url:
            answer = await self.ask(
                protocol.start_url_messages(self.goal), protocol.parse_start_url
            )
            if not answer.url:
                raise failed(
                    "No url was given and the model could not tell which page to start from"
                    + (f": {answer.reasoning}" if answer.reasoning else ".")
                )
            try:
                url = normalize_url(answer.url)
            except InvalidURL as exc:
                raise failed(
                    f"No url was given and the model proposed an unusable one: {exc}"
                ) from exc
        await self.goto(url)

    async def goto(self, url: str) -> None:
        timeout_ms = settings.HARRIER_NAVIGATION_TIMEOUT_MS
        try:
            await self.page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
        except PlaywrightTimeout:
            raise failed(
                f"The page at {url} did not load within {timeout_ms / 1000:g} seconds."
            ) from None
        except PlaywrightError as exc:
            message = str(exc).splitlines()[0]
            if "Download is starting" in message:
                raise failed(
                    f"The start URL {url} is a file download, not a page to work on."
                ) from exc
            raise failed(f"Could not open {url}: {message}") from exc

    async def run_plan(self) -> Outcome:
        observation = await observe(self.page, max_elements=settings.HARRIER_MAX_ELEMENTS)
        plan = await self.ask(
            protocol.plan_messages(self.goal, self.page.url, observation.text),
            protocol.parse_plan,
        )
        done: list[str] = []
        for mini_goal in plan.mini_goals:
            await self.run_goal(mini_goal=mini_goal)
            done.append(mini_goal)
            observation = await observe(self.page, max_elements=settings.HARRIER_MAX_ELEMENTS)
            check = await self.ask(
                protocol.check_goal_messages(self.goal, done, observation.text),
                protocol.parse_check_goal,
            )
            if check.goal_met:
                break
        return await self.completed()

    async def run_goal(self, mini_goal: str | None) -> None:
        """Take steps until a verified `complete` for this goal (or a Finished is raised)."""
        while self.steps_taken < self.max_steps:
            if await self.take_step(mini_goal):
                return
        raise failed(
            f"Reached max_steps ({self.max_steps}) without completing the goal."
            + (f" Last problem: {self.feedback}" if self.feedback else "")
        )

    async def completed(self) -> Outcome:
        return Outcome(RunStatus.COMPLETED, output=await self.extract_output())

    # --- one step ---------------------------------------------------------------

    async def take_step(self, mini_goal: str | None) -> bool:
        """One step, retried with the error told to the model. True once the goal is reached."""
        self.steps_taken += 1
        order = self.steps_taken
        last_error = ""
        for retry_index in range(settings.HARRIER_STEP_RETRIES):
            await self.stop_if_final()
            step = await recorder.start_step(self.run, order, retry_index, mini_goal)
            record = StepRecord()
            try:
                reached = await self.attempt_step(order, mini_goal, record, step)
            except ActionFailed as exc:
                last_error = str(exc)
                self.feedback = last_error
                await recorder.finish_step(step, record, error=last_error)
                continue
            except (Finished, Stopped, asyncio.CancelledError) as exc:
                await recorder.finish_step(step, record, error=_step_end_reason(exc))
                raise
            await recorder.finish_step(step, record)
            return reached
        raise failed(
            f"Step {order} failed {settings.HARRIER_STEP_RETRIES} times; last error: {last_error}"
        )

    async def attempt_step(
        self, order: int, mini_goal: str | None, record: StepRecord, step: Any
    ) -> bool:
        started = time.monotonic()
        observation = await observe(self.page, max_elements=settings.HARRIER_MAX_ELEMENTS)
        self.note_observation(record, observation, started)
        self.secret_fields = {e.id for e in observation.elements if e.type == "password"}
        feedback, self.feedback = self.feedback, None
        decision = await self.ask(
            protocol.step_messages(
                self.goal,
                observation.url,
                observation.text,
                mini_goal=mini_goal,
                screenshot=observation.screenshot,
                history=self.history,
                previous_error=feedback,
                data_extraction_schema=self.run.data_extraction_schema,
                steps_left=self.max_steps - order + 1,
            ),
            partial(protocol.parse_step, element_ids={e.id for e in observation.elements}),
            record,
        )
        record.reasoning = decision.reasoning
        actions_started = time.monotonic()
        try:
            for action in decision.action_dicts():
                await self.stop_if_final()
                done = await self.act(action, record, step, mini_goal)
                if done:
                    return True
        finally:
            record.actions_ms = _ms_since(actions_started)
            self.history.append(_summarize(order, record.actions))
        return False

    async def act(
        self, action: dict[str, Any], record: StepRecord, step: Any, mini_goal: str | None
    ) -> bool:
        kind = action["type"]
        entry = dict(action)
        if kind == "input_text" and action.get("element_id") in self.secret_fields:
            # Typed into a password field: the timeline and the model's history never show it.
            entry["text"] = "********"
        record.actions.append(entry)
        if kind == "terminate":
            entry["result"] = {"ok": True}
            reason = action.get("reason") or "The agent stopped: it judged the goal unreachable."
            raise Finished(Outcome(RunStatus.TERMINATED, failure_reason=reason))
        if kind == "extract":
            self.extracted = await self.extract_output()
            entry["result"] = {"ok": True, "data": self.extracted}
            return False
        if kind == "complete":
            reached, reasoning = await self.verify(mini_goal, record)
            entry["result"] = {"ok": reached, "verified": reached, "reasoning": reasoning}
            if not reached:
                self.feedback = (
                    "You said the goal was complete, but a check of the page disagreed: "
                    f"{reasoning}"
                )
            return reached
        result = await perform(
            self.page,
            action,
            files_dir=self.files_dir,
            timeout_ms=settings.HARRIER_ACTION_TIMEOUT_MS,
        )
        entry["result"] = {
            "ok": result.ok,
            "error": result.error,
            "message": result.message,
            "duration_ms": result.duration_ms,
        }
        if result.new_page is not None:  # a link opened a tab: the work goes on there
            self.page = result.new_page
        for path in result.downloaded_files:
            artifact = await recorder.save_file(self.run, step, ArtifactKind.DOWNLOAD, path)
            entry["result"].setdefault("files", []).append(artifact.public_id)
        if not result.ok:
            raise ActionFailed(f"Action {kind} failed: {result.error}")
        return False

    async def verify(self, mini_goal: str | None, record: StepRecord) -> tuple[bool, str]:
        observation = await observe(self.page, max_elements=settings.HARRIER_MAX_ELEMENTS)
        answer = await self.ask(
            protocol.verify_messages(
                self.goal,
                observation.text,
                record.reasoning,
                mini_goal=mini_goal,
                screenshot=observation.screenshot,
                url=observation.url,
            ),
            protocol.parse_verify,
            record,
        )
        return answer.goal_reached, answer.reasoning

    # --- output -----------------------------------------------------------------

    async def extract_output(self) -> Any:
        """Data shaped by data_extraction_schema; an answer that does not fit gets one retry."""
        schema = self.run.data_extraction_schema
        observation = await observe(self.page, max_elements=settings.HARRIER_MAX_ELEMENTS)
        messages = protocol.extract_messages(
            self.goal,
            _with_full_text(observation),
            data_extraction_schema=schema,
            screenshot=observation.screenshot,
            url=observation.url,
        )
        try:
            answer, _ = await protocol.ask(
                self.client, messages, partial(protocol.parse_extract, schema=schema)
            )
        except protocol.ProtocolError as exc:
            raise failed(
                "The extracted data did not match data_extraction_schema, even after one "
                f"retry: {exc.__cause__ or exc}"
            ) from exc
        except LLMError as exc:
            raise failed(_llm_failure(exc)) from exc
        return contract_output(answer.data)

    # --- plumbing ---------------------------------------------------------------

    async def ask(self, messages: Any, parse: Any, record: StepRecord | None = None) -> Any:
        try:
            answer, replies = await protocol.ask(self.client, messages, parse)
        except protocol.ProtocolError as exc:
            if record is not None:
                _count(record, exc.replies)
            raise failed(str(exc)) from exc
        except LLMError as exc:
            raise failed(_llm_failure(exc)) from exc
        if record is not None:
            _count(record, replies)
        return answer

    def note_observation(
        self, record: StepRecord, observation: Observation, started: float
    ) -> None:
        record.url = observation.url
        record.page_title = observation.title
        record.element_count = len(observation.elements)
        record.observation = observation.text
        record.screenshot = observation.screenshot
        record.observe_ms = _ms_since(started)

    async def stop_if_final(self) -> None:
        if await recorder.is_stopped(self.run):
            raise Stopped()


def _with_full_text(observation: Observation) -> str:
    """The observation, plus all of the page's text when the excerpt in it was cut short."""
    if not observation.page_text or observation.page_text in observation.text:
        return observation.text
    return f"{observation.text}\n\nAll visible text of the page:\n{observation.page_text[:20_000]}"


def _same_page(first: str, second: str) -> bool:
    return first.rstrip("/") == second.rstrip("/")


def _llm_failure(exc: LLMError) -> str:
    if isinstance(exc, LLMUnavailable):
        return str(exc)
    return f"The model provider refused the request: {exc}"


def contract_output(data: Any) -> Any:
    """The contract's output is an object, an array, a string or null; wrap anything else."""
    if data is None or isinstance(data, dict | list | str):
        return data
    return {"value": data}


def _count(record: StepRecord, replies: list[ModelReply]) -> None:
    for reply in replies:
        record.model_calls += 1
        record.prompt_tokens += reply.usage.prompt_tokens
        record.completion_tokens += reply.usage.completion_tokens
        record.model_ms += reply.duration_ms


def _summarize(order: int, actions: list[dict[str, Any]]) -> str:
    parts = []
    for action in actions:
        result = action.get("result", {})
        details = ", ".join(
            f"{key}={value!r}" for key, value in action.items() if key not in ("type", "result")
        )
        if result.get("ok"):
            outcome = "ok" + (f" ({result['message']})" if result.get("message") else "")
        else:
            outcome = f"failed: {result.get('error') or result}"
        parts.append(f"{action['type']}({details}) -> {outcome}")
    return f"Step {order}: " + ("; ".join(parts) if parts else "no actions")


def _step_end_reason(exc: BaseException) -> str:
    if isinstance(exc, Finished):
        return exc.outcome.failure_reason or f"run ended: {exc.outcome.status}"
    return "run stopped (canceled or timed out)"


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
