"""How every ``silkway`` command answers: JSON on standard output, errors with a stable code."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer

from silkway.kernel.errors import DomainError


def emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(code: str, message: str, errors: list[dict[str, str]] | None = None) -> NoReturn:
    """Print ``{"error", "message", "errors"}`` and exit with status 1."""
    emit({"error": code, "message": message, "errors": errors or []})
    raise typer.Exit(1)


def refused(exc: DomainError) -> NoReturn:
    """A domain refusal, with each broken rule's code, pointer and message."""
    fail(
        exc.code,
        exc.message,
        [{"code": v.code, "pointer": v.pointer, "message": v.message} for v in exc.violations],
    )
