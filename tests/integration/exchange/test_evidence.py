"""The evidence of a message: made from what the receiving node kept, verified offline."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation
from typer.testing import CliRunner

from silkway.entrypoints.cli import app
from silkway.examples import example_declaration
from silkway.exchange.evidence import evidence_bundle
from silkway.exchange.signing.evidence import verify_bundle
from silkway.kernel.errors import ActionInvalid
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release

runner = CliRunner()


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, ("KZ", "BY"), START) as f:
        yield f


def _release_notification(fed: Federation) -> tuple[str, dict[str, Any]]:
    """Release a KZ movement to BY over the exchange; BY's evidence of the notification."""
    fed.open_all()
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date())
    reference = transit.lodge_declaration(kz, decl).movement.reference
    transit.act(kz, reference, Accept())
    transit.act(kz, reference, Release(decl.security[0].reference, decl.departure_office))
    fed.pump()
    with fed.nodes["BY"].transit.read() as uow:
        [entry] = [e for e in uow.exchange.inbox(limit=100) if e.message_code == "P.CP.01.MSG.010"]
    return reference, evidence_bundle(fed.contexts["BY"], entry.message_id)


def _verify_file(tmp_path: Path, bundle: dict[str, Any], *options: str) -> tuple[int, Any]:
    file = tmp_path / "evidence.json"
    file.write_text(json.dumps(bundle))
    result = runner.invoke(app, ["messages", "verify-evidence", str(file), *options])
    return result.exit_code, json.loads(result.stdout)


def test_a_genuine_bundle_verifies_offline(fed: Federation, tmp_path: Path) -> None:
    reference, bundle = _release_notification(fed)
    message, answer = bundle["message"], bundle["answer"]
    assert (message["from_state"], message["to_state"], message["outcome"]) == (
        "KZ",
        "BY",
        "accepted",
    )
    assert reference.encode() in base64.b64decode(message["envelope"])
    assert message["sender_key"]["owner"] == "KZ"
    assert (answer["outcome"], answer["answerer_key"]["owner"]) == ("accepted", "BY")
    assert answer["relates_to"] == message["message_id"]
    # The very answer KZ received, not one sealed anew for the bundle.
    assert answer["as_sent"] is True
    with fed.nodes["KZ"].transit.read() as uow:
        received_by_kz = uow.exchange.envelope_received(answer["message_id"])
    assert received_by_kz is not None
    assert base64.b64decode(answer["envelope"]) == received_by_kz[0]
    trust = str(fed.keys.folder / "trust.json")
    anchor = str(fed.settings.trust_anchor())
    assert _verify_file(tmp_path, bundle, "--trust", trust, "--anchor", anchor) == (
        0,
        {"ok": True, "problems": []},
    )


def test_a_tampered_envelope_fails_on_its_signature(fed: Federation) -> None:
    reference, bundle = _release_notification(fed)
    data = base64.b64decode(bundle["message"]["envelope"])
    forged = data.replace(reference[-4:].encode(), b"0000", 1)
    assert forged != data
    bundle["message"]["envelope"] = base64.b64encode(forged).decode()
    [problem] = verify_bundle(bundle)
    assert problem.startswith("message: ")
    assert "signature" in problem


def test_another_key_fails_and_the_trust_list_tells_it_apart(
    fed: Federation, tmp_path: Path
) -> None:
    _, bundle = _release_notification(fed)
    other = Ed25519PrivateKey.generate().public_key()
    raw = other.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    bundle["message"]["sender_key"]["public_key"] = base64.b64encode(raw).decode()
    code, out = _verify_file(tmp_path, bundle)
    assert code == 2
    assert out["problems"][0].startswith(
        f"message: the signature does not verify with the listed key"
        f" {bundle['message']['sender_key']['key_id']}"
    )


def test_a_tampered_answer_fails_with_the_reason(fed: Federation) -> None:
    _, bundle = _release_notification(fed)
    lied = json.loads(json.dumps(bundle))
    lied["answer"]["outcome"] = "rejected"
    assert verify_bundle(lied) == [
        "answer: the signed outcome is 'accepted', the bundle says 'rejected'"
    ]
    moved = json.loads(json.dumps(bundle))
    data = base64.b64decode(moved["answer"]["envelope"]).replace(b"accepted", b"rejected", 1)
    moved["answer"]["envelope"] = base64.b64encode(data).decode()
    [problem] = verify_bundle(moved)
    assert problem.startswith("answer: the signature does not verify")
    elsewhere = json.loads(json.dumps(bundle))
    elsewhere["answer"] = _release_notification_answer_of_another(fed)
    assert "answer: the R.006 does not refer to the message (RelatesTo)" in verify_bundle(elsewhere)


def _release_notification_answer_of_another(fed: Federation) -> dict[str, Any]:
    """BY's genuine answer to another message (the anticipated arrival)."""
    with fed.nodes["BY"].transit.read() as uow:
        [entry] = [e for e in uow.exchange.inbox(limit=100) if e.message_code == "P.CP.01.MSG.901"]
    answer: dict[str, Any] = evidence_bundle(fed.contexts["BY"], entry.message_id)["answer"]
    return answer


def test_a_message_never_received_has_no_evidence(fed: Federation) -> None:
    with pytest.raises(ActionInvalid) as refused:
        evidence_bundle(fed.contexts["BY"], "urn:uuid:00000000-0000-4000-8000-000000000000")
    assert refused.value.violations[0].code == "message-unknown"
