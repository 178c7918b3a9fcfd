"""Detached Ed25519 envelope signatures: acceptance, every refusal, key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from envelope_samples import release_notification, uuid_n
from lxml import etree

from silkway.exchange.domain.envelope import Envelope, EnvelopeRejected, SignatureRejected
from silkway.exchange.signing import Signer, TrustedKey, TrustList, TrustListInvalid, verify
from silkway.exchange.xml import encode

SIGNED_AT = datetime(2026, 3, 2, 4, 15, 31, tzinfo=UTC)
NOW = SIGNED_AT + timedelta(seconds=3)
MAX_AGE = timedelta(minutes=15)
JAN = datetime(2026, 1, 1, tzinfo=UTC)


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


KZ_KEY = _key(1)
KZ_SIGNER = Signer("KZ-2026-1", KZ_KEY)
RU_SIGNER = Signer("RU-2026-1", _key(2))
TRUST = TrustList(
    [
        TrustedKey("KZ-2026-1", KZ_KEY.public_key(), "KZ", valid_from=JAN),
        TrustedKey("RU-2026-1", RU_SIGNER.public_key, "RU", valid_from=JAN),
    ]
)


def _signed(signer: Signer = KZ_SIGNER, signed_at: datetime = SIGNED_AT) -> bytes:
    return signer.sign_envelope(release_notification(), signed_at)


def _refusal(data: bytes, trust: TrustList = TRUST, now: datetime = NOW) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(data, trust, now, MAX_AGE)
    return caught.value.code


def test_signed_envelope_verifies_and_decodes() -> None:
    verified = verify(_signed(), TRUST, NOW, MAX_AGE)
    assert verified.envelope == release_notification()
    assert (verified.key_id, verified.signer, verified.signed_at) == ("KZ-2026-1", "KZ", SIGNED_AT)


def test_signature_block_is_in_the_header() -> None:
    root = etree.fromstring(_signed())
    ns = {"sw": "urn:Silkway:Signature:v1.0", "soap": "http://www.w3.org/2003/05/soap-envelope"}
    assert root.findtext("soap:Header/sw:Signature/sw:KeyId", namespaces=ns) == "KZ-2026-1"
    assert root.findtext("soap:Header/sw:Signature/sw:Algorithm", namespaces=ns) == "Ed25519"


def test_unsigned_envelope_is_refused() -> None:
    assert _refusal(encode(release_notification())) == "signature-missing"


def test_changing_one_character_of_the_body_breaks_the_signature() -> None:
    data = _signed()
    tampered = data.replace(b"<GrossMassKg>18250.500<", b"<GrossMassKg>18250.501<")
    assert tampered != data
    assert _refusal(tampered) == "signature-invalid"


def test_changing_the_recipient_breaks_the_signature() -> None:
    data = _signed()
    tampered = data.replace(b"<wsa:To>EAEU://BY/", b"<wsa:To>EAEU://RU/")
    assert tampered != data
    assert _refusal(tampered) == "signature-invalid"


def test_changing_signed_at_breaks_the_signature() -> None:
    data = _signed()
    tampered = data.replace(b"2026-03-02T04:15:31+00:00", b"2026-03-02T04:15:32+00:00")
    assert tampered != data
    assert _refusal(tampered) == "signature-invalid"


def test_unknown_key_is_refused() -> None:
    stranger = Signer("KZ-rogue", _key(9))
    assert _refusal(_signed(stranger)) == "key-unknown"


def test_revoked_key_is_refused() -> None:
    trust = TRUST.revoke("KZ-2026-1", at=NOW - timedelta(seconds=1))
    assert _refusal(_signed(), trust) == "key-revoked"


def test_revocation_takes_effect_at_its_time() -> None:
    trust = TRUST.revoke("KZ-2026-1", at=NOW + timedelta(hours=1))
    assert verify(_signed(), trust, NOW, MAX_AGE).key_id == "KZ-2026-1"


def test_stale_signature_is_refused() -> None:
    assert _refusal(_signed(), now=SIGNED_AT + MAX_AGE + timedelta(seconds=1)) == "signature-stale"
    assert verify(_signed(), TRUST, SIGNED_AT + MAX_AGE, MAX_AGE).signed_at == SIGNED_AT


def test_future_dated_signature_is_refused_beyond_the_skew() -> None:
    assert _refusal(_signed(), now=SIGNED_AT - timedelta(minutes=5)) == "signature-from-future"
    assert verify(_signed(), TRUST, SIGNED_AT - timedelta(minutes=1), MAX_AGE).signer == "KZ"


def test_age_is_judged_when_the_bus_took_the_message_not_when_it_is_processed() -> None:
    # Taken a minute after signing, processed seven hours later by a node that was down.
    later = SIGNED_AT + timedelta(hours=7)
    taken = SIGNED_AT + timedelta(minutes=1)
    assert verify(_signed(), TRUST, later, MAX_AGE, received_at=taken).signed_at == SIGNED_AT
    assert _refusal(_signed(), now=later) == "signature-stale"
    # Waiting on the sender's side is no excuse: the bus took it too late.
    with pytest.raises(SignatureRejected, match="signed at") as caught:
        verify(_signed(), TRUST, later, MAX_AGE, received_at=later - timedelta(minutes=1))
    assert caught.value.code == "signature-stale"
    # A reception time after ``now`` cannot push the window forward.
    with pytest.raises(SignatureRejected) as caught:
        verify(_signed(), TRUST, SIGNED_AT - timedelta(minutes=5), MAX_AGE, received_at=later)
    assert caught.value.code == "signature-from-future"


def test_the_clock_skew_tolerated_is_configurable() -> None:
    early = SIGNED_AT - timedelta(minutes=5)
    assert _refusal(_signed(), now=early) == "signature-from-future"
    assert verify(_signed(), TRUST, early, MAX_AGE, skew=timedelta(minutes=6)).signer == "KZ"
    with pytest.raises(SignatureRejected) as caught:
        verify(_signed(), TRUST, SIGNED_AT - timedelta(seconds=2), MAX_AGE, skew=timedelta(0))
    assert caught.value.code == "signature-from-future"


def test_key_outside_its_validity_is_refused() -> None:
    later = TrustList(
        [TrustedKey("KZ-2026-1", KZ_KEY.public_key(), "KZ", valid_from=SIGNED_AT + timedelta(1))]
    )
    assert _refusal(_signed(), later) == "key-not-yet-valid"
    ended = TrustList(
        [TrustedKey("KZ-2026-1", KZ_KEY.public_key(), "KZ", valid_from=JAN, valid_to=SIGNED_AT)]
    )
    assert _refusal(_signed(), ended) == "key-expired"


def test_a_state_cannot_sign_for_another() -> None:
    assert _refusal(_signed(RU_SIGNER)) == "key-owner-mismatch"


def test_key_rotation_with_overlapping_keys_needs_no_downtime() -> None:
    old_key, new_key = _key(3), _key(4)
    june, july = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    trust = TrustList(
        [
            TrustedKey("KZ-old", old_key.public_key(), "KZ", valid_from=JAN, valid_to=july),
            TrustedKey("KZ-new", new_key.public_key(), "KZ", valid_from=june),
        ]
    )
    assert [key.key_id for key in trust.keys_of("KZ")] == ["KZ-old", "KZ-new"]
    old, new = Signer("KZ-old", old_key), Signer("KZ-new", new_key)
    during = datetime(2026, 6, 15, tzinfo=UTC)
    # During the overlap both keys are accepted, whichever the sender uses.
    assert verify(_signed(old, during), trust, during, MAX_AGE).key_id == "KZ-old"
    assert verify(_signed(new, during), trust, during, MAX_AGE).key_id == "KZ-new"
    # After the old key's end only the new one signs.
    after = datetime(2026, 7, 2, tzinfo=UTC)
    assert verify(_signed(new, after), trust, after, MAX_AGE).key_id == "KZ-new"
    assert _refusal(_signed(old, after), trust, after) == "key-expired"
    # Before the new key's start it is not yet valid.
    may = datetime(2026, 5, 1, tzinfo=UTC)
    assert _refusal(_signed(new, may), trust, may) == "key-not-yet-valid"


def test_platform_stamp_added_after_signing_keeps_the_signature() -> None:
    stamp = (
        b"<int:Integration><int:TrackID>" + uuid_n(8).urn.encode() + b"</int:TrackID>"
        b"<int:AcceptTime>2026-03-02T04:15:32+00:00</int:AcceptTime></int:Integration>"
    )
    data = _signed().replace(b"</soap:Header>", stamp + b"</soap:Header>")
    verified = verify(data, TRUST, NOW, MAX_AGE)
    assert verified.envelope.header.track_id == uuid_n(8)


def test_moved_namespace_declarations_and_whitespace_keep_the_signature() -> None:
    data = (
        _signed()
        .replace(b"<soap:Envelope ", b'<soap:Envelope xmlns:extra="urn:example:extra" ')
        .replace(b"<wsa:Action>", b"\n  <wsa:Action>")
    )
    assert verify(data, TRUST, NOW, MAX_AGE).key_id == "KZ-2026-1"


def test_signing_twice_is_refused() -> None:
    with pytest.raises(SignatureRejected) as caught:
        KZ_SIGNER.sign(_signed(), SIGNED_AT)
    assert caught.value.code == "signature-already-present"


def test_unsupported_algorithm_is_refused() -> None:
    data = _signed().replace(b">Ed25519<", b">RSA-SHA1<")
    assert _refusal(data) == "signature-algorithm-unsupported"


def test_signature_of_the_wrong_length_is_malformed() -> None:
    root = etree.fromstring(_signed())
    value = root.find(".//{urn:Silkway:Signature:v1.0}SignatureValue")
    assert value is not None
    value.text = "AAAA"
    assert _refusal(etree.tostring(root)) == "signature-malformed"


def test_garbage_is_an_envelope_rejection_not_a_signature_one() -> None:
    with pytest.raises(EnvelopeRejected) as caught:
        verify(b"not xml", TRUST, NOW, MAX_AGE)
    assert caught.value.code == "xml-malformed"


def test_verified_envelope_is_the_decoded_one() -> None:
    verified = verify(_signed(), TRUST, NOW, MAX_AGE)
    assert isinstance(verified.envelope, Envelope)
    assert verified.envelope.header.message_id == uuid_n(1)


def test_trust_list_refuses_inconsistent_entries() -> None:
    public = KZ_KEY.public_key()
    with pytest.raises(TrustListInvalid):
        TrustList([TrustedKey("K", public, "KZ", JAN), TrustedKey("K", public, "KZ", JAN)])
    with pytest.raises(TrustListInvalid):
        TrustedKey("K", public, "KZ", valid_from=JAN, valid_to=JAN)
    with pytest.raises(TrustListInvalid):
        TrustedKey("K", public, "CN", valid_from=JAN)
    with pytest.raises(TrustListInvalid):
        TrustedKey("K", public, "KZ", valid_from=datetime(2026, 1, 1))
    with pytest.raises(TrustListInvalid):
        TRUST.revoke("nobody", NOW)
