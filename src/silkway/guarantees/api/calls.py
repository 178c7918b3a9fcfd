"""How a guarantee route runs a use case: a domain refusal becomes problem+json and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from silkway.kernel.errors import DomainError
from silkway.web.problems import domain_problem

T = TypeVar("T")


def call(work: Callable[[], T], pointer: str = "") -> T:
    try:
        return work()
    except DomainError as exc:
        raise domain_problem(exc, pointer) from exc
