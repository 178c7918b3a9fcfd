"""What the exchange takes from the node and from each capability, filled in by bootstrap.

The exchange imports no capability: a capability binds its inbound handlers and its
conformance kit to its own context, and the composition root hands them to the exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol, TypeVar

from silkway.exchange.domain.envelope import Envelope
from silkway.node.ports import Clock
from silkway.reference.model import ReferenceData
from silkway.unit_of_work import UnitOfWork


class NodeAccess(Protocol):
    """What the exchange needs of its node: who it is, its clock, reference data, transactions.

    The node's transit context provides it; the exchange imports no capability."""

    @property
    def state(self) -> str: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def reference(self) -> ReferenceData: ...

    @property
    def uow(self) -> Callable[[], UnitOfWork]: ...

    def read(self) -> UnitOfWork: ...


InboundHandler = Callable[[UnitOfWork, Envelope, datetime], None]
"""Applies one message's effect inside the receiving transaction; raises DomainError to refuse.

Each capability binds its handlers to its own context and bootstrap hands them to the exchange."""

C = TypeVar("C")

ContextHandler = Callable[[C, UnitOfWork, Envelope, datetime], None]
"""A capability's handler, before it is bound to that capability's context."""


def bind_handlers(table: Mapping[str, ContextHandler[C]], ctx: C) -> dict[str, InboundHandler]:
    """Each message's handler in ``table``, bound to ``ctx``, as the exchange calls it."""
    return {code: partial(handler, ctx) for code, handler in table.items()}


@dataclass(frozen=True, slots=True)
class Kit:
    """What a process contributes to the interstate tests: one message the receiver must
    accept, one it must refuse (:mod:`silkway.exchange.conformance` runs the scenarios)."""

    accepted: tuple[str, Callable[[], Envelope]]
    """Scenario name and a factory of fresh envelopes B accepts (also replayed and tampered)."""
    refused: tuple[str, Envelope, str]
    """Scenario name, an envelope B refuses, and the error code it must give."""
    tamper: str
    """A value inside the accepted envelope's body; changing one digit of it breaks the signature."""


KitBuilder = Callable[[str, datetime], Kit]
"""Builds a process's kit for a test from this node to the given state at the given time.

Each capability binds its builder to its own context and bootstrap hands it to the exchange."""
