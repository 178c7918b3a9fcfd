"""What the interstate exchange needs: storage, sealing of envelopes, and the running node's
interstate tests to start on request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from silkway.exchange.domain.envelope import Envelope

PAPER = "paper"
BUS = "bus"
DEAD = "dead"
"""The channel of an outbox row that could not be sealed: the outbox's own dead letters."""


@dataclass(frozen=True, slots=True)
class InboxEntry:
    message_id: str
    received_at: datetime
    message_code: str
    from_state: str
    movement_reference: str | None
    relates_to: str | None
    outcome: str
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    message_id: str | None
    subject: str
    reason: str
    data: bytes
    attempts: int
    created_at: datetime
    retried_at: datetime | None
    resolved: bool
    received_at: datetime | None = None
    """When the bus took it, on this node's clock (unknown for letters from before 0011)."""


@dataclass(frozen=True, slots=True)
class OutboxView:
    """An outbound message with what became of it."""

    message_id: str
    created_at: datetime
    to_state: str
    process: str
    message_kind: str
    movement_reference: str | None
    published_at: datetime | None
    attempts: int
    last_error: str | None
    channel: str | None
    outcome: str | None
    errors: list[dict[str, Any]]
    note: str | None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    track_id: str
    message_id: str
    accept_time: datetime
    message_code: str
    process: str
    from_state: str
    to_state: str
    conversation_id: str
    relates_to: str | None
    sent_at: datetime
    outcome: str | None = None
    answered_at: datetime | None = None
    latency_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ConformanceResult:
    run_id: str
    process: str
    from_state: str
    to_state: str
    scenario: str
    passed: bool
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ProcessEntry:
    code: str
    title: str
    group_code: str
    legal_acts: str
    approved: bool


class ExchangeRepository(Protocol):
    """Storage of the interstate exchange, inside the node's unit of work."""

    # inbox
    def inbox_seen(self, message_id: str) -> bool: ...

    def inbox_add(self, entry: InboxEntry) -> None: ...

    def inbox(
        self, *, relates_to: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[InboxEntry]: ...

    def inbox_entry(self, message_id: str) -> InboxEntry | None: ...

    # envelopes as received (evidence, and the Commission's signed anchors)
    def envelope_keep(self, message_id: str, received_at: datetime, data: bytes) -> None: ...

    def envelopes_sent_keep(self, sent: Sequence[tuple[str, bytes]], at: datetime) -> None:
        """Keep the signed bytes of envelopes just put on the bus (message id, bytes)."""
        ...

    def envelope_sent(self, message_id: str) -> tuple[bytes, datetime] | None:
        """The bytes of an envelope this node sent, and when; None if not kept."""
        ...

    def envelope_received(self, message_id: str) -> tuple[bytes, datetime] | None:
        """The signed bytes of an envelope opened here, and when it was received."""
        ...

    # outbox delivery
    def mark_sent(
        self, message_ids: Sequence[str], at: datetime, channel: str, note: str | None
    ) -> None: ...

    def mark_attempt_failed(self, message_id: str, error: str) -> None: ...

    def record_answer(
        self,
        message_id: str,
        from_state: str,
        at: datetime,
        outcome: str,
        errors: list[dict[str, Any]],
    ) -> bool:
        """Attach the first R.006 outcome to an outbound message, even one whose sending is
        not committed yet; False if no such message was sent to ``from_state``, or it has its
        answer already."""
        ...

    def outbox_views(
        self,
        *,
        movement_reference: str | None = None,
        channel: str | None = None,
        message_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboxView]: ...

    # dead letters
    def dead_letter_add(
        self,
        message_id: str | None,
        subject: str,
        reason: str,
        data: bytes,
        attempts: int,
        at: datetime,
        received_at: datetime | None = None,
    ) -> int: ...

    def dead_letters(
        self, *, include_resolved: bool = False, limit: int = 100
    ) -> list[DeadLetter]: ...

    def dead_letter(self, dead_letter_id: int) -> DeadLetter | None: ...

    def dead_letter_retried(
        self, dead_letter_id: int, at: datetime, resolved: bool, reason: str | None = None
    ) -> None:
        """Record a retry; ``reason`` replaces the letter's reason when it failed again."""
        ...

    # partners (a node's own view of where a process is in operation)
    def partners(self, process: str) -> dict[str, bool]: ...

    def set_partner(
        self, process: str, state: str, in_operation: bool, at: datetime, run_id: str
    ) -> None: ...

    # journal (Commission)
    def journal_add(self, entry: JournalEntry) -> bool:
        """False when the message was journaled before (redelivery)."""
        ...

    def journal_answer(
        self, relates_to: str, answered_by: str, outcome: str, answered_at: datetime
    ) -> None:
        """Close the entry of ``relates_to`` if ``answered_by`` is the state it was sent to."""
        ...

    def journal(
        self,
        *,
        conversation_id: str | None = None,
        process: str | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
        outcome: str | None = None,
        min_latency_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JournalEntry]: ...

    # register (Commission)
    def process_upsert(self, entry: ProcessEntry) -> None: ...

    def processes(self) -> list[ProcessEntry]: ...

    def stage_set(
        self, process: str, state: str, stage: str, at: datetime, source: str
    ) -> None: ...

    def stages(self) -> dict[tuple[str, str], str]: ...

    def conformance_add(self, result: ConformanceResult) -> None: ...

    def conformance_latest(self, process: str | None = None) -> list[ConformanceResult]:
        """The latest run's results for every (process, from, to) pair."""
        ...


class EnvelopeSealer(Protocol):
    """Turns envelopes into signed bytes and back; the node's keys stay behind it."""

    def seal(self, envelope: Envelope, now: datetime) -> bytes: ...

    def open(self, data: bytes, now: datetime, received_at: datetime | None = None) -> Envelope:
        """Decode, validate against the schemas and verify the signature, its age judged at
        ``received_at`` (when the bus took the message; default ``now``).

        Raises ``EnvelopeRejected`` or ``SignatureRejected`` (domain errors) with a stable code.
        """
        ...

    def seal_untrusted(self, envelope: Envelope, now: datetime) -> bytes:
        """Seal with a throwaway key no trust list knows (interstate tests check refusal)."""
        ...

    def peek(self, data: bytes) -> Envelope | None:
        """The envelope without trusting it (to answer a rejected message), or None."""
        ...

    def open_as_of(self, data: bytes, received_at: datetime) -> Envelope:
        """Verify an envelope kept since ``received_at`` as it stood then: signature, schema and
        the key's validity at that instant, whatever its age now (raises as :meth:`open`)."""
        ...

    def signing_key(self, data: bytes, now: datetime) -> dict[str, Any] | None:
        """The trust list's entry for the key that signed ``data`` (``key_id``, ``owner``,
        ``public_key`` in base64, ``valid_from``, ``valid_to``, ``revoked_at``), or None when
        the envelope is unsigned or its key is not listed."""
        ...


class PartnerTestRuns(Protocol):
    """The interstate tests a running node (``silkway node``) runs against its partners over
    the live bus, which an administrator may start now rather than at their next turn.

    The node's scheduler provides it; an app without one (the embedded Union, the Commission's
    node) has no live exchange of its own to test over."""

    @property
    def partners(self) -> tuple[str, ...]:
        """The member states tested."""
        ...

    def run_now(self) -> bool:
        """Start a run now; False when a run is under way or already asked for."""
        ...


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: str
    created_at: datetime
    to_state: str
    process: str
    message_kind: str
    movement_reference: str | None
    payload: dict[str, Any] = field(default_factory=dict)


class OutboxRepository(Protocol):
    def put(self, messages: Sequence[OutboxMessage]) -> None: ...

    def pending(self, *, limit: int) -> list[OutboxMessage]: ...

    def for_movement(self, reference: str) -> list[OutboxMessage]: ...

    def answer_to(self, message_id: str, to_state: str) -> OutboxMessage | None:
        """The first R.006 this node wrote to ``to_state`` about message ``message_id``."""
        ...
