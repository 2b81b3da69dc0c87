"""The JSON API under /v1/: one NinjaAPI that speaks Skyvern's (FastAPI's) dialect.

Skyvern's clients were generated from a FastAPI app, so errors must look like
FastAPI's: 422 `{"detail": [{"type", "loc", "msg", "input"}]}` with `loc`
starting at "body" (not at the handler's parameter name), malformed JSON as a
422 too, and 400/401/404 as `{"detail": "..."}`. The published OpenAPI document
follows FastAPI's conventions for the same reason (see ContractOpenAPISchema).
"""

import json
import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError, ValidationErrorContext
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.parser import Parser

from dashboard.auth import AUTH_HEADER_PARAMETERS, ApiKeyAuth
from dashboard.errors import BadRequest, FieldErrors, NotFound
from dashboard.urlcheck import InvalidURL

logger = logging.getLogger(__name__)

FASTAPI_RESPONSE_DESCRIPTIONS = {200: "Successful Response", 422: "Validation Error"}


class MalformedJSON(ValueError):
    def __init__(self, message: str, position: int) -> None:
        self.message = message
        self.position = position
        super().__init__(message)


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity, JSON (and PostgreSQL's jsonb) do not.
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return json.loads(request.body, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise MalformedJSON(exc.msg, exc.pos) from exc
        except (ValueError, RecursionError) as exc:
            raise MalformedJSON(str(exc) or type(exc).__name__, 0) from exc


def contract_extra(
    group: str, method: str, descriptions: dict[int, str] | None = None
) -> dict[str, Any]:
    """openapi_extra for an operation of the contract: its Fern SDK names and response texts."""
    extra: dict[str, Any] = {"x-fern-sdk-group-name": group, "x-fern-sdk-method-name": method}
    if descriptions:
        extra["responses"] = {code: {"description": text} for code, text in descriptions.items()}
    return extra


def fastapi_response_title(operation_id: str) -> str:
    return "Response " + " ".join(word.capitalize() for word in operation_id.split("_") if word)


def pydantic_style(node: Any) -> Any:
    """Undo two ninja renderings that pydantic (and so FastAPI) does not use.

    ninja wraps a `$ref` that has sibling keywords in a one-item `allOf`, and
    pydantic 2.11+ spells a free-form object `additionalProperties: true`;
    both mean the same as the plain forms Skyvern's spec publishes.
    """
    if isinstance(node, list):
        return [pydantic_style(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        k: pydantic_style(v) for k, v in node.items() if (k, v) != ("additionalProperties", True)
    }
    wrapped = node.get("allOf")
    if isinstance(wrapped, list) and len(wrapped) == 1 and "$ref" in wrapped[0]:
        node = {**wrapped[0], **{k: v for k, v in node.items() if k != "allOf"}}
    return node


class ContractOpenAPISchema(OpenAPISchema):
    """ninja's generator, adjusted to publish what FastAPI published for Skyvern."""

    def operation_parameters(self, operation: Operation) -> list[dict[str, Any]]:
        parameters = super().operation_parameters(operation)
        if any(isinstance(auth, ApiKeyAuth) for auth in operation.auth_callbacks):
            parameters += [dict(p) for p in AUTH_HEADER_PARAMETERS]
        return parameters

    def operation_security(self, operation: Operation) -> list[dict[str, Any]] | None:
        return None  # documented as header parameters, see operation_parameters

    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details = pydantic_style(super().operation_details(operation))
        for response in details["responses"].values():
            for content in response.get("content", {}).values():
                content["schema"] = self._fastapi_schema(content["schema"], details["operationId"])
        return details

    def responses(self, operation: Operation) -> dict[int, dict[str, Any]]:
        result = super().responses(operation)
        for code, text in FASTAPI_RESPONSE_DESCRIPTIONS.items():
            if code in result:
                result[code]["description"] = text
        return result

    def add_schema_definitions(self, definitions: dict[str, Any]) -> None:
        super().add_schema_definitions(pydantic_style(definitions))

    @staticmethod
    def _fastapi_schema(schema: dict[str, Any], operation_id: str) -> dict[str, Any]:
        if "$ref" in schema:
            return schema
        if set(schema) <= {"title"}:  # an untyped response: FastAPI publishes {}
            return {}
        return {**schema, "title": fastapi_response_title(operation_id)}


class HarrierAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return ContractOpenAPISchema(api=self, path_prefix=path_prefix)

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext]
    ) -> ValidationError:
        errors: list[dict[str, Any]] = []
        for context in error_contexts:
            model = context.model
            source = model.__ninja_param_source__
            single_body_param = getattr(model, "__read_from_single_attr__", None)
            for error in context.pydantic_validation_error.errors(include_url=False):
                loc = tuple(model.__ninja_flatten_map_reverse__.get(error["loc"], error["loc"]))
                if single_body_param and loc[:1] == (single_body_param,):
                    loc = loc[1:]
                entry: dict[str, Any] = {
                    "type": error["type"],
                    "loc": [source, *loc],
                    "msg": error["msg"],
                    "input": error.get("input"),
                }
                if error.get("ctx"):
                    entry["ctx"] = {key: str(value) for key, value in error["ctx"].items()}
                errors.append(entry)
        return ValidationError(errors)


api = HarrierAPI(
    title="Harrier API",
    version="1.0.0",
    description="Skyvern-compatible browser automation API",
    auth=ApiKeyAuth(),
    parser=StrictJSONParser(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _detail(request: HttpRequest, status: int, detail: Any) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _detail(request, 422, _json_safe(exc.errors))


@api.exception_handler(FieldErrors)
def _field_errors(request: HttpRequest, exc: FieldErrors) -> HttpResponse:
    return _detail(
        request,
        422,
        [
            {"type": e.type, "loc": ["body", e.field], "msg": f"Value error, {e.message}"}
            for e in exc.errors
        ],
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, MalformedJSON):
        return _detail(
            request,
            422,
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", cause.position],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": cause.message},
                }
            ],
        )
    return _detail(request, exc.status_code, str(exc))


@api.exception_handler(InvalidURL)
def _invalid_url(request: HttpRequest, exc: InvalidURL) -> HttpResponse:
    return _detail(request, 400, str(exc))


@api.exception_handler(BadRequest)
def _bad_request(request: HttpRequest, exc: BadRequest) -> HttpResponse:
    return _detail(request, 400, str(exc))


@api.exception_handler(NotFound)
def _not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return _detail(request, 404, str(exc))


@api.exception_handler(Http404)
def _http404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _detail(request, 404, "Not Found")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    return _detail(request, 500, "Internal Server Error")


def _json_safe(value: Any) -> Any:
    """Echoed input may hold values json cannot encode (bytes, Decimal...): stringify those."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


api.add_router("/v1/", "runs.api.router")
api.add_router("/v1/", "sessions.api.router")
