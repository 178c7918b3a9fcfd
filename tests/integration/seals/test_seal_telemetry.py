"""Seals end to end on SQLite and PostgreSQL: registry, activation at release, ingestion,
incidents, hand-overs, silence, storage, retention, deactivation at completion."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from tests.integration.seals.seal_support import (
    IMEI,
    SEAL_ID,
    corridor_track,
    count_rows,
    register,
    released_movement,
    seal_node,
)

from silkway.bootstrap import Node
from silkway.exchange.db.tables import outbox
from silkway.kernel.errors import DomainError
from silkway.node.clock import ManualClock
from silkway.seals import handover as seal_handover
from silkway.seals import ingest as telemetry
from silkway.seals import service as seals
from silkway.seals.db.tables import seal_positions
from silkway.seals.domain.seals import IncidentCode, IncidentStatus, SealStatus
from silkway.seals.ports import NULL, IncidentFilter, PositionRows
from silkway.settings import Settings
from silkway.transit import service as transit
from silkway.transit.domain.movement import Complete, RecordArrival


def test_register_activate_ingest_and_see_one_deviation_opened_then_closed(
    node: Node, clock: ManualClock
) -> None:
    register(node)
    movement = released_movement(node)
    assert seals.get_seal(node.seals, SEAL_ID).status is SealStatus.ACTIVE
    start = clock.now()
    track = corridor_track(node, start, count=1200, deviate=range(300, 340))
    clock.advance(timedelta(days=1))
    reports = [
        telemetry.ingest(node.seals, track[k : k + 200], source="egts")
        for k in range(0, len(track), 200)
    ]
    assert sum(r.accepted for r in reports) == 1200
    assert sum(r.incidents_opened for r in reports) == 1
    deviations = seals.list_incidents(
        node.seals,
        IncidentFilter(code=IncidentCode.DEVIATION, movement_reference=movement.reference),
    )
    [deviation] = deviations
    assert deviation.status is IncidentStatus.CLOSED
    assert deviation.points == 40
    assert deviation.opened_at == start + timedelta(minutes=300)
    assert deviation.closed_at == start + timedelta(minutes=340)
    # The departure office sees it on its worklist; an office off the route does not.
    assert seals.list_incidents(node.seals, IncidentFilter(office="19201")) == deviations
    assert seals.list_incidents(node.seals, IncidentFilter(office="41701")) == []

    view = seals.movement_track(node.seals, movement.reference, tolerance_km=1.0)
    assert view.stored_points == 1200
    assert 2 < len(view.points) < 1200
    assert view.remaining_km == pytest.approx(0.0, abs=0.5)
    assert view.current_state == "BY"
    assert [(h.kind, h.handover.from_state, h.handover.to_state) for h in view.handovers] == [
        ("handover", "KZ", "RU"),
        ("handover", "RU", "BY"),
    ]
    # Each hand-over owes the next operator a P.SO.01 message, waiting in the outbox.
    assert all(h.message_id is not None for h in view.handovers)
    assert operator_messages(node, "handover") == [("RU", "handover"), ("BY", "handover")]
    # From each hand-over on, the points go on to the operator of the state entered.
    assert {to for to, _ in operator_messages(node, "positions")} == {"RU", "BY"}


def operator_messages(node: Node, kind: str) -> list[tuple[str, str]]:
    with node.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.to_state, outbox.c.message_kind)
            .where(outbox.c.process == seal_handover.OPERATOR_PROCESS)
            .where(outbox.c.message_kind == kind)
            .order_by(outbox.c.id)
        )
        return [(r[0], r[1]) for r in rows]


def test_a_crossing_seen_again_owes_no_second_handover(node: Node, clock: ManualClock) -> None:
    register(node)
    released_movement(node)
    ctx = node.seals
    track = corridor_track(node, clock.now(), count=400)
    clock.advance(timedelta(days=1))
    report = telemetry.ingest(ctx, track, source="teltonika")
    assert report.handovers == 2
    assert operator_messages(node, "handover") == [("RU", "handover"), ("BY", "handover")]
    again = telemetry.ingest(ctx, track[-5:], source="teltonika")
    assert again.handovers == 0
    assert len(operator_messages(node, "handover")) == 2


def test_replayed_and_out_of_order_points_are_counted_and_stored_once(
    node: Node, clock: ManualClock
) -> None:
    register(node)
    released_movement(node)
    track = corridor_track(node, clock.now(), count=300)
    clock.advance(timedelta(days=1))
    first = telemetry.ingest(node.seals, list(reversed(track[:200])), source="egts")
    assert (first.accepted, first.duplicates) == (200, 0)
    again = telemetry.ingest(node.seals, track[100:300] + track[250:260], source="egts")
    assert again.accepted == 100
    assert again.duplicates == 110
    assert count_rows(node, seal_positions) == 300
    assert seals.list_incidents(node.seals, IncidentFilter()) == []


def test_unknown_devices_and_bad_points_never_lose_the_rest_of_the_batch(
    node: Node, clock: ManualClock
) -> None:
    register(node)
    released_movement(node)
    good = corridor_track(node, clock.now(), count=10)
    stranger = corridor_track(node, clock.now(), count=3, device="999999999999999")
    bad = [
        replace(good[0], lat=95.0, time=good[0].time + timedelta(seconds=1)),
        replace(good[1], device_id=None),
        replace(good[2], time=good[2].time.replace(tzinfo=None)),
        replace(good[3], time=clock.now() + timedelta(days=3)),
    ]
    report = telemetry.ingest(node.seals, good + stranger + bad, source="wialon")
    assert report.accepted == 10
    assert report.unknown_device == 3
    assert [i for i, _ in report.rejected] == [13, 14, 15, 16]
    assert "coordinates" in report.rejected[0][1]
    assert count_rows(node, seal_positions) == 10
    with pytest.raises(ValueError, match="unknown telemetry source"):
        telemetry.ingest(node.seals, good, source="carrier-pigeon")


def test_tamper_battery_and_silence(node: Node, clock: ManualClock) -> None:
    register(node)
    movement = released_movement(node)
    track = corridor_track(node, clock.now(), count=20, to_km=100)
    track[5] = replace(track[5], io={"battery_pct": 12})
    track[6] = replace(track[6], flags={"seal_opened": True}, io={"battery_pct": 11})
    clock.advance(timedelta(minutes=20))
    report = telemetry.ingest(node.seals, track, source="egts")
    assert report.incidents_opened == 2
    found = {i.code: i for i in seals.list_incidents(node.seals, IncidentFilter())}
    assert found[IncidentCode.BATTERY_LOW].status is IncidentStatus.CLOSED
    assert found[IncidentCode.BATTERY_LOW].worst == 11
    assert found[IncidentCode.SEAL_BROKEN].status is IncidentStatus.OPEN

    # Two reporting periods (2 min) without a message: incident 06, opened once.
    assert telemetry.check_silence(node.seals) == []
    clock.advance(timedelta(minutes=5))
    [silence] = telemetry.check_silence(node.seals)
    assert silence.code is IncidentCode.SILENCE
    assert silence.movement_reference == movement.reference
    assert telemetry.check_silence(node.seals) == []
    back = corridor_track(node, clock.now(), count=2, from_km=100, to_km=101)
    telemetry.ingest(node.seals, back, source="egts")
    closed = seals.list_incidents(node.seals, IncidentFilter(code=IncidentCode.SILENCE))
    assert [i.status for i in closed] == [IncidentStatus.CLOSED]

    officer = seals.close_incident(
        node.seals, found[IncidentCode.SEAL_BROKEN].id or 0, note="resealed"
    )
    assert officer.status is IncidentStatus.CLOSED
    assert officer.detail["closure_note"] == "resealed"
    changes = seals.incident_changes(node.seals, 0)
    assert changes[-1].id == officer.id
    assert seals.incident_changes(node.seals, changes[-1].seq) == []


def test_a_configured_silence_threshold_reaches_seals_activated_at_release(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, seal_silent_periods=6)
    node = seal_node(database_url, clock, tmp_path, settings)
    try:
        register(node)  # reports every 60 s
        movement = released_movement(node)
        # Five minutes of silence: past the default two periods, short of the configured six.
        clock.advance(timedelta(minutes=5))
        assert telemetry.check_silence(node.seals) == []
        clock.advance(timedelta(minutes=2))
        [silence] = telemetry.check_silence(node.seals)
        assert silence.code is IncidentCode.SILENCE
        assert silence.movement_reference == movement.reference
    finally:
        node.dispose()


def test_completion_deactivates_the_seal_and_records_the_notices(
    node: Node, clock: ManualClock
) -> None:
    register(node)
    movement = released_movement(node)
    clock.advance(timedelta(days=2))
    # What Belarus's arrival notice does here (transit.inbound): the arrival at its office, then
    # the completion; this node's own API may not record an arrival at a Belarusian office.
    with node.transit.uow() as uow:
        for event in (RecordArrival("06614"), Complete()):
            transit.apply_event(
                node.transit, uow, movement.reference, event, clock.now(),
                actor="message:BY", local=False,
            )  # fmt: skip
        uow.commit()
    seal = seals.get_seal(node.seals, SEAL_ID)
    assert seal.status is SealStatus.REGISTERED
    assert seal.movement_reference is None
    view = seals.movement_track(node.seals, movement.reference)
    assert [(h.kind, h.handover.to_state) for h in view.handovers] == [
        ("completion", "RU"),
        ("completion", "BY"),
    ]
    # Positions after completion are stored for the record but no longer monitored.
    after = corridor_track(node, clock.now(), count=3)
    assert telemetry.ingest(node.seals, after, source="egts").accepted == 3
    assert seals.list_incidents(node.seals, IncidentFilter()) == []


def test_a_seal_in_use_or_unknown_is_not_activated_and_release_still_succeeds(
    node: Node,
) -> None:
    released = released_movement(node)  # the declared seal is not registered here
    assert released.status.value == "released"
    register(node)
    with pytest.raises(DomainError):
        seals.activate_seal(node.seals, "NOSUCHSEAL", released.reference)
    result = seals.activate_seal(node.seals, SEAL_ID, released.reference)
    assert result.activated == [SEAL_ID]
    with pytest.raises(DomainError) as caught:
        seals.activate_seal(node.seals, SEAL_ID, released.reference)
    assert caught.value.violations[0].code == "already-active"


def test_registry_refuses_a_second_seal_with_the_same_device(node: Node) -> None:
    register(node)
    with pytest.raises(seals.SealExists):
        register(node, seal_id="KZNS2600099999", imei=IMEI)
    assert [s.seal_id for s in seals.list_seals(node.seals, operator="KZ")] == [SEAL_ID]


def test_bulk_writer_skips_repeats_and_purge_applies_retention(
    node: Node, clock: ManualClock
) -> None:
    register(node)
    n = 1000
    base = int(clock.now().timestamp() * 1000) - 500 * 86_400_000

    def rows(start: int, count: int) -> PositionRows:
        t = np.arange(start, start + count, dtype=np.int64) * 1000 + base
        ones = np.ones(count, dtype=np.int64)
        return PositionRows(
            seal_key=ones,
            t_ms=t,
            activation_id=ones * NULL,
            lat_e6=ones * 50_000_000,
            lon_e6=ones * 70_000_000,
            speed_dkmh=ones * 600,
            course=ones * NULL,
            battery_pct=ones * NULL,
            signals=ones * 0,
            distance_m=ones * NULL,
            progress_m=ones * NULL,
        )

    with node.seals.uow() as uow:
        assert uow.seals.write_positions(rows(0, n)) == n
        uow.commit()
    with node.seals.uow() as uow:  # overlapping: half are repeats
        assert uow.seals.write_positions(rows(n // 2, n)) == n // 2
        uow.commit()
    assert count_rows(node, seal_positions) == n + n // 2
    assert telemetry.purge_positions(node.seals) == n + n // 2
    assert count_rows(node, seal_positions) == 0
