"""SQLAlchemy Core storage of the interstate exchange."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from silkway.exchange.db.tables import (
    conformance_results,
    dead_letters,
    inbox,
    journal,
    outbox,
    outbox_results,
    partners,
    process_stages,
    processes,
    received_envelopes,
    sent_envelopes,
)
from silkway.exchange.ports import (
    BUS,
    ConformanceResult,
    DeadLetter,
    InboxEntry,
    JournalEntry,
    OutboxView,
    ProcessEntry,
)
from silkway.node.db.values import utc_or_none

_INBOX_SEEN = select(inbox.c.message_id).where(inbox.c.message_id == bindparam("id"))
_INBOX_ADD = insert(inbox)
_MARK_PUBLISHED = (
    update(outbox)
    .where(outbox.c.message_id == bindparam("b_message_id"))
    .values(published_at=bindparam("b_at"), attempts=outbox.c.attempts + 1)
)
_RESULT_ADD = insert(outbox_results)


def _must(value: datetime | None) -> datetime:
    aware = utc_or_none(value)
    assert aware is not None
    return aware


class SqlExchangeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # inbox -------------------------------------------------------------------------------------

    def inbox_seen(self, message_id: str) -> bool:
        return self._conn.execute(_INBOX_SEEN, {"id": message_id}).first() is not None

    def inbox_add(self, entry: InboxEntry) -> None:
        self._conn.execute(
            _INBOX_ADD,
            {
                "message_id": entry.message_id,
                "received_at": entry.received_at,
                "message_code": entry.message_code,
                "from_state": entry.from_state,
                "movement_reference": entry.movement_reference,
                "relates_to": entry.relates_to,
                "outcome": entry.outcome,
                "errors": entry.errors,
            },
        )

    def envelope_keep(self, message_id: str, received_at: datetime, data: bytes) -> None:
        self._conn.execute(
            insert(received_envelopes),
            {"message_id": message_id, "received_at": received_at, "data": data},
        )

    def envelopes_sent_keep(self, sent: Sequence[tuple[str, bytes]], at: datetime) -> None:
        if sent:
            self._conn.execute(
                insert(sent_envelopes),
                [{"message_id": m, "sent_at": at, "data": data} for m, data in sent],
            )

    def envelope_sent(self, message_id: str) -> tuple[bytes, datetime] | None:
        row = self._conn.execute(
            select(sent_envelopes.c.data, sent_envelopes.c.sent_at).where(
                sent_envelopes.c.message_id == message_id
            )
        ).first()
        return None if row is None else (bytes(row[0]), _must(row[1]))

    def envelope_received(self, message_id: str) -> tuple[bytes, datetime] | None:
        row = self._conn.execute(
            select(received_envelopes.c.data, received_envelopes.c.received_at).where(
                received_envelopes.c.message_id == message_id
            )
        ).first()
        return None if row is None else (bytes(row[0]), _must(row[1]))

    def inbox_entry(self, message_id: str) -> InboxEntry | None:
        row = self._conn.execute(select(inbox).where(inbox.c.message_id == message_id)).first()
        if row is None:
            return None
        return InboxEntry(
            row.message_id,
            _must(row.received_at),
            row.message_code,
            row.from_state,
            row.movement_reference,
            row.relates_to,
            row.outcome,
            list(row.errors),
        )

    def inbox(
        self, *, relates_to: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[InboxEntry]:
        query = select(inbox).order_by(inbox.c.received_at.desc()).limit(limit).offset(offset)
        if relates_to is not None:
            query = query.where(inbox.c.relates_to == relates_to)
        return [
            InboxEntry(
                message_id=r.message_id,
                received_at=_must(r.received_at),
                message_code=r.message_code,
                from_state=r.from_state,
                movement_reference=r.movement_reference,
                relates_to=r.relates_to,
                outcome=r.outcome,
                errors=list(r.errors),
            )
            for r in self._conn.execute(query)
        ]

    # outbox delivery ---------------------------------------------------------------------------

    def mark_sent(
        self, message_ids: Sequence[str], at: datetime, channel: str, note: str | None
    ) -> None:
        if not message_ids:
            return
        self._conn.execute(_MARK_PUBLISHED, [{"b_message_id": m, "b_at": at} for m in message_ids])
        rows: list[dict[str, Any]] = [
            {
                "message_id": m,
                "channel": channel,
                "decided_at": at,
                "outcome": None,
                "errors": [],
                "note": note,
            }
            for m in message_ids
        ]
        try:
            with self._conn.begin_nested():
                self._conn.execute(_RESULT_ADD, rows)
        except IntegrityError:
            # An answer overtook the relay's commit and recorded the result first
            # (:meth:`record_answer`): keep it, add the rest.
            for row in rows:
                try:
                    with self._conn.begin_nested():
                        self._conn.execute(_RESULT_ADD, [row])
                except IntegrityError:
                    continue

    def mark_attempt_failed(self, message_id: str, error: str) -> None:
        self._conn.execute(
            update(outbox)
            .where(outbox.c.message_id == message_id)
            .values(attempts=outbox.c.attempts + 1, last_error=error[:2000])
        )

    def record_answer(
        self,
        message_id: str,
        from_state: str,
        at: datetime,
        outcome: str,
        errors: list[dict[str, Any]],
    ) -> bool:
        addressee = self._conn.execute(
            select(outbox.c.to_state).where(outbox.c.message_id == message_id)
        ).scalar_one_or_none()
        if addressee != from_state:
            return False  # not ours, or answered by a state it was not sent to
        # The first answer counts: a later one (to a replayed copy) must not overwrite it.
        first = (
            update(outbox_results)
            .where(outbox_results.c.message_id == message_id, outbox_results.c.outcome.is_(None))
            .values(outcome=outcome, errors=errors, decided_at=at)
        )
        if self._conn.execute(first).rowcount:
            return True
        try:
            with self._conn.begin_nested():
                # The answer overtook the relay's commit (the receiver was quicker than the
                # sender's transaction): the result is recorded now, the relay keeps it.
                self._conn.execute(
                    _RESULT_ADD,
                    [
                        {
                            "message_id": message_id,
                            "channel": BUS,
                            "decided_at": at,
                            "outcome": outcome,
                            "errors": errors,
                            "note": None,
                        }
                    ],
                )
        except IntegrityError:
            # A result is there: the relay's, committed meanwhile, or an earlier answer's.
            return bool(self._conn.execute(first).rowcount)
        return True

    def outbox_views(
        self,
        *,
        movement_reference: str | None = None,
        channel: str | None = None,
        message_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboxView]:
        joined = outbox.outerjoin(
            outbox_results, outbox_results.c.message_id == outbox.c.message_id
        )
        query = (
            select(
                outbox,
                outbox_results.c.channel,
                outbox_results.c.outcome,
                outbox_results.c.errors,
                outbox_results.c.note,
            )
            .select_from(joined)
            .order_by(outbox.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if movement_reference is not None:
            query = query.where(outbox.c.movement_reference == movement_reference)
        if channel == "pending":
            query = query.where(outbox.c.published_at.is_(None))
        elif channel is not None:
            query = query.where(outbox_results.c.channel == channel)
        if message_id is not None:
            query = query.where(outbox.c.message_id == message_id)
        return [
            OutboxView(
                message_id=r.message_id,
                created_at=_must(r.created_at),
                to_state=r.to_state,
                process=r.process,
                message_kind=r.message_kind,
                movement_reference=r.movement_reference,
                published_at=utc_or_none(r.published_at),
                attempts=r.attempts,
                last_error=r.last_error,
                channel=r.channel,
                outcome=r.outcome,
                errors=list(r.errors or []),
                note=r.note,
            )
            for r in self._conn.execute(query)
        ]

    # dead letters ------------------------------------------------------------------------------

    def dead_letter_add(
        self,
        message_id: str | None,
        subject: str,
        reason: str,
        data: bytes,
        attempts: int,
        at: datetime,
        received_at: datetime | None = None,
    ) -> int:
        result = self._conn.execute(
            insert(dead_letters)
            .values(
                message_id=message_id,
                subject=subject,
                reason=reason[:4000],
                data=data,
                attempts=attempts,
                created_at=at,
                retried_at=None,
                resolved=False,
                received_at=received_at,
            )
            .returning(dead_letters.c.id)
        )
        return int(result.scalar_one())

    @staticmethod
    def _dead(r: Any) -> DeadLetter:
        return DeadLetter(
            id=r.id,
            message_id=r.message_id,
            subject=r.subject,
            reason=r.reason,
            data=bytes(r.data),
            attempts=r.attempts,
            created_at=_must(r.created_at),
            retried_at=utc_or_none(r.retried_at),
            resolved=r.resolved,
            received_at=utc_or_none(r.received_at),
        )

    def dead_letters(self, *, include_resolved: bool = False, limit: int = 100) -> list[DeadLetter]:
        query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
        if not include_resolved:
            query = query.where(dead_letters.c.resolved.is_(False))
        return [self._dead(r) for r in self._conn.execute(query)]

    def dead_letter(self, dead_letter_id: int) -> DeadLetter | None:
        row = self._conn.execute(
            select(dead_letters).where(dead_letters.c.id == dead_letter_id)
        ).first()
        return None if row is None else self._dead(row)

    def dead_letter_retried(
        self, dead_letter_id: int, at: datetime, resolved: bool, reason: str | None = None
    ) -> None:
        values: dict[str, Any] = {"retried_at": at, "resolved": resolved}
        if reason is not None:
            values["reason"] = reason[:4000]
        self._conn.execute(
            update(dead_letters).where(dead_letters.c.id == dead_letter_id).values(**values)
        )

    # partners ----------------------------------------------------------------------------------

    def partners(self, process: str) -> dict[str, bool]:
        rows = self._conn.execute(
            select(partners.c.state, partners.c.in_operation).where(partners.c.process == process)
        )
        return {r.state: bool(r.in_operation) for r in rows}

    def set_partner(
        self, process: str, state: str, in_operation: bool, at: datetime, run_id: str
    ) -> None:
        self._conn.execute(
            delete(partners).where(partners.c.process == process, partners.c.state == state)
        )
        self._conn.execute(
            insert(partners).values(
                process=process,
                state=state,
                in_operation=in_operation,
                measured_at=at,
                run_id=run_id,
            )
        )

    # journal -----------------------------------------------------------------------------------

    def journal_add(self, entry: JournalEntry) -> bool:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(journal).values(
                        track_id=entry.track_id,
                        message_id=entry.message_id,
                        accept_time=entry.accept_time,
                        message_code=entry.message_code,
                        process=entry.process,
                        from_state=entry.from_state,
                        to_state=entry.to_state,
                        conversation_id=entry.conversation_id,
                        relates_to=entry.relates_to,
                        sent_at=entry.sent_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    def journal_answer(
        self, relates_to: str, answered_by: str, outcome: str, answered_at: datetime
    ) -> None:
        # Only the state the original was sent to answers it: another's R.006 closes nothing.
        row = self._conn.execute(
            select(journal.c.accept_time).where(
                journal.c.message_id == relates_to,
                journal.c.to_state == answered_by,
                journal.c.outcome.is_(None),
            )
        ).first()
        if row is None:
            return
        latency = int((answered_at - _must(row.accept_time)).total_seconds() * 1000)
        self._conn.execute(
            update(journal)
            .where(journal.c.message_id == relates_to, journal.c.outcome.is_(None))
            .values(outcome=outcome, answered_at=answered_at, latency_ms=max(latency, 0))
        )

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
    ) -> list[JournalEntry]:
        conditions: list[Any] = []
        if conversation_id:
            conditions.append(journal.c.conversation_id == conversation_id)
        if process:
            conditions.append(journal.c.process == process)
        if from_state:
            conditions.append(journal.c.from_state == from_state)
        if to_state:
            conditions.append(journal.c.to_state == to_state)
        if outcome == "unanswered":
            conditions.append(journal.c.outcome.is_(None))
        elif outcome:
            conditions.append(journal.c.outcome == outcome)
        if min_latency_ms is not None:
            conditions.append(journal.c.latency_ms >= min_latency_ms)
        rows = self._conn.execute(
            select(journal)
            .where(and_(True, *conditions))
            .order_by(journal.c.accept_time.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            JournalEntry(
                track_id=r.track_id,
                message_id=r.message_id,
                accept_time=_must(r.accept_time),
                message_code=r.message_code,
                process=r.process,
                from_state=r.from_state,
                to_state=r.to_state,
                conversation_id=r.conversation_id,
                relates_to=r.relates_to,
                sent_at=_must(r.sent_at),
                outcome=r.outcome,
                answered_at=utc_or_none(r.answered_at),
                latency_ms=r.latency_ms,
            )
            for r in rows
        ]

    # register ----------------------------------------------------------------------------------

    def process_upsert(self, entry: ProcessEntry) -> None:
        self._conn.execute(delete(processes).where(processes.c.code == entry.code))
        self._conn.execute(
            insert(processes).values(
                code=entry.code,
                title=entry.title,
                group_code=entry.group_code,
                legal_acts=entry.legal_acts,
                approved=entry.approved,
            )
        )

    def processes(self) -> list[ProcessEntry]:
        rows = self._conn.execute(select(processes).order_by(processes.c.code))
        return [
            ProcessEntry(r.code, r.title, r.group_code, r.legal_acts, bool(r.approved))
            for r in rows
        ]

    def stage_set(self, process: str, state: str, stage: str, at: datetime, source: str) -> None:
        self._conn.execute(
            delete(process_stages).where(
                process_stages.c.process == process, process_stages.c.state == state
            )
        )
        self._conn.execute(
            insert(process_stages).values(
                process=process, state=state, stage=stage, updated_at=at, source=source
            )
        )

    def stages(self) -> dict[tuple[str, str], str]:
        rows = self._conn.execute(select(process_stages))
        return {(r.process, r.state): r.stage for r in rows}

    def conformance_add(self, result: ConformanceResult) -> None:
        self._conn.execute(
            insert(conformance_results).values(
                run_id=result.run_id,
                process=result.process,
                from_state=result.from_state,
                to_state=result.to_state,
                scenario=result.scenario,
                passed=result.passed,
                detail=result.detail[:4000],
                at=result.at,
            )
        )

    def conformance_latest(self, process: str | None = None) -> list[ConformanceResult]:
        c = conformance_results.c
        last = (
            select(c.process, c.from_state, c.to_state, func.max(c.id).label("last_id"))
            .group_by(c.process, c.from_state, c.to_state)
            .subquery()
        )
        # The run that wrote each pair's newest row is that pair's latest run.
        runs = select(c.run_id).join(last, c.id == last.c.last_id)
        query = select(conformance_results).where(c.run_id.in_(runs))
        if process is not None:
            query = query.where(c.process == process)
        return [
            ConformanceResult(
                run_id=r.run_id,
                process=r.process,
                from_state=r.from_state,
                to_state=r.to_state,
                scenario=r.scenario,
                passed=bool(r.passed),
                detail=r.detail,
                at=_must(r.at),
            )
            for r in self._conn.execute(query.order_by(c.id))
        ]
