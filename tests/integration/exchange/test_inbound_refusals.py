"""Inbound envelopes that cannot be trusted get a negative R.006 and change nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.exchange.signing.signature import Signer
from silkway.exchange.xml.codec import encode
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release


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


def test_unknown_key_is_refused(fed: Federation) -> None:
    data, _ = release_bytes(fed)
    envelope = fed.contexts["BY"].sealer.peek(data)
    assert envelope is not None
    rogue = Signer("KZ-rogue", Ed25519PrivateKey.generate()).sign_envelope(envelope, START)
    assert_refused(fed, rogue, "key-unknown")


def test_revoked_key_is_refused(fed: Federation) -> None:
    data, _ = release_bytes(fed)
    published = fed.publisher.published()
    assert published is not None
    kz_key = next(k.key_id for k in published.keys.keys_of("KZ"))
    fed.publisher.publish(START - timedelta(seconds=1), validity=timedelta(days=7), revoke=[kz_key])
    assert_refused(fed, data, "key-revoked")


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
