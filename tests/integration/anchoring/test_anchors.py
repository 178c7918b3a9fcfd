"""Anchors: a node's log heads, signed and kept by the Commission, catch a consistent rewrite.

The node under test runs on SQLite and on PostgreSQL; the Commission on its own SQLite file.
Everything goes through the command line and the real exchange (sealed, signed envelopes), on
the system clock as the command line does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.auth import cli_user
from typer.testing import CliRunner

from silkway.anchoring import service as anchoring
from silkway.bootstrap import Node, build_node, publish_embedded_trust
from silkway.entrypoints.cli import app
from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.identity.domain.principal import Role
from silkway.kernel.errors import ActionInvalid
from silkway.node.clock import SystemClock
from silkway.settings import Settings
from silkway.transit import service as transit
from silkway.transit.domain import audit
from silkway.transit.domain.movement import Accept
from silkway.transit.security import QuotedSecurityGate

runner = CliRunner()


@pytest.fixture
def setup(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("SILKWAY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SILKWAY_DATABASE_URL", raising=False)
    commission = f"sqlite:///{tmp_path / 'eec.sqlite'}"
    monkeypatch.setenv("SILKWAY_COMMISSION_DATABASE_URL", commission)
    # The Commission's signed trust list names KZ's key and its own, as it does in a Union.
    publish_embedded_trust(Settings(), ("KZ", "EEC"), SystemClock().now())
    return database_url, commission


def _cli(*args: str) -> tuple[int, list[Any]]:
    result = runner.invoke(app, list(args))
    # Each finding is one JSON document, the summary the last.
    decoder, out, rest = json.JSONDecoder(), [], result.stdout.strip()
    while rest:
        value, end = decoder.raw_decode(rest)
        out.append(value)
        rest = rest[end:].strip()
    return result.exit_code, out


def _node(state: str, url: str) -> Node:
    return build_node(state, Settings(), database_url=url, security=QuotedSecurityGate())


def _lodge_and_accept(url: str) -> str:
    node = _node("KZ", url)
    try:
        decl = example_declaration("western-road", SystemClock().now().date())
        reference = transit.lodge_declaration(node.transit, decl).movement.reference
        transit.act(node.transit, reference, Accept())
    finally:
        node.dispose()
    return reference


def _anchor(url: str, commission: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Anchor KZ by the command line, then relay its outbox to the Commission's node."""
    monkeypatch.setenv("SILKWAY_DATABASE_URL", url)
    try:
        cli_user(monkeypatch, "KZ", Role.ADMINISTRATOR)
        code, out = _cli("audit", "anchor", "--node", "KZ")
    finally:
        monkeypatch.delenv("SILKWAY_DATABASE_URL")
    assert code == 0, out
    kz, eec = _node("KZ", url), _node("EEC", commission)
    receipts: list[exchange.Receipt] = []
    try:
        report = exchange.relay(
            kz.exchange, lambda _s, data, _m: receipts.append(exchange.receive(eec.exchange, data))
        )
    finally:
        kz.dispose()
        eec.dispose()
    # The Commission is no partner in a process: its anchors travel without an interstate test.
    assert (report.sent, report.paper) == (1, 0)
    assert [(r.outcome, r.code, r.errors) for r in receipts] == [
        ("accepted", "P.CP.01.MSG.915", [])
    ]
    return str(out[0]["anchor"])


def _rewrite_consistently(url: str, reference: str) -> None:
    """Change the first event and recompute every hash of the chain, as an intruder with
    write access to the table would."""
    engine = create_engine(url)
    node = _node("KZ", url)
    try:
        records, verdict = transit.event_log(node.transit, reference)
    finally:
        node.dispose()
    assert verdict.ok
    previous = audit.GENESIS_HASH
    with engine.begin() as conn:
        for record in records:
            actor = "officer:someone.else" if record.seq == 1 else record.actor
            digest = audit.record_hash(
                previous, reference, record.seq, record.kind, record.payload, record.at, actor
            )
            conn.execute(
                text(
                    "UPDATE movement_events SET actor = :actor, prev_hash = :prev, hash = :hash"
                    " WHERE movement_reference = :ref AND seq = :seq"
                ),
                {"actor": actor, "prev": previous, "hash": digest, "ref": reference,
                 "seq": record.seq},
            )  # fmt: skip
            previous = digest
    engine.dispose()


def test_a_consistent_rewrite_passes_alone_and_is_caught_by_the_anchor(
    setup: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, commission = setup
    reference = _lodge_and_accept(url)
    anchor_id = _anchor(url, commission, monkeypatch)
    verify = ("audit", "verify", "--node", "KZ", "--database-url", url)

    code, out = _cli(*verify)
    assert (code, out[-1]["ok"], out[-1]["anchors"]) == (0, True, {"KZ": anchor_id})

    _rewrite_consistently(url, reference)
    code, out = _cli(*verify, "--skip-anchors")
    assert (code, out) == (0, [{"checked": 1, "failed": 0, "ok": True, "access_log_records": 1}])

    code, out = _cli(*verify)
    assert code == 2
    [finding, summary] = out
    assert finding["chain"] == f"movement:{reference}"
    assert finding["anchor"] == anchor_id
    assert "rewritten" in finding["reason"]
    assert (summary["ok"], summary["failed"]) == (False, 1)


def test_a_log_cut_short_after_its_anchor_is_named(
    setup: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, commission = setup
    _lodge_and_accept(url)
    _anchor(url, commission, monkeypatch)
    engine = create_engine(url)
    with engine.begin() as conn:
        # The last access-log record (the anchoring run itself) goes: what is left still chains.
        conn.execute(text("DELETE FROM access_log WHERE seq = (SELECT max(seq) FROM access_log)"))
    engine.dispose()
    verify = ("audit", "verify", "--node", "KZ", "--database-url", url)
    assert _cli(*verify, "--skip-anchors")[0] == 0
    code, out = _cli(*verify)
    assert code == 2
    assert [(f["chain"], f["reason"]) for f in out[:-1]] == [
        ("access-log", "fewer than the 1 records anchored")
    ]


def test_without_an_anchor_the_check_says_so_and_the_commission_takes_none(
    setup: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, commission = setup
    _lodge_and_accept(url)
    eec = _node("EEC", commission)  # a Commission that holds no anchor of KZ yet
    code, out = _cli("audit", "verify", "--node", "KZ", "--database-url", url)
    assert (code, out[-1]["anchors"]) == (0, {"KZ": None})
    # The Commission keeps anchors and takes none of its own.
    try:
        with pytest.raises(ActionInvalid) as refused:
            anchoring.take_anchor(eec.anchoring)
    finally:
        eec.dispose()
    assert refused.value.violations[0].code == "anchor-commission"


def test_a_commission_database_that_is_not_there_is_named_and_not_made(
    setup: tuple[str, str],
) -> None:
    url, commission = setup
    _lodge_and_accept(url)
    code, out = _cli("audit", "verify", "--node", "KZ", "--database-url", url)
    path = commission.removeprefix("sqlite:///")
    assert code == 2
    [finding] = out[:-1]
    assert finding["chain"] == "anchors"
    assert finding["reason"].startswith(f"no database for node EEC at {path}: ")
    assert "--skip-anchors" in finding["reason"]
    assert not Path(path).exists()
    # The chains themselves check out all the same.
    code, out = _cli("audit", "verify", "--node", "KZ", "--database-url", url, "--skip-anchors")
    assert (code, out[-1]["ok"]) == (0, True)
