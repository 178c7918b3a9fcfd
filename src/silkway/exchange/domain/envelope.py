"""The interstate message envelope (EEC Board Decision 5 of 27 Jan 2015), as pure values.

An :class:`Envelope` is what one national system sends another through the integration
platform: an addressing header (:class:`EnvelopeHeader`), the electronic document's header
(:class:`EDocHeader`) and the payload (:class:`MessageBody`) of one structure from
:data:`~silkway.exchange.domain.processes.STRUCTURES`. Every value is checked when it is built, so an
envelope that exists is well formed; the XML codec and the signature check live in adapters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias
from uuid import UUID

from silkway.exchange.domain.processes import (
    CATALOGUE,
    PROCESSES,
    RESULT_ACCEPTED,
    RESULT_REJECTED,
    STRUCTURES,
    FieldKind,
    FieldSpec,
)
from silkway.kernel.errors import DomainError, Violation
from silkway.reference.model import NODE_CODES

FieldValue: TypeAlias = (
    "str | int | bool | Decimal | date | datetime | UUID | Group | tuple[FieldValue, ...]"
)
Group: TypeAlias = Mapping[str, FieldValue]


class EnvelopeInvalid(DomainError):
    """An envelope, or one of its parts, breaks the Decision 5 model."""

    code = "envelope-invalid"


class AddressInvalid(EnvelopeInvalid):
    code = "envelope-address-invalid"


class ActionUriInvalid(EnvelopeInvalid):
    code = "envelope-action-invalid"


class HeaderInvalid(EnvelopeInvalid):
    code = "envelope-header-invalid"


class BodyInvalid(EnvelopeInvalid):
    """The payload does not match its structure; ``violations`` point at each bad field."""

    code = "envelope-body-invalid"


class RejectionCode(StrEnum):
    """Stable reasons for refusing inbound bytes; each becomes an error in a negative R.006."""

    XML_MALFORMED = "xml-malformed"
    XML_DOCTYPE_FORBIDDEN = "xml-doctype-forbidden"
    XML_PI_FORBIDDEN = "xml-processing-instruction-forbidden"
    XML_TOO_LARGE = "xml-too-large"
    XML_TOO_DEEP = "xml-too-deep"
    XML_TOO_MANY_ELEMENTS = "xml-too-many-elements"
    NAMESPACE_UNEXPECTED = "namespace-unexpected"
    STRUCTURE_UNKNOWN = "structure-unknown"
    HEADER_MISSING = "header-missing"
    SCHEMA_INVALID = "schema-invalid"
    HEADER_INVALID = "header-invalid"
    BODY_INVALID = "body-invalid"
    ENVELOPE_INCONSISTENT = "envelope-inconsistent"


class EnvelopeRejected(DomainError):
    """Bytes that are not an acceptable envelope; ``code`` is a stable :class:`RejectionCode`."""

    def __init__(self, code: RejectionCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code.value
        self.rejection = code
        self.reason = reason


class SignatureCode(StrEnum):
    """Stable reasons for refusing an envelope's signature."""

    UNSIGNED = "signature-missing"
    ALREADY_SIGNED = "signature-already-present"
    MALFORMED = "signature-malformed"
    ALGORITHM_UNSUPPORTED = "signature-algorithm-unsupported"
    INVALID = "signature-invalid"
    KEY_UNKNOWN = "key-unknown"
    KEY_REVOKED = "key-revoked"
    KEY_NOT_YET_VALID = "key-not-yet-valid"
    KEY_EXPIRED = "key-expired"
    KEY_OWNER_MISMATCH = "key-owner-mismatch"
    STALE = "signature-stale"
    FROM_FUTURE = "signature-from-future"


class SignatureRejected(DomainError):
    """An envelope whose signature cannot be trusted; ``code`` is a :class:`SignatureCode`."""

    def __init__(self, code: SignatureCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code.value
        self.rejection = code
        self.reason = reason


# --- addresses and actions ----------------------------------------------------------------

ADDRESS_GROUPS: tuple[str, ...] = ("CP", "CA", "SR")
"""Address groups of Decision 5: common processes, customs authorities, services."""

_PROCESS = r"P\.[A-Z]{2}\.\d{2}"
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_PROCESS_RE = re.compile(_PROCESS)
_VERSION_RE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}")
_ADDRESS_SCHEME = "EAEU://"
_ACTION_SCHEME = "int://CP/"


@dataclass(frozen=True, slots=True)
class Address:
    """``EAEU://{node}/{group}/{path...}``; for ``CP`` the path is ``(process, role)``."""

    node: str
    group: str
    path: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.node not in NODE_CODES:
            raise AddressInvalid(f"unknown node {self.node!r}; expected one of {NODE_CODES}")
        if self.group not in ADDRESS_GROUPS:
            raise AddressInvalid(f"unknown address group {self.group!r}")
        if not self.path or not all(_SEGMENT.fullmatch(part) for part in self.path):
            raise AddressInvalid(f"bad address path {'/'.join(self.path)!r}")
        if self.group == "CP":
            if len(self.path) != 2 or not _PROCESS_RE.fullmatch(self.path[0]):
                raise AddressInvalid("a CP address is EAEU://{node}/CP/{process}/{role}")
            if not re.fullmatch(re.escape(self.path[0]) + r"\.ACT\.\d{3}", self.path[1]):
                raise AddressInvalid(f"role {self.path[1]!r} is not a role of {self.path[0]}")

    @classmethod
    def for_role(cls, node: str, role: str) -> Address:
        """The address of participant ``role`` (e.g. ``P.CP.01.ACT.001``) at ``node``."""
        process = role.partition(".ACT.")[0]
        return cls(node, "CP", (process, role))

    @property
    def process(self) -> str | None:
        return self.path[0] if self.group == "CP" else None

    @property
    def role(self) -> str | None:
        return self.path[1] if self.group == "CP" else None

    def __str__(self) -> str:
        return f"{_ADDRESS_SCHEME}{self.node}/{self.group}/{'/'.join(self.path)}"


def parse_address(text: str) -> Address:
    """Parse ``EAEU://KZ/CP/P.CP.01/P.CP.01.ACT.001``; raise :class:`AddressInvalid`."""
    if not text.startswith(_ADDRESS_SCHEME):
        raise AddressInvalid(f"address {text[:120]!r} does not start with {_ADDRESS_SCHEME}")
    parts = text[len(_ADDRESS_SCHEME) :].split("/")
    if len(parts) < 3:
        raise AddressInvalid(f"address {text[:120]!r} has no path")
    return Address(parts[0], parts[1], tuple(parts[2:]))


@dataclass(frozen=True, slots=True)
class Action:
    """``int://CP/{process}/{version}/{procedure}/{transaction}/{message}``."""

    process: str
    version: str
    procedure: str
    transaction: str
    message: str

    def __post_init__(self) -> None:
        if not _PROCESS_RE.fullmatch(self.process):
            raise ActionUriInvalid(f"bad process code {self.process!r}")
        if not _VERSION_RE.fullmatch(self.version):
            raise ActionUriInvalid(f"bad process version {self.version!r}")
        prefix = re.escape(self.process)
        for kind, value in (
            ("PRC", self.procedure),
            ("TRN", self.transaction),
            ("MSG", self.message),
        ):
            if not re.fullmatch(rf"{prefix}\.{kind}\.\d{{3}}", value):
                raise ActionUriInvalid(f"{value!r} is not a {kind} code of {self.process}")

    def __str__(self) -> str:
        return (
            f"{_ACTION_SCHEME}{self.process}/{self.version}/"
            f"{self.procedure}/{self.transaction}/{self.message}"
        )


def parse_action(text: str) -> Action:
    """Parse an ``int://CP/...`` action URI; raise :class:`ActionUriInvalid`."""
    if not text.startswith(_ACTION_SCHEME):
        raise ActionUriInvalid(f"action {text[:120]!r} does not start with {_ACTION_SCHEME}")
    parts = text[len(_ACTION_SCHEME) :].split("/")
    if len(parts) != 5:
        raise ActionUriInvalid(f"action {text[:120]!r} must have five segments after int://CP/")
    return Action(*parts)


# --- identifiers ----------------------------------------------------------------------------

_URN_UUID = re.compile(r"urn:uuid:[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def urn_uuid(value: UUID) -> str:
    """``urn:uuid:…`` form of a UUID, as WS-Addressing and the EEC header fields carry it."""
    return value.urn


def parse_urn_uuid(text: str) -> UUID:
    """Inverse of :func:`urn_uuid`; raise :class:`HeaderInvalid`."""
    if not _URN_UUID.fullmatch(text):
        raise HeaderInvalid(f"{text[:120]!r} is not a urn:uuid identifier")
    return UUID(text[len("urn:uuid:") :])


def _require_aware(name: str, value: datetime, error: type[EnvelopeInvalid]) -> None:
    offset = value.utcoffset()
    if offset is None:
        raise error(f"{name} must carry a timezone")
    # xs:dateTime offsets are whole minutes; an offset with seconds cannot be written.
    if offset.seconds % 60 or offset.microseconds:
        raise error(f"{name} has a UTC offset with seconds")


# --- headers --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """WS-Addressing and EEC interaction fields of one envelope."""

    to: Address
    reply_to: Address
    """The sender's own address; replies go there."""
    action: Action
    message_id: UUID
    procedure_id: UUID
    """Identifies one run of the procedure (for P.CP.01, one transit movement)."""
    conversation_id: UUID
    """Identifies one transaction: a message and its replies share it."""
    relates_to: UUID | None = None
    """MessageID of the message this one answers."""
    track_id: UUID | None = None
    """Stamped by the integration platform, never by the sender."""
    accept_time: datetime | None = None
    """Stamped by the integration platform, never by the sender."""

    def __post_init__(self) -> None:
        if self.accept_time is not None:
            _require_aware("accept_time", self.accept_time, HeaderInvalid)
        if (self.track_id is None) != (self.accept_time is None):
            raise HeaderInvalid("the platform stamps track_id and accept_time together")

    def stamped(self, track_id: UUID, accept_time: datetime) -> EnvelopeHeader:
        """A copy carrying the integration platform's tracking stamp."""
        return replace(self, track_id=track_id, accept_time=accept_time)


_LANGUAGE = re.compile(r"[a-z]{2}")


@dataclass(frozen=True, slots=True)
class EDocHeader:
    """The electronic document's own header, first element of every body."""

    inf_envelope_code: str
    """Message code, e.g. ``P.CP.01.MSG.010``."""
    edoc_code: str
    """Structure code, e.g. ``R.CA.CP.01.001``."""
    edoc_id: UUID
    edoc_datetime: datetime
    language_code: str = "ru"
    """ISO 639-1, lower case."""
    edoc_ref_id: UUID | None = None
    """EDocId of the document this one refers to (a reply's original)."""

    def __post_init__(self) -> None:
        _require_aware("edoc_datetime", self.edoc_datetime, HeaderInvalid)
        if not _LANGUAGE.fullmatch(self.language_code):
            raise HeaderInvalid(f"language code {self.language_code!r} is not ISO 639-1")
        if self.edoc_code not in STRUCTURES:
            raise HeaderInvalid(f"unknown structure {self.edoc_code!r}")


# --- body -----------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry; rejecting them here keeps the codec total.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _check_scalar(spec: FieldSpec, value: object, pointer: str) -> Violation | None:
    def bad(message: str) -> Violation:
        return Violation("field-type", pointer, message)

    match spec.kind:
        case FieldKind.TEXT | FieldKind.CODE:
            if not isinstance(value, str):
                return bad(f"expected text, got {type(value).__name__}")
            if not value.strip():
                return Violation("field-empty", pointer, "must not be blank")
            if _XML_FORBIDDEN.search(value):
                return Violation("field-characters", pointer, "contains characters XML forbids")
            if spec.choices and value not in spec.choices:
                return Violation("field-choice", pointer, f"must be one of {spec.choices}")
        case FieldKind.UUID:
            if not isinstance(value, UUID):
                return bad("expected a UUID")
        case FieldKind.DATE:
            if not isinstance(value, date) or isinstance(value, datetime):
                return bad("expected a date")
        case FieldKind.DATETIME:
            if not isinstance(value, datetime):
                return bad("expected a datetime")
            try:
                _require_aware("value", value, BodyInvalid)
            except BodyInvalid as exc:
                return Violation("field-timezone", pointer, exc.message)
        case FieldKind.DECIMAL:
            if not isinstance(value, Decimal) or not value.is_finite():
                return bad("expected a finite Decimal")
        case FieldKind.INTEGER:
            if not isinstance(value, int) or isinstance(value, bool):
                return bad("expected an integer")
        case FieldKind.BOOLEAN:
            if not isinstance(value, bool):
                return bad("expected a bool")
        case FieldKind.GROUP:  # pragma: no cover - groups never reach here
            return bad("group")
    return None


def _normalise_group(
    specs: tuple[FieldSpec, ...], values: Mapping[str, object], pointer: str, out: list[Violation]
) -> MappingProxyType[str, FieldValue]:
    """Check ``values`` against ``specs``; return a read-only copy in element order."""
    known = {spec.name for spec in specs}
    out.extend(
        Violation("field-unknown", f"{pointer}/{name}", "not part of the structure")
        for name in values
        if name not in known
    )
    result: dict[str, FieldValue] = {}
    for spec in specs:
        here = f"{pointer}/{spec.name}"
        if spec.name not in values:
            if spec.required:
                out.append(Violation("field-missing", here, "is mandatory"))
            continue
        raw = values[spec.name]
        if spec.repeated:
            if not isinstance(raw, tuple | list):
                out.append(Violation("field-type", here, "a repeated field takes a sequence"))
                continue
            if spec.required and not raw:
                out.append(Violation("field-missing", here, "needs at least one item"))
            items = tuple(
                _normalise_one(spec, item, f"{here}/{i}", out) for i, item in enumerate(raw)
            )
            if items:
                result[spec.name] = items
        else:
            result[spec.name] = _normalise_one(spec, raw, here, out)
    return MappingProxyType(result)


def _normalise_one(
    spec: FieldSpec, value: object, pointer: str, out: list[Violation]
) -> FieldValue:
    if spec.kind is FieldKind.GROUP:
        if not isinstance(value, Mapping):
            out.append(Violation("field-type", pointer, "expected a mapping of fields"))
            return MappingProxyType({})
        return _normalise_group(spec.fields, value, pointer, out)
    violation = _check_scalar(spec, value, pointer)
    if violation is not None:
        out.append(violation)
    return value  # type: ignore[return-value]  # checked by _check_scalar


@dataclass(frozen=True, slots=True, eq=False)
class MessageBody:
    """The payload of one structure: field name → value, nested mappings for groups.

    Repeated fields hold tuples (an empty repetition is simply absent), groups hold read-only
    mappings. Construction checks every field against the structure and raises
    :class:`BodyInvalid` listing all violations.
    """

    structure: str
    fields: Mapping[str, FieldValue]

    def __post_init__(self) -> None:
        spec = STRUCTURES.get(self.structure)
        if spec is None:
            raise BodyInvalid(f"unknown structure {self.structure!r}")
        violations: list[Violation] = []
        normalised = _normalise_group(spec.fields, self.fields, "", violations)
        if violations:
            raise BodyInvalid(f"body of {self.structure} is invalid", violations)
        object.__setattr__(self, "fields", normalised)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MessageBody):
            return NotImplemented
        return self.structure == other.structure and dict(self.fields) == dict(other.fields)

    __hash__ = None  # type: ignore[assignment]  # holds mappings


@dataclass(frozen=True, slots=True, eq=False)
class Envelope:
    """One interstate message: addressing header, document header and payload."""

    header: EnvelopeHeader
    edoc_header: EDocHeader
    body: MessageBody = field(repr=False)

    def __post_init__(self) -> None:
        message = CATALOGUE.get(self.header.action.message)
        if message is None:
            raise EnvelopeInvalid(f"message {self.header.action.message!r} is not catalogued")
        if self.edoc_header.inf_envelope_code != message.code:
            raise EnvelopeInvalid("InfEnvelopeCode differs from the action's message code")
        if self.edoc_header.edoc_code != message.structure:
            raise EnvelopeInvalid(f"{message.code} carries {message.structure}")
        if self.body.structure != message.structure:
            raise EnvelopeInvalid("body structure differs from EDocCode")
        sender, receiver = self.header.reply_to.role, self.header.to.role
        if sender is not None and sender not in message.sender_roles:
            raise EnvelopeInvalid(f"{sender} does not send {message.code}")
        if receiver is not None and receiver not in message.receiver_roles:
            raise EnvelopeInvalid(f"{receiver} does not receive {message.code}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Envelope):
            return NotImplemented
        return (
            self.header == other.header
            and self.edoc_header == other.edoc_header
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]  # holds mappings


def processing_result(
    original: Envelope,
    *,
    message_id: UUID,
    edoc_id: UUID,
    now: datetime,
    errors: tuple[tuple[str, str], ...] = (),
) -> Envelope:
    """The R.006 reply to ``original``: accepted when ``errors`` (code, description) is empty.

    The reply goes to the original's ReplyTo, comes from its To, stays in its transaction and
    conversation, and relates to its MessageID and EDocId.
    """
    header = original.header
    result_code = PROCESSES[header.action.process].processing_result
    action = Action(
        header.action.process,
        header.action.version,
        header.action.procedure,
        header.action.transaction,
        result_code,
    )
    body: dict[str, FieldValue] = {
        "RelatedEDocId": original.edoc_header.edoc_id,
        "ProcessingResultCode": RESULT_REJECTED if errors else RESULT_ACCEPTED,
        "ProcessingDateTime": now,
    }
    if errors:
        body["Error"] = tuple(
            {"ErrorCode": code, "ErrorDescription": description} for code, description in errors
        )
    return Envelope(
        EnvelopeHeader(
            to=header.reply_to,
            reply_to=header.to,
            action=action,
            message_id=message_id,
            procedure_id=header.procedure_id,
            conversation_id=header.conversation_id,
            relates_to=header.message_id,
        ),
        EDocHeader(
            inf_envelope_code=result_code,
            edoc_code="R.006",
            edoc_id=edoc_id,
            edoc_datetime=now,
            language_code=original.edoc_header.language_code,
            edoc_ref_id=original.edoc_header.edoc_id,
        ),
        MessageBody("R.006", body),
    )
