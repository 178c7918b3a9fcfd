"""The trust list the Commission signs: what a node takes, what it refuses, what it keeps."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.conftest import START

from silkway.exchange.signing.commission import TrustPublisher
from silkway.exchange.signing.keeper import TrustKeeper, TrustListUnusable
from silkway.exchange.signing.keys import TrustList, TrustListInvalid
from silkway.exchange.signing.keystore import KeyStore, SigningKeyMissing
from silkway.exchange.signing.published import sign_trust_list

WEEK = timedelta(days=7)
GRACE = timedelta(hours=72)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def publisher(folder: Path) -> TrustPublisher:
    p = TrustPublisher(folder, folder / "trust-signing.pem", folder / "trust-anchor.json")
    p.init(START)
    return p


def keeper(folder: Path, state: str = "KZ") -> TrustKeeper:
    return TrustKeeper(state, folder, folder / "trust-anchor.json", grace=GRACE)


def published_with_kz(folder: Path, publisher: TrustPublisher) -> str:
    keys = KeyStore(folder)
    signer = keys.create("KZ", START)
    publisher.publish(START, validity=WEEK, add=keys.requests())
    return signer.key_id


def test_creating_a_key_never_writes_the_trust_list(folder: Path) -> None:
    keys = KeyStore(folder)
    keys.create("KZ", START)
    assert not (folder / "trust.json").exists()
    assert [r.owner for r in keys.requests()] == ["KZ"]


def test_a_key_signs_only_once_the_commission_publishes_it(
    folder: Path, publisher: TrustPublisher
) -> None:
    keys = KeyStore(folder)
    signer = keys.create("KZ", START)
    with pytest.raises(SigningKeyMissing, match="keys create"):
        keys.signer("KZ", TrustList(), START)
    publisher.publish(START, validity=WEEK, add=keys.requests())
    trust = keeper(folder).current(START)
    assert keys.signer("KZ", trust, START).key_id == signer.key_id


def test_a_node_takes_a_newer_list_and_verifies_with_it(
    folder: Path, publisher: TrustPublisher
) -> None:
    kz = published_with_kz(folder, publisher)
    held = keeper(folder)
    assert held.current(START).get(kz) is not None
    keys = KeyStore(folder)
    ru = keys.create("RU", START)
    publisher.publish(START + timedelta(hours=1), validity=WEEK, add=keys.requests())
    trust = held.current(START + timedelta(hours=1))
    assert trust.get(ru.key_id) is not None
    assert held.held(START) is not None
    assert held.held(START).version == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda doc: doc["keys"], "trust-list-unsigned"),
        (lambda doc: {k: v for k, v in doc.items() if k != "signature"}, "trust-list-unsigned"),
        (lambda doc: {**doc, "version": doc["version"] + 5}, "trust-list-signature-invalid"),
        (lambda doc: {**doc, "signed_by": "EEC-someone-else"}, "trust-list-signer-unknown"),
    ],
)
def test_an_unsigned_or_tampered_list_is_refused_and_the_held_one_kept(
    folder: Path, publisher: TrustPublisher, tamper: object, code: str
) -> None:
    kz = published_with_kz(folder, publisher)
    held = keeper(folder)
    assert held.current(START).get(kz) is not None
    path = folder / "trust.json"
    document = json.loads(path.read_text())
    path.write_text(json.dumps(tamper(document)))  # type: ignore[operator]
    trust = held.current(START + timedelta(minutes=1))
    assert trust.get(kz) is not None
    assert held.last_refusal is not None
    assert held.last_refusal.code == code


def test_a_list_signed_by_another_key_under_the_anchors_name_is_refused(
    folder: Path, publisher: TrustPublisher
) -> None:
    published_with_kz(folder, publisher)
    anchor_id = json.loads((folder / "trust-anchor.json").read_text())["key_id"]
    forged = sign_trust_list(
        TrustList(),
        version=99,
        issued_at=START,
        expires_at=START + WEEK,
        key_id=anchor_id,
        private_key=Ed25519PrivateKey.generate(),
    )
    held = keeper(folder)
    held.current(START)
    (folder / "trust.json").write_bytes(forged)
    assert len(held.current(START)) == 1
    assert held.last_refusal is not None
    assert held.last_refusal.code == "trust-list-signature-invalid"


def test_an_older_list_is_refused_even_after_a_restart(
    folder: Path, publisher: TrustPublisher
) -> None:
    published_with_kz(folder, publisher)
    first = (folder / "trust.json").read_bytes()
    keys = KeyStore(folder)
    ru = keys.create("RU", START)
    publisher.publish(START, validity=WEEK, add=keys.requests())
    keeper(folder).current(START)  # takes version 2 and keeps it
    (folder / "trust.json").write_bytes(first)  # version 1 put back
    restarted = keeper(folder)
    assert restarted.current(START).get(ru.key_id) is not None
    assert restarted.last_refusal is not None
    assert restarted.last_refusal.code == "trust-list-older"


def test_an_expired_list_is_refused(folder: Path, publisher: TrustPublisher) -> None:
    published_with_kz(folder, publisher)
    held = keeper(folder)
    with pytest.raises(TrustListUnusable) as caught:
        held.current(START + WEEK + timedelta(seconds=1))
    assert caught.value.code == "trust-list-missing"
    assert held.last_refusal is not None
    assert held.last_refusal.code == "trust-list-expired"


def test_through_an_outage_the_last_list_serves_for_the_grace_then_not(
    folder: Path, publisher: TrustPublisher
) -> None:
    kz = published_with_kz(folder, publisher)
    held = keeper(folder)
    held.current(START)
    within_grace = START + WEEK + GRACE - timedelta(minutes=1)
    assert held.current(within_grace).get(kz) is not None
    with pytest.raises(TrustListUnusable) as caught:
        held.current(START + WEEK + GRACE)
    assert caught.value.code == "trust-list-expired"
    # The Commission is back: its new publication is taken at once.
    later = START + WEEK + GRACE + timedelta(hours=1)
    publisher.publish(later, validity=WEEK)
    assert held.current(later).get(kz) is not None


def test_a_rotation_closes_the_old_key_at_the_overlaps_end(
    folder: Path, publisher: TrustPublisher
) -> None:
    old = published_with_kz(folder, publisher)
    keys = KeyStore(folder)
    new = keys.rotate("KZ", START + timedelta(hours=1), timedelta(hours=24))
    publisher.publish(START + timedelta(hours=1), validity=WEEK, add=keys.requests())
    trust = keeper(folder).current(START + timedelta(hours=2))
    old_key = trust.get(old)
    assert old_key is not None
    assert old_key.valid_to == START + timedelta(hours=25)
    assert keys.signer("KZ", trust, START + timedelta(hours=2)).key_id == new.key_id


def test_revoking_an_unknown_key_refuses_the_publication(
    folder: Path, publisher: TrustPublisher
) -> None:
    published_with_kz(folder, publisher)
    before = (folder / "trust.json").read_bytes()
    with pytest.raises(TrustListInvalid, match="no key"):
        publisher.publish(START, validity=WEEK, revoke=["KZ-nobody"])
    assert (folder / "trust.json").read_bytes() == before


def test_concurrent_key_creations_lose_nothing(folder: Path, publisher: TrustPublisher) -> None:
    """The review's case: six concurrent creations, thirty times over."""
    keys = KeyStore(folder)
    errors: list[BaseException] = []
    created: list[str] = []

    def create(state: str) -> None:
        try:
            created.append(keys.create(state, START).key_id)
        except BaseException as exc:  # noqa: BLE001 - every failure is the test's finding
            errors.append(exc)

    for _ in range(30):
        threads = [
            threading.Thread(target=create, args=(s,))
            for s in ("KZ", "RU", "BY", "KG", "AM", "EEC")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert len(created) == 180
    published = publisher.publish(START, validity=WEEK, add=keys.requests())
    assert {k.key_id for k in published.keys} == set(created)


def test_concurrent_publications_lose_nothing(folder: Path, publisher: TrustPublisher) -> None:
    keys = KeyStore(folder)
    requests = []
    for state in ("KZ", "RU", "BY", "KG", "AM", "EEC"):
        signer = keys.create(state, START)
        requests.append(next(r for r in keys.requests() if r.key_id == signer.key_id))
    errors: list[BaseException] = []

    def publish(i: int) -> None:
        try:
            publisher.publish(START, validity=WEEK, add=[requests[i]])
        except BaseException as exc:  # noqa: BLE001 - every failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = publisher.published()
    assert final is not None
    assert final.version == 6
    assert {k.key_id for k in final.keys} == {r.key_id for r in requests}
