"""``silkway messages evidence`` writes a message's bundle from the node's database, and
``silkway messages verify-evidence`` accepts it.

BY's node (on SQLite and on PostgreSQL) receives KZ's release notification over the exchange,
sealed and signed; the command line then reads BY's database as an operator's would. Everything
runs on the system clock, as the command line does.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from silkway.bootstrap import Node, build_node, publish_embedded_trust
from silkway.entrypoints.cli import app
from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.node.clock import SystemClock
from silkway.settings import Settings
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release
from silkway.transit.security import QuotedSecurityGate

runner = CliRunner()
UNKNOWN = "urn:uuid:00000000-0000-4000-8000-000000000000"


@pytest.fixture
def by_database(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """BY's database, named as an operator names it (``SILKWAY_DATABASE_URL``)."""
    monkeypatch.setenv("SILKWAY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SILKWAY_DATABASE_URL", raising=False)
    publish_embedded_trust(Settings(), ("KZ", "BY"), SystemClock().now())
    return database_url


def _open(node: Node, partner: str) -> None:
    """The process in operation towards ``partner``, as a passing interstate test leaves it."""
    with node.transit.uow() as uow:
        uow.exchange.set_partner("P.CP.01", partner, True, node.transit.clock.now(), "test")
        uow.commit()


def _release_to_by(by_url: str) -> tuple[str, str]:
    """KZ releases a movement bound for BY; BY receives the release notification. Its
    MessageID, and the movement's reference."""
    kz = build_node("KZ", security=QuotedSecurityGate())
    by = build_node("BY", database_url=by_url)
    try:
        _open(kz, "BY")
        _open(by, "KZ")
        decl = example_declaration("western-road", kz.transit.clock.now().date())
        reference = transit.lodge_declaration(kz.transit, decl).movement.reference
        transit.act(kz.transit, reference, Accept())
        transit.act(
            kz.transit, reference, Release(decl.security[0].reference, decl.departure_office)
        )
        receipts: list[exchange.Receipt] = []

        def deliver(subject: str, data: bytes, _message_id: str) -> None:
            if subject.split(".")[1] == "BY":
                receipts.append(exchange.receive(by.exchange, data))

        exchange.relay(kz.exchange, deliver)
        [notification] = [r for r in receipts if r.code == "P.CP.01.MSG.010"]
        assert notification.outcome == "accepted"
    finally:
        kz.dispose()
        by.dispose()
    return notification.message_id, reference


def _cli(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, list(args))
    return result.exit_code, json.loads(result.stdout)


def test_the_evidence_command_writes_a_bundle_that_verifies(
    by_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id, reference = _release_to_by(by_database)
    monkeypatch.setenv("SILKWAY_DATABASE_URL", by_database)
    file = tmp_path / "out" / "evidence.json"
    file.parent.mkdir()

    code, out = _cli("messages", "evidence", message_id, "--node", "BY", "--out", str(file))
    assert (code, out) == (0, {"written": str(file), "message_id": message_id})
    bundle = json.loads(file.read_text(encoding="utf-8"))
    assert (bundle["format"], bundle["made_by"]) == ("silkway-evidence/1", "BY")
    message, answer = bundle["message"], bundle["answer"]
    assert (message["message_id"], message["code"], message["outcome"]) == (
        message_id,
        "P.CP.01.MSG.010",
        "accepted",
    )
    assert (message["from_state"], message["to_state"], message["sender_key"]["owner"]) == (
        "KZ",
        "BY",
        "KZ",
    )
    assert reference.encode() in base64.b64decode(message["envelope"])
    assert (answer["relates_to"], answer["outcome"], answer["answerer_key"]["owner"]) == (
        message_id,
        "accepted",
        "BY",
    )

    settings = Settings()
    trust = settings.key_folder() / "trust.json"
    verify = ("messages", "verify-evidence", str(file))
    assert _cli(*verify) == (0, {"ok": True, "problems": []})
    assert _cli(*verify, "--trust", str(trust), "--anchor", str(settings.trust_anchor())) == (
        0,
        {"ok": True, "problems": []},
    )
    # The file is the evidence: a byte changed in it is caught offline.
    bundle["answer"]["outcome"] = "rejected"
    file.write_text(json.dumps(bundle), encoding="utf-8")
    assert _cli(*verify) == (
        2,
        {
            "ok": False,
            "problems": ["answer: the signed outcome is 'accepted', the bundle says 'rejected'"],
        },
    )


def test_an_unknown_message_is_refused_and_no_file_is_written(
    by_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _release_to_by(by_database)
    monkeypatch.setenv("SILKWAY_DATABASE_URL", by_database)
    file = tmp_path / "evidence.json"

    code, out = _cli("messages", "evidence", UNKNOWN, "--node", "BY", "--out", str(file))
    assert code == 1
    assert out == {
        "error": "action-invalid",
        "message": f"no message {UNKNOWN!r} was received at the BY node",
        "errors": [{"code": "message-unknown", "pointer": "/message_id", "message": UNKNOWN}],
    }
    assert not file.exists()


def test_a_bundle_that_cannot_be_written_is_refused_precisely(
    by_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id, _ = _release_to_by(by_database)
    monkeypatch.setenv("SILKWAY_DATABASE_URL", by_database)
    file = tmp_path / "missing" / "evidence.json"

    code, out = _cli("messages", "evidence", message_id, "--node", "BY", "--out", str(file))
    assert code == 1
    assert out["error"] == "file-unwritable"
    assert out["message"].startswith(f"{file}: ")
    assert not file.parent.exists()
