"""SQLAlchemy Core storage of anchors, and the heads of the logs they anchor.

The heads are read straight from the logs' tables (the movement events, the access log, the
guarantee history) with one query each, rather than record by record through each
capability's repository: an anchor is taken every few minutes over the whole node.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, func, insert, select
from sqlalchemy.exc import IntegrityError

from silkway.anchoring.db.tables import anchors_kept, anchors_taken
from silkway.anchoring.domain.anchor import Anchor, ChainHead, MovementHead, rows_digest
from silkway.anchoring.ports import KeptAnchor, SentAnchor, TakenAnchor
from silkway.guarantees.db.tables import guarantee_ledger
from silkway.identity.db.tables import access_log
from silkway.node.db.values import utc_or_none
from silkway.transit.db.tables import movement_events

_LAST_SEQ = (
    select(movement_events.c.movement_reference, func.max(movement_events.c.seq).label("seq"))
    .group_by(movement_events.c.movement_reference)
    .subquery()
)
_MOVEMENT_HEADS = (
    select(movement_events.c.movement_reference, movement_events.c.seq, movement_events.c.hash)
    .join(
        _LAST_SEQ,
        (movement_events.c.movement_reference == _LAST_SEQ.c.movement_reference)
        & (movement_events.c.seq == _LAST_SEQ.c.seq),
    )
    .order_by(movement_events.c.movement_reference)
)
_MOVEMENT_HASHES = select(movement_events.c.movement_reference, movement_events.c.hash).order_by(
    movement_events.c.movement_reference, movement_events.c.seq
)


# A list reads every column but the movement heads, which only a check needs.
_TAKEN_LIST = select(
    anchors_taken.c.anchor_id,
    anchors_taken.c.state,
    anchors_taken.c.taken_at,
    anchors_taken.c.message_id,
    anchors_taken.c.chains,
).order_by(anchors_taken.c.taken_at.desc(), anchors_taken.c.anchor_id.desc())
_KEPT_LIST = select(anchors_kept).order_by(
    anchors_kept.c.taken_at.desc(), anchors_kept.c.anchor_id.desc()
)


def _kept_of(query: Select[Any], state: str | None) -> Select[Any]:
    return query if state is None else query.where(anchors_kept.c.state == state)


def _chains(anchor: Anchor) -> list[dict[str, Any]]:
    return [{"name": c.name, "records": c.records, "head": c.head} for c in anchor.chains]


def _anchor(row: Any) -> Anchor:
    taken_at = utc_or_none(row.taken_at)
    assert taken_at is not None
    return Anchor(
        anchor_id=row.anchor_id,
        state=row.state,
        taken_at=taken_at,
        chains=tuple(ChainHead(c["name"], int(c["records"]), c["head"]) for c in row.chains),
    )


class SqlAnchorRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def movement_heads(self) -> list[MovementHead]:
        return [MovementHead(r[0], r[1], r[2]) for r in self._conn.execute(_MOVEMENT_HEADS)]

    def movement_hashes(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for reference, digest in self._conn.execute(_MOVEMENT_HASHES):
            out.setdefault(reference, []).append(digest)
        return out

    def access_log_head(self, seq: int | None = None) -> tuple[int, str] | None:
        query = select(access_log.c.seq, access_log.c.hash)
        if seq is None:
            query = query.order_by(access_log.c.seq.desc()).limit(1)
        else:
            query = query.where(access_log.c.seq == seq)
        row = self._conn.execute(query).first()
        return None if row is None else (row[0], row[1])

    def guarantee_history_head(self, rows: int | None = None) -> tuple[int, str] | None:
        query = select(guarantee_ledger).order_by(guarantee_ledger.c.id)
        if rows is not None:
            query = query.limit(rows)
        found = [dict(r._mapping) for r in self._conn.execute(query)]
        if rows is not None and len(found) < rows:
            return None
        return len(found), rows_digest(found)

    def add_taken(self, taken: TakenAnchor) -> None:
        self._conn.execute(
            insert(anchors_taken),
            {
                "anchor_id": taken.anchor.anchor_id,
                "state": taken.anchor.state,
                "taken_at": taken.anchor.taken_at,
                "message_id": taken.message_id,
                "chains": _chains(taken.anchor),
                "movement_heads": [[h.reference, h.seq, h.hash] for h in taken.movement_heads],
            },
        )

    def taken(self, anchor_id: str) -> TakenAnchor | None:
        row = self._conn.execute(
            select(anchors_taken).where(anchors_taken.c.anchor_id == anchor_id)
        ).first()
        if row is None:
            return None
        heads = tuple(MovementHead(str(h[0]), int(h[1]), str(h[2])) for h in row.movement_heads)
        return TakenAnchor(_anchor(row), row.message_id, heads)

    def list_taken(self, *, offset: int = 0, limit: int = 100) -> list[SentAnchor]:
        rows = self._conn.execute(_TAKEN_LIST.offset(offset).limit(limit))
        return [SentAnchor(_anchor(row), row.message_id) for row in rows]

    def count_taken(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(anchors_taken)).scalar_one())

    def keep(self, kept: KeptAnchor) -> bool:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(anchors_kept),
                    {
                        "anchor_id": kept.anchor.anchor_id,
                        "state": kept.anchor.state,
                        "taken_at": kept.anchor.taken_at,
                        "received_at": kept.received_at,
                        "message_id": kept.message_id,
                        "chains": _chains(kept.anchor),
                    },
                )
        except IntegrityError:
            return False
        return True

    def latest_kept(self, state: str) -> KeptAnchor | None:
        row = self._conn.execute(
            select(anchors_kept)
            .where(anchors_kept.c.state == state)
            .order_by(anchors_kept.c.taken_at.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return _kept(row)

    def list_kept(
        self, state: str | None = None, *, offset: int = 0, limit: int = 100
    ) -> list[KeptAnchor]:
        rows = self._conn.execute(_kept_of(_KEPT_LIST, state).offset(offset).limit(limit))
        return [_kept(row) for row in rows]

    def count_kept(self, state: str | None = None) -> int:
        query = _kept_of(select(func.count()).select_from(anchors_kept), state)
        return int(self._conn.execute(query).scalar_one())


def _kept(row: Any) -> KeptAnchor:
    received_at = utc_or_none(row.received_at)
    assert received_at is not None
    return KeptAnchor(_anchor(row), row.message_id, received_at)
