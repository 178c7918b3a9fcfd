"""The transit declaration (EEC Board Decision 73 of 30 May 2023), as lodged by a declarant.

The shape is checked here (types, lengths, required fields); the customs rules that need
reference data live in :mod:`silkway.transit.domain.rules`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from silkway.kernel.wire import JSON_INTEGER, TEXT_PATTERN, Date, Quantity, Whole
from silkway.reference.model import TransportMode

# Text is taken as written: not blank, and without whitespace around it (which a schema can
# say exactly, as it could not say "the length once stripped").
Text = Annotated[str, Field(min_length=1, max_length=512, pattern=TEXT_PATTERN)]
ShortText = Annotated[str, Field(min_length=1, max_length=70, pattern=TEXT_PATTERN)]
Code = Annotated[str, Field(min_length=1, max_length=35, pattern=TEXT_PATTERN)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Party(_Strict):
    name: Text
    identification: Code
    """Taxpayer or EORI-like identification number in the party's country."""
    country: Country
    address: Text | None = None


class TransportLeg(_Strict):
    mode: TransportMode
    identity: Code
    """Vehicle registration plate, wagon number, flight or vessel."""
    nationality: Country | None = None


class DocumentKind(StrEnum):
    CMR = "CMR"
    SMGS = "SMGS"
    AWB = "AWB"
    TIR = "TIR"
    BL = "BL"
    INVOICE = "INVOICE"


class TransportDocument(_Strict):
    kind: DocumentKind
    number: Code
    issued_on: Date | None = None


class GoodsItem(_Strict):
    item_number: Annotated[int, Field(ge=1, le=9999), JSON_INTEGER]
    commodity_code: Annotated[str, Field(min_length=1, max_length=16, pattern=TEXT_PATTERN)]
    description: Text
    gross_mass_kg: Quantity
    net_mass_kg: Quantity | None = None
    packages: Whole
    package_kind: Annotated[str, Field(min_length=2, max_length=2)] = "PK"
    """UN/ECE Recommendation 21 package code."""
    value: Quantity
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    supplementary_quantity: Quantity | None = None
    """Litres or pieces, where the tariff counts them (specific duties)."""


class Seals(_Strict):
    count: Annotated[int, Field(ge=0, le=999), JSON_INTEGER] = 0
    customs_seal_ids: list[Code] = Field(default_factory=list, max_length=999)
    navigation_seal_ids: list[Code] = Field(default_factory=list, max_length=99)


class SecurityKind(StrEnum):
    GRN = "GRN"
    """A guarantee reference number (NCTS style, 17 characters)."""
    CERTIFICATE = "CERTIFICATE"
    """A security certificate (Customs Code Art. 147)."""
    EXEMPT = "EXEMPT"
    """Security not required; the reference names the basis (reference data
    ``security_exemptions.json``, e.g. ``RAIL``), which must apply to the movement."""


class SecurityReference(_Strict):
    kind: SecurityKind
    reference: Code
    access_code: (
        Annotated[str, Field(min_length=4, max_length=10, pattern=r"^[0-9A-Z]+$")] | None
    ) = None
    """The holder's secret: 4 characters for a GRN (as in NCTS), 10 for a security certificate.
    Checked against the registry when the declaration is lodged or amended, then dropped: no
    stored declaration, log record or message carries it."""


class TransitDeclaration(_Strict):
    """One transit declaration, lodged once and valid along the whole route."""

    lrn: Annotated[str, Field(min_length=1, max_length=22, pattern=r"^[A-Za-z0-9\-_/.]+$")]
    """The declarant's local reference number; lodging is idempotent on (declarant, lrn)."""
    declarant: Party
    carrier: Party | None = None
    consignor: Party
    consignee: Party
    departure_office: Code
    destination_office: Code
    intermediate_offices: list[Code] = Field(default_factory=list, max_length=20)
    """Offices of transit in travel order, usually the border offices crossed."""
    route: list[Country] = Field(min_length=1, max_length=12)
    """States crossed in travel order, departure state first; third countries allowed."""
    border_points: list[Code] = Field(default_factory=list, max_length=20)
    """Border point ids crossed in travel order (see reference data)."""
    corridor: Code | None = None
    transport: list[TransportLeg] = Field(min_length=1, max_length=10)
    items: list[GoodsItem] = Field(min_length=1, max_length=999)
    documents: list[TransportDocument] = Field(default_factory=list, max_length=99)
    seals: Seals = Field(default_factory=Seals)
    place_of_delivery: Text | None = None
    time_limit: Date
    security: list[SecurityReference] = Field(default_factory=list, max_length=9)

    def owners(self) -> list[str]:
        """Who the declaration belongs to: its declarant, and its carrier when it names one."""
        carrier = [self.carrier.identification] if self.carrier else []
        return [self.declarant.identification, *carrier]

    def without_access_codes(self) -> TransitDeclaration:
        """The declaration as Silkway keeps and sends it: every quoted access code dropped."""
        if all(s.access_code is None for s in self.security):
            return self
        return self.model_copy(
            update={"security": [s.model_copy(update={"access_code": None}) for s in self.security]}
        )
