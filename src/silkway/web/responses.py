"""Every refusal an operation can give, documented in the OpenAPI with the problem's schema.

A route names the refusals that are its own (``responses=problems(404, 409)``); the rules in
:data:`DEFAULTS` add, to the OpenAPI document, what every operation of its shape answers (one
that reads parameters may answer 422, one that reads a body 400 and 413, one with a path
parameter 404, and every API operation 401, 403 and 429, since every one is authenticated,
authorised and rate-limited), so
a new route is documented by default. Each refusal is ``application/problem+json`` with the :class:`Problem` schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from silkway.identity.domain.policy import rule_for
from silkway.web.problems import PROBLEM_JSON

REF = "#/components/schemas/"


class ProblemError(BaseModel):
    """One violation: what is wrong, and where."""

    code: str = Field(description="A stable code (a declaration rule's, or `schema-…`).")
    pointer: str = Field(
        description="A JSON pointer into the body, or `/query/NAME`, `/path/NAME`, "
        "`/header/NAME`; empty for the request as a whole."
    )
    message: str


class Problem(BaseModel):
    """A problem document (RFC 9457), the body of every refusal."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="`https://silkway.dev/problems/` and the code.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = Field(default=None, description="The path that was refused.")
    code: str = Field(description="The problem's stable code.")
    errors: list[ProblemError]
    requested: str | None = Field(
        default=None, description="A refused guarantee lock: the amount asked for."
    )
    available: str | None = Field(
        default=None, description="A refused guarantee lock: what the guarantee has left."
    )


WHY: dict[int, str] = {
    400: "Malformed: the body is not JSON (or not UTF-8 text), or a header cannot be read.",
    401: "No valid credentials.",
    403: "The credentials do not allow this operation.",
    404: "Not found.",
    409: "Conflicts with the current state: not allowed in this status, a concurrent change, "
    "or something that already exists.",
    413: "The body is larger than the node accepts.",
    415: "The body is not of a media type this operation reads.",
    422: "Refused: the request does not match the schema, or breaks a rule; every violation "
    "has its code and pointer, and nothing was stored.",
    429: "Too many requests: retry later.",
    503: "Busy: the store is under contention; retry.",
}
"""What each status means wherever it is answered."""

HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "string"},
        }
    },
}


def problem(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response of one refusal."""
    response: dict[str, Any] = {
        "description": description or WHY[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF + "Problem"}}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's own refusals, for its ``responses=``."""
    return {status: problem(status) for status in statuses}


Operation = dict[str, Any]


def _is_api(path: str, operation: Operation) -> bool:
    return path.startswith("/api/")


def _reads_body(path: str, operation: Operation) -> bool:
    return "requestBody" in operation


def _names_a_resource(path: str, operation: Operation) -> bool:
    return any(p.get("in") == "path" for p in operation.get("parameters", ()))


def _reads_input(path: str, operation: Operation) -> bool:
    return _reads_body(path, operation) or bool(operation.get("parameters"))


@dataclass(frozen=True, slots=True)
class Rule:
    why: str
    applies: Callable[[str, Operation], bool]
    statuses: tuple[int, ...]


DEFAULTS: tuple[Rule, ...] = (
    Rule("every API operation is authenticated, authorised and rate-limited", _is_api,
         (401, 403, 429)),
    Rule("parameters and bodies are checked against the schema", _reads_input, (422,)),
    Rule("a body may be malformed or too large", _reads_body, (400, 413)),
    Rule("a path value may name nothing, or nothing the router can place", _names_a_resource,
         (404,)),
)  # fmt: skip

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# FastAPI's own description of a 422, which is not what the node answers.
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Give every operation of an OpenAPI ``document`` the refusals of :data:`DEFAULTS` that
    apply to it (its own, from ``responses=``, win), and the :class:`Problem` schema."""
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            access = rule_for(method.upper(), path)
            if access is not None and access.public:
                # The guard's bearer scheme is on every route; the public ones take no token.
                operation.pop("security", None)
            responses = operation.setdefault("responses", {})
            fastapi_422 = responses.get("422", {}).get("content", {}).get("application/json")
            if fastapi_422 is not None:
                del responses["422"]
            for rule in DEFAULTS:
                if rule.applies(path, operation):
                    for status in rule.statuses:
                        responses.setdefault(str(status), problem(status))
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_422:
        schemas.pop(name, None)
    problem_schema = Problem.model_json_schema(ref_template=REF + "{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    return document


def document_problems(app: FastAPI) -> None:
    """Have ``app``'s OpenAPI document every refusal (see :func:`complete`)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
