"""Incident rules on synthetic tracks along the Western road corridor (pure, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from tests.unit.seals.tracks import (
    CARRIAGE,
    GEOMETRY,
    REFERENCE,
    Fix,
    at,
    batch,
    off_route,
    on_route,
)

from silkway.seals.domain.route import StateLocator
from silkway.seals.domain.rules import Outcome, TrackState, evaluate, to_ms
from silkway.seals.domain.seals import Incident, IncidentCode, IncidentStatus, MonitoringThresholds
from silkway.seals.domain.signals import SIGNAL_BITS

LOCATOR = StateLocator.from_reference(REFERENCE)
THRESHOLDS = MonitoringThresholds()


def run(
    fixes: list[Fix],
    state: TrackState | None = None,
    open_incidents: dict[IncidentCode, Incident] | None = None,
    thresholds: MonitoringThresholds = THRESHOLDS,
) -> Outcome:
    return evaluate(
        batch(fixes),
        state or TrackState(),
        open_incidents or {},
        CARRIAGE,
        GEOMETRY,
        LOCATOR,
        thresholds,
    )


def stored(outcome: Outcome) -> dict[IncidentCode, Incident]:
    """The open incidents after a batch, as storage would hand them to the next one."""
    return {
        i.code: replace(i, id=i.id or n + 1)
        for n, i in enumerate(outcome.incidents)
        if i.status is IncidentStatus.OPEN
    }


def codes(outcome: Outcome) -> list[IncidentCode]:
    return [i.code for i in outcome.incidents]


def test_points_on_the_corridor_raise_nothing() -> None:
    outcome = run([on_route(100 + i, i) for i in range(30)])
    assert outcome.incidents == []
    assert outcome.state.last_ms == to_ms(at(29))
    assert outcome.state.distance_km == pytest.approx(0.0, abs=0.01)
    assert outcome.state.points == 30


def test_deviation_opens_once_updates_and_closes_when_back() -> None:
    first = run([on_route(3000, 0), off_route(3010, 10, 80), off_route(3020, 20, 100)])
    [opened] = first.incidents
    assert opened.code is IncidentCode.DEVIATION
    assert opened.id is None
    assert opened.status is IncidentStatus.OPEN
    assert opened.opened_at == at(10)
    assert opened.points == 2
    assert opened.worst == pytest.approx(88.8, abs=1)

    second = run([off_route(3030, 30, 70)], first.state, stored(first))
    [updated] = second.incidents
    assert updated.id == 1  # the same incident, not a new one
    assert updated.points == 3
    assert updated.last_at == at(30)
    assert updated.worst == pytest.approx(88.8, abs=1)

    third = run([on_route(3040, 40), on_route(3050, 50)], second.state, stored(second))
    [closed] = third.incidents
    assert closed.id == 1
    assert closed.status is IncidentStatus.CLOSED
    assert closed.closed_at == at(40)


def test_a_flood_of_repeated_deviating_points_never_duplicates_the_incident() -> None:
    state, open_ = TrackState(), {}
    ids = set()
    minute = 0
    for _ in range(5):
        outcome = run([off_route(3200, minute + k, 100) for k in range(50)], state, open_)
        state, open_ = outcome.state, stored(outcome)
        ids.update(i.id for i in open_.values())
        minute += 50
    assert list(open_) == [IncidentCode.DEVIATION]
    assert len(ids) == 1
    assert open_[IncidentCode.DEVIATION].points == 250


def test_under_the_threshold_is_not_a_deviation_but_a_tighter_setting_makes_it_one() -> None:
    fixes = [on_route(3300, 0), off_route(3310, 10, 30)]
    assert run(fixes).incidents == []
    tight = MonitoringThresholds(deviation_km=20.0)
    assert codes(run(fixes, thresholds=tight)) == [IncidentCode.DEVIATION]


def test_unplanned_stop_away_from_stop_places_opens_and_closes_when_moving() -> None:
    stopped = [on_route(1000, m, speed=0.0) for m in range(0, 91, 10)]
    outcome = run([on_route(990, -10), *stopped])
    [stop] = outcome.incidents
    assert stop.code is IncidentCode.UNPLANNED_STOP
    assert stop.opened_at == at(60)
    assert stop.worst == pytest.approx(90)
    assert outcome.state.stop_since_ms == to_ms(at(0))

    moving = run([on_route(1001, 100), on_route(1010, 110)], outcome.state, stored(outcome))
    [closed] = moving.incidents
    assert closed.status is IncidentStatus.CLOSED
    assert closed.closed_at == at(100)
    assert moving.state.stop_since_ms is None


def test_a_stop_carried_over_batches_counts_from_where_it_began() -> None:
    first = run([on_route(1200, m, speed=0.0) for m in range(0, 41, 10)])
    assert first.incidents == []
    second = run([on_route(1200, m, speed=0.0) for m in range(50, 71, 10)], first.state)
    [stop] = second.incidents
    assert stop.code is IncidentCode.UNPLANNED_STOP
    assert stop.detail["stopped_since"] == at(0).isoformat()


def test_stopping_at_a_border_post_of_the_route_is_expected() -> None:
    kairak = next(p for p in GEOMETRY.route.stop_places if p.name.startswith("Kairak"))
    fixes = [Fix(m, kairak.lat, kairak.lon, speed=0.0) for m in range(0, 300, 10)]
    assert run(fixes).incidents == []


def test_slow_crawl_that_drifts_is_not_a_stop() -> None:
    crawl = [on_route(1500 + m * 0.04, m, speed=2.0) for m in range(0, 120, 5)]
    assert run(crawl).incidents == []


def test_battery_low_opens_with_its_lowest_value_and_closes_when_charged() -> None:
    low = run(
        [on_route(300, 0, battery=40), on_route(301, 1, battery=14), on_route(302, 2, battery=9)]
    )
    [battery] = low.incidents
    assert battery.code is IncidentCode.BATTERY_LOW
    assert battery.worst == 9
    assert battery.opened_at == at(1)
    charged = run([on_route(303, 3, battery=80)], low.state, stored(low))
    [closed] = charged.incidents
    assert closed.status is IncidentStatus.CLOSED
    assert charged.state.battery_pct == 80


def test_tamper_events_open_one_incident_per_code_and_stay_open() -> None:
    seal = SIGNAL_BITS[IncidentCode.SEAL_BROKEN]
    housing = SIGNAL_BITS[IncidentCode.HOUSING_OPENED]
    first = run(
        [
            on_route(200, 0, signals=seal),
            on_route(201, 1, signals=seal | housing),
            on_route(202, 2, signals=seal),
        ]
    )
    assert sorted(codes(first)) == [IncidentCode.SEAL_BROKEN, IncidentCode.HOUSING_OPENED]
    assert {i.code: i.points for i in first.incidents} == {
        IncidentCode.SEAL_BROKEN: 3,
        IncidentCode.HOUSING_OPENED: 1,
    }
    quiet = run([on_route(210, 10)], first.state, stored(first))
    assert quiet.incidents == []  # an officer closes seal events, not the next point


def test_out_of_order_points_are_sorted_and_late_ones_do_not_rewind_the_state() -> None:
    shuffled = [on_route(100, 20), on_route(80, 0), on_route(90, 10)]
    outcome = run(shuffled)
    assert outcome.state.last_ms == to_ms(at(20))
    late = run([on_route(95, 15)], outcome.state)
    assert late.state.last_ms == to_ms(at(20))
    assert late.state.points == 4
    assert late.incidents == []


def test_a_late_black_box_deviation_is_recorded_and_closed_at_once() -> None:
    now = run([on_route(3000, 0), on_route(3100, 100)])
    late = run([off_route(3050, 50, 90), off_route(3055, 55, 90)], now.state, {})
    [incident] = late.incidents
    assert incident.code is IncidentCode.DEVIATION
    assert incident.opened_at == at(50)
    assert incident.status is IncidentStatus.CLOSED
    assert incident.closed_at == at(100)


def test_late_points_widen_an_open_incident_backwards() -> None:
    first = run([off_route(3050, 50, 90)])
    late = run([off_route(3045, 45, 90), off_route(3060, 60, 90)], first.state, stored(first))
    [widened] = late.incidents
    assert widened.opened_at == at(45)
    assert widened.last_at == at(60)
    assert widened.points == 3


def test_silence_is_closed_by_any_message() -> None:
    silence = Incident(
        code=IncidentCode.SILENCE,
        activation_id=1,
        movement_reference=CARRIAGE.movement_reference,
        seal_id=CARRIAGE.seal_id,
        opened_at=at(0),
        last_at=at(5),
        points=0,
        lat=None,
        lon=None,
        id=9,
    )
    outcome = run([on_route(100, 30)], TrackState(), {IncidentCode.SILENCE: silence})
    [closed] = outcome.incidents
    assert closed.id == 9
    assert closed.status is IncidentStatus.CLOSED
    assert closed.closed_at == at(30)


def test_entering_a_state_the_route_does_not_cross() -> None:
    bishkek = Fix(10, 42.87, 74.59)
    outcome = run([on_route(300, 0), bishkek])
    by_code = {i.code: i for i in outcome.incidents}
    assert by_code[IncidentCode.STATE_OFF_ROUTE].detail["state"] == "KG"
    assert IncidentCode.DEVIATION in by_code
    back = run([on_route(320, 20)], outcome.state, stored(outcome))
    assert {i.code for i in back.incidents if i.status is IncidentStatus.CLOSED} == {
        IncidentCode.STATE_OFF_ROUTE,
        IncidentCode.DEVIATION,
    }


def test_crossing_into_the_next_member_state_hands_over_once() -> None:
    approach = [on_route(1990 + k, k) for k in range(0, 40, 2)]
    outcome = run(approach)
    assert outcome.state.current_state == "KZ"
    assert outcome.handovers == []
    # Points that jitter back and forth across the frontier hand the carriage over once.
    jitter = [on_route(2029 + (k % 2) * 4, 40 + k) for k in range(20)]
    crossed = run(jitter, outcome.state)
    assert [(h.from_state, h.to_state) for h in crossed.handovers] == [("KZ", "RU")]
    assert crossed.state.current_state == "RU"
    again = run([on_route(2100, 70), on_route(2025, 71)], crossed.state)
    assert again.handovers == []


def test_eta_from_recent_speed_and_lateness_against_the_time_limit() -> None:
    length = GEOMETRY.corridor.length_km
    outcome = run([on_route(length - 160, 0, speed=80.0), on_route(length - 80, 60, speed=80.0)])
    assert outcome.state.eta == at(60) + timedelta(hours=1)
    assert IncidentCode.LATE not in codes(outcome)

    slow = replace(CARRIAGE, time_limit_end=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    late = evaluate(
        batch([on_route(1000, 0, speed=50.0), on_route(1050, 60, speed=50.0)]),
        TrackState(),
        {},
        slow,
        GEOMETRY,
        LOCATOR,
        THRESHOLDS,
    )
    [incident] = late.incidents
    assert incident.code is IncidentCode.LATE
    assert incident.worst is not None
    assert incident.worst > 60  # hours late
    assert incident.detail["eta"] == late.state.eta.isoformat()  # type: ignore[union-attr]


def test_a_stopped_carriage_has_no_eta() -> None:
    outcome = run([on_route(1000, m, speed=0.0) for m in range(0, 30, 10)])
    assert outcome.state.eta is None


def test_thresholds_must_be_positive() -> None:
    from silkway.seals.domain.seals import SealInvalid

    with pytest.raises(SealInvalid) as caught:
        MonitoringThresholds(deviation_km=0, battery_pct=-1)
    assert {v.pointer for v in caught.value.violations} == {"/deviation_km", "/battery_pct"}
