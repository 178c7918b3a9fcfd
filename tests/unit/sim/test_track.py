"""The simulated seal's track: fixes along a corridor, deterministic per seed, and its faults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from silkway.reference import load_reference
from silkway.seals.domain.corridor import CorridorGeometry, haversine_km
from silkway.seals.domain.seals import IncidentCode
from silkway.sim.track import (
    Journey,
    RestStop,
    Stretch,
    Track,
    TrackError,
    deviate,
    make_track,
    silence,
    tamper,
    unplanned_stop,
)

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
WESTERN_ROAD = load_reference().corridors["WESTERN_ROAD"]
ROAD = CorridorGeometry(WESTERN_ROAD)
EASTWARD = CorridorGeometry([(0.0, 0.0), (0.0, 10.0)])
"""A corridor along the equator, travelled due east: course 90, right of it is south."""
NORTHWARD = CorridorGeometry([(0.0, 30.0), (10.0, 30.0)])


def journey(**changes: object) -> Journey:
    base = Journey(start=START, speeds=(Stretch(0.0, 60.0),), period=MINUTE, to_km=30.0)
    return replace(base, **changes)  # type: ignore[arg-type]


def progress(track: Track, geometry: CorridorGeometry = ROAD) -> list[float]:
    located = geometry.progress_km([f.lat for f in track], [f.lon for f in track])
    return [float(km) for km in located]


def distances(track: Track, geometry: CorridorGeometry = ROAD) -> list[float]:
    return [float(d) for d in geometry.distance_km([f.lat for f in track], [f.lon for f in track])]


# --- the journey ---------------------------------------------------------------------------------


def test_one_fix_per_period_along_the_corridor_at_the_journeys_speed() -> None:
    track = make_track(WESTERN_ROAD, journey())
    assert len(track) == 31  # 30 km at 60 km/h: a fix each minute, the 31st on arrival
    assert [f.time for f in track] == [START + n * MINUTE for n in range(31)]
    assert max(distances(track)) < 0.001
    assert progress(track) == pytest.approx([float(n) for n in range(31)], abs=0.001)
    assert [f.speed_kmh for f in track] == [60.0] * 30 + [0.0]
    assert all(not f.stored and not f.events for f in track)


def test_a_reference_corridor_and_its_geometry_give_the_same_track() -> None:
    assert make_track(WESTERN_ROAD, journey()) == make_track(ROAD, journey())


def test_the_same_seed_gives_the_same_track_and_another_seed_another() -> None:
    noisy = journey(speed_jitter_kmh=8.0, position_jitter_m=15.0, seed=42)
    first, again = make_track(ROAD, noisy), make_track(ROAD, noisy)
    assert first == again
    other = make_track(ROAD, replace(noisy, seed=43))
    assert other != first
    speeds = [f.speed_kmh for f in first.fixes[:-1]]
    assert all(52.0 <= s <= 68.0 for s in speeds)
    assert len(set(speeds)) > 5
    assert 0.001 < max(distances(first)) < 0.1


def test_speed_stretches_and_a_rest_stop_shape_the_timeline() -> None:
    planned = journey(
        speeds=(Stretch(0.0, 60.0), Stretch(10.0, 120.0)),
        stops=(RestStop(20.0, timedelta(minutes=15)),),
        to_km=30.0,
    )
    track = make_track(ROAD, planned)
    # 10 min for the first 10 km, 5 for the next 10, 15 resting, 5 for the last 10.
    assert len(track) == 36
    assert track.fixes[9].speed_kmh == 60.0
    assert track.fixes[11].speed_kmh == 120.0
    resting = track.fixes[15:30]
    assert [f.speed_kmh for f in resting] == [0.0] * 15
    assert {(f.lat, f.lon) for f in resting} == {(resting[0].lat, resting[0].lon)}
    assert progress(Track(MINUTE, resting[:1]))[0] == pytest.approx(20.0, abs=0.001)
    assert track.fixes[30].speed_kmh == 120.0
    assert progress(track)[-1] == pytest.approx(30.0, abs=0.001)


def test_the_course_is_the_direction_of_travel() -> None:
    east = make_track(EASTWARD, journey())
    north = make_track(NORTHWARD, journey())
    assert {f.course for f in east} == {90}
    assert {f.course for f in north} == {0}
    leg = haversine_km(44.21, 80.36, 44.16, 80.0)
    road = make_track(ROAD, journey(to_km=leg - 1.0))
    assert {f.course for f in road} == {259}  # Nur Zholy to Zharkent, a little south of west


def test_a_journey_may_start_and_end_inside_the_corridor() -> None:
    track = make_track(ROAD, journey(from_km=100.0, to_km=112.0, speeds=(Stretch(50.0, 72.0),)))
    located = progress(track)
    assert located[0] == pytest.approx(100.0, abs=0.001)
    assert located[-1] == pytest.approx(112.0, abs=0.001)
    assert len(track) == 11  # 12 km at 72 km/h is 10 minutes


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": datetime(2026, 12, 1, 8, 0)}, r"journey\.start: .* carries no time zone"),
        ({"start": START.replace(microsecond=500)}, r"journey\.start: .* not a whole second"),
        ({"period": timedelta(0)}, r"journey\.period: 0:00:00 must be positive whole seconds"),
        ({"period": timedelta(seconds=1.5)}, r"journey\.period: .* whole seconds"),
        ({"to_km": 1e6}, r"journey\.to_km: 1000000\.0 must lie after from_km 0\.0"),
        ({"from_km": 40.0}, r"journey\.to_km: 30\.0 must lie after from_km 40\.0"),
        ({"from_km": -1.0}, r"journey\.from_km: -1\.0 is not on the corridor"),
        ({"speeds": ()}, r"journey\.speeds: at least one stretch"),
        ({"speeds": (Stretch(0.0, 0.0),)}, r"journey\.speeds/0/speed_kmh: 0\.0 is not a speed"),
        ({"speeds": (Stretch(0.0, 900.0),)}, r"journey\.speeds/0/speed_kmh: 900\.0"),
        ({"speeds": (Stretch(5.0, 60.0),)}, r"journey\.speeds/0/from_km: .* after the journey"),
        (
            {"speeds": (Stretch(0.0, 60.0), Stretch(0.0, 80.0))},
            r"journey\.speeds/1/from_km: 0\.0 does not follow",
        ),
        (
            {"stops": (RestStop(31.0, MINUTE),)},
            r"journey\.stops/0/at_km: 31\.0 is not on the journey",
        ),
        (
            {"stops": (RestStop(3.0, -MINUTE),)},
            r"journey\.stops/0/duration: .* must be zero or more whole seconds",
        ),
        ({"speed_jitter_kmh": -1.0}, r"journey\.speed_jitter_kmh: -1\.0 must be zero or more"),
        (
            {"position_jitter_m": float("nan")},
            r"journey\.position_jitter_m: nan must be zero or more",
        ),
    ],
)
def test_a_journey_that_cannot_be_is_refused_naming_the_field(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(TrackError, match=message):
        make_track(ROAD, journey(**changes))


# --- faults --------------------------------------------------------------------------------------


def test_a_deviation_moves_the_window_off_the_corridor_to_one_side() -> None:
    track = make_track(EASTWARD, journey())
    start, end = track.fixes[5].time, track.fixes[12].time
    right = deviate(track, start, end, 60.0)
    away = distances(right, EASTWARD)
    assert away[5:12] == pytest.approx([60.0] * 7, abs=0.01)
    assert max(away[:5] + away[12:]) < 0.001
    assert all(f.lat < 0 for f in right.fixes[5:12])  # south of an eastward road
    left = deviate(track, start, end, 60.0, side="left")
    assert all(f.lat > 0 for f in left.fixes[5:12])
    assert [f.time for f in right] == [f.time for f in track]
    with pytest.raises(TrackError, match=r"deviate\.km: 0\.0 must be a distance above 0"):
        deviate(track, start, end, 0.0)
    with pytest.raises(TrackError, match=r"deviate: the window ends .* before it starts"):
        deviate(track, end, start, 10.0)


def test_an_unplanned_stop_holds_the_carriage_then_delays_the_rest() -> None:
    track = make_track(ROAD, journey())
    stopped = unplanned_stop(
        track, track.fixes[10].time - timedelta(seconds=20), timedelta(minutes=62, seconds=30)
    )
    # Rounded up to 63 periods, from the first fix at or after the given moment.
    assert len(stopped) == len(track) + 63
    halted = stopped.fixes[10:73]
    assert {(f.lat, f.lon, f.speed_kmh) for f in halted} == {
        (track.fixes[10].lat, track.fixes[10].lon, 0.0)
    }
    assert [f.time for f in halted] == [track.fixes[10].time + n * MINUTE for n in range(63)]
    assert stopped.fixes[:10] == track.fixes[:10]
    assert stopped.fixes[73:] == tuple(
        replace(f, time=f.time + 63 * MINUTE) for f in track.fixes[10:]
    )
    with pytest.raises(TrackError, match=r"unplanned_stop\.duration: 0:00:00 must be positive"):
        unplanned_stop(track, START, timedelta(0))


def test_silence_loses_the_fixes_or_keeps_them_stored_for_later() -> None:
    track = make_track(ROAD, journey())
    lost = silence(track, track.fixes[4].time, 6 * MINUTE)
    assert [f.time for f in lost] == [f.time for f in track.fixes[:4] + track.fixes[10:]]
    kept = silence(track, track.fixes[4].time, 6 * MINUTE, replay=True)
    assert [f.stored for f in kept] == [False] * 4 + [True] * 6 + [False] * 21
    assert [replace(f, stored=False) for f in kept] == list(track)
    with pytest.raises(TrackError, match=r"silence: no fix from 2026-12-01T09:00:00\+00:00"):
        silence(track, START + timedelta(hours=1), MINUTE)


def test_a_tamper_event_rides_on_the_next_fix() -> None:
    track = make_track(ROAD, journey())
    tampered = tamper(
        track, track.fixes[7].time - timedelta(seconds=1), IncidentCode.HOUSING_OPENED
    )
    assert [i for i, f in enumerate(tampered) if f.events] == [7]
    assert tampered.fixes[7].events == {IncidentCode.HOUSING_OPENED}
    twice = tamper(tampered, track.fixes[7].time)
    assert twice.fixes[7].events == {IncidentCode.HOUSING_OPENED, IncidentCode.SEAL_BROKEN}
    with pytest.raises(TrackError, match=r"tamper\.event: 03 is not an event a seal reports"):
        tamper(track, START, IncidentCode.DEVIATION)
    with pytest.raises(TrackError, match=r"tamper: no fix from 2026-12-01T09:00:00\+00:00"):
        tamper(track, START + timedelta(hours=1))
    with pytest.raises(TrackError, match=r"tamper: 2026-12-01T08:00:00 carries no time zone"):
        tamper(track, START.replace(tzinfo=None))


def test_faults_keep_the_track_deterministic() -> None:
    def faulty(seed: int) -> Track:
        track = make_track(ROAD, journey(speed_jitter_kmh=5.0, position_jitter_m=10.0, seed=seed))
        track = deviate(track, track.fixes[3].time, track.fixes[6].time, 55.0)
        track = silence(track, track.fixes[8].time, 3 * MINUTE, replay=True)
        return tamper(track, track.fixes[20].time)

    assert faulty(7) == faulty(7)
    assert faulty(7) != faulty(8)
    assert np.isclose(distances(faulty(7))[4], 55.0, atol=0.2)
