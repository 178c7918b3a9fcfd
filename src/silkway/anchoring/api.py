"""API routes of the node for its log anchors, under ``/api/v1``: read-only.

A member state's node lists the anchors it took (``/anchors/taken``), the Commission's node the
anchors it keeps of each member state (``/anchors/kept``), newest first. Each node answers
only for what it holds: the other list is a 404 that says where it is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from silkway.anchoring import service as anchoring
from silkway.anchoring.domain.anchor import Anchor
from silkway.anchoring.ports import KeptAnchor
from silkway.anchoring.service import AnchorContext
from silkway.web.responses import problem

MemberStateQuery = Annotated[str | None, Query(pattern=r"^(AM|BY|KZ|KG|RU)$")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]


class ChainHeadOut(BaseModel):
    """One anchored log: its name, how many records it had, the hash that stands for it."""

    name: str
    records: int
    head: str


class AnchorOut(BaseModel):
    anchor_id: str
    state: str
    """The member state whose logs are anchored."""
    taken_at: datetime
    message_id: str
    """The MSG.915 that carried it to the Commission."""
    chains: list[ChainHeadOut]

    @classmethod
    def of(cls, anchor: Anchor, message_id: str) -> AnchorOut:
        return cls(
            anchor_id=anchor.anchor_id,
            state=anchor.state,
            taken_at=anchor.taken_at,
            message_id=message_id,
            chains=[
                ChainHeadOut(name=c.name, records=c.records, head=c.head) for c in anchor.chains
            ],
        )


class KeptAnchorOut(AnchorOut):
    received_at: datetime
    """When the Commission received it."""

    @classmethod
    def kept(cls, kept: KeptAnchor) -> KeptAnchorOut:
        return cls(
            **AnchorOut.of(kept.anchor, kept.message_id).model_dump(), received_at=kept.received_at
        )


class TakenPage(BaseModel):
    items: list[AnchorOut]
    total: int
    offset: int
    limit: int


class KeptPage(BaseModel):
    items: list[KeptAnchorOut]
    total: int
    offset: int
    limit: int


def build_anchor_router(ctx: AnchorContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["anchoring"])

    @router.get(
        "/anchors/taken",
        response_model=TakenPage,
        summary="The anchors this node took, newest first",
        responses={404: problem(404, "The Commission's node takes no anchors: it keeps them.")},
    )
    def taken(offset: Offset = 0, limit: Limit = 100) -> TakenPage:
        total, found = anchoring.anchors_taken(ctx, offset=offset, limit=limit)
        return TakenPage(
            items=[AnchorOut.of(a.anchor, a.message_id) for a in found],
            total=total,
            offset=offset,
            limit=limit,
        )

    @router.get(
        "/anchors/kept",
        response_model=KeptPage,
        summary="The anchors the Commission keeps of each member state, newest first (EEC)",
        responses={
            404: problem(404, "A member state's node keeps no anchors: the Commission's does.")
        },
    )
    def kept(state: MemberStateQuery = None, offset: Offset = 0, limit: Limit = 100) -> KeptPage:
        total, found = anchoring.anchors_kept(ctx, state, offset=offset, limit=limit)
        return KeptPage(
            items=[KeptAnchorOut.kept(k) for k in found],
            total=total,
            offset=offset,
            limit=limit,
        )

    return router
