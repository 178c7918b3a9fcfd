"""Envelope ⇄ SOAP 1.2 XML, validated against the shipped XSDs in both directions.

The body is mapped generically from the structure's field specification: a field becomes an
element of the same name in the structure's namespace, a repeated field becomes repeated
elements, a group becomes an element with children. Element order is the specification's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

from lxml import etree

from silkway.exchange.domain.envelope import (
    BodyInvalid,
    EDocHeader,
    Envelope,
    EnvelopeHeader,
    EnvelopeInvalid,
    EnvelopeRejected,
    FieldValue,
    Group,
    MessageBody,
    RejectionCode,
    parse_action,
    parse_address,
    parse_urn_uuid,
    urn_uuid,
)
from silkway.exchange.domain.processes import STRUCTURES, FieldKind, FieldSpec, StructureSpec
from silkway.exchange.xml.namespaces import ENVELOPE_NSMAP, INTERACTION, SOAP, WSA, qname
from silkway.exchange.xml.parsing import DEFAULT_LIMITS, Limits, parse_untrusted
from silkway.exchange.xml.validation import envelope_schema, structure_schema

_REQUIRED_HEADERS: tuple[tuple[str, str], ...] = (
    (WSA, "To"),
    (WSA, "ReplyTo"),
    (WSA, "Action"),
    (WSA, "MessageID"),
    (INTERACTION, "ProcedureID"),
    (INTERACTION, "ConversationID"),
)
_STRUCTURE_NS = re.compile(r"urn:EEC:R:(?P<code>[A-Za-z0-9.]{1,40}):v1\.0\.0")


# --- encoding -------------------------------------------------------------------------------


def _text(kind: FieldKind, value: FieldValue) -> str:
    match value:
        case bool():
            return "true" if value else "false"
        case datetime() | date():
            return value.isoformat()
        case Decimal():
            # Never exponent notation, which xs:decimal does not accept.
            return format(value, "f")
        case UUID() | int() | str():
            return str(value)
    raise BodyInvalid(f"a {kind} field cannot hold {type(value).__name__}")


def _append_fields(
    parent: etree._Element, ns: str, specs: tuple[FieldSpec, ...], values: Group
) -> None:
    for spec in specs:
        if spec.name not in values:
            continue
        raw = values[spec.name]
        items = raw if spec.repeated and isinstance(raw, tuple) else (raw,)
        for item in items:
            child = etree.SubElement(parent, qname(ns, spec.name))
            if spec.kind is FieldKind.GROUP:
                if not isinstance(item, Mapping):
                    raise BodyInvalid(f"{spec.name} must be a group")
                _append_fields(child, ns, spec.fields, item)
            else:
                child.text = _text(spec.kind, item)


def _edoc_header_element(parent: etree._Element, ns: str, header: EDocHeader) -> None:
    element = etree.SubElement(parent, qname(ns, "EDocHeader"))
    parts: list[tuple[str, str | None]] = [
        ("InfEnvelopeCode", header.inf_envelope_code),
        ("EDocCode", header.edoc_code),
        ("EDocId", str(header.edoc_id)),
        ("EDocRefId", str(header.edoc_ref_id) if header.edoc_ref_id else None),
        ("EDocDateTime", header.edoc_datetime.isoformat()),
        ("LanguageCode", header.language_code),
    ]
    for name, text in parts:
        if text is not None:
            etree.SubElement(element, qname(ns, name)).text = text


def _header_element(parent: etree._Element, header: EnvelopeHeader) -> None:
    element = etree.SubElement(parent, qname(SOAP, "Header"))
    etree.SubElement(element, qname(WSA, "To")).text = str(header.to)
    reply_to = etree.SubElement(element, qname(WSA, "ReplyTo"))
    etree.SubElement(reply_to, qname(WSA, "Address")).text = str(header.reply_to)
    etree.SubElement(element, qname(WSA, "Action")).text = str(header.action)
    etree.SubElement(element, qname(WSA, "MessageID")).text = urn_uuid(header.message_id)
    if header.relates_to is not None:
        etree.SubElement(element, qname(WSA, "RelatesTo")).text = urn_uuid(header.relates_to)
    etree.SubElement(element, qname(INTERACTION, "ProcedureID")).text = urn_uuid(
        header.procedure_id
    )
    etree.SubElement(element, qname(INTERACTION, "ConversationID")).text = urn_uuid(
        header.conversation_id
    )
    if header.track_id is not None and header.accept_time is not None:
        integration = etree.SubElement(element, qname(INTERACTION, "Integration"))
        etree.SubElement(integration, qname(INTERACTION, "TrackID")).text = urn_uuid(
            header.track_id
        )
        etree.SubElement(
            integration, qname(INTERACTION, "AcceptTime")
        ).text = header.accept_time.isoformat()


def build_document(envelope: Envelope) -> etree._Element:
    """The validated SOAP tree of ``envelope``; raise :class:`EnvelopeRejected` if invalid."""
    spec = STRUCTURES[envelope.body.structure]
    root = etree.Element(qname(SOAP, "Envelope"), nsmap=ENVELOPE_NSMAP)
    _header_element(root, envelope.header)
    body = etree.SubElement(root, qname(SOAP, "Body"))
    payload = etree.SubElement(body, qname(spec.namespace, spec.root), nsmap={None: spec.namespace})
    _edoc_header_element(payload, spec.namespace, envelope.edoc_header)
    try:
        _append_fields(payload, spec.namespace, spec.fields, envelope.body.fields)
    except ValueError as exc:  # lxml refuses text XML cannot carry
        raise EnvelopeRejected(RejectionCode.BODY_INVALID, str(exc)) from None
    except BodyInvalid as exc:
        raise EnvelopeRejected(RejectionCode.BODY_INVALID, exc.message) from None
    envelope_schema().check(root, "envelope")
    structure_schema(spec.code).check(payload, spec.code)
    return root


def serialise(root: etree._Element) -> bytes:
    """UTF-8 bytes of a SOAP tree, with an XML declaration."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def encode(envelope: Envelope) -> bytes:
    """SOAP 1.2 bytes of ``envelope``, checked against the shipped schemas."""
    return serialise(build_document(envelope))


# --- decoding -------------------------------------------------------------------------------


def _children(element: etree._Element) -> Iterator[etree._Element]:
    # Comments are stripped by the parser; only elements remain besides whitespace text.
    return (child for child in element if isinstance(child.tag, str))


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _value(spec: FieldSpec, raw: str) -> FieldValue:
    # Schema types other than xs:string collapse whitespace, so the parsers must too.
    text = raw if spec.kind is FieldKind.TEXT else raw.strip()
    match spec.kind:
        case FieldKind.TEXT | FieldKind.CODE:
            return text
        case FieldKind.UUID:
            return UUID(text)
        case FieldKind.DATE:
            return date.fromisoformat(text)
        case FieldKind.DATETIME:
            return datetime.fromisoformat(text)
        case FieldKind.DECIMAL:
            return Decimal(text)
        case FieldKind.INTEGER:
            return int(text)
        case FieldKind.BOOLEAN:
            return text in ("true", "1")
    raise BodyInvalid(f"{spec.name} is a group, not a value")


def _read_fields(
    element: etree._Element, specs: tuple[FieldSpec, ...], ns: str, skip: str = ""
) -> Group:
    by_name = {spec.name: spec for spec in specs}
    values: dict[str, FieldValue] = {}
    repeated: dict[str, list[FieldValue]] = {}
    for child in _children(element):
        name = _local(child)
        if name == skip:
            continue
        spec = by_name.get(name)
        if spec is None or etree.QName(child).namespace != ns:
            raise BodyInvalid(f"unexpected element {etree.QName(child).text}")
        if spec.kind is FieldKind.GROUP:
            value: FieldValue = _read_fields(child, spec.fields, ns)
        else:
            value = _value(spec, child.text or "")
        if spec.repeated:
            repeated.setdefault(name, []).append(value)
        else:
            values[name] = value
    values.update({name: tuple(items) for name, items in repeated.items()})
    return values


def _find(parent: etree._Element, namespace: str, local: str) -> etree._Element | None:
    return parent.find(qname(namespace, local))


def _text_of(parent: etree._Element, namespace: str, local: str) -> str | None:
    element = _find(parent, namespace, local)
    return None if element is None else (element.text or "").strip()


def _required(parent: etree._Element, namespace: str, local: str) -> str:
    text = _text_of(parent, namespace, local)
    if text is None:
        raise EnvelopeRejected(RejectionCode.HEADER_MISSING, f"{local} is missing")
    return text


def _read_header(element: etree._Element) -> EnvelopeHeader:
    reply_to = _find(element, WSA, "ReplyTo")
    relates_to = _text_of(element, WSA, "RelatesTo")
    integration = _find(element, INTERACTION, "Integration")
    track_id = accept_time = None
    if integration is not None:
        track_id = parse_urn_uuid(_required(integration, INTERACTION, "TrackID"))
        accept_time = datetime.fromisoformat(_required(integration, INTERACTION, "AcceptTime"))
    return EnvelopeHeader(
        to=parse_address(_required(element, WSA, "To")),
        reply_to=parse_address(_required(reply_to, WSA, "Address") if reply_to is not None else ""),
        action=parse_action(_required(element, WSA, "Action")),
        message_id=parse_urn_uuid(_required(element, WSA, "MessageID")),
        procedure_id=parse_urn_uuid(_required(element, INTERACTION, "ProcedureID")),
        conversation_id=parse_urn_uuid(_required(element, INTERACTION, "ConversationID")),
        relates_to=parse_urn_uuid(relates_to) if relates_to is not None else None,
        track_id=track_id,
        accept_time=accept_time,
    )


def _read_edoc_header(element: etree._Element, ns: str) -> EDocHeader:
    ref_id = _text_of(element, ns, "EDocRefId")
    return EDocHeader(
        inf_envelope_code=_required(element, ns, "InfEnvelopeCode"),
        edoc_code=_required(element, ns, "EDocCode"),
        edoc_id=UUID(_required(element, ns, "EDocId")),
        edoc_datetime=datetime.fromisoformat(_required(element, ns, "EDocDateTime")),
        language_code=_required(element, ns, "LanguageCode"),
        edoc_ref_id=UUID(ref_id) if ref_id is not None else None,
    )


def _payload_structure(payload: etree._Element) -> StructureSpec:
    namespace = etree.QName(payload).namespace or ""
    match = _STRUCTURE_NS.fullmatch(namespace)
    if match is None:
        raise EnvelopeRejected(
            RejectionCode.NAMESPACE_UNEXPECTED, f"body namespace {namespace[:120]!r}"
        )
    spec = STRUCTURES.get(match["code"])
    if spec is None:
        raise EnvelopeRejected(RejectionCode.STRUCTURE_UNKNOWN, f"structure {match['code']!r}")
    return spec


def read_document(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse untrusted ``data`` and check it against the schemas; return the Envelope element."""
    root = parse_untrusted(data, limits)
    if root.tag != qname(SOAP, "Envelope"):
        namespace = etree.QName(root).namespace
        code = (
            RejectionCode.NAMESPACE_UNEXPECTED
            if namespace != SOAP
            else RejectionCode.SCHEMA_INVALID
        )
        raise EnvelopeRejected(
            code, f"root element {etree.QName(root).text[:120]} is not a SOAP 1.2 Envelope"
        )
    header = _find(root, SOAP, "Header")
    if header is None:
        raise EnvelopeRejected(RejectionCode.HEADER_MISSING, "the SOAP Header is missing")
    for namespace, local in _REQUIRED_HEADERS:
        if _find(header, namespace, local) is None:
            raise EnvelopeRejected(RejectionCode.HEADER_MISSING, f"{local} is missing")
    envelope_schema().check(root, "envelope")
    payload = payload_of(root)
    spec = _payload_structure(payload)
    structure_schema(spec.code).check(payload, spec.code)
    return root


def payload_of(root: etree._Element) -> etree._Element:
    """The payload document inside the Body of a schema-valid Envelope."""
    body = _find(root, SOAP, "Body")
    payload = None if body is None else next(_children(body), None)
    if payload is None:
        raise EnvelopeRejected(RejectionCode.SCHEMA_INVALID, "the SOAP Body is empty")
    return payload


def envelope_from_document(root: etree._Element) -> Envelope:
    """Map a tree accepted by :func:`read_document` to the domain model."""
    payload = payload_of(root)
    spec = _payload_structure(payload)
    header_element = _find(root, SOAP, "Header")
    edoc_element = _find(payload, spec.namespace, "EDocHeader")
    if header_element is None or edoc_element is None:
        raise EnvelopeRejected(RejectionCode.HEADER_MISSING, "Header or EDocHeader missing")
    try:
        header = _read_header(header_element)
        edoc_header = _read_edoc_header(edoc_element, spec.namespace)
    except EnvelopeInvalid as exc:
        raise EnvelopeRejected(RejectionCode.HEADER_INVALID, exc.message) from None
    except ValueError as exc:
        raise EnvelopeRejected(RejectionCode.HEADER_INVALID, str(exc)[:300]) from None
    try:
        fields = _read_fields(payload, spec.fields, spec.namespace, skip="EDocHeader")
        body = MessageBody(spec.code, fields)
    except BodyInvalid as exc:
        detail = "; ".join(f"{v.pointer} {v.message}" for v in exc.violations) or exc.message
        raise EnvelopeRejected(RejectionCode.BODY_INVALID, detail[:500]) from None
    except (ValueError, ArithmeticError, InvalidOperation) as exc:
        raise EnvelopeRejected(RejectionCode.BODY_INVALID, str(exc)[:300]) from None
    try:
        return Envelope(header, edoc_header, body)
    except EnvelopeInvalid as exc:
        raise EnvelopeRejected(RejectionCode.ENVELOPE_INCONSISTENT, exc.message) from None


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Envelope:
    """Parse, validate and map untrusted bytes; raise only :class:`EnvelopeRejected`."""
    return envelope_from_document(read_document(data, limits))
