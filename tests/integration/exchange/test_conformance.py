"""The conformance kit measures whether P.CP.01 works between two nodes, and the register shows it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

from silkway.exchange import service as exchange
from silkway.exchange.conformance import run_conformance
from silkway.exchange.register import headline, import_register, shipped_register
from silkway.kernel.errors import ActionInvalid


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, ("KZ", "BY", "EEC"), START) as f:
        with f.nodes["EEC"].transit.uow() as uow:
            import_register(uow, shipped_register(), START, source="shipped")
            uow.commit()
        yield f


def run(fed: Federation) -> dict[str, list[object]]:
    return run_conformance(  # type: ignore[return-value]
        fed.contexts["KZ"],
        fed.contexts["BY"],
        fed.send,
        lambda: fed.pump(),
        register=fed.contexts["EEC"],
        timeout=0.5,
    )


def test_healthy_nodes_pass_every_scenario_both_ways(fed: Federation) -> None:
    results = run(fed)
    for direction, outcomes in results.items():
        assert outcomes, direction
        failed = [o for o in outcomes if not o.passed]  # type: ignore[attr-defined]
        assert failed == [], (direction, failed)
    for state, other in (("KZ", "BY"), ("BY", "KZ")):
        with fed.nodes[state].transit.uow() as uow:
            assert uow.exchange.partners("P.CP.01") == {other: True}
    # Tests leave nothing behind at the receiving node.
    from silkway.transit import service as transit

    for state in ("KZ", "BY"):
        page = transit.list_movements(
            fed.nodes[state].transit, transit.MovementFilter(), offset=0, limit=5
        )
        assert page.total == 0
    with fed.nodes["EEC"].transit.uow() as uow:
        board = headline(uow)
        journal = uow.exchange.journal(process="P.CP.01", limit=500)
    row = next(p for p in board["processes"] if p["code"] == "P.CP.01")
    assert row["measured_pairs"] == {"BY-KZ": True}
    assert board["approved"] == 6
    # Only two of five states measured: not yet in operation Union-wide.
    assert board["in_operation_measured"] == 0
    assert journal
    answered = [j for j in journal if j.outcome is not None]
    assert answered
    assert all(j.latency_ms is not None and j.latency_ms >= 0 for j in answered)


def test_a_broken_handler_fails_the_process_and_the_register_shows_it(fed: Federation) -> None:
    def broken(uow: object, envelope: object, now: datetime) -> None:
        raise ActionInvalid("handler out of order")

    by = fed.contexts["BY"]
    fed.contexts["BY"] = exchange.ExchangeContext(
        by.node, by.sealer, handlers={**by.handlers, "P.CP.01.MSG.010": broken}, kits=by.kits
    )
    results = run(fed)
    kz_to_by = {o.scenario: o.passed for o in results["KZ->BY"]}  # type: ignore[attr-defined]
    assert kz_to_by["release-notification-accepted"] is False
    assert all(o.passed for o in results["BY->KZ"])  # type: ignore[attr-defined]
    with fed.nodes["KZ"].transit.uow() as uow:
        assert uow.exchange.partners("P.CP.01") == {"BY": False}
    with fed.nodes["EEC"].transit.uow() as uow:
        row = next(p for p in headline(uow)["processes"] if p["code"] == "P.CP.01")
    assert row["measured_pairs"] == {"BY-KZ": False}


def test_register_import_refuses_bad_rows_and_stores_nothing(fed: Federation) -> None:
    from silkway.exchange.register import RegisterImportInvalid

    bad = "code,title,group,legal_acts,approved\nP.XX.1,Bad,XX,,maybe\nP.CP.99,Fine,CP,,true\n"
    with fed.nodes["EEC"].transit.uow() as uow:
        before = len(uow.exchange.processes())
        with pytest.raises(RegisterImportInvalid) as err:
            import_register(uow, bad, START, source="test")
        assert {v.pointer for v in err.value.violations} == {"/rows/2/code"}
        assert len(uow.exchange.processes()) == before
