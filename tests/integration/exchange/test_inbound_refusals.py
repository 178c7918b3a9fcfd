"""Inbound envelopes that cannot be trusted get a negative R.006 and change nothing else."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

from silkway.bootstrap import compose_exchange, compose_sealer
from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.exchange.bus.ports import RetryLater
from silkway.exchange.domain.envelope import urn_uuid
from silkway.exchange.signing.signature import Signer
from silkway.exchange.xml.codec import encode
from silkway.kernel.errors import MovementBusy
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, ChangeDestination, ExtendTimeLimit, Release


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, ("KZ", "BY"), START) as f:
        f.open_all()
        yield f


def release_bytes(fed: Federation) -> tuple[bytes, str]:
    """The signed release notification KZ sends to BY, captured off the wire."""
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date())
    m = transit.lodge_declaration(kz, decl).movement
    transit.act(kz, m.reference, Accept())
    transit.act(kz, m.reference, Release(decl.security[0].reference, decl.departure_office))
    exchange.relay(fed.contexts["KZ"], fed.send)
    to_by = [(s, d, i) for s, d, i in fed.wire if s.startswith("silkway.BY.")]
    fed.wire.clear()
    release = next(d for _s, d, _i in to_by if b"TransitReleaseNotification" in d)
    return release, m.reference


def copies_at_by(fed: Federation) -> int:
    return transit.list_movements(
        fed.nodes["BY"].transit, transit.MovementFilter(), offset=0, limit=10
    ).total


def answers_to_kz(fed: Federation) -> list[bytes]:
    exchange.relay(fed.contexts["BY"], fed.send)
    out = [d for s, d, _ in fed.wire if s.startswith("silkway.KZ.")]
    fed.wire.clear()
    return out


def assert_refused(fed: Federation, data: bytes, code: str) -> None:
    receipt = exchange.receive(fed.contexts["BY"], data)
    assert receipt.outcome == "rejected"
    assert receipt.code == code, receipt
    assert copies_at_by(fed) == 0
    answers = answers_to_kz(fed)
    if receipt.message_id is not None:
        assert len(answers) == 1
        assert b"rejected" in answers[0]
        assert code.encode() in answers[0]


def test_a_valid_release_is_accepted_once(fed: Federation) -> None:
    data, ref = release_bytes(fed)
    assert exchange.receive(fed.contexts["BY"], data).outcome == "accepted"
    replay = exchange.receive(fed.contexts["BY"], data)
    assert replay.outcome == "duplicate"
    assert replay.errors[0]["ErrorCode"] == "message-replayed"
    assert copies_at_by(fed) == 1  # applied once
    assert transit.get_movement(fed.nodes["BY"].transit, ref).state == "KZ"
    first, second = answers_to_kz(fed)
    assert b">accepted<" in first
    assert b">rejected<" in second
    assert b"message-replayed" in second


def test_unsigned_is_refused(fed: Federation) -> None:
    data, _ = release_bytes(fed)
    envelope = fed.contexts["BY"].sealer.peek(data)
    assert envelope is not None
    assert_refused(fed, encode(envelope), "signature-missing")


def test_tampered_body_is_refused(fed: Federation) -> None:
    data, _ = release_bytes(fed)
    tampered = data.replace(b"Portable computers", b"Portable componets", 1)
    assert tampered != data
    assert_refused(fed, tampered, "signature-invalid")


def test_tampered_header_is_refused(fed: Federation) -> None:
    data, _ = release_bytes(fed)
    tampered = data.replace(b"P.CP.01/P.CP.01.ACT.002<", b"P.CP.01/P.CP.01.ACT.005<", 1)
    assert tampered != data
    receipt = exchange.receive(fed.contexts["BY"], tampered)
    assert receipt.outcome == "rejected"
    assert receipt.code == "signature-invalid"
    assert copies_at_by(fed) == 0


def test_an_unknown_key_is_retried_and_never_recorded_as_seen(fed: Federation) -> None:
    """A key the trust list does not know yet can heal: the bus brings the message back."""
    data, ref = release_bytes(fed)
    envelope = fed.contexts["BY"].sealer.peek(data)
    assert envelope is not None
    rogue = Signer("KZ-rogue", Ed25519PrivateKey.generate()).sign_envelope(envelope, START)
    with pytest.raises(RetryLater, match="key-unknown"):
        exchange.receive(fed.contexts["BY"], rogue)
    assert copies_at_by(fed) == 0
    assert answers_to_kz(fed) == []
    # Same MessageID, a key BY knows: taken, since the first one was not recorded as seen.
    assert exchange.receive(fed.contexts["BY"], data).outcome == "accepted"
    assert transit.get_movement(fed.nodes["BY"].transit, ref).state == "KZ"


def test_a_message_that_overtakes_the_release_waits_for_it(fed: Federation) -> None:
    """Finding 13: the time limit reaches BY before the copy; it is retried, then applied."""
    release, ref = release_bytes(fed)
    kz = fed.nodes["KZ"].transit
    new_limit = transit.get_movement(kz, ref).time_limit + timedelta(days=3)
    transit.act(kz, ref, ExtendTimeLimit(new_limit, "road closed"))
    exchange.relay(fed.contexts["KZ"], fed.send)
    [extension] = [d for s, d, _ in fed.wire if s.startswith("silkway.BY.")]
    fed.wire.clear()
    with pytest.raises(RetryLater, match="has not arrived yet"):
        exchange.receive(fed.contexts["BY"], extension)
    # Given up on by the bus: a dead letter, and retrying it now reports it is still waiting.
    dead = exchange.dead_letter(fed.contexts["BY"], "silkway.BY.P_CP_01", extension, "gave up", 5)
    again = exchange.retry_dead_letter(fed.contexts["BY"], dead)
    assert again.outcome == "retry-later"
    with fed.nodes["BY"].transit.read() as uow:
        letter = uow.exchange.dead_letter(dead)
    assert letter is not None
    assert not letter.resolved
    assert "has not arrived yet" in letter.reason
    assert exchange.receive(fed.contexts["BY"], release).outcome == "accepted"
    assert exchange.retry_dead_letter(fed.contexts["BY"], dead).outcome == "accepted"
    with fed.nodes["BY"].transit.read() as uow:
        letter = uow.exchange.dead_letter(dead)
    assert letter is not None
    assert letter.resolved
    assert transit.get_movement(fed.nodes["BY"].transit, ref).time_limit == new_limit


def test_a_destination_change_that_overtakes_the_release_waits_for_it(fed: Federation) -> None:
    """The new office is BY's too: BY was on the route, so a copy is owed to it; the notice
    is retried (not dropped), then applied to the copy."""
    release, ref = release_bytes(fed)
    kz = fed.nodes["KZ"].transit
    transit.act(kz, ref, ChangeDestination("06611", "consignee moved"))
    exchange.relay(fed.contexts["KZ"], fed.send)
    [change] = [d for s, d, _ in fed.wire if s.startswith("silkway.BY.")]
    fed.wire.clear()
    with pytest.raises(RetryLater, match="has not arrived yet"):
        exchange.receive(fed.contexts["BY"], change)
    assert exchange.receive(fed.contexts["BY"], release).outcome == "accepted"
    assert exchange.receive(fed.contexts["BY"], change).outcome == "accepted"
    assert transit.get_movement(fed.nodes["BY"].transit, ref).destination_office == "06611"


def test_a_dead_letter_retried_a_day_later_is_judged_as_of_when_the_bus_took_it(
    fed: Federation,
) -> None:
    """The time limit overtook its copy, the bus gave up on it after a minute; the operator
    retries it the next day, once the copy is in: applied, not refused as stale."""
    release, ref = release_bytes(fed)
    kz = fed.nodes["KZ"].transit
    new_limit = transit.get_movement(kz, ref).time_limit + timedelta(days=3)
    transit.act(kz, ref, ExtendTimeLimit(new_limit, "road closed"))
    exchange.relay(fed.contexts["KZ"], fed.send)
    [extension] = [d for s, d, _ in fed.wire if s.startswith("silkway.BY.")]
    fed.wire.clear()
    fed.clock.advance(timedelta(minutes=1))
    by = fed.contexts["BY"]
    dead = exchange.dead_letter(
        by, "silkway.BY.P_CP_01", extension, "gave up", 5, waited=timedelta(minutes=1)
    )
    with fed.nodes["BY"].transit.read() as uow:
        letter = uow.exchange.dead_letter(dead)
    assert letter is not None
    assert letter.received_at == START
    assert exchange.receive(by, release, timedelta(minutes=1)).outcome == "accepted"
    fed.clock.advance(timedelta(days=1))
    assert exchange.retry_dead_letter(by, dead).outcome == "accepted"
    assert transit.get_movement(fed.nodes["BY"].transit, ref).time_limit == new_limit


def test_a_dead_letter_refused_again_stays_dead_with_the_reason(fed: Federation) -> None:
    data, _ = release_bytes(fed)
    tampered = data.replace(b"Portable computers", b"Portable componets", 1)
    dead = exchange.dead_letter(fed.contexts["BY"], "silkway.BY.P_CP_01", tampered, "gave up", 5)
    assert exchange.retry_dead_letter(fed.contexts["BY"], dead).outcome == "rejected"
    with fed.nodes["BY"].transit.read() as uow:
        letter = uow.exchange.dead_letter(dead)
    assert letter is not None
    assert not letter.resolved
    assert letter.reason.startswith("signature-invalid")


def test_a_genuine_envelope_published_by_another_node_is_refused_and_not_seen(
    fed: Federation,
) -> None:
    """RU puts KZ's release notification for BY on the bus as its own delivery (the subject
    names the publisher): refused, unanswered, not recorded; KZ's own copy is then taken."""
    data, ref = release_bytes(fed)
    relayed = exchange.receive(fed.contexts["BY"], data, via="RU")
    assert (relayed.outcome, relayed.code) == ("rejected", "publisher-not-sender")
    assert copies_at_by(fed) == 0
    assert answers_to_kz(fed) == []
    assert exchange.receive(fed.contexts["BY"], data, via="KZ").outcome == "accepted"
    assert transit.get_movement(fed.nodes["BY"].transit, ref).state == "KZ"


def test_a_message_that_meets_a_concurrent_change_is_retried_not_refused(
    fed: Federation,
) -> None:
    """The movement changed under the handler (``MovementBusy``): nothing is kept, nothing is
    answered, the bus brings the message back, and then it is taken."""
    data, ref = release_bytes(fed)
    by = fed.contexts["BY"]
    code = "P.CP.01.MSG.010"
    real = by.handlers[code]

    def busy(uow: Any, envelope: Any, now: Any) -> None:
        raise MovementBusy("the movement changed meanwhile; try again")

    racing = dataclasses.replace(by, handlers={**by.handlers, code: busy})
    with pytest.raises(MovementBusy):
        exchange.receive(racing, data)
    assert copies_at_by(fed) == 0
    assert answers_to_kz(fed) == []
    with fed.nodes["BY"].transit.read() as uow:
        assert uow.exchange.envelope_received(_id(fed, data)) is None
    assert by.handlers[code] is real
    assert exchange.receive(by, data).outcome == "accepted"
    assert transit.get_movement(fed.nodes["BY"].transit, ref).state == "KZ"


def _id(fed: Federation, data: bytes) -> str:
    peeked = fed.contexts["BY"].sealer.peek(data)
    assert peeked is not None
    return urn_uuid(peeked.header.message_id)


def test_revoked_key_is_refused(fed: Federation) -> None:
    data, _ = release_bytes(fed)
    published = fed.publisher.published()
    assert published is not None
    kz_key = next(k.key_id for k in published.keys.keys_of("KZ"))
    fed.publisher.publish(START - timedelta(seconds=1), validity=timedelta(days=7), revoke=[kz_key])
    assert_refused(fed, data, "key-revoked")


def test_the_clock_skew_tolerated_is_the_nodes_setting(fed: Federation) -> None:
    """KZ's clock runs five minutes ahead: beyond the default two minutes, within ten."""
    fed.clock.advance(timedelta(minutes=5))
    data, ref = release_bytes(fed)
    fed.clock.advance(timedelta(minutes=-5))
    assert exchange.receive(fed.contexts["BY"], data).code == "signature-from-future"
    settings = fed.settings.model_copy(update={"signature_skew_s": 600})
    by = fed.nodes["BY"]
    tolerant = compose_exchange(by.transit, by.guarantees, by.seals, compose_sealer("BY", settings))
    assert exchange.receive(tolerant, data).outcome == "accepted"
    assert transit.get_movement(by.transit, ref).state == "KZ"


def test_stale_is_refused(fed: Federation) -> None:
    data, _ = release_bytes(fed)
    fed.clock.advance(timedelta(days=2))
    assert_refused(fed, data, "signature-stale")


def test_garbage_is_refused_without_an_answer(fed: Federation) -> None:
    receipt = exchange.receive(fed.contexts["BY"], b"<not-xml")
    assert receipt.outcome == "rejected"
    assert receipt.message_id is None
    assert answers_to_kz(fed) == []


def test_key_rotation_without_downtime(fed: Federation) -> None:
    old, _ = release_bytes(fed)
    fed.keys.rotate("KZ", START, overlap=timedelta(hours=1))
    new, _ = release_bytes_second(fed)
    assert exchange.receive(fed.contexts["BY"], old).outcome == "accepted"
    assert exchange.receive(fed.contexts["BY"], new).outcome == "accepted"
    assert b"KZ-" in new


def release_bytes_second(fed: Federation) -> tuple[bytes, str]:
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date()).model_copy(update={"lrn": "LRN-2"})
    m = transit.lodge_declaration(kz, decl).movement
    transit.act(kz, m.reference, Accept())
    transit.act(kz, m.reference, Release(decl.security[0].reference, decl.departure_office))
    exchange.relay(fed.contexts["KZ"], fed.send)
    to_by = [d for s, d, _ in fed.wire if s.startswith("silkway.BY.")]
    fed.wire.clear()
    return next(d for d in to_by if b"TransitReleaseNotification" in d), m.reference


def test_a_tampered_copy_received_first_does_not_suppress_the_genuine(fed: Federation) -> None:
    data, ref = release_bytes(fed)
    tampered = data.replace(b"Portable computers", b"Portable componets", 1)
    assert exchange.receive(fed.contexts["BY"], tampered).code == "signature-invalid"
    with fed.nodes["BY"].transit.uow() as uow:
        assert not uow.exchange.inbox_seen(
            exchange.urn_uuid(fed.contexts["BY"].sealer.peek(data).header.message_id)
        )  # type: ignore[union-attr]
    assert exchange.receive(fed.contexts["BY"], data).outcome == "accepted"
    assert transit.get_movement(fed.nodes["BY"].transit, ref).state == "KZ"
