"""An R.006 answer settles what became of a message: from its addressee only, first one counts,
even when it comes back before the sender's relay has committed the sending."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.exchange.domain.envelope import urn_uuid
from silkway.exchange.ports import OutboxView
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, ("KZ", "RU", "BY"), START) as f:
        f.open_all()
        yield f


def _release(fed: Federation) -> str:
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date())
    ref = transit.lodge_declaration(kz, decl).movement.reference
    transit.act(kz, ref, Accept())
    transit.act(kz, ref, Release(decl.security[0].reference, decl.departure_office))
    return ref


def _to(fed: Federation, state: str, ref: str) -> list[OutboxView]:
    with fed.nodes["KZ"].transit.read() as uow:
        views = uow.exchange.outbox_views(movement_reference=ref)
    return [v for v in views if v.to_state == state and v.message_kind != "processing_result"]


def test_an_answer_that_overtakes_the_relays_commit_is_kept(fed: Federation) -> None:
    """BY answers while KZ's relay is still between sending and committing (finding 11)."""
    ref = _release(fed)
    answers: list[exchange.Receipt] = []

    def answer_to_kz(_subject: str, data: bytes, _message_id: str) -> None:
        answers.append(exchange.receive(fed.contexts["KZ"], data))

    def send(subject: str, data: bytes, message_id: str) -> None:
        if not subject.startswith("silkway.BY."):
            fed.send(subject, data, message_id)
            return
        # Received, processed and answered before KZ's relay marks the message sent.
        assert exchange.receive(fed.contexts["BY"], data).outcome == "accepted"
        exchange.relay(fed.contexts["BY"], answer_to_kz)

    report = exchange.relay(fed.contexts["KZ"], send)
    assert report.dead == 0
    assert [a.outcome for a in answers] == ["answer"] * len(_to(fed, "BY", ref))
    views = _to(fed, "BY", ref)
    assert views
    assert {(v.channel, v.outcome) for v in views} == {("bus", "accepted")}
    assert all(v.published_at is not None for v in views)
    # Nothing left to send: the early answer did not make the message look unsent.
    assert exchange.relay(fed.contexts["KZ"], send).sent == 0


def test_an_answer_from_a_state_the_message_was_not_sent_to_settles_nothing(
    fed: Federation,
) -> None:
    """RU gets (and refuses) KZ's release notification for BY: its negative R.006 must not
    stand as BY's answer; BY's own answer does."""
    ref = _release(fed)
    exchange.relay(fed.contexts["KZ"], fed.send)
    for_by = next(
        d
        for s, d, _ in fed.wire
        if s.startswith("silkway.BY.") and b"TransitReleaseNotification" in d
    )
    fed.wire.clear()
    peeked = fed.contexts["BY"].sealer.peek(for_by)
    assert peeked is not None
    release_id = urn_uuid(peeked.header.message_id)
    misrouted = exchange.receive(fed.contexts["RU"], for_by)
    assert misrouted.outcome == "rejected"
    exchange.relay(fed.contexts["RU"], fed.send)
    ru_answers = [d for s, d, _ in fed.wire if s.startswith("silkway.KZ.")]
    fed.wire.clear()
    assert ru_answers
    for data in ru_answers:
        exchange.receive(fed.contexts["KZ"], data)
    assert _outcome(fed, ref, release_id) is None
    assert exchange.receive(fed.contexts["BY"], for_by).outcome == "accepted"
    fed.pump()
    assert _outcome(fed, ref, release_id) == "accepted"


def _outcome(fed: Federation, ref: str, message_id: str) -> str | None:
    return next(v.outcome for v in _to(fed, "BY", ref) if v.message_id == message_id)
