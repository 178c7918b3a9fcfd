"""Taking anchors, keeping them at the Commission, and judging a node's logs against them.

A node takes an anchor (its scheduler every few minutes, or ``silkway audit anchor``): in one
transaction it reads the head of each log, keeps its own copy and writes P.CP.01.MSG.915 to the
outbox, so the relay sends it, signed with the node's key, to the Commission. The Commission
keeps each anchor with the signed envelope it came in (:func:`keep`, its inbound handler).
``silkway audit verify`` then judges the node's logs against the latest anchor the Commission
holds (:func:`check`): a chain rewritten with every hash recomputed still verifies on its own,
but no longer reaches the head the Commission was sent. The lists (:func:`anchors_taken`,
:func:`anchors_kept`) show each node what it holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from silkway.anchoring.domain.anchor import (
    ACCESS_LOG,
    CHAINS,
    GUARANTEE_HISTORY,
    MOVEMENT_EVENTS,
    Anchor,
    ChainHead,
    Finding,
    compare_head,
    compare_movements,
    movement_chain,
    movement_digest,
)
from silkway.anchoring.ports import KeptAnchor, SentAnchor, TakenAnchor
from silkway.exchange.domain.envelope import (
    Envelope,
    EnvelopeRejected,
    SignatureRejected,
    urn_uuid,
)
from silkway.exchange.domain.processes import COMMISSION_ANCHORS, LOG_ANCHOR, ROLES
from silkway.exchange.hooks import NodeAccess
from silkway.exchange.outbound import process_message
from silkway.exchange.ports import EnvelopeSealer
from silkway.kernel.chain import GENESIS_HASH
from silkway.kernel.errors import ActionInvalid, DomainError, Violation
from silkway.unit_of_work import UnitOfWork

COMMISSION = "EEC"
_SENDER_ROLE = next(iter(ROLES))  # the office of departure of the node's own movements


@dataclass(frozen=True)
class AnchorContext:
    node: NodeAccess
    sealer: EnvelopeSealer
    """Verifies the signed anchors the Commission keeps."""

    @property
    def state(self) -> str:
        return self.node.state


def take_anchor(ctx: AnchorContext) -> Anchor:
    """Anchor the node's logs now and send the anchor to the Commission (one transaction)."""
    if ctx.state == COMMISSION:
        raise ActionInvalid(
            "the Commission keeps anchors; member states' nodes take them",
            [Violation("anchor-commission", "/node", ctx.state)],
        )
    now = ctx.node.clock.now()
    with ctx.node.uow() as uow:
        heads = uow.anchors.movement_heads()
        access = uow.anchors.access_log_head() or (0, GENESIS_HASH)
        history = uow.anchors.guarantee_history_head() or (0, GENESIS_HASH)
        anchor = Anchor(
            anchor_id=str(uuid.uuid4()),
            state=ctx.state,
            taken_at=now,
            chains=(
                movement_chain(heads),
                ChainHead(ACCESS_LOG, *access),
                ChainHead(GUARANTEE_HISTORY, *history),
            ),
        )
        message = process_message(
            COMMISSION,
            "log_anchor",
            {
                "AnchorId": uuid.UUID(anchor.anchor_id),
                "AnchorDateTime": now,
                "Chain": tuple(
                    {"ChainName": c.name, "RecordCount": c.records, "HeadHash": c.head}
                    for c in anchor.chains
                ),
            },
            now,
            sender_role=_SENDER_ROLE,
            receiver_role=COMMISSION_ANCHORS,
            conversation_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"silkway:anchors:{ctx.state}")),
            code=LOG_ANCHOR,
        )
        uow.anchors.add_taken(TakenAnchor(anchor, message.message_id, tuple(heads)))
        uow.outbox.put([message])
        uow.commit()
    return anchor


def keep(uow: UnitOfWork, envelope: Envelope, now: datetime, *, here: str) -> None:
    """The Commission's handler of MSG.915: keep the anchor (inside the receiving transaction,
    which also keeps the signed envelope). Anywhere else the message is refused."""
    if here != COMMISSION:
        raise ActionInvalid(
            "anchors are kept by the Commission",
            [Violation("anchor-not-commission", "/To", here)],
        )
    fields = envelope.body.fields
    anchor = Anchor(
        anchor_id=str(fields["AnchorId"]),
        state=envelope.header.reply_to.node,
        taken_at=_instant(fields["AnchorDateTime"]),
        chains=_chain_heads(envelope),
    )
    names = [c.name for c in anchor.chains]
    if sorted(names) != sorted(CHAINS):
        raise ActionInvalid(
            "an anchor names each log once",
            [Violation("anchor-chains", "/Chain", ", ".join(names))],
        )
    message_id = urn_uuid(envelope.header.message_id)
    uow.anchors.keep(KeptAnchor(anchor, message_id, now))


def _instant(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ActionInvalid("AnchorDateTime", [Violation("anchor-time", "/AnchorDateTime", "")])
    return value


# --- checking ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """A node's logs against the latest anchor the Commission keeps of them."""

    state: str
    anchor: Anchor | None
    """None when the Commission holds no anchor of the node yet."""
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return self.anchor is not None and not self.findings


def latest_kept(commission: AnchorContext, state: str) -> KeptAnchor | None:
    """The latest anchor of ``state`` the Commission holds, its signature checked again."""
    with commission.node.read() as uow:
        kept = uow.anchors.latest_kept(state)
        stored = None if kept is None else uow.exchange.envelope_received(kept.message_id)
    if kept is None:
        return None
    if stored is None:
        raise ActionInvalid(
            f"the Commission lost the signed envelope of anchor {kept.anchor.anchor_id}",
            [Violation("anchor-unsigned", "/anchor", kept.anchor.anchor_id)],
        )
    try:
        envelope = commission.sealer.open_as_of(stored[0], stored[1])
    except (EnvelopeRejected, SignatureRejected) as exc:
        raise ActionInvalid(
            f"anchor {kept.anchor.anchor_id} does not carry {state}'s signature: {exc.message}",
            [Violation("anchor-signature", "/anchor", str(exc.code))],
        ) from None
    signed = _signed_chains(envelope)
    if envelope.header.reply_to.node != state or signed != {
        c.name: (c.records, c.head) for c in kept.anchor.chains
    }:
        raise ActionInvalid(
            f"anchor {kept.anchor.anchor_id} as kept differs from what {state} signed",
            [Violation("anchor-altered", "/anchor", kept.anchor.anchor_id)],
        )
    return kept


def _signed_chains(envelope: Envelope) -> dict[str, tuple[int, str]]:
    return {c.name: (c.records, c.head) for c in _chain_heads(envelope)}


def _chain_heads(envelope: Envelope) -> tuple[ChainHead, ...]:
    chains = envelope.body.fields.get("Chain", ())
    heads = []
    for c in chains if isinstance(chains, tuple) else ():
        if isinstance(c, Mapping):
            count = c["RecordCount"]
            heads.append(
                ChainHead(
                    str(c["ChainName"]),
                    count if isinstance(count, int) else -1,
                    str(c["HeadHash"]),
                )
            )
    return tuple(heads)


def check(ctx: AnchorContext, kept: KeptAnchor | None) -> AnchorCheck:
    """Judge the node's logs against ``kept`` (from :func:`latest_kept`), naming each log, and
    each movement, that no longer reaches its anchored head."""
    if kept is None:
        return AnchorCheck(ctx.state, None, ())
    anchor = kept.anchor
    findings: list[Finding] = []
    with ctx.node.read() as uow:
        for chain in anchor.chains:
            if chain.name == MOVEMENT_EVENTS:
                findings += _check_movements(uow, anchor, chain)
            elif chain.name == ACCESS_LOG:
                found = (
                    uow.anchors.access_log_head(chain.records)
                    if chain.records
                    else (0, GENESIS_HASH)
                )
                finding = compare_head(chain, chain.records, None if found is None else found[1])
                findings += [finding] if finding else []
            elif chain.name == GUARANTEE_HISTORY:
                history = uow.anchors.guarantee_history_head(chain.records)
                finding = compare_head(
                    chain, chain.records, None if history is None else history[1]
                )
                findings += [finding] if finding else []
    return AnchorCheck(ctx.state, anchor, tuple(findings))


def _check_movements(uow: UnitOfWork, anchor: Anchor, chain: ChainHead) -> list[Finding]:
    taken = uow.anchors.taken(anchor.anchor_id)
    current = uow.anchors.movement_hashes()
    if taken is None or movement_digest(taken.movement_heads) != chain.head:
        # The node's list of heads is gone or altered: no movement can be named.
        return [
            Finding(
                MOVEMENT_EVENTS,
                "the node's copy of the anchored heads is missing or altered; the movement"
                " chains cannot be matched to the Commission's digest",
            )
        ]
    return compare_movements(taken.movement_heads, current)


# --- what each node holds -----------------------------------------------------------------


class AnchorsNotHere(DomainError):
    """Asked a node for anchors of a kind it never holds: a member state's node keeps none of
    the others' (the Commission does), and the Commission takes none of its own.

    ``code`` is per instance: ``anchors-not-kept-here``, ``anchors-not-taken-here``."""

    code = "anchors-not-here"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def anchors_taken(
    ctx: AnchorContext, *, offset: int = 0, limit: int = 100
) -> tuple[int, list[SentAnchor]]:
    """The anchors this member state's node took, newest first: how many, and one page."""
    if ctx.state == COMMISSION:
        raise AnchorsNotHere(
            "anchors-not-taken-here",
            "the Commission takes no anchors: it keeps those the member states' nodes take",
        )
    with ctx.node.read() as uow:
        return uow.anchors.count_taken(), uow.anchors.list_taken(offset=offset, limit=limit)


def anchors_kept(
    ctx: AnchorContext, state: str | None = None, *, offset: int = 0, limit: int = 100
) -> tuple[int, list[KeptAnchor]]:
    """The anchors the Commission keeps of ``state`` (of every state when None), newest first
    by the time the node took them: how many, and one page. As kept: ``latest_kept`` checks an
    anchor's signature again before a log is judged against it."""
    if ctx.state != COMMISSION:
        raise AnchorsNotHere(
            "anchors-not-kept-here",
            f"anchors are kept by the Commission's node ({COMMISSION}); the {ctx.state} node "
            "holds only the anchors it took",
        )
    with ctx.node.read() as uow:
        return (
            uow.anchors.count_kept(state),
            uow.anchors.list_kept(state, offset=offset, limit=limit),
        )
