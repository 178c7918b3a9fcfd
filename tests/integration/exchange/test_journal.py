"""The Commission journals only envelopes that verify, and only the addressee's R.006 closes one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.exchange.journal import journal_envelope
from silkway.exchange.ports import JournalEntry
from silkway.exchange.signing.signature import Signer
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, ("KZ", "BY", "RU", "EEC"), START) as f:
        f.open_all()
        yield f


def release_to_by(fed: Federation) -> bytes:
    """The signed release notification KZ sends to BY, captured off the wire."""
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date())
    m = transit.lodge_declaration(kz, decl).movement
    transit.act(kz, m.reference, Accept())
    transit.act(kz, m.reference, Release(decl.security[0].reference, decl.departure_office))
    exchange.relay(fed.contexts["KZ"], fed.send)
    wire, fed.wire = fed.wire, []
    return next(
        d for s, d, _ in wire if s.startswith("silkway.BY.") and b"TransitReleaseNotification" in d
    )


def journal(fed: Federation) -> list[JournalEntry]:
    with fed.nodes["EEC"].transit.uow() as uow:
        return uow.exchange.journal(limit=100)


def test_a_tampered_copy_seen_first_neither_journals_nor_shadows_the_genuine(
    fed: Federation,
) -> None:
    genuine = release_to_by(fed)
    tampered = genuine.replace(b"Portable computers", b"Portable componets", 1)
    assert tampered != genuine
    assert journal_envelope(fed.contexts["EEC"], tampered) is None
    assert journal(fed) == []
    entry = journal_envelope(fed.contexts["EEC"], genuine)
    assert entry is not None
    assert (entry.from_state, entry.to_state) == ("KZ", "BY")
    assert [j.message_id for j in journal(fed)] == [entry.message_id]


def test_an_envelope_signed_by_an_unknown_key_is_not_journalled(fed: Federation) -> None:
    genuine = release_to_by(fed)
    envelope = fed.contexts["BY"].sealer.peek(genuine)
    assert envelope is not None
    rogue = Signer("KZ-rogue", Ed25519PrivateKey.generate()).sign_envelope(envelope, START)
    assert journal_envelope(fed.contexts["EEC"], rogue) is None
    assert journal(fed) == []


def _answer_from(fed: Federation, state: str, original: bytes) -> bytes:
    """An R.006 about ``original``, genuinely signed by ``state``."""
    ctx = fed.contexts[state]
    envelope = ctx.sealer.peek(original)
    assert envelope is not None
    message = exchange._answer(ctx, envelope, [], fed.clock.now())
    return ctx.sealer.seal(exchange.envelope_for(ctx, message), fed.clock.now())


def test_only_the_addressee_answer_closes_the_entry(fed: Federation) -> None:
    genuine = release_to_by(fed)
    entry = journal_envelope(fed.contexts["EEC"], genuine)
    assert entry is not None
    # Russia signs an answer for a message it was never sent: journalled, closes nothing.
    assert journal_envelope(fed.contexts["EEC"], _answer_from(fed, "RU", genuine)) is not None
    [original] = [j for j in journal(fed) if j.message_id == entry.message_id]
    assert original.outcome is None
    assert journal_envelope(fed.contexts["EEC"], _answer_from(fed, "BY", genuine)) is not None
    [original] = [j for j in journal(fed) if j.message_id == entry.message_id]
    assert original.outcome == "accepted"
