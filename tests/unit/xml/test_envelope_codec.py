"""The envelope model and its SOAP 1.2 codec: round trips, schema checks, typed errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from envelope_samples import (
    BODIES,
    MOVEMENT,
    RELEASED,
    envelope_for,
    minimal_body,
    release_notification,
    uuid_n,
)
from lxml import etree

from silkway.exchange.domain.envelope import (
    Action,
    ActionUriInvalid,
    Address,
    AddressInvalid,
    BodyInvalid,
    EDocHeader,
    Envelope,
    EnvelopeInvalid,
    EnvelopeRejected,
    HeaderInvalid,
    MessageBody,
    parse_action,
    parse_address,
    parse_urn_uuid,
    processing_result,
)
from silkway.exchange.domain.processes import (
    CATALOGUE,
    PROCESSES,
    ROLES,
    SEAL_ROLES,
    STRUCTURES,
    process_of,
    structure_namespace,
)
from silkway.exchange.xml import decode, encode
from silkway.exchange.xml.validation import SCHEMA_DIR

SOAP = "http://www.w3.org/2003/05/soap-envelope"
ALL_MESSAGES = sorted(CATALOGUE)


def _independent_schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name)))


def _rejected(data: bytes) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as caught:
        decode(data)
    return caught.value


# --- catalogue ------------------------------------------------------------------------------


def test_catalogue_keeps_official_codes_and_numbers_its_own_apart() -> None:
    assert CATALOGUE["P.CP.01.MSG.010"].structure == "R.CA.CP.01.001"
    assert CATALOGUE["P.CP.01.MSG.010"].official
    for entry in CATALOGUE.values():
        process = process_of(entry.code)
        roles = ROLES if process == "P.CP.01" else SEAL_ROLES
        assert entry.structure in STRUCTURES
        assert set(entry.sender_roles) | set(entry.receiver_roles) <= set(roles)
        if not entry.official:
            assert entry.code.startswith(f"{process}.MSG.9")
            assert entry.structure == "R.006" or entry.structure.startswith("R.SW.")
    # The seal operators' exchange has no published codes yet: none of it may claim to be official.
    assert not any(e.official for e in CATALOGUE.values() if e.code.startswith("P.SO.01."))
    assert {process_of(c) for c in CATALOGUE} == set(PROCESSES)
    assert PROCESSES["P.SO.01"].processing_result in CATALOGUE


def test_every_structure_ships_a_schema_that_compiles() -> None:
    for code in STRUCTURES:
        assert (SCHEMA_DIR / f"{code}.xsd").is_file(), code
        _independent_schema(f"{code}.xsd")


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("message", ALL_MESSAGES)
def test_every_message_round_trips_with_all_optional_fields(message: str) -> None:
    envelope = envelope_for(message)
    data = encode(envelope)
    assert decode(data) == envelope


@pytest.mark.parametrize("message", ALL_MESSAGES)
def test_every_message_round_trips_with_only_mandatory_fields(message: str) -> None:
    envelope = envelope_for(message, minimal_body(CATALOGUE[message].structure))
    assert decode(encode(envelope)) == envelope


@pytest.mark.parametrize("message", ALL_MESSAGES)
def test_encoded_messages_are_valid_against_the_shipped_schemas(message: str) -> None:
    root = etree.fromstring(encode(envelope_for(message)))
    payload = root.find(f"{{{SOAP}}}Body")[0]  # type: ignore[index]
    structure = CATALOGUE[message].structure
    assert _independent_schema("soap-envelope.xsd").validate(root)
    assert _independent_schema(f"{structure}.xsd").validate(payload)
    assert etree.QName(payload).namespace == structure_namespace(structure)
    assert etree.QName(payload).localname == STRUCTURES[structure].root


def test_release_notification_carries_decision_5_headers() -> None:
    root = etree.fromstring(encode(release_notification()))
    ns = {"wsa": "http://www.w3.org/2005/08/addressing", "int": "urn:EEC:Interaction:v1.0"}
    assert root.findtext("*/wsa:To", namespaces=ns) == "EAEU://BY/CP/P.CP.01/P.CP.01.ACT.002"
    assert root.findtext("*/wsa:ReplyTo/wsa:Address", namespaces=ns) == (
        "EAEU://KZ/CP/P.CP.01/P.CP.01.ACT.001"
    )
    assert root.findtext("*/wsa:Action", namespaces=ns) == (
        "int://CP/P.CP.01/1.0.0/P.CP.01.PRC.001/P.CP.01.TRN.001/P.CP.01.MSG.010"
    )
    assert root.findtext("*/int:ConversationID", namespaces=ns) == uuid_n(3).urn


def test_platform_stamp_round_trips() -> None:
    envelope = release_notification()
    stamped = Envelope(
        envelope.header.stamped(uuid_n(7), datetime(2026, 3, 2, 4, 16, tzinfo=UTC)),
        envelope.edoc_header,
        envelope.body,
    )
    decoded = decode(encode(stamped))
    assert decoded.header.track_id == uuid_n(7)
    assert decoded == stamped


def test_header_blocks_are_accepted_in_any_order() -> None:
    data = encode(release_notification())
    to = b"<wsa:To>EAEU://BY/CP/P.CP.01/P.CP.01.ACT.002</wsa:To>"
    reordered = data.replace(to, b"").replace(b"</soap:Header>", to + b"</soap:Header>")
    assert reordered != data
    assert decode(reordered) == release_notification()


def test_processing_result_answers_the_original() -> None:
    original = release_notification()
    reply = processing_result(
        original,
        message_id=uuid_n(20),
        edoc_id=uuid_n(21),
        now=RELEASED,
        errors=(("schema-invalid", "TimeLimitDate is missing"),),
    )
    assert reply.header.to == original.header.reply_to
    assert reply.header.relates_to == original.header.message_id
    assert reply.header.action.transaction == original.header.action.transaction
    assert reply.edoc_header.edoc_ref_id == original.edoc_header.edoc_id
    assert reply.body.fields["ProcessingResultCode"] == "rejected"
    assert reply.body.fields["RelatedEDocId"] == original.edoc_header.edoc_id
    assert decode(encode(reply)) == reply
    accepted = processing_result(original, message_id=uuid_n(22), edoc_id=uuid_n(23), now=RELEASED)
    assert accepted.body.fields["ProcessingResultCode"] == "accepted"
    assert "Error" not in accepted.body.fields


# --- schema rejections ----------------------------------------------------------------------


def test_missing_mandatory_body_field_is_schema_invalid() -> None:
    data = encode(release_notification())
    broken = data.replace(b"<TimeLimitDate>2026-03-16</TimeLimitDate>", b"")
    assert broken != data
    rejected = _rejected(broken)
    assert rejected.code == "schema-invalid"
    assert "TimeLimitDate" in rejected.reason


def test_missing_edoc_header_field_is_schema_invalid() -> None:
    data = encode(release_notification())
    broken = data.replace(b"<LanguageCode>ru</LanguageCode>", b"")
    assert _rejected(broken).code == "schema-invalid"


def test_missing_message_id_is_header_missing() -> None:
    data = encode(release_notification())
    start = data.index(b"<wsa:MessageID>")
    end = data.index(b"</wsa:MessageID>") + len(b"</wsa:MessageID>")
    rejected = _rejected(data[:start] + data[end:])
    assert rejected.code == "header-missing"
    assert "MessageID" in rejected.reason


def test_bad_address_in_header_is_schema_invalid() -> None:
    data = encode(release_notification()).replace(b"EAEU://BY/", b"EAEU://XX/")
    assert _rejected(data).code == "schema-invalid"


def test_action_and_edoc_code_that_disagree_are_inconsistent() -> None:
    data = encode(release_notification()).replace(
        b"P.CP.01.MSG.010</wsa:Action>", b"P.CP.01.MSG.901</wsa:Action>"
    )
    assert _rejected(data).code == "envelope-inconsistent"


def test_body_in_a_foreign_namespace_is_unexpected() -> None:
    data = encode(release_notification()).replace(
        b"urn:EEC:R:R.CA.CP.01.001:v1.0.0", b"urn:example:transit"
    )
    assert _rejected(data).code == "namespace-unexpected"


def test_body_of_an_unknown_structure_is_refused() -> None:
    data = encode(release_notification()).replace(
        b"urn:EEC:R:R.CA.CP.01.001:v1.0.0", b"urn:EEC:R:R.CA.CP.99.001:v1.0.0"
    )
    assert _rejected(data).code == "structure-unknown"


def test_encoding_a_value_the_schema_refuses_is_refused() -> None:
    body = dict(
        BODIES["R.CA.CP.01.001"], DepartureOffice={"OfficeCode": "5520", "CountryCode": "KZ"}
    )
    with pytest.raises(EnvelopeRejected) as caught:
        encode(envelope_for("P.CP.01.MSG.010", body))
    assert caught.value.code == "schema-invalid"
    assert "OfficeCode" in caught.value.reason


# --- the pure model -------------------------------------------------------------------------


def test_body_lists_every_violation_with_a_pointer() -> None:
    body = dict(BODIES["R.CA.CP.01.001"])
    del body["TimeLimitDate"]
    body["GoodsSummary"] = dict(body["GoodsSummary"], GrossMassKg=18250.5)
    body["Seal"] = ({"SealKindCode": "magnetic", "SealId": "1"},)
    body["Colour"] = "red"
    with pytest.raises(BodyInvalid) as caught:
        MessageBody("R.CA.CP.01.001", body)
    found = {(v.code, v.pointer) for v in caught.value.violations}
    assert found == {
        ("field-missing", "/TimeLimitDate"),
        ("field-type", "/GoodsSummary/GrossMassKg"),
        ("field-choice", "/Seal/0/SealKindCode"),
        ("field-unknown", "/Colour"),
    }


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("ReleaseDateTime", datetime(2026, 3, 2, 9, 15), "field-timezone"),
        ("TimeLimitDate", datetime(2026, 3, 16, tzinfo=UTC), "field-type"),
        ("MovementReference", "   ", "field-empty"),
        ("MovementReference", "SW26\x00KZ", "field-characters"),
        ("RouteCountryCode", "KZ", "field-type"),
        ("RouteCountryCode", (), "field-missing"),
    ],
)
def test_body_refuses_bad_values(field: str, value: object, code: str) -> None:
    with pytest.raises(BodyInvalid) as caught:
        MessageBody("R.CA.CP.01.001", dict(BODIES["R.CA.CP.01.001"], **{field: value}))
    assert [v.code for v in caught.value.violations] == [code]


def test_body_refuses_non_finite_decimal_and_bool_as_integer() -> None:
    goods = dict(BODIES["R.CA.CP.01.001"]["GoodsSummary"], GrossMassKg=Decimal("NaN"))
    goods["PackageQuantity"] = True
    with pytest.raises(BodyInvalid) as caught:
        MessageBody("R.CA.CP.01.001", dict(BODIES["R.CA.CP.01.001"], GoodsSummary=goods))
    assert len(caught.value.violations) == 2


def test_body_is_read_only_and_compares_by_value() -> None:
    body = MessageBody("R.SW.CP.01.909", BODIES["R.SW.CP.01.909"])
    assert body == MessageBody("R.SW.CP.01.909", dict(BODIES["R.SW.CP.01.909"]))
    with pytest.raises(TypeError):
        body.fields["Question"] = "changed"  # type: ignore[index]
    assert body.fields["MovementReference"] == MOVEMENT


def test_unknown_structure_is_refused() -> None:
    with pytest.raises(BodyInvalid):
        MessageBody("R.CA.CP.99.001", {})


def test_envelope_refuses_a_body_of_another_structure() -> None:
    envelope = release_notification()
    with pytest.raises(EnvelopeInvalid):
        Envelope(
            envelope.header,
            envelope.edoc_header,
            MessageBody("R.SW.CP.01.909", BODIES["R.SW.CP.01.909"]),
        )


def test_envelope_refuses_roles_the_catalogue_does_not_give() -> None:
    envelope = release_notification()
    wrong_sender = replace(envelope.header, reply_to=Address.for_role("KZ", "P.CP.01.ACT.002"))
    with pytest.raises(EnvelopeInvalid, match="does not send"):
        Envelope(wrong_sender, envelope.edoc_header, envelope.body)
    wrong_receiver = replace(envelope.header, to=Address.for_role("BY", "P.CP.01.ACT.008"))
    with pytest.raises(EnvelopeInvalid, match="does not receive"):
        Envelope(wrong_receiver, envelope.edoc_header, envelope.body)


def test_values_with_surrounding_whitespace_decode_as_the_schema_reads_them() -> None:
    data = encode(release_notification()).replace(
        b"<TimeLimitDate>2026-03-16<", b"<TimeLimitDate> 2026-03-16\n<"
    )
    assert decode(data) == release_notification()


def test_edoc_header_needs_an_aware_datetime_and_a_language() -> None:
    with pytest.raises(HeaderInvalid):
        EDocHeader("P.CP.01.MSG.010", "R.CA.CP.01.001", uuid_n(1), datetime(2026, 3, 2))
    with pytest.raises(HeaderInvalid):
        EDocHeader("P.CP.01.MSG.010", "R.CA.CP.01.001", uuid_n(1), RELEASED, "RUS")


def test_action_parses_and_prints_back() -> None:
    text = "int://CP/P.CP.01/1.0.0/P.CP.01.PRC.001/P.CP.01.TRN.001/P.CP.01.MSG.010"
    action = parse_action(text)
    assert action == Action(
        "P.CP.01", "1.0.0", "P.CP.01.PRC.001", "P.CP.01.TRN.001", "P.CP.01.MSG.010"
    )
    assert str(action) == text


@pytest.mark.parametrize(
    "text",
    [
        "http://CP/P.CP.01/1.0.0/P.CP.01.PRC.001/P.CP.01.TRN.001/P.CP.01.MSG.010",
        "int://CP/P.CP.01/1.0/P.CP.01.PRC.001/P.CP.01.TRN.001/P.CP.01.MSG.010",
        "int://CP/P.CP.01/1.0.0/P.CP.02.PRC.001/P.CP.01.TRN.001/P.CP.01.MSG.010",
        "int://CP/P.CP.01/1.0.0/P.CP.01.PRC.001/P.CP.01.MSG.010",
        "int://CP/P.CP.01/1.0.0/P.CP.01.PRC.001/P.CP.01.TRN.001/P.CP.01.ACT.001",
    ],
)
def test_bad_actions_raise_a_typed_error(text: str) -> None:
    with pytest.raises(ActionUriInvalid):
        parse_action(text)


def test_address_parses_and_prints_back() -> None:
    address = parse_address("EAEU://KZ/CP/P.CP.01/P.CP.01.ACT.001")
    assert (address.node, address.process, address.role) == ("KZ", "P.CP.01", "P.CP.01.ACT.001")
    assert str(address) == "EAEU://KZ/CP/P.CP.01/P.CP.01.ACT.001"
    assert address == Address.for_role("KZ", "P.CP.01.ACT.001")
    assert parse_address("EAEU://EEC/SR/TrustService").role is None


@pytest.mark.parametrize(
    "text",
    [
        "EAEU://CN/CP/P.CP.01/P.CP.01.ACT.001",
        "EAEU://KZ/XX/P.CP.01/P.CP.01.ACT.001",
        "EAEU://KZ/CP/P.CP.01/P.CP.02.ACT.001",
        "EAEU://KZ/CP/P.CP.01",
        "EAEU://KZ/CP",
        "eaeu://KZ/CP/P.CP.01/P.CP.01.ACT.001",
        "EAEU://KZ/SR//x",
    ],
)
def test_bad_addresses_raise_a_typed_error(text: str) -> None:
    with pytest.raises(AddressInvalid):
        parse_address(text)


def test_urn_uuid_parsing() -> None:
    value = UUID("3f1c2a64-3d0b-4b8e-9a51-0f7c3c1d2e11")
    assert parse_urn_uuid(value.urn) == value
    with pytest.raises(HeaderInvalid):
        parse_urn_uuid(str(value))
