"""The new-task form and the runs table's filters.

The form only turns text into values (JSON, numbers, choices); the rules a run
request must meet are the API's own, applied by `runs.services.create_task_run`
(see runs/views.py `new_task`), so the dashboard and the API cannot drift apart.
The URL fields are checked here with the same function the service uses, so
that every bad URL is reported at once, next to its own field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsonschema
from django import forms
from django.conf import settings

from dashboard.forms import DashboardForm
from dashboard.urlcheck import InvalidURL, normalize_url
from runs.models import RunStatus, RunType
from runs.schemas import ProxyLocation, RunEngine

PROXY_LABELS = {
    ProxyLocation.RESIDENTIAL: "Residential (anywhere)",
    ProxyLocation.RESIDENTIAL_ISP: "Residential ISP",
    ProxyLocation.NONE: "None (direct connection)",
}
SCHEMA_EXAMPLE = json.dumps(
    {
        "type": "object",
        "properties": {"price": {"type": "number"}, "plan": {"type": "string"}},
        "required": ["price"],
    },
    indent=2,
)
CODES_EXAMPLE = json.dumps({"ACCOUNT_LOCKED": "the site says the account is locked"}, indent=2)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError as exc:
        raise forms.ValidationError(f"This is not valid JSON: {exc}.") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


class TaskForm(DashboardForm):
    """Every field of TaskRunRequest, in the order a person fills them in."""

    prompt = forms.CharField(
        # `required` tells browsers and screen readers; the check itself is the service's.
        widget=forms.Textarea(attrs={"rows": 4, "required": True}),
        help_text="What the agent should do, in plain language, e.g. “Find the price of the "
        "cheapest plan”.",
        required=False,
    )
    url = forms.CharField(
        label="Start URL",
        required=False,
        help_text="Where the browser starts. Without a scheme, https:// is added. Leave empty "
        "to let the agent choose from the prompt.",
        widget=forms.TextInput(attrs={"inputmode": "url", "placeholder": "example.com/pricing"}),
    )
    title = forms.CharField(required=False, help_text="A name for this run in the runs table.")
    engine = forms.ChoiceField(
        choices=[
            (RunEngine.skyvern_v2.value, "skyvern-2.0: plans the goal in steps (recommended)"),
            (RunEngine.skyvern_v1.value, "skyvern-1.0: one goal, step by step"),
        ],
        initial=RunEngine.skyvern_v2.value,
    )
    data_extraction_schema = forms.CharField(
        label="Data extraction schema",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 7, "spellcheck": "false", "class": "code", "placeholder": SCHEMA_EXAMPLE}
        ),
        help_text="A JSON Schema the output must match, e.g. "
        '{"type": "object", "properties": {"price": {"type": "number"}}}. '
        "Leave empty for free-form output.",
    )
    max_steps = forms.IntegerField(
        label="Max steps",
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text="The run fails once it has taken this many steps. Empty: "
        f"{settings.HARRIER_DEFAULT_MAX_STEPS['skyvern-2.0']} for skyvern-2.0, "
        f"{settings.HARRIER_DEFAULT_MAX_STEPS['skyvern-1.0']} for skyvern-1.0.",
    )
    browser_session_id = forms.CharField(
        label="Browser session",
        required=False,
        widget=forms.Select(),
        help_text="Continue in an open browser session (its cookies, tabs and current page).",
    )
    proxy_location = forms.ChoiceField(
        label="Proxy location",
        choices=[(p.value, PROXY_LABELS.get(p, p.value)) for p in ProxyLocation],
        initial=ProxyLocation.RESIDENTIAL.value,
        help_text="Where the browser's traffic appears to come from.",
    )
    error_code_mapping = forms.CharField(
        label="Error code mapping",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "class": "code", "placeholder": CODES_EXAMPLE}
        ),
        help_text="A JSON object of codes and what each means, e.g. "
        '{"ACCOUNT_LOCKED": "the site says the account is locked"}. When the run fails, the '
        "codes that match are reported.",
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "url"}),
        help_text="Receives the run as JSON when it finishes, signed with your organization's "
        "webhook secret.",
    )
    totp_identifier = forms.CharField(
        label="TOTP identifier",
        required=False,
        help_text="For two-factor codes pushed to Harrier (POST /v1/credentials/totp) under "
        "this identifier, e.g. the account's email address.",
    )
    totp_url = forms.CharField(
        label="TOTP URL",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "url"}),
        help_text="An endpoint of yours that Harrier asks for the current two-factor code.",
    )
    publish_workflow = forms.BooleanField(
        label="Publish as a reusable workflow",
        required=False,
        help_text="Save the finished run as a workflow that can be run again.",
    )

    # Shown under "More options", which opens by itself when one of them has an error.
    ADVANCED_FIELDS = (
        "proxy_location",
        "error_code_mapping",
        "webhook_url",
        "totp_identifier",
        "totp_url",
        "publish_workflow",
    )

    def __init__(self, *args: Any, sessions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        none = ("", "None: a fresh browser")
        self.fields["browser_session_id"].widget.choices = [none, *sessions]
        limit = settings.HARRIER_MAX_STEPS_LIMIT
        self.fields["max_steps"].widget.attrs.update(min=1, max=limit)

    @property
    def basic_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in self.ADVANCED_FIELDS]

    @property
    def advanced_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.ADVANCED_FIELDS]

    @property
    def advanced_has_errors(self) -> bool:
        return any(name in self.errors for name in self.ADVANCED_FIELDS)

    def _clean_url(self, name: str) -> str | None:
        value = (self.cleaned_data.get(name) or "").strip()
        if not value:
            return None
        try:
            normalize_url(value)
        except InvalidURL as exc:
            raise forms.ValidationError(str(exc)) from None
        return value  # the service normalizes it again, as for an API request

    def clean_url(self) -> str | None:
        return self._clean_url("url")

    def clean_webhook_url(self) -> str | None:
        return self._clean_url("webhook_url")

    def clean_totp_url(self) -> str | None:
        return self._clean_url("totp_url")

    def clean_data_extraction_schema(self) -> Any:
        text = self.cleaned_data["data_extraction_schema"].strip()
        if not text:
            return None
        schema = _parse_json(text)
        if not isinstance(schema, dict | list | str):
            raise forms.ValidationError(
                "The schema must be a JSON object (a JSON Schema), an array or a string."
            )
        if isinstance(schema, dict):
            # The API stores any object, but the agent ignores an invalid JSON Schema;
            # a person typing one wants to know now, not after the run.
            try:
                jsonschema.validators.validator_for(schema).check_schema(schema)
            except jsonschema.SchemaError as exc:
                where = "/".join(str(p) for p in exc.absolute_path)
                raise forms.ValidationError(
                    f"This is not a valid JSON Schema: {exc.message}"
                    + (f" (at {where})" if where else "")
                ) from None
        return schema

    def clean_error_code_mapping(self) -> dict[str, str] | None:
        text = self.cleaned_data["error_code_mapping"].strip()
        if not text:
            return None
        mapping = _parse_json(text)
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise forms.ValidationError(
                'This must be a JSON object of codes and descriptions, e.g. {"CODE": "what it '
                'means"}.'
            )
        return mapping

    def request_data(self) -> dict[str, Any]:
        """The cleaned values as TaskRunRequest fields (empty text means "not given")."""
        data = dict(self.cleaned_data)
        for name in ("url", "title", "webhook_url", "totp_identifier", "totp_url"):
            data[name] = (data.get(name) or "").strip() or None
        data["browser_session_id"] = data.get("browser_session_id") or None
        data["prompt"] = data.get("prompt") or ""
        return data


def initial_from_request(run_request: dict[str, Any]) -> dict[str, Any]:
    """Form values that reproduce a stored run request (for "Edit and run again")."""
    initial = {k: v for k, v in run_request.items() if v is not None}
    for name in ("data_extraction_schema", "error_code_mapping"):
        if run_request.get(name) is not None:
            initial[name] = json.dumps(run_request[name], indent=2, ensure_ascii=False)
    return initial


STATUS_FILTERS = [
    ("", "Any status"),
    ("active", "Active (queued or running)"),
    *[(s.value, s.label) for s in RunStatus],
]
TYPE_FILTERS = [
    ("", "Any type"),
    (RunType.TASK_V2.value, "Task · skyvern-2.0"),
    (RunType.TASK_V1.value, "Task · skyvern-1.0"),
    (RunType.WORKFLOW_RUN.value, "Workflow run"),
]


class RunFilterForm(DashboardForm):
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "Prompt, title or run id"}),
    )
    status = forms.ChoiceField(choices=STATUS_FILTERS, required=False)
    run_type = forms.ChoiceField(label="Type", choices=TYPE_FILTERS, required=False)
    created_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end date is before the start date.")
        return cleaned
