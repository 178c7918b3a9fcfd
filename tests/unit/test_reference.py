"""The reference data files, their loader's checks, and the example declarations."""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from silkway.reference import REFERENCE_FILES, ReferenceDataError, load_reference, parse_reference
from silkway.reference.model import (
    MEMBER_STATES,
    OFFICE_CODE_LENGTH,
    DutyKind,
    ExemptParty,
    OfficeRole,
    ReferenceData,
    TransportMode,
)
from silkway.transit.domain.declaration import SecurityKind, TransitDeclaration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Rough (lat_min, lat_max, lon_min, lon_max) boxes: enough to catch swapped or mistyped coordinates.
STATE_BOXES = {
    "AM": (38.8, 41.4, 43.4, 46.7),
    "BY": (51.2, 56.2, 23.1, 32.8),
    "KZ": (40.5, 55.5, 46.4, 87.4),
    "KG": (39.1, 43.3, 69.2, 80.3),
    "RU": (41.1, 82.0, 19.6, 180.0),
}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return load_reference()


def raw_files() -> dict[str, Any]:
    folder = resources.files("silkway.reference").joinpath("data")
    return {name: json.loads(folder.joinpath(name).read_bytes()) for name in REFERENCE_FILES}


# --- the shipped data ----------------------------------------------------------------------------


def test_loader_reads_every_file_with_its_source(ref: ReferenceData) -> None:
    assert set(ref.sources) == set(REFERENCE_FILES)
    assert all(re.search(r"; as of \d{4}-\d{2}-\d{2}$", s) for s in ref.sources.values())
    assert "SAMPLE" in ref.sources["tariff.json"]
    assert load_reference() is ref


def test_member_states_currencies_and_vat(ref: ReferenceData) -> None:
    summary = {s.code: (s.currency, s.vat_rate_pct) for s in ref.states.values()}
    assert summary == {
        "AM": ("AMD", Decimal(20)),
        "BY": ("BYN", Decimal(20)),
        "KZ": ("KZT", Decimal(16)),
        "KG": ("KGS", Decimal(12)),
        "RU": ("RUB", Decimal(22)),
    }


def test_office_codes_have_the_length_of_their_state(ref: ReferenceData) -> None:
    for office in ref.offices.values():
        assert office.code.isdigit(), office
        assert len(office.code) == OFFICE_CODE_LENGTH[office.state], office


@pytest.mark.parametrize("state", MEMBER_STATES)
def test_each_state_has_six_offices_inside_its_territory(ref: ReferenceData, state: str) -> None:
    offices = ref.offices_of(state)
    assert len(offices) >= 6
    lat_min, lat_max, lon_min, lon_max = STATE_BOXES[state]
    for office in offices:
        assert lat_min <= office.lat <= lat_max, office
        assert lon_min <= office.lon <= lon_max, office


@pytest.mark.parametrize(
    "town",
    [
        "Nur Zholy", "Altynkol", "Dostyk", "Almaty", "Astana", "Karaganda", "Kostanay",
        "Kairak", "Troitsk", "Chelyabinsk", "Yekaterinburg", "Moscow Region", "Smolensk",
        "Zabaikalsk", "Novosibirsk", "Krasny", "Redki", "Minsk", "Brest", "Kozlovichi",
        "Grodno", "Orsha", "Bishkek", "Osh", "Torugart", "Irkeshtam", "Ak-Zhol", "Korday",
        "Yerevan", "Gyumri", "Bagratashen", "Meghri", "Zvartnots", "Verkhny Lars",
        "Vladikavkaz",
    ],
)  # fmt: skip
def test_required_offices_exist(ref: ReferenceData, town: str) -> None:
    assert any(town in office.name for office in ref.offices.values())


def test_border_offices_name_a_border_point_on_their_border(ref: ReferenceData) -> None:
    for office in ref.offices.values():
        if OfficeRole.BORDER in office.roles:
            assert office.border_point is not None, office
        if office.border_point is not None:
            assert office.state in ref.border_points[office.border_point].states, office


def test_border_points_cover_the_domain_table(ref: ReferenceData) -> None:
    required = {
        "KHORGOS_ROAD", "ALTYNKOL_RAIL", "DOSTYK_RAIL", "ZABAIKALSK", "TORUGART", "IRKESHTAM",
        "AKZHOL_KORDAI", "TROITSK_KAIRAK", "BREST_TERESPOL", "KOZLOVICHI", "VERKHNY_LARS",
        "BAGRATASHEN", "KRASNOYE_REDKI",
    }  # fmt: skip
    assert required <= set(ref.border_points)
    assert ref.border_points["KRASNOYE_REDKI"].internal
    assert not ref.border_points["KHORGOS_ROAD"].internal
    assert [bp.id for bp in ref.border_between("KZ", "KG")] == ["AKZHOL_KORDAI"]


def test_required_corridors_exist(ref: ReferenceData) -> None:
    assert {
        "WESTERN_ROAD", "WESTERN_RAIL", "NORTHERN_RAIL", "KG_KZ_ROAD", "IRKESHTAM_ROAD",
        "NORTH_SOUTH_RU_AM_ROAD",
    } <= set(ref.corridors)  # fmt: skip
    assert ref.corridors["NORTH_SOUTH_RU_AM_ROAD"].states == ("RU", "GE", "AM")


def test_corridor_states_are_joined_by_their_border_points(ref: ReferenceData) -> None:
    for corridor in ref.corridors.values():
        points = [ref.border_points[bp_id] for bp_id in corridor.border_points]
        for a, b in itertools.pairwise(corridor.states):
            assert any(set(bp.states) == {a, b} for bp in points), (corridor.id, a, b)


def test_corridor_waypoints_are_close_and_inside_the_corridor(ref: ReferenceData) -> None:
    for corridor in ref.corridors.values():
        points = corridor.waypoints
        assert {w.state for w in points} == set(corridor.states), corridor.id
        for before, after in itertools.pairwise(points):
            gap = haversine_km(before.lat, before.lon, after.lat, after.lon)
            assert gap < 700, (corridor.id, before.name, after.name, gap)


def test_duty_share_sets_sum_to_100_and_do_not_overlap(ref: ReferenceData) -> None:
    sets = sorted(ref.duty_shares, key=lambda s: s.valid_from)
    assert len(sets) == 2
    for shares in sets:
        assert sum(shares.shares_pct.values()) == Decimal(100)
        assert set(shares.shares_pct) == set(MEMBER_STATES)
    earlier, later = sets
    assert earlier.valid_to is not None
    assert earlier.valid_to < later.valid_from
    assert later.valid_to is None
    old = ref.shares_on(date(2018, 6, 1))
    current = ref.shares_on(date(2026, 12, 1))
    assert old is not None
    assert current is not None
    assert old.shares_pct["RU"] == Decimal("85.265")
    assert current.shares_pct["RU"] == Decimal("85.065")
    assert ref.shares_on(date(2016, 12, 31)) is None


def test_rate_picks_the_latest_rate_on_or_before_the_date(ref: ReferenceData) -> None:
    dates = sorted({r.on for r in ref.rates if r.currency == "USD"})
    assert len(dates) >= 2
    first, second = dates[0], dates[1]
    between = date.fromordinal(first.toordinal() + 1)
    on_first, in_between, on_second = (
        ref.rate("USD", first),
        ref.rate("USD", between),
        ref.rate("USD", second),
    )
    assert on_first is not None
    assert in_between is not None
    assert on_second is not None
    assert (on_first.on, in_between.on, on_second.on) == (first, first, second)
    assert ref.rate("USD", date.fromordinal(first.toordinal() - 1)) is None
    assert {"EUR", "USD", "CNY", "RUB", "KZT", "BYN", "KGS", "AMD", "TRY", "GBP"} <= ref.currencies


def test_tariff_sample_has_fifty_headings_of_every_kind(ref: ReferenceData) -> None:
    assert len(ref.tariff) >= 50
    assert {h.kind for h in ref.tariff.values()} == set(DutyKind)
    required = {
        "8471", "8517", "8528", "8504", "8544", "9405", "6109", "6110", "6203", "6204", "6402",
        "6403", "6404", "9503", "9401", "9403", "4011", "8418", "8450", "8415", "8481", "8708",
        "8703", "8711", "7208", "7318", "3926", "6907", "7013", "8541", "8507", "2203", "2204",
        "2208", "2402", "2403", "3303", "0805", "0902",
    }  # fmt: skip
    assert required <= set(ref.tariff)
    for heading in ("2203", "2204", "2208", "2402", "2403"):
        assert set(ref.tariff[heading].excise) == set(MEMBER_STATES), heading
    assert ref.tariff["6403"].specific_unit == "pcs"


def test_every_security_exemption_names_who_may_claim_it(ref: ReferenceData) -> None:
    assert "unconfirmed" in ref.sources["security_exemptions.json"]
    assert set(ref.security_exemptions) == {"RAIL", "AEO", "CUSTOMS_CARRIER"}
    for basis in ref.security_exemptions.values():
        assert basis.modes or basis.party is not None, basis.code
        assert "Art. 143" in basis.legal_basis
    rail = ref.security_exemptions["RAIL"]
    assert rail.modes == {TransportMode.RAIL}
    assert rail.party is ExemptParty.CARRIER
    assert rail.authorises("RU", "7708503727")
    assert not rail.authorises("KZ", "7708503727")  # registered by Russia, not by Kazakhstan


# --- malformed files -----------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _office(files: dict[str, Any], code: str) -> dict[str, Any]:
    return next(o for o in files["offices.json"]["offices"] if o["code"] == code)


def _corridor(files: dict[str, Any], corridor_id: str) -> dict[str, Any]:
    return next(c for c in files["corridors.json"]["corridors"] if c["id"] == corridor_id)


def _share_set(files: dict[str, Any], valid_from: str) -> dict[str, Any]:
    return next(s for s in files["duty_shares.json"]["share_sets"] if s["valid_from"] == valid_from)


def _heading(files: dict[str, Any], heading: str) -> dict[str, Any]:
    return next(h for h in files["tariff.json"]["headings"] if h["heading"] == heading)


def _duplicate_office(files: dict[str, Any]) -> None:
    files["offices.json"]["offices"].append(copy.deepcopy(_office(files, "19201")))


def _short_ru_code(files: dict[str, Any]) -> None:
    _office(files, "10113110")["code"] = "10113"


def _unknown_office_state(files: dict[str, Any]) -> None:
    _office(files, "75001")["state"] = "UZ"


def _unknown_office_point(files: dict[str, Any]) -> None:
    _office(files, "19201")["border_point"] = "NOWHERE"


def _waypoint_outside_states(files: dict[str, Any]) -> None:
    extra = {"name": "Terespol", "state": "PL", "lat": 52.08, "lon": 23.62}
    _corridor(files, "WESTERN_ROAD")["waypoints"].append(extra)


def _missing_crossing(files: dict[str, Any]) -> None:
    _corridor(files, "WESTERN_ROAD")["border_points"].remove("TROITSK_KAIRAK")


def _unknown_corridor_point(files: dict[str, Any]) -> None:
    _corridor(files, "KG_KZ_ROAD")["border_points"][0] = "TORUGART_PASS"


def _long_gap(files: dict[str, Any]) -> None:
    points = _corridor(files, "NORTHERN_RAIL")["waypoints"]
    del points[1:6]


def _shares_not_100(files: dict[str, Any]) -> None:
    _share_set(files, "2020-01-01")["shares_pct"]["RU"] = 85.066


def _shares_overlap(files: dict[str, Any]) -> None:
    _share_set(files, "2017-01-01")["valid_to"] = "2020-06-30"


def _combined_without_specific(files: dict[str, Any]) -> None:
    del _heading(files, "6109")["specific_eur"]


def _duplicate_heading(files: dict[str, Any]) -> None:
    files["tariff.json"]["headings"].append(copy.deepcopy(_heading(files, "8471")))


def _incomplete_excise(files: dict[str, Any]) -> None:
    del _heading(files, "2208")["excise"]["KG"]


def _unknown_field(files: dict[str, Any]) -> None:
    _office(files, "06611")["town"] = "Brest"


def _unknown_waypoint_field(files: dict[str, Any]) -> None:
    _corridor(files, "IRKESHTAM_ROAD")["waypoints"][0]["elevation"] = 2800


def _string_latitude(files: dict[str, Any]) -> None:
    _office(files, "41701")["lat"] = "42.87"


def _wrong_internal_flag(files: dict[str, Any]) -> None:
    points = files["border_points.json"]["border_points"]
    next(p for p in points if p["id"] == "KRASNOYE_REDKI")["internal"] = False


def _state_with_unknown_currency(files: dict[str, Any]) -> None:
    next(s for s in files["states.json"]["states"] if s["code"] == "KG")["currency"] = "KGZ"


def _rate_missing(files: dict[str, Any]) -> None:
    del files["currencies.json"]["rates"][0]["per_unit_eur"]["GBP"]


def _exemption(files: dict[str, Any], code: str) -> dict[str, Any]:
    return next(e for e in files["security_exemptions.json"]["exemptions"] if e["code"] == code)


def _exemption_for_anyone(files: dict[str, Any]) -> None:
    rail = _exemption(files, "RAIL")
    rail.update(modes=[], party=None, authorised=[])


def _exemption_parties_without_a_party(files: dict[str, Any]) -> None:
    _exemption(files, "RAIL")["party"] = None


def _exemption_unknown_mode(files: dict[str, Any]) -> None:
    _exemption(files, "RAIL")["modes"] = ["pipeline"]


def _exemption_party_twice(files: dict[str, Any]) -> None:
    parties = _exemption(files, "RAIL")["authorised"]
    parties.append(copy.deepcopy(parties[0]))


def _exemption_party_abroad(files: dict[str, Any]) -> None:
    _exemption(files, "RAIL")["authorised"][0]["state"] = "CN"


def _exemption_party_field(files: dict[str, Any]) -> None:
    _exemption(files, "RAIL")["authorised"][0]["since"] = "2020-01-01"


@pytest.mark.parametrize(
    ("mutate", "file", "entry", "words"),
    [
        (_duplicate_office, "offices.json", "19201", "duplicate office code"),
        (_short_ru_code, "offices.json", "10113", "8 digits"),
        (_unknown_office_state, "offices.json", "75001", "unknown state 'UZ'"),
        (_unknown_office_point, "offices.json", "19201", "unknown border point"),
        (_waypoint_outside_states, "corridors.json", "WESTERN_ROAD", "PL is not in states"),
        (_missing_crossing, "corridors.json", "WESTERN_ROAD", "should join KZ and RU"),
        (_unknown_corridor_point, "corridors.json", "KG_KZ_ROAD", "TORUGART_PASS"),
        (_long_gap, "corridors.json", "NORTHERN_RAIL", "km from 'Zabaikalsk'"),
        (_shares_not_100, "duty_shares.json", "2020-01-01", "not exactly 100"),
        (_shares_overlap, "duty_shares.json", "2020-01-01", "overlaps"),
        (_combined_without_specific, "tariff.json", "6109", "kind combined"),
        (_duplicate_heading, "tariff.json", "8471", "duplicate heading"),
        (_incomplete_excise, "tariff.json", "2208", "'KG'"),
        (_unknown_field, "offices.json", "06611", "unknown field 'town'"),
        (_unknown_waypoint_field, "corridors.json", "IRKESHTAM_ROAD", "elevation"),
        (_string_latitude, "offices.json", "41701", "lat"),
        (_wrong_internal_flag, "border_points.json", "KRASNOYE_REDKI", "internal must be true"),
        (_state_with_unknown_currency, "states.json", "KG", "unknown currency 'KGZ'"),
        (_rate_missing, "currencies.json", "2025-12-31", "no rate for 'GBP'"),
        (_exemption_for_anyone, "security_exemptions.json", "RAIL", "anyone could claim it"),
        (_exemption_parties_without_a_party, "security_exemptions.json", "RAIL", "need a party"),
        (_exemption_unknown_mode, "security_exemptions.json", "RAIL", "modes"),
        (_exemption_party_twice, "security_exemptions.json", "RAIL", "listed twice for KZ"),
        (_exemption_party_abroad, "security_exemptions.json", "RAIL", "unknown state 'CN'"),
        (_exemption_party_field, "security_exemptions.json", "RAIL", "authorised.0.'since'"),
    ],
)
def test_malformed_entries_are_named(mutate: Mutation, file: str, entry: str, words: str) -> None:
    files = raw_files()
    mutate(files)
    encoded = {name: json.dumps(content).encode() for name, content in files.items()}
    with pytest.raises(ReferenceDataError) as caught:
        parse_reference(encoded)
    error = caught.value
    assert error.file == file
    assert error.entry is not None
    assert entry in error.entry
    assert words in error.message
    assert str(error).startswith(f"{file}, entry ")
    assert isinstance(error, ValueError)


def _encoded() -> dict[str, bytes]:
    return {name: json.dumps(content).encode() for name, content in raw_files().items()}


def test_the_shipped_files_parse_when_passed_as_bytes() -> None:
    assert parse_reference(_encoded()).offices.keys() == load_reference().offices.keys()


@pytest.mark.parametrize(
    ("change", "file", "words"),
    [
        (lambda f: f.__setitem__("tariff.json", b"{not json"), "tariff.json", "not valid JSON"),
        (lambda f: f.pop("states.json"), "states.json", "is missing"),
        (lambda f: f.__setitem__("extra.json", b"{}"), "extra.json", "not a known"),
        (lambda f: f.__setitem__("offices.json", b"[]"), "offices.json", "JSON object"),
        (
            lambda f: f.__setitem__("corridors.json", b'{"as_of": "2026-01-01", "corridors": []}'),
            "corridors.json",
            "'source'",
        ),
        (
            lambda f: f.__setitem__(
                "corridors.json", b'{"source": "s", "as_of": "2026", "corridors": [{}]}'
            ),
            "corridors.json",
            "as_of",
        ),
        (
            lambda f: f.__setitem__(
                "corridors.json", b'{"source": "s", "as_of": "2026-01-01", "corridors": [1]}'
            ),
            "corridors.json",
            "JSON object",
        ),
        (
            lambda f: f.__setitem__(
                "currencies.json",
                b'{"source": "s", "as_of": "2026-01-01", "currencies": ["EUR"], '
                b'"rates": [{"on": "2026-01-01", "per_unit_eur": {"EUR": NaN}}]}',
            ),
            "currencies.json",
            "not valid JSON",
        ),
        (
            lambda f: f.__setitem__(
                "border_points.json", f["border_points.json"].replace(b"44.21", b"4e999", 1)
            ),
            "border_points.json",
            "out of range",
        ),
    ],
)
def test_malformed_files_are_named(
    change: Callable[[dict[str, bytes]], object], file: str, words: str
) -> None:
    files = _encoded()
    change(files)
    with pytest.raises(ReferenceDataError) as caught:
        parse_reference(files)
    assert caught.value.file == file
    assert words in caught.value.message


# --- example declarations ------------------------------------------------------------------------

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def test_there_is_one_example_per_corridor(ref: ReferenceData) -> None:
    corridors = [json.loads(path.read_bytes())["corridor"] for path in EXAMPLE_FILES]
    assert sorted(corridors) == sorted(ref.corridors)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_declaration_parses_and_fits_the_reference(ref: ReferenceData, path: Path) -> None:
    declaration = TransitDeclaration.model_validate_json(path.read_bytes())
    departure = ref.offices[declaration.departure_office]
    destination = ref.offices[declaration.destination_office]
    assert OfficeRole.DEPARTURE in departure.roles
    assert OfficeRole.DESTINATION in destination.roles
    assert declaration.route[0] == departure.state
    assert declaration.route[-1] == destination.state

    assert declaration.corridor is not None
    corridor = ref.corridors[declaration.corridor]
    assert set(declaration.route) <= set(corridor.states)
    crossed = [bp for bp in corridor.border_points if bp in declaration.border_points]
    assert crossed == declaration.border_points
    for code in declaration.intermediate_offices:
        roles = ref.offices[code].roles
        assert roles & {OfficeRole.INTERMEDIATE, OfficeRole.BORDER}, code

    for item in declaration.items:
        assert re.fullmatch(r"\d{10}", item.commodity_code), item
        assert item.commodity_code[:4] in ref.tariff, item
        assert item.currency in ref.currencies, item
    assert declaration.time_limit > date(2026, 12, 1)
    assert declaration.seals.navigation_seal_ids
    grns = [s.reference for s in declaration.security if s.kind is SecurityKind.GRN]
    assert len(grns) == 1
    assert re.fullmatch(r"\d{2}[A-Z]{2}[A-Z0-9]{12}\d", grns[0])
