"""RFC 9457 problem details: every API error is ``application/problem+json``.

Each problem carries ``errors``: a list of ``{code, pointer, message}`` where ``pointer`` is a
JSON pointer into the request body (or ``/query/NAME``, ``/path/NAME`` for parameters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from silkway.kernel.errors import DomainError, Violation
from silkway.web.error_table import problem_extra, problem_kind

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://silkway.dev/problems/"


class ApiProblem(Exception):
    """Raised by routes for errors that are not domain errors (not found, conflicts)."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        errors: Sequence[Violation] = (),
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        self.extra = extra or {}
        self.headers = headers or {}


def domain_problem(exc: DomainError, pointer: str = "") -> ApiProblem:
    """The problem answering a domain error, from the one table in :mod:`.error_table`.

    An error without violations of its own is reported as one at ``pointer``."""
    kind = problem_kind(exc)
    errors = exc.violations or [Violation(exc.code, pointer, exc.message)]
    headers: dict[str, str] = {}
    if kind.status == 401:
        # RFC 6750 §3: a bearer-protected resource names its scheme and why the token failed.
        headers["WWW-Authenticate"] = (
            'Bearer realm="silkway"'
            if exc.code == "token-missing"
            else f'Bearer realm="silkway", error="invalid_token", error_description="{exc.code}"'
        )
    return ApiProblem(
        kind.status, exc.code, kind.title, exc.message, errors, problem_extra(exc), headers
    )


def _respond(request: Request, problem: ApiProblem) -> JSONResponse:
    # The access log names why a request was refused.
    request.state.refusal = problem.code
    return problem_response(
        request,
        problem.status,
        problem.code,
        problem.title,
        problem.detail,
        problem.errors,
        problem.extra,
        problem.headers,
    )


def problem_response(
    request: Request | None,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Iterable[Violation] = (),
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [{"code": v.code, "pointer": v.pointer, "message": v.message} for v in errors],
    }
    if request is not None:
        body["instance"] = request.url.path
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    elif parts and parts[0] in ("query", "path", "header"):
        pass
    # Pydantic appends the failing union member or validator name to some locations;
    # those are not part of the document and would make the pointer wrong.
    cleaned = [
        p for p in parts if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
    ]
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in cleaned]
    return "/" + "/".join(escaped) if escaped else ""


def _validation_violations(exc: RequestValidationError) -> list[Violation]:
    out: list[Violation] = []
    for err in exc.errors():
        kind = str(err.get("type", "invalid"))
        code = "json-invalid" if kind == "json_invalid" else f"schema-{kind.replace('_', '-')}"
        out.append(Violation(code, _pointer(err.get("loc", ())), str(err.get("msg", "invalid"))))
    return out


def install_problem_handlers(app: FastAPI) -> None:
    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        violations = _validation_violations(exc)
        if any(v.code == "json-invalid" for v in violations):
            return problem_response(
                request,
                400,
                "malformed-json",
                "Malformed JSON",
                "The body is not valid JSON.",
                violations,
            )
        return problem_response(
            request,
            422,
            "request-invalid",
            "Request does not match the schema",
            f"{len(violations)} field(s) are missing or malformed.",
            violations,
        )

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return _respond(request, domain_problem(exc))

    async def on_api_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return _respond(request, exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        answer = problem_response(request, exc.status_code, code, str(exc.detail), str(exc.detail))
        answer.headers.update(exc.headers or {})
        if exc.status_code == 405:
            answer.headers["Allow"] = ", ".join(allowed_methods(request))
        return answer

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(ApiProblem, on_api_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """The methods the resource at the request's path takes (RFC 9110: a 405 lists them all in
    ``Allow``, where the router's own 405 names only the first route the path matched).

    The resource is the OpenAPI path the request's path matches, the most specific one where
    several do (``/guarantee-locks/expiry`` rather than ``/guarantee-locks/{lock_id}``); a path
    the document does not describe is answered from the routes, each method put to them as a
    request would be."""
    path = _route_path(request.scope)
    app = request.app
    document: dict[str, Any] = app.openapi() if getattr(app, "openapi_url", None) else {}
    matching = [
        (template.count("{"), item)
        for template, item in document.get("paths", {}).items()
        if _template(template).fullmatch(path)
    ]
    if matching:
        _, item = min(matching, key=lambda found: found[0])
        return [method for method in METHODS if method.lower() in item]
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point (as the router reads it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


@lru_cache(maxsize=1024)
def _template(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


class BodySizeLimit:
    """Refuse request bodies above ``max_bytes`` with 413 before any handler reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            if refused:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "body-too-large",
                "title": "Request body too large",
                "status": 413,
                "detail": f"The body exceeds {self.max_bytes} bytes.",
                "code": "body-too-large",
                "errors": [],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
