"""What describes a common process: field kinds, fields, structures, message types, processes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class FieldKind(StrEnum):
    """How a body field's value is typed in Python and written in XML."""

    TEXT = "text"
    """``str``; free text."""
    CODE = "code"
    """``str``; a coded value whose lexical form the XSD constrains."""
    UUID = "uuid"
    """:class:`uuid.UUID`."""
    DATE = "date"
    """:class:`datetime.date` (not a datetime)."""
    DATETIME = "datetime"
    """Timezone-aware :class:`datetime.datetime`."""
    DECIMAL = "decimal"
    """Finite :class:`decimal.Decimal`."""
    INTEGER = "integer"
    """``int`` (not ``bool``)."""
    BOOLEAN = "boolean"
    """``bool``."""
    GROUP = "group"
    """A mapping of nested fields described by :attr:`FieldSpec.fields`."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One element of a payload structure."""

    name: str
    """XML local name, also the key in :class:`~silkway.exchange.domain.envelope.MessageBody` fields."""
    kind: FieldKind
    required: bool = True
    repeated: bool = False
    """When true the value is a tuple; ``required`` then means at least one item."""
    fields: tuple[FieldSpec, ...] = ()
    """Children of a :attr:`FieldKind.GROUP` field, in element order."""
    choices: tuple[str, ...] = ()
    """Allowed values of a :attr:`FieldKind.CODE` field; empty means any."""


@dataclass(frozen=True, slots=True)
class StructureSpec:
    """A payload structure: its code, the body's root element and its fields."""

    code: str
    title: str
    root: str
    fields: tuple[FieldSpec, ...]

    @property
    def namespace(self) -> str:
        return structure_namespace(self.code)


@dataclass(frozen=True, slots=True)
class MessageType:
    """A catalogue entry: one message of the process and who exchanges it."""

    code: str
    title: str
    structure: str
    sender_roles: tuple[str, ...]
    receiver_roles: tuple[str, ...]
    transaction: str | None
    """Transaction that the message opens; ``None`` for replies, which travel in the
    transaction of the message they answer."""
    official: bool
    """True when the code is published by the EEC, false for Silkway's own numbering."""


def structure_namespace(code: str) -> str:
    """XML namespace of a payload structure, ``urn:EEC:R:{code}:v1.0.0``."""
    return f"urn:EEC:R:{code}:v1.0.0"


def office_field(name: str, *, required: bool = True, repeated: bool = False) -> FieldSpec:
    return FieldSpec(
        name,
        FieldKind.GROUP,
        required=required,
        repeated=repeated,
        fields=(FieldSpec("OfficeCode", FieldKind.CODE), FieldSpec("CountryCode", FieldKind.CODE)),
    )


def amount_field(name: str, *, required: bool = True) -> FieldSpec:
    return FieldSpec(
        name,
        FieldKind.GROUP,
        required=required,
        fields=(FieldSpec("Amount", FieldKind.DECIMAL), FieldSpec("CurrencyCode", FieldKind.CODE)),
    )


def party_field(name: str) -> FieldSpec:
    return FieldSpec(
        name,
        FieldKind.GROUP,
        required=False,
        fields=(
            FieldSpec("Name", FieldKind.TEXT),
            FieldSpec("Identification", FieldKind.CODE),
            FieldSpec("CountryCode", FieldKind.CODE),
            FieldSpec("Address", FieldKind.TEXT, required=False),
        ),
    )


MOVEMENT_REFERENCE = FieldSpec("MovementReference", FieldKind.CODE)


REMARKS = FieldSpec("Remarks", FieldKind.TEXT, required=False)


RESULT_ACCEPTED: Final = "accepted"


RESULT_REJECTED: Final = "rejected"


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """What an envelope's Action needs to know of a process."""

    code: str
    title: str
    version: str
    procedure: str
    processing_result: str
    """The code of this process's R.006 reply."""
