from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkway.kernel.errors import DeclarationInvalid
from silkway.reference.model import ReferenceData, TransportMode
from silkway.transit.domain.declaration import (
    DocumentKind,
    Party,
    SecurityKind,
    SecurityReference,
    TransitDeclaration,
    TransportDocument,
    TransportLeg,
)
from silkway.transit.domain.rules import (
    RULES,
    describe_rules,
    require_valid_declaration,
    route_length_km,
    time_limit_ceiling,
    validate_declaration,
)

TODAY = date(2026, 3, 2)
GRN = "25KZ0000000001238"
OTHER_GRN = "25KZ0000000001247"

Mutation = Callable[[TransitDeclaration], TransitDeclaration]


def base_declaration() -> TransitDeclaration:
    """Khorgos (KZ) to Brest (BY) by road along the western corridor: valid on ``TODAY``."""
    return TransitDeclaration.model_validate(
        {
            "lrn": "KZ-2026-000123",
            "declarant": {
                "name": "Silk Road Logistics LLP",
                "identification": "123456789012",
                "country": "KZ",
            },
            "carrier": {
                "name": "Silk Road Logistics LLP",
                "identification": "123456789012",
                "country": "KZ",
            },
            "consignor": {
                "name": "Yiwu Trading Co.",
                "identification": "91330782MA2E1X",
                "country": "CN",
            },
            "consignee": {
                "name": "Minsk Electronics",
                "identification": "190123456",
                "country": "BY",
            },
            "departure_office": "55201",
            "destination_office": "06611",
            "intermediate_offices": ["55501", "10502010"],
            "route": ["KZ", "RU", "BY"],
            "border_points": ["TROITSK", "KRASNOE"],
            "corridor": "western-road",
            "transport": [{"mode": "road", "identity": "123ABC02", "nationality": "KZ"}],
            "items": [
                {
                    "item_number": 1,
                    "commodity_code": "8471300000",
                    "description": "Portable computers",
                    "gross_mass_kg": "1200.5",
                    "net_mass_kg": "1100",
                    "packages": 120,
                    "value": "250000",
                    "currency": "USD",
                },
                {
                    "item_number": 2,
                    "commodity_code": "8517130000",
                    "description": "Smartphones",
                    "gross_mass_kg": "800",
                    "net_mass_kg": "700",
                    "packages": 80,
                    "value": "400000",
                    "currency": "CNY",
                },
            ],
            "documents": [
                {"kind": "CMR", "number": "CMR-778812", "issued_on": "2026-03-01"},
                {"kind": "INVOICE", "number": "INV-2026-17"},
            ],
            "seals": {
                "count": 2,
                "customs_seal_ids": ["KZ0001", "KZ0002"],
                "navigation_seal_ids": ["NS-KZ-77"],
            },
            "time_limit": (TODAY + timedelta(days=30)).isoformat(),
            "security": [{"kind": "GRN", "reference": GRN, "access_code": "1234"}],
        }
    )


@pytest.fixture
def declaration() -> TransitDeclaration:
    return base_declaration()


# --- mutations ---------------------------------------------------------------------------------


def _set(**update: Any) -> Mutation:
    return lambda d: d.model_copy(update=update)


def _item(index: int, **update: Any) -> Mutation:
    def mutate(d: TransitDeclaration) -> TransitDeclaration:
        items = list(d.items)
        items[index] = items[index].model_copy(update=update)
        return d.model_copy(update={"items": items})

    return mutate


def _seals(**update: Any) -> Mutation:
    return lambda d: d.model_copy(update={"seals": d.seals.model_copy(update=update)})


def _party(field: str, identification: str, country: str) -> Mutation:
    party = Party(name="Party", identification=identification, country=country)
    return _set(**{field: party})


def _then(*mutations: Mutation) -> Mutation:
    def mutate(d: TransitDeclaration) -> TransitDeclaration:
        for m in mutations:
            d = m(d)
        return d

    return mutate


def _grn(reference: str = GRN, access_code: str | None = "1234") -> SecurityReference:
    return SecurityReference(kind=SecurityKind.GRN, reference=reference, access_code=access_code)


EXEMPT = SecurityReference(kind=SecurityKind.EXEMPT, reference="AEO")
RAIL_EXEMPT = SecurityReference(kind=SecurityKind.EXEMPT, reference="RAIL")
CERTIFICATE = SecurityReference(
    kind=SecurityKind.CERTIFICATE, reference="26KZC000000000421", access_code="7Q2KX90MZP"
)
ROAD_LEG = TransportLeg(mode=TransportMode.ROAD, identity="123ABC02")
RAIL_LEG = TransportLeg(mode=TransportMode.RAIL, identity="WAGON-54321")
INVOICE = TransportDocument(kind=DocumentKind.INVOICE, number="INV-2026-17")


def _doc(kind: DocumentKind, issued_on: date | None = None) -> TransportDocument:
    return TransportDocument(kind=kind, number=f"{kind}-1", issued_on=issued_on)


def _third_item(d: TransitDeclaration) -> TransitDeclaration:
    extra = d.items[0].model_copy(update={"item_number": 3, "commodity_code": "6403990000"})
    return d.model_copy(update={"items": [*d.items, extra]})


def _single_item(d: TransitDeclaration) -> TransitDeclaration:
    return d.model_copy(update={"items": d.items[:1]})


# Khorgos to Almaty, inside Kazakhstan: about 290 km.
domestic = _set(
    destination_office="55401",
    intermediate_offices=[],
    route=["KZ"],
    border_points=[],
    corridor=None,
)

# Yerevan to Moscow through Georgia (the only road link between Armenia and Russia).
through_georgia = _set(
    departure_office="05",
    destination_office="10013010",
    intermediate_offices=["07", "10803010"],
    route=["AM", "GE", "RU"],
    border_points=["BAGRATASHEN", "VERKHNY_LARS"],
    corridor=None,
)

# Khorgos to Bishkek through Kordai / Ak-Zhol: off the western corridor.
to_kyrgyzstan = _set(
    destination_office="41703",
    intermediate_offices=["55601", "41705"],
    route=["KZ", "KG"],
    border_points=["AKZHOL"],
)

# Khorgos to Moscow, along the first part of the western corridor.
to_moscow = _set(
    destination_office="10013010",
    intermediate_offices=["55501", "10502010"],
    route=["KZ", "RU"],
    border_points=["TROITSK"],
)

# Khorgos to Almaty and back into Kazakhstan through Kyrgyzstan: a state may recur, not in a row.
via_kyrgyzstan = _set(
    destination_office="55401",
    intermediate_offices=["55601", "41705"],
    route=["KZ", "KG", "KZ"],
    border_points=["AKZHOL", "AKZHOL"],
    corridor=None,
)

multimodal = _set(transport=[ROAD_LEG, RAIL_LEG])

# Altynkol to Almaty by rail, Kazakhstan's national railway carrying: the RAIL exemption fits.
by_rail = _then(
    domestic,
    _set(
        departure_office="55205",
        transport=[RAIL_LEG],
        documents=[_doc(DocumentKind.SMGS)],
        carrier=Party(
            name="Kazakhstan Temir Zholy JSC", identification="020240000555", country="KZ"
        ),
    ),
)

# --- one failing case per rule (and more where a rule has several branches) ----------------------

FAILING: list[tuple[str, str, Mutation]] = [
    ("office-unknown", "/departure_office", _set(departure_office="55999")),
    ("office-unknown", "/destination_office", _set(destination_office="06999")),
    ("office-unknown", "/intermediate_offices/1", _set(intermediate_offices=["55501", "99999"])),
    ("office-state-mismatch", "/departure_office", _set(departure_office="41703")),
    ("office-state-mismatch", "/destination_office", _set(destination_office="10013010")),
    ("office-state-mismatch", "/intermediate_offices/0", _set(intermediate_offices=["07"])),
    ("office-role-missing", "/departure_office", _set(departure_office="55501")),
    (
        "office-role-missing",
        "/destination_office",
        _then(domestic, _set(destination_office="55601")),
    ),
    ("office-role-missing", "/intermediate_offices/0", _set(intermediate_offices=["55401"])),
    ("office-departure-is-destination", "/destination_office", _set(destination_office="55201")),
    (
        "intermediate-office-repeated",
        "/intermediate_offices/1",
        _set(intermediate_offices=["55501", "55501", "10502010"]),
    ),
    (
        "intermediate-office-repeated",
        "/intermediate_offices/0",
        _set(intermediate_offices=["06611"]),
    ),
    (
        "intermediate-office-order",
        "/intermediate_offices/1",
        _set(intermediate_offices=["10502010", "55501"]),
    ),
    ("commodity-code-malformed", "/items/0/commodity_code", _item(0, commodity_code="847130")),
    ("commodity-code-malformed", "/items/1/commodity_code", _item(1, commodity_code="7712345678")),
    ("commodity-heading-unknown", "/items/1/commodity_code", _item(1, commodity_code="0901110000")),
    ("item-gross-mass-not-positive", "/items/1/gross_mass_kg", _item(1, gross_mass_kg=Decimal(0))),
    ("item-net-mass-not-positive", "/items/0/net_mass_kg", _item(0, net_mass_kg=Decimal(-1))),
    (
        "item-net-mass-above-gross",
        "/items/1/net_mass_kg",
        _item(1, net_mass_kg=Decimal("800.001")),
    ),
    (
        "item-mass-implausible",
        "/items/0/gross_mass_kg",
        _item(0, gross_mass_kg=Decimal("1000000.001")),
    ),
    ("item-value-not-positive", "/items/0/value", _item(0, value=Decimal(0))),
    ("item-value-implausible", "/items/1/value", _item(1, value=Decimal(10) ** 11 + 1)),
    ("item-packages-invalid", "/items/0/packages", _item(0, packages=0)),
    ("item-packages-invalid", "/items/1/packages", _item(1, packages=-1, package_kind="VY")),
    (
        "item-supplementary-quantity-not-positive",
        "/items/0/supplementary_quantity",
        _item(0, supplementary_quantity=Decimal(0)),
    ),
    ("currency-unknown", "/items/1/currency", _item(1, currency="XXX")),
    ("item-number-duplicate", "/items/1/item_number", _item(1, item_number=1)),
    ("item-number-sequence", "/items/1/item_number", _item(1, item_number=3)),
    (
        "item-number-sequence",
        "/items/0/item_number",
        _then(_item(0, item_number=2), _item(1, item_number=3)),
    ),
    ("route-start-not-member", "/route/0", _set(route=["CN", "KZ", "RU", "BY"])),
    ("route-state-repeated", "/route/1", _set(route=["KZ", "KZ", "RU", "BY"])),
    ("route-no-border", "/route/1", _set(route=["KZ", "BY"], border_points=[])),
    ("route-no-border", "/route/2", _set(route=["KZ", "RU", "XX", "BY"], border_points=[])),
    ("border-point-unknown", "/border_points/1", _set(border_points=["TROITSK", "NOWHERE"])),
    ("border-point-count", "/border_points", _set(border_points=["TROITSK"])),
    ("border-point-mismatch", "/border_points/0", _set(border_points=["KRASNOE", "TROITSK"])),
    ("border-point-mismatch", "/border_points/1", _set(border_points=["TROITSK", "BREST"])),
    ("border-point-mode", "/border_points/0", _set(transport=[RAIL_LEG])),
    ("corridor-unknown", "/corridor", _set(corridor="northern")),
    ("corridor-route-mismatch", "/route/1", to_kyrgyzstan),
    ("corridor-border-point-mismatch", "/border_points/0", to_kyrgyzstan),
    ("corridor-mode-mismatch", "/transport/0/mode", _set(transport=[RAIL_LEG, ROAD_LEG])),
    ("time-limit-past", "/time_limit", _set(time_limit=TODAY - timedelta(days=1))),
    ("time-limit-too-long", "/time_limit", _set(time_limit=date(2026, 6, 3))),
    ("time-limit-too-short", "/time_limit", _set(time_limit=TODAY)),
    ("seal-count-mismatch", "/seals/count", _seals(count=3)),
    ("seal-count-mismatch", "/seals/count", _seals(count=0)),
    (
        "seals-too-many",
        "/seals",
        _seals(
            count=999, customs_seal_ids=[f"KZ{i}" for i in range(999)], navigation_seal_ids=["N1"]
        ),
    ),
    ("seal-id-duplicate", "/seals/customs_seal_ids/1", _seals(customs_seal_ids=["KZ1", "KZ1"])),
    (
        "navigation-seal-duplicate",
        "/seals/navigation_seal_ids/2",
        _seals(navigation_seal_ids=["N1", "N2", "N1"]),
    ),
    (
        "party-identification-format",
        "/declarant/identification",
        _party("declarant", "12345", "KZ"),
    ),
    (
        "party-identification-format",
        "/consignee/identification",
        _party("consignee", "19012345X", "BY"),
    ),
    (
        "party-identification-format",
        "/carrier/identification",
        _party("carrier", "77012345678", "RU"),
    ),
    (
        "party-identification-format",
        "/consignor/identification",
        _party("consignor", "0123456789012", "KG"),
    ),
    (
        "party-identification-format",
        "/declarant/identification",
        _party("declarant", "0012345", "AM"),
    ),
    ("security-missing", "/security", _set(security=[])),
    ("security-exempt-mixed", "/security/1/kind", _set(security=[_grn(), EXEMPT])),
    ("security-grn-invalid", "/security/0/reference", _set(security=[_grn("25KZ0000000001239")])),
    ("security-grn-invalid", "/security/0/reference", _set(security=[_grn("KZ-GUARANTEE-1")])),
    (
        "security-certificate-invalid",
        "/security/0/reference",
        _set(security=[CERTIFICATE.model_copy(update={"reference": "ANYTHING1"})]),
    ),
    (
        "security-certificate-invalid",
        "/security/0/reference",
        _set(security=[CERTIFICATE.model_copy(update={"reference": GRN})]),  # a GRN, not a C
    ),
    (
        "security-access-code-missing",
        "/security/0/access_code",
        _set(security=[_grn(access_code=None)]),
    ),
    (
        "security-access-code-missing",
        "/security/0/access_code",
        _set(security=[CERTIFICATE.model_copy(update={"access_code": None})]),
    ),
    (
        "security-exemption-unknown",
        "/security/0/reference",
        _set(security=[SecurityReference(kind=SecurityKind.EXEMPT, reference="NONE")]),
    ),
    # Rail exemption claimed for a road transit by a carrier nobody authorised.
    ("security-exemption-not-applicable", "/security/0/reference", _set(security=[RAIL_EXEMPT])),
    (
        "security-exemption-not-applicable",
        "/security/0/reference",
        _then(_set(security=[RAIL_EXEMPT]), by_rail, _set(carrier=None)),
    ),
    (
        "security-exemption-not-applicable",
        "/security/0/reference",
        _then(_party("declarant", "987654321098", "KZ"), _set(security=[EXEMPT])),
    ),
    ("security-duplicate", "/security/1/reference", _set(security=[_grn(), _grn()])),
    ("transport-document-missing", "/documents", _set(documents=[INVOICE])),
    ("transport-document-missing", "/documents", _set(documents=[])),
    (
        "document-mode-mismatch",
        "/documents/1/kind",
        _set(documents=[_doc(DocumentKind.CMR), _doc(DocumentKind.SMGS)]),
    ),
    (
        "document-mode-mismatch",
        "/documents/0/kind",
        _set(transport=[RAIL_LEG], corridor=None, border_points=[]),
    ),
    (
        "document-issued-in-future",
        "/documents/0/issued_on",
        _set(documents=[_doc(DocumentKind.CMR, TODAY + timedelta(days=1))]),
    ),
]

# --- one passing case per rule: a nearby declaration that is entirely valid ----------------------

PASSING: list[tuple[str, Mutation]] = [
    ("office-unknown", through_georgia),
    ("office-state-mismatch", through_georgia),
    ("office-state-mismatch", _set(intermediate_offices=["10502010"])),
    ("office-role-missing", _set(destination_office="06650")),
    ("office-departure-is-destination", domestic),
    ("intermediate-office-repeated", _set(intermediate_offices=["55501"])),
    ("intermediate-office-order", via_kyrgyzstan),
    ("commodity-code-malformed", _item(0, commodity_code="8471410000")),
    ("commodity-heading-unknown", _item(1, commodity_code="6403990000")),
    ("item-gross-mass-not-positive", _item(1, gross_mass_kg=Decimal("0.001"), net_mass_kg=None)),
    ("item-net-mass-not-positive", _item(0, net_mass_kg=None)),
    ("item-net-mass-above-gross", _item(1, net_mass_kg=Decimal(800))),
    ("item-mass-implausible", _item(0, gross_mass_kg=Decimal(1_000_000))),
    ("item-value-not-positive", _item(0, value=Decimal("0.01"))),
    ("item-value-implausible", _item(1, value=Decimal(10) ** 11)),
    ("item-packages-invalid", _item(1, packages=0, package_kind="VY")),
    ("item-supplementary-quantity-not-positive", _item(0, supplementary_quantity=Decimal("0.5"))),
    ("currency-unknown", _item(1, currency="EUR")),
    ("item-number-duplicate", _third_item),
    ("item-number-sequence", _single_item),
    ("route-start-not-member", through_georgia),
    ("route-state-repeated", via_kyrgyzstan),
    ("route-no-border", through_georgia),
    ("border-point-unknown", _set(border_points=[])),
    ("border-point-count", through_georgia),
    ("border-point-mismatch", via_kyrgyzstan),
    ("border-point-mode", multimodal),
    ("corridor-unknown", _set(corridor=None)),
    ("corridor-route-mismatch", to_moscow),
    ("corridor-route-mismatch", _then(to_kyrgyzstan, _set(corridor=None))),
    ("corridor-border-point-mismatch", to_moscow),
    ("corridor-mode-mismatch", multimodal),
    ("time-limit-past", _set(time_limit=TODAY + timedelta(days=1))),
    ("time-limit-too-long", _set(time_limit=date(2026, 6, 2))),
    ("time-limit-too-short", _then(domestic, _set(time_limit=TODAY))),
    ("seal-count-mismatch", _seals(count=5, customs_seal_ids=[])),
    ("seals-too-many", _seals(count=998, customs_seal_ids=[f"KZ{i}" for i in range(998)])),
    ("seal-id-duplicate", _seals(count=3, customs_seal_ids=["KZ1", "KZ2", "KZ3"])),
    ("navigation-seal-duplicate", _seals(navigation_seal_ids=["N1", "N2"])),
    ("navigation-seal-duplicate", _seals(navigation_seal_ids=[])),
    ("party-identification-format", _party("consignee", "7701234567", "RU")),
    ("party-identification-format", _party("consignee", "770123456789", "RU")),
    ("party-identification-format", _party("consignee", "01234567891234", "KG")),
    ("party-identification-format", _party("consignee", "02345678", "AM")),
    ("party-identification-format", _party("consignee", "DE123456789", "DE")),
    ("party-identification-format", _set(carrier=None)),
    ("security-missing", _set(security=[EXEMPT])),
    ("security-exempt-mixed", _set(security=[_grn(), CERTIFICATE])),
    ("security-grn-invalid", _set(security=[_grn(GRN + "A123456")])),
    ("security-certificate-invalid", _set(security=[CERTIFICATE])),
    ("security-access-code-missing", _set(security=[CERTIFICATE])),
    ("security-exemption-unknown", _set(security=[EXEMPT])),
    ("security-exemption-not-applicable", _then(by_rail, _set(security=[RAIL_EXEMPT]))),
    ("security-duplicate", _set(security=[_grn(), _grn(OTHER_GRN)])),
    ("transport-document-missing", _set(documents=[_doc(DocumentKind.TIR)])),
    (
        "document-mode-mismatch",
        _then(multimodal, _set(documents=[_doc(DocumentKind.CMR), _doc(DocumentKind.SMGS)])),
    ),
    ("document-issued-in-future", _set(documents=[_doc(DocumentKind.CMR, TODAY)])),
]


def _found(decl: TransitDeclaration, ref: ReferenceData) -> set[tuple[str, str]]:
    return {(v.code, v.pointer) for v in validate_declaration(decl, ref, TODAY)}


def test_base_declaration_is_valid(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    assert validate_declaration(declaration, reference_data, TODAY) == []


@pytest.mark.parametrize(
    ("code", "pointer", "mutate"),
    FAILING,
    ids=[f"{code}@{pointer}" for code, pointer, _ in FAILING],
)
def test_rule_fails(
    declaration: TransitDeclaration,
    reference_data: ReferenceData,
    code: str,
    pointer: str,
    mutate: Mutation,
) -> None:
    assert (code, pointer) in _found(mutate(declaration), reference_data)


@pytest.mark.parametrize(
    ("code", "mutate"), PASSING, ids=[f"{code}-{i}" for i, (code, _) in enumerate(PASSING)]
)
def test_rule_passes(
    declaration: TransitDeclaration, reference_data: ReferenceData, code: str, mutate: Mutation
) -> None:
    assert validate_declaration(mutate(declaration), reference_data, TODAY) == []


def test_every_rule_has_a_failing_and_a_passing_case() -> None:
    codes = {rule.code for rule in RULES}
    assert {code for code, _, _ in FAILING} == codes
    assert {code for code, _ in PASSING} == codes


def test_an_exemption_says_why_it_does_not_apply(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    road = _set(security=[RAIL_EXEMPT])(declaration)
    messages = [v.message for v in validate_declaration(road, reference_data, TODAY)]
    assert messages == [
        "RAIL covers carriage by rail only; leg 1 is road",
        (
            "carrier 123456789012 is not authorised by KZ to claim RAIL (goods carried by rail by"
            " an authorised railway carrier)"
        ),
    ]
    unknown = _set(security=[SecurityReference(kind=SecurityKind.EXEMPT, reference="NONE")])
    [violation] = validate_declaration(unknown(declaration), reference_data, TODAY)
    assert violation.message == "no exemption basis 'NONE' (known: AEO, RAIL)"


def test_one_mistake_gives_one_violation(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    # Rules that depend on a resolved office skip the unknown one instead of piling up.
    mutated = _set(departure_office="55999")(declaration)
    found = _found(mutated, reference_data)
    assert found == {("office-unknown", "/departure_office")}


def test_violations_carry_a_message(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    mutated = _set(security=[_grn("25KZ0000000001239")])(declaration)
    [violation] = validate_declaration(mutated, reference_data, TODAY)
    assert violation.message == "GRN 25KZ0000000001239: check character is 9, expected 8"


# --- time limit and route length -----------------------------------------------------------------


def test_route_length_follows_the_corridor_when_one_is_given(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    along_corridor = route_length_km(declaration, reference_data)
    office_to_office = route_length_km(
        declaration.model_copy(update={"corridor": None}), reference_data
    )
    assert along_corridor is not None
    assert office_to_office is not None
    # Khorgos to Brest: about 4,250 km as the crow flies via Troitsk, 4,750 km via the towns.
    assert 4_000 < office_to_office < along_corridor < 5_000


def test_route_length_is_unknown_with_an_unknown_office(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    mutated = declaration.model_copy(update={"intermediate_offices": ["99999"], "corridor": None})
    assert route_length_km(mutated, reference_data) is None


@pytest.mark.parametrize(
    ("km", "ceiling"),
    [
        (0.0, date(2026, 4, 2)),
        (2_000.0, date(2026, 4, 2)),
        (2_000.1, date(2026, 5, 2)),
        (4_765.0, date(2026, 6, 2)),
    ],
)
def test_time_limit_ceiling(km: float, ceiling: date) -> None:
    assert time_limit_ceiling(km, TODAY) == ceiling


def test_time_limit_ceiling_keeps_to_the_end_of_a_short_month() -> None:
    assert time_limit_ceiling(100.0, date(2026, 1, 31)) == date(2026, 2, 28)


def test_km_per_month_is_a_parameter(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    late = declaration.model_copy(update={"time_limit": date(2026, 8, 2)})
    assert ("time-limit-too-long", "/time_limit") in _found(late, reference_data)
    assert validate_declaration(late, reference_data, TODAY, km_per_month=1_000) == []


def test_km_per_month_must_be_positive(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    with pytest.raises(ValueError, match="km_per_month"):
        validate_declaration(declaration, reference_data, TODAY, km_per_month=0)


# --- registry and entry points -------------------------------------------------------------------


def test_rules_are_described_for_the_docs() -> None:
    described = describe_rules()
    assert [d["code"] for d in described] == [r.code for r in RULES]
    assert len({d["code"] for d in described}) == len(described)
    for entry in described:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", entry["code"])
        assert entry["name"]
        assert entry["description"]
        assert set(entry) == {"code", "name", "description"}


def test_require_valid_declaration(
    declaration: TransitDeclaration, reference_data: ReferenceData
) -> None:
    require_valid_declaration(declaration, reference_data, TODAY)
    broken = _set(security=[], time_limit=TODAY - timedelta(days=1))(declaration)
    with pytest.raises(DeclarationInvalid) as raised:
        require_valid_declaration(broken, reference_data, TODAY)
    assert {(v.code, v.pointer) for v in raised.value.violations} == {
        ("security-missing", "/security"),
        ("time-limit-past", "/time_limit"),
    }


# --- robustness ----------------------------------------------------------------------------------

office_codes = st.sampled_from(["55201", "55401", "55501", "10502010", "06611", "41705", "05", "1"])
countries = st.sampled_from(["KZ", "RU", "BY", "KG", "AM", "CN", "GE", "PL", "XX"])
point_ids = st.sampled_from(["TROITSK", "KRASNOE", "BREST", "AKZHOL", "KHORGOS", "NOWHERE"])


@given(
    departure=office_codes,
    destination=office_codes,
    intermediates=st.lists(office_codes, max_size=4),
    route=st.lists(countries, min_size=1, max_size=5),
    points=st.lists(point_ids, max_size=5),
    corridor=st.sampled_from([None, "western-road", "northern"]),
    days=st.integers(min_value=-400, max_value=4000),
)
def test_validation_never_raises(
    reference_data: ReferenceData,
    departure: str,
    destination: str,
    intermediates: list[str],
    route: list[str],
    points: list[str],
    corridor: str | None,
    days: int,
) -> None:
    mutated = base_declaration().model_copy(
        update={
            "departure_office": departure,
            "destination_office": destination,
            "intermediate_offices": intermediates,
            "route": route,
            "border_points": points,
            "corridor": corridor,
            "time_limit": TODAY + timedelta(days=days),
        }
    )
    violations = validate_declaration(mutated, reference_data, TODAY)
    codes = {rule.code for rule in RULES}
    for violation in violations:
        assert violation.code in codes
        assert violation.pointer.startswith("/")
        assert violation.message
