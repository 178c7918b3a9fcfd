"""The federation flow KZ -> RU -> BY over a real bus: in-process and NATS JetStream."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation
from tests.natsd import NatsServer, require_nats

from silkway.examples import example_declaration
from silkway.exchange.bus.inproc import InProcessBus
from silkway.exchange.bus.nats import NatsBus
from silkway.exchange.bus.ports import Bus, subject_for
from silkway.exchange.ports import OutboxView
from silkway.exchange.register import headline, import_register, shipped_register
from silkway.exchange.runtime import ExchangeRuntime
from silkway.transit import service as transit
from silkway.transit.domain.movement import (
    Accept,
    MovementStatus,
    RecordArrival,
    RecordPassage,
    Release,
)


def _nats(tmp_path: Path) -> Iterator[NatsServer]:
    require_nats()
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["inproc", "nats"])
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    if request.param == "inproc":
        yield InProcessBus()
        return
    for server in _nats(tmp_path):
        yield NatsBus(server.url, duplicate_window=60.0)


@pytest.fixture
def live(tmp_path: Path, bus: Bus) -> Iterator[tuple[Federation, ExchangeRuntime]]:
    with federation(tmp_path, ("KZ", "RU", "BY", "EEC"), START) as fed:
        with fed.nodes["EEC"].transit.uow() as uow:
            import_register(uow, shipped_register(), START, source="shipped")
            uow.commit()
        members = {s: c for s, c in fed.contexts.items() if s != "EEC"}
        runtime = ExchangeRuntime(members, bus, journal=fed.contexts["EEC"], relay_interval=0.01)
        runtime.start()
        try:
            yield fed, runtime
        finally:
            runtime.stop()


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def status_at(fed: Federation, state: str, ref: str) -> MovementStatus | None:
    try:
        return transit.get_movement(fed.nodes[state].transit, ref).status
    except transit.MovementNotFound:
        return None


def test_kz_ru_by_over_the_bus(live: tuple[Federation, ExchangeRuntime]) -> None:
    fed, runtime = live
    results = runtime.conformance_all(timeout=10.0)
    assert set(results) == {"P.CP.01", "P.SO.01"}
    assert all(
        o.passed for pairs in results.values() for outcomes in pairs.values() for o in outcomes
    ), results
    assert len(results["P.SO.01"]) == 6  # three nodes: both directions of three pairs

    kz, ru, by = (fed.nodes[s].transit for s in ("KZ", "RU", "BY"))
    decl = example_declaration("western-road", START.date())
    ref = transit.lodge_declaration(kz, decl).movement.reference
    transit.act(kz, ref, Accept())
    transit.act(kz, ref, Release(decl.security[0].reference, decl.departure_office))
    eventually(lambda: status_at(fed, "BY", ref) is MovementStatus.RELEASED)
    eventually(lambda: status_at(fed, "RU", ref) is MovementStatus.RELEASED)

    ru_office = next(o for o in decl.intermediate_offices if kz.reference.offices[o].state == "RU")
    transit.act(ru, ref, RecordPassage(ru_office))
    eventually(lambda: ru_office in transit.get_movement(kz, ref).passed_offices)
    transit.act(by, ref, RecordArrival(decl.destination_office))
    eventually(lambda: status_at(fed, "KZ", ref) is MovementStatus.COMPLETED)
    eventually(lambda: status_at(fed, "BY", ref) is MovementStatus.COMPLETED)
    eventually(lambda: status_at(fed, "RU", ref) is MovementStatus.COMPLETED)

    # Every message KZ sent about the movement was answered with a positive R.006; read the
    # outbox once that holds, or a message still on its way would show no channel yet.
    eventually(lambda: all(v.outcome == "accepted" for v in _views(fed, ref)))
    with fed.nodes["KZ"].transit.uow() as uow:
        views = uow.exchange.outbox_views(movement_reference=ref)
    assert {v.channel for v in views} == {"bus"}
    with fed.nodes["EEC"].transit.uow() as uow:
        board = headline(uow)
        journal = uow.exchange.journal(conversation_id=transit.conversation_of(ref), limit=100)
    row = next(p for p in board["processes"] if p["code"] == "P.CP.01")
    assert row["measured_pairs"] == {"BY-KZ": True, "BY-RU": True, "KZ-RU": True}
    assert {(j.from_state, j.to_state) for j in journal} >= {
        ("KZ", "BY"),
        ("KZ", "RU"),
        ("BY", "KZ"),
    }


def _views(fed: Federation, ref: str) -> list[OutboxView]:
    with fed.nodes["KZ"].transit.uow() as uow:
        views = uow.exchange.outbox_views(movement_reference=ref)
    return [v for v in views if v.message_kind != "processing_result"]


def test_an_envelope_put_on_the_bus_by_another_node_is_refused(
    live: tuple[Federation, ExchangeRuntime], caplog: pytest.LogCaptureFixture
) -> None:
    """The subject names who published: RU passing KZ's genuine envelope off as its own
    delivery to BY is refused by BY (on NATS the server's permissions stop it before that)."""
    fed, runtime = live
    fed.open_all()
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date())
    ref = transit.lodge_declaration(kz, decl).movement.reference
    transit.act(kz, ref, Accept())
    transit.act(kz, ref, Release(decl.security[0].reference, decl.departure_office))
    runtime.relay_now()
    eventually(lambda: status_at(fed, "BY", ref) is MovementStatus.RELEASED)
    with fed.nodes["BY"].transit.read() as uow:
        entry = next(e for e in uow.exchange.inbox(limit=10) if e.movement_reference == ref)
        kept = uow.exchange.envelope_received(entry.message_id)
    assert kept is not None
    with caplog.at_level(logging.WARNING, logger="silkway.exchange"):
        runtime.send(subject_for("BY", "P.CP.01", "RU"), kept[0], "relayed-by-ru")
        eventually(lambda: "published by RU" in caplog.text)
    with fed.nodes["BY"].transit.read() as uow:
        assert [e.message_id for e in uow.exchange.inbox(limit=100)].count(entry.message_id) == 1
