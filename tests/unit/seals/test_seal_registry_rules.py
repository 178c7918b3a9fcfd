"""The seal registry's rules, reading seal events from positions, and planning the route."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.unit.seals.tracks import REFERENCE, START, position

from silkway.examples import example_declaration
from silkway.seals.domain.route import PlannedRoute, RouteUnavailable, operator_plan, plan_route
from silkway.seals.domain.seals import (
    DeviceProtocol,
    IncidentCode,
    SealEvent,
    SealInvalid,
    SealStatus,
    SealTransitionForbidden,
    new_seal,
    seal_transition,
)
from silkway.seals.domain.signals import (
    INVALID_FIX_BIT,
    SIGNAL_BITS,
    STORED_BIT,
    SignalMapping,
    events_in,
)
from silkway.seals.domain.telemetry import Position, PositionBatch
from silkway.seals.passwords import hash_password, verify_password

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def seal(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "seal_id": "KZNS2600045180",
        "operator": "KZ",
        "protocol": "egts",
        "device_id": "356307042441013",
        "reporting_period_s": 60,
        "registered_at": NOW,
    }
    return {**base, **changes}


def test_a_valid_seal() -> None:
    s = new_seal(**seal())  # type: ignore[arg-type]
    assert s.protocol is DeviceProtocol.EGTS
    assert s.status is SealStatus.REGISTERED
    assert s.device_id == "356307042441013"


def test_http_seal_is_identified_by_its_seal_id() -> None:
    s = new_seal(**seal(protocol="http", device_id=None))  # type: ignore[arg-type]
    assert s.device_id == "KZNS2600045180"


def test_every_broken_rule_is_reported_with_a_pointer() -> None:
    with pytest.raises(SealInvalid) as caught:
        new_seal(
            **seal(  # type: ignore[arg-type]
                seal_id="x",
                operator="CN",
                device_id="12",
                password="secret",
                reporting_period_s=1,
                battery_pct=120,
            )
        )
    pointers = {v.pointer for v in caught.value.violations}
    assert pointers == {
        "/seal_id",
        "/operator",
        "/imei",
        "/password",
        "/reporting_period_s",
        "/battery_pct",
    }


def test_wialon_may_carry_a_password_kept_only_as_its_hash() -> None:
    s = new_seal(**seal(protocol="wialon", password="NA"), hash_password=hash_password)  # type: ignore[arg-type]
    assert s.password_hash is not None
    assert s.password_hash.startswith("$argon2id$")
    assert "NA" not in s.password_hash.split("$")[-2:]
    assert verify_password(s.password_hash, "NA")
    assert not verify_password(s.password_hash, "NB")


def test_a_password_hash_from_another_operator_is_checked_for_its_form() -> None:
    sent = hash_password("kz-ru-1")
    assert new_seal(**seal(protocol="wialon", password_hash=sent)).password_hash == sent  # type: ignore[arg-type]
    with pytest.raises(SealInvalid) as caught:
        new_seal(**seal(protocol="wialon", password_hash="kz-ru-1"))  # type: ignore[arg-type]
    assert [v.code for v in caught.value.violations] == ["password-hash-invalid"]
    with pytest.raises(SealInvalid) as caught:
        new_seal(**seal(protocol="egts", password_hash=sent))  # type: ignore[arg-type]
    assert [v.code for v in caught.value.violations] == ["password-unexpected"]


def test_seal_status_transitions() -> None:
    assert seal_transition(SealStatus.REGISTERED, SealEvent.ACTIVATE) is SealStatus.ACTIVE
    assert seal_transition(SealStatus.ACTIVE, SealEvent.DEACTIVATE) is SealStatus.REGISTERED
    with pytest.raises(SealTransitionForbidden):
        seal_transition(SealStatus.ACTIVE, SealEvent.RETIRE)


def _one(read: Callable[[PositionBatch], Any], p: Position) -> Any:
    return read(PositionBatch.from_positions([p]))[0]


def test_seal_events_from_generic_names_and_egts_fix_reasons() -> None:
    mapping = SignalMapping()
    assert _one(mapping.signals, position()) == 0
    opened = _one(mapping.signals, position(flags={"seal_opened": True}, io={"unauthorised": "1"}))
    assert events_in(opened) == [IncidentCode.SEAL_BROKEN, IncidentCode.UNAUTHORISED]
    housing = _one(mapping.signals, position(io={"source": 10}))
    assert housing == SIGNAL_BITS[IncidentCode.HOUSING_OPENED]
    # The same fix reason from another protocol means nothing.
    assert _one(mapping.signals, position(io={"source": 10}, protocol="wialon")) == 0
    marked = _one(mapping.signals, position(stored=True, valid=False))
    assert marked == STORED_BIT | INVALID_FIX_BIT
    assert events_in(marked) == []


def test_battery_from_named_value_or_teltonika_io_113() -> None:
    mapping = SignalMapping()
    assert _one(mapping.battery, position(io={"battery_pct": 14})) == 14.0
    assert _one(mapping.battery, position(io={"113": 55}, protocol="teltonika")) == 55.0
    assert math.isnan(_one(mapping.battery, position(io={"battery_pct": 400})))
    assert math.isnan(_one(mapping.battery, position()))


def test_route_from_the_declared_corridor() -> None:
    declaration = example_declaration("western-road", START.date())
    route = plan_route(declaration, REFERENCE)
    assert route.corridor_id == "WESTERN_ROAD"
    assert route.member_states == ("KZ", "RU", "BY")
    assert route.points[0].name.startswith("Nur Zholy")
    names = {p.name for p in route.stop_places}
    assert {"Kairak customs post", "Troitsk / Kairak"} <= names
    assert PlannedRoute.from_json(route.as_json()) == route
    plan = operator_plan(route, registration="KZ", tracking="KZ", destination_state="BY")
    assert plan.passage == ("RU", "BY")
    assert plan.completion == "BY"


def test_route_from_the_offices_when_no_corridor_is_named() -> None:
    declaration = example_declaration("western-road", START.date()).model_copy(
        update={"corridor": None}
    )
    route = plan_route(declaration, REFERENCE)
    assert route.corridor_id is None
    assert [p.state for p in route.points] == ["KZ", "KZ", "RU", "RU", "BY", "BY"]


def test_unknown_corridor_is_refused() -> None:
    declaration = example_declaration("western-road", START.date()).model_copy(
        update={"corridor": "NOWHERE"}
    )
    with pytest.raises(RouteUnavailable) as caught:
        plan_route(declaration, REFERENCE)
    assert caught.value.violations[0].pointer == "/corridor"
