"""What anchoring needs of storage, inside the node's unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from silkway.anchoring.domain.anchor import Anchor, MovementHead


@dataclass(frozen=True, slots=True)
class TakenAnchor:
    """A node's own copy of an anchor it sent."""

    anchor: Anchor
    message_id: str
    movement_heads: tuple[MovementHead, ...]


@dataclass(frozen=True, slots=True)
class SentAnchor:
    """An anchor in a node's list of those it took: what it anchored and the MSG.915 that
    carried it (the movement heads stay in the node's copy)."""

    anchor: Anchor
    message_id: str


@dataclass(frozen=True, slots=True)
class KeptAnchor:
    """An anchor as the Commission received it."""

    anchor: Anchor
    message_id: str
    received_at: datetime


class AnchorRepository(Protocol):
    # what the node's logs are now
    def movement_heads(self) -> list[MovementHead]:
        """The last record of every movement's event chain."""
        ...

    def movement_hashes(self) -> dict[str, list[str]]:
        """Every movement's record hashes, in order."""
        ...

    def access_log_head(self, seq: int | None = None) -> tuple[int, str] | None:
        """The access log's record ``seq`` (its last when None) as (seq, hash), or None."""
        ...

    def guarantee_history_head(self, rows: int | None = None) -> tuple[int, str] | None:
        """(rows, digest of the first ``rows`` history rows by id), all rows when None; None
        when the history has fewer rows."""
        ...

    # the node's copies
    def add_taken(self, taken: TakenAnchor) -> None: ...

    def taken(self, anchor_id: str) -> TakenAnchor | None: ...

    def list_taken(self, *, offset: int = 0, limit: int = 100) -> list[SentAnchor]:
        """The anchors this node took, newest first."""
        ...

    def count_taken(self) -> int: ...

    # the Commission's
    def keep(self, kept: KeptAnchor) -> bool:
        """False when this anchor was kept before."""
        ...

    def latest_kept(self, state: str) -> KeptAnchor | None: ...

    def list_kept(
        self, state: str | None = None, *, offset: int = 0, limit: int = 100
    ) -> list[KeptAnchor]:
        """The anchors kept of ``state`` (every state's when None), newest first."""
        ...

    def count_kept(self, state: str | None = None) -> int: ...
