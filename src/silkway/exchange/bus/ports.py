"""The bus between nodes, as the exchange services see it.

Delivery is at least once: a message may arrive again (after a crash, a lost ack, a server
restart), so handlers are idempotent by message id. Publishing with the same ``message_id``
twice within the bus's de-duplication window stores it once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    subject: str
    data: bytes
    message_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1
    """1 for the first delivery, 2 for the first redelivery, and so on."""
    waited: float = 0.0
    """Seconds since the bus took the message, measured on the bus's own clock (0 when it cannot
    tell): the receiver judges a message's age at the moment it reached the bus, not when it
    was processed, so a node that was down or backlogged loses nothing to staleness."""


Handler = Callable[[Delivery], Awaitable[None]]
"""Returns normally to acknowledge; raises :class:`RetryLater` to have the message redelivered."""

DeadLetterHandler = Callable[[Delivery, str], Awaitable[None]]
"""Called with the reason when a message is given up on (too many attempts)."""


class RetryLater(Exception):
    """A transient failure (database busy, peer not ready): redeliver later, with backoff."""


class BusUnavailable(Exception):
    """The bus could not take the message now; the outbox keeps it and tries again."""


class Subscription(Protocol):
    async def stop(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None: ...

    async def subscribe(
        self,
        durable: str,
        subject: str,
        handler: Handler,
        *,
        on_dead_letter: DeadLetterHandler,
        max_attempts: int = 5,
    ) -> Subscription:
        """Deliver every message on ``subject`` (wildcards allowed) to ``handler``.

        ``durable`` names the consumer: a node that restarts with the same name resumes where it
        left off and gets every unacknowledged message again.
        """
        ...


def subject_for(to_state: str, process: str, from_state: str | None = None) -> str:
    """The subject of a process's messages to ``to_state``: ``silkway.{TO}.{P_CP_01}``, and
    ``.{FROM}`` for the publishing node's own messages.

    A node listens on ``silkway.{STATE}.>``. The publisher's token is what lets the bus vouch for
    who published: a node's NATS user may publish only on ``silkway.*.*.{ITS_STATE}``, and the
    receiver refuses an envelope whose signed sender is not the subject's publisher."""
    base = f"silkway.{to_state}.{process.replace('.', '_')}"
    return base if from_state is None else f"{base}.{from_state}"


def publisher_of(subject: str) -> str | None:
    """The publishing node a subject names (its fourth token), or None when it names none."""
    tokens = subject.split(".")
    return tokens[3] if len(tokens) == 4 else None
