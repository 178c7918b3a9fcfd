"""The outbox on SQL: messages written with the change that caused them, until the relay sends them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from silkway.exchange.db.tables import outbox
from silkway.exchange.ports import OutboxMessage
from silkway.node.db.values import utc


class SqlOutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def put(self, messages: Sequence[OutboxMessage]) -> None:
        if not messages:
            return
        self._conn.execute(
            insert(outbox),
            [
                {
                    "message_id": m.message_id,
                    "created_at": m.created_at,
                    "to_state": m.to_state,
                    "process": m.process,
                    "message_kind": m.message_kind,
                    "movement_reference": m.movement_reference,
                    "payload": m.payload,
                }
                for m in messages
            ],
        )

    @staticmethod
    def _message(row: Any) -> OutboxMessage:
        return OutboxMessage(
            message_id=row.message_id,
            created_at=utc(row.created_at),
            to_state=row.to_state,
            process=row.process,
            message_kind=row.message_kind,
            movement_reference=row.movement_reference,
            payload=row.payload,
        )

    def pending(self, *, limit: int) -> list[OutboxMessage]:
        rows = self._conn.execute(
            select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(limit)
        )
        return [self._message(r) for r in rows]

    def answer_to(self, message_id: str, to_state: str) -> OutboxMessage | None:
        # The R.006 names what it answers only in its payload: look among the answers owed to
        # the sender, newest first (the first answer is the one that counts; a replay's comes
        # later).
        rows = self._conn.execute(
            select(outbox)
            .where(outbox.c.message_kind == "processing_result", outbox.c.to_state == to_state)
            .order_by(outbox.c.id)
        )
        for row in rows:
            message = self._message(row)
            if message.payload.get("relates_to") == message_id:
                return message
        return None

    def for_movement(self, reference: str) -> list[OutboxMessage]:
        rows = self._conn.execute(
            select(outbox).where(outbox.c.movement_reference == reference).order_by(outbox.c.id)
        )
        return [self._message(r) for r in rows]
