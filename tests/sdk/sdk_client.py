"""Drive a Harrier server with the official Skyvern Python SDK and print what came back.

Not a test module: tests/sdk/test_skyvern_sdk.py runs it in a subprocess whose
PYTHONPATH is one unzipped SDK wheel (var/sdk/skyvern-<version>/, see
scripts/fetch_sdks.sh), because SDK 0.1.x and 1.0.x both own the `skyvern` package
and cannot be imported side by side, let alone next to Harrier's own code.

Env:
  HARRIER_URL            base URL of the server, without /v1
  HARRIER_API_KEY        a key of the organization that creates the run and the session
  HARRIER_OTHER_API_KEY  a key of another organization, which must see none of it

Prints one JSON object on stdout: the SDK version and, step by step, either the
typed result (class name and fields, as the SDK parsed them) or the error it raised
(class name, status code, body). Exits 1 when a step did not end as the scenario
expects (a result where an error was expected, or the other way round) or raised
anything but the SDK's ApiError, which is how a response the SDK cannot parse shows.
"""

import importlib.metadata
import importlib.util
import json
import os
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

BAD_KEY = "not-a-harrier-key"


def import_skyvern_client() -> types.ModuleType:
    """Import skyvern.client without running skyvern/__init__.py.

    SDK 0.1.x's top-level package imports the Skyvern server (ddtrace, litellm,
    playwright, ...), none of which is here; the generated client under it needs only
    httpx and pydantic. A bare stand-in for the top-level package lets Python find
    the subpackage without executing its parent's __init__.
    """
    if "skyvern" not in sys.modules:
        spec = importlib.util.find_spec("skyvern")  # locates the package, runs nothing
        if spec is None or not spec.submodule_search_locations:
            sys.exit("skyvern is not on PYTHONPATH (see scripts/fetch_sdks.sh)")
        package = types.ModuleType("skyvern")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        package.__spec__ = spec
        sys.modules["skyvern"] = package
    import skyvern.client

    return skyvern.client


sdk = import_skyvern_client()
import pydantic  # noqa: E402
from skyvern.client.core.api_error import ApiError  # noqa: E402 - same path in 0.1.x and 1.0.x

# 0.1.x groups the methods under client.agent and client.browser_session;
# 1.0.x has them all on the client itself.
IS_V0 = not hasattr(sdk.Skyvern, "run_task")


def jsonable(value: Any) -> Any:
    """Error bodies may be pydantic models (0.1.x parses 422s); everything else is JSON."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    try:
        json.dumps(value)
    except TypeError:
        return repr(value)
    return value


def describe(value: Any) -> Any:
    """What the SDK handed back: class names and fields, as far down as it typed them."""
    if isinstance(value, pydantic.BaseModel):
        return {
            "class": type(value).__name__,
            # The plain pydantic dump: the SDKs' generated models override model_dump
            # differently from one version to the next.
            "fields": pydantic.BaseModel.model_dump(value, mode="json", exclude_none=True),
            # Fields the SDK's model does not declare (it allows extras): not an error,
            # but worth seeing when comparing Harrier with Skyvern.
            "extra": sorted(value.model_extra or {}),
            "nested": {
                name: type(field).__name__
                for name, field in value
                if isinstance(field, pydantic.BaseModel)
            },
        }
    if isinstance(value, list):
        return {"class": "list", "items": [describe(item) for item in value]}
    return {"class": type(value).__name__, "value": jsonable(value)}


class Scenario:
    """Runs steps in order, recording each outcome, and notes the ones that went wrong."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, Any]] = {}
        self.problems: list[str] = []

    def ok(self, name: str, call: Callable[[], Any]) -> Any:
        """A step that must succeed; returns the SDK's result, or None when it did not."""
        try:
            result = call()
        except Exception as exc:
            self._failed(name, exc)
            return None
        self.steps[name] = {"outcome": "result", "result": describe(result)}
        return result

    def error(self, name: str, call: Callable[[], Any]) -> None:
        """A step that must raise the SDK's ApiError (or a subclass of it)."""
        try:
            result = call()
        except ApiError as exc:
            self.steps[name] = {
                "outcome": "error",
                "error": type(exc).__name__,
                "is_api_error": True,
                "status_code": exc.status_code,
                "body": jsonable(exc.body),
            }
            return
        except Exception as exc:
            self._failed(name, exc)
            return
        self.steps[name] = {"outcome": "result", "result": describe(result)}
        self.problems.append(f"{name}: expected an ApiError, got a result")

    def skip(self, name: str, reason: str) -> None:
        self.steps[name] = {"outcome": "skipped", "reason": reason}
        self.problems.append(f"{name}: not run, {reason}")

    def _failed(self, name: str, exc: Exception) -> None:
        step: dict[str, Any] = {
            "outcome": "error",
            "error": type(exc).__name__,
            "is_api_error": isinstance(exc, ApiError),
            "message": str(exc)[:2000],
        }
        if isinstance(exc, ApiError):
            step.update(status_code=exc.status_code, body=jsonable(exc.body))
        else:
            # Not an HTTP error: the SDK could not make sense of what Harrier sent.
            step["traceback"] = traceback.format_exc()[-4000:]
        self.steps[name] = step
        self.problems.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")


def client_for(base_url: str, key: str) -> tuple[Any, Any]:
    """The SDK's (runs, browser sessions) method holders for a client sending `key`."""
    client = sdk.Skyvern(base_url=base_url, api_key=key, timeout=30)
    if IS_V0:
        return client.agent, client.browser_session
    return client, client


def run(base_url: str, key: str, other_key: str) -> Scenario:
    scenario = Scenario()
    runs, sessions = client_for(base_url, key)
    other_runs, other_sessions = client_for(base_url, other_key)
    bad_runs, bad_sessions = client_for(base_url, BAD_KEY)

    task = scenario.ok(
        "run_task", lambda: runs.run_task(prompt="Find the page title", url="example.com")
    )
    run_id = getattr(task, "run_id", None)
    if run_id:
        scenario.ok("get_run", lambda: runs.get_run(run_id))
    else:
        scenario.skip("get_run", "run_task gave no run_id")

    session = scenario.ok("create_browser_session", lambda: sessions.create_browser_session())
    session_id = getattr(session, "browser_session_id", None)
    scenario.ok("get_browser_sessions", lambda: sessions.get_browser_sessions())
    if session_id:
        scenario.ok("get_browser_session", lambda: sessions.get_browser_session(session_id))
    else:
        scenario.skip("get_browser_session", "create_browser_session gave no id")

    # Another organization, while the run and the session exist and the session is
    # open, so that a 404 can only mean "not yours", not "gone".
    if run_id:
        scenario.error("other_org_get_run", lambda: other_runs.get_run(run_id))
    scenario.ok("other_org_get_browser_sessions", lambda: other_sessions.get_browser_sessions())
    if session_id:
        scenario.error(
            "other_org_get_browser_session",
            lambda: other_sessions.get_browser_session(session_id),
        )
        scenario.error(
            "other_org_close_browser_session",
            lambda: other_sessions.close_browser_session(session_id),
        )
        # The other organization's close must not have closed it.
        scenario.ok(
            "get_browser_session_after_other_org_close",
            lambda: sessions.get_browser_session(session_id),
        )
        scenario.ok("close_browser_session", lambda: sessions.close_browser_session(session_id))
        scenario.error(
            "get_browser_session_after_close",
            lambda: sessions.get_browser_session(session_id),
        )
        scenario.ok("get_browser_sessions_after_close", lambda: sessions.get_browser_sessions())

    scenario.error("bad_key_get_run", lambda: bad_runs.get_run(run_id or "tsk_v2_0"))
    scenario.error("bad_key_get_browser_sessions", lambda: bad_sessions.get_browser_sessions())
    return scenario


def main() -> int:
    base_url = os.environ["HARRIER_URL"].rstrip("/")
    scenario = run(base_url, os.environ["HARRIER_API_KEY"], os.environ["HARRIER_OTHER_API_KEY"])
    summary = {
        "sdk_version": importlib.metadata.version("skyvern"),
        "sdk_client_version": getattr(sdk, "__version__", None),
        "sdk_path": os.path.dirname(sdk.__file__),
        "layout": "0.1.x" if IS_V0 else "1.0.x",
        "steps": scenario.steps,
        "problems": scenario.problems,
    }
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 1 if scenario.problems else 0


if __name__ == "__main__":
    sys.exit(main())
