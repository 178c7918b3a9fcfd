from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkway.kernel.codes import (
    REGISTRATION_NUMBER_PATTERN,
    CodeCheck,
    CodeKind,
    check_character,
    check_remainder,
    identify,
    make_grn,
    make_movement_reference,
    make_mrn,
    make_registration_number,
    movement_check_character,
    validate_certificate_number,
    validate_commodity_code,
    validate_grn,
    validate_movement_reference,
    validate_mrn,
    validate_office_code,
    validate_registration_number,
)
from silkway.reference.model import MEMBER_STATES

ALNUM = string.digits + string.ascii_uppercase
serials12 = st.text(alphabet=ALNUM, min_size=12, max_size=12)
countries = st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=2)
years = st.integers(min_value=2000, max_value=2099)

# --- check character ---------------------------------------------------------------------------


def test_known_valid_mrn() -> None:
    assert validate_mrn("24GB000246J8NY33L7") == CodeCheck(CodeKind.MRN, valid=True)


def test_known_invalid_mrn_fails_on_its_check_character() -> None:
    check = validate_mrn("27WF9X1FQ9RCKN0TM3")
    assert not check.valid
    assert check.reason == "check character is 3, expected 9"


def test_iso_6346_container_number_check_digit() -> None:
    # ISO 6346's own worked example: container CSQU 305438, check digit 3.
    assert check_character("CSQU305438") == "3"


@pytest.mark.parametrize(
    ("letter", "value"),
    [("A", 10), ("B", 12), ("K", 21), ("L", 23), ("U", 32), ("V", 34), ("Z", 38)],
)
def test_letter_values_skip_multiples_of_eleven(letter: str, value: int) -> None:
    assert check_remainder(letter) == value % 11


def test_remainder_ten_is_written_zero_for_ncts_and_x_for_movements() -> None:
    assert check_remainder("A") == 10
    assert check_character("A") == "0"
    assert movement_check_character("A") == "X"


@pytest.mark.parametrize("body", ["", "24gb", "24-GB", "24 GB", "ÄB"])
def test_check_character_rejects_foreign_characters(body: str) -> None:
    with pytest.raises(ValueError, match=r"character|empty"):
        check_character(body)


# --- MRN and GRN -------------------------------------------------------------------------------


@given(years, countries, serials12, st.sampled_from("JKLM"))
def test_mrn_round_trip(year: int, country: str, serial: str, procedure: str) -> None:
    mrn = make_mrn(year, country, serial, procedure)
    assert len(mrn) == 18
    assert validate_mrn(mrn).valid
    assert identify(mrn) == CodeCheck(CodeKind.MRN, valid=True)


@given(years, countries, serials12)
def test_grn_round_trip(year: int, country: str, serial: str) -> None:
    grn = make_grn(year, country, serial)
    assert len(grn) == 17
    assert grn[16] == check_character(grn[:16])
    assert validate_grn(grn).valid
    assert identify(grn) == CodeCheck(CodeKind.GRN, valid=True)


def test_voucher_grn_is_checked_over_its_first_sixteen_characters() -> None:
    grn = make_grn(2025, "KZ", "000000000123")
    assert validate_grn(grn + "A123456").valid
    assert validate_grn(grn + "1123456").reason == (
        "a voucher suffix must be a letter followed by 6 digits"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("24GB000246J8NY33L", "must be 18 characters, got 17"),
        ("24gb000246J8NY33L7", "must be written in capital letters"),
        ("2AGB000246J8NY33L7", "characters 1–2 must be the year's two digits, got '2A'"),
        ("24G1000246J8NY33L7", "characters 3–4 must be a country code of two letters, got 'G1'"),
        ("24GB0002-6J8NY33L7", "character 9 must be a letter or a digit, got '-'"),
        ("24GB000246J8NY33A7", "character 17 must be the procedure J, K, L or M, got 'A'"),
        ("24GB000246J8NY33LA", "character 18 must be the check digit, got 'A'"),
        ("24GB000246J8NY33L6", "check character is 6, expected 7"),
    ],
)
def test_mrn_reasons(value: str, reason: str) -> None:
    assert validate_mrn(value) == CodeCheck(CodeKind.MRN, valid=False, reason=reason)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("25KZ000000000123", "must be 17 characters (24 for a voucher), got 16"),
        ("25K20000000001238", "characters 3–4 must be a country code of two letters, got 'K2'"),
        ("25KZ000000000123X", "character 17 must be the check digit, got 'X'"),
        ("25KZ0000000001230", "check character is 0, expected 8"),
    ],
)
def test_grn_reasons(value: str, reason: str) -> None:
    assert make_grn(2025, "KZ", "000000000123") == "25KZ0000000001238"
    assert validate_grn(value) == CodeCheck(CodeKind.GRN, valid=False, reason=reason)


def test_a_certificate_number_is_a_member_states_grn_marked_c() -> None:
    number = make_grn(2026, "KZ", "C00000000017")
    assert validate_certificate_number(number) == CodeCheck(CodeKind.SECURITY_CERTIFICATE, True)
    kind = CodeKind.SECURITY_CERTIFICATE
    cases = {
        "ANYTHING1": "must be 17 characters, got 9",
        make_grn(2026, "KZ", "G00000000017"): "character 5 must be 'C' for a certificate, got 'G'",
        make_grn(2026, "CN", "C00000000017"): "characters 3–4 must be the issuing member state,"
        " got 'CN'",
        number[:-1] + ("0" if number[-1] != "0" else "1"): f"check character is"
        f" {'0' if number[-1] != '0' else '1'}, expected {number[-1]}",
        make_grn(2026, "KZ", "C00000000017") + "A123456": "must be 17 characters, got 24",
    }
    for value, reason in cases.items():
        assert validate_certificate_number(value) == CodeCheck(kind, False, reason), value


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1999, "KZ", "000000000001", "J"), "year"),
        ((2025, "kz", "000000000001", "J"), "country"),
        ((2025, "KZ", "00000000001", "J"), "serial"),
        ((2025, "KZ", "00000000000a", "J"), "serial"),
        ((2025, "KZ", "000000000001", "A"), "procedure"),
    ],
)
def test_make_mrn_rejects_bad_arguments(args: tuple[int, str, str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_mrn(*args)


# --- movement reference ------------------------------------------------------------------------

states = st.sampled_from(MEMBER_STATES)
movement_serials = st.integers(min_value=0, max_value=10**11 - 1)


def test_movement_reference_layout() -> None:
    ref = make_movement_reference("KZ", 2026, 12345)
    assert len(ref) == 18
    assert ref[:17] == "SW26KZ00000012345"
    assert ref[17] == movement_check_character(ref[:17])


@given(states, years, movement_serials)
def test_movement_reference_round_trip(state: str, year: int, serial: int) -> None:
    ref = make_movement_reference(state, year, serial)
    assert validate_movement_reference(ref).valid
    assert identify(ref) == CodeCheck(CodeKind.MOVEMENT_REFERENCE, valid=True)


@given(
    states,
    years,
    movement_serials,
    st.integers(min_value=0, max_value=17),
    st.sampled_from(ALNUM + "abcxyz-/ "),
)
def test_every_single_character_error_in_a_movement_reference_is_caught(
    state: str, year: int, serial: int, position: int, replacement: str
) -> None:
    ref = make_movement_reference(state, year, serial)
    mistyped = ref[:position] + replacement + ref[position + 1 :]
    if mistyped != ref:
        assert not validate_movement_reference(mistyped).valid


def test_every_single_character_error_is_caught_when_the_check_is_zero_or_x() -> None:
    # Exhaustive over the references whose remainder folds badly under the MRN rule.
    references: list[str] = []
    serial = 0
    while len(references) < 4:
        ref = make_movement_reference("KG", 2026, serial)
        if ref[-1] in "0X":
            references.append(ref)
        serial += 1
    assert {r[-1] for r in references} == {"0", "X"}
    for ref in references:
        for position in range(18):
            for replacement in ALNUM:
                mistyped = ref[:position] + replacement + ref[position + 1 :]
                if mistyped != ref:
                    assert not validate_movement_reference(mistyped).valid, mistyped


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("SW26KZ0000001234", "must be 18 characters, got 16"),
        ("sw26KZ000000123452", "must be written in capital letters"),
        ("SX26KZ000000123452", "must start with 'SW', got 'SX'"),
        ("SW2BKZ000000123452", "characters 3–4 must be the year's two digits, got '2B'"),
        ("SW26CN000000123452", "characters 5–6 must be a member state, got 'CN'"),
        ("SW26KZ0000001234A2", "characters 7–17 must be the serial's 11 digits, got '0000001234A'"),
        ("SW26KZ00000012345Y", "character 18 must be a digit or X, got 'Y'"),
        ("SW26KZ000000123453", "check character is 3, expected 2"),
    ],
)
def test_movement_reference_reasons(value: str, reason: str) -> None:
    assert make_movement_reference("KZ", 2026, 12345) == "SW26KZ000000123452"
    assert validate_movement_reference(value) == CodeCheck(
        CodeKind.MOVEMENT_REFERENCE, valid=False, reason=reason
    )


@pytest.mark.parametrize(
    ("state", "year", "serial"),
    [("CN", 2026, 1), ("EEC", 2026, 1), ("KZ", 1999, 1), ("KZ", 2026, -1), ("KZ", 2026, 10**11)],
)
def test_make_movement_reference_rejects_bad_arguments(state: str, year: int, serial: int) -> None:
    with pytest.raises(ValueError, match=r"state|year|serial"):
        make_movement_reference(state, year, serial)


# --- registration number -----------------------------------------------------------------------


def test_registration_pattern_is_the_eec_one() -> None:
    assert REGISTRATION_NUMBER_PATTERN == r"^(\d{2}|\d{5}|\d{8})/\d{6}/\d{1,7}$"


def test_make_registration_number() -> None:
    assert make_registration_number("55201", date(2026, 3, 2), 42) == "55201/020326/0000042"
    assert make_registration_number("05", date(2024, 2, 29), 9_999_999) == "05/290224/9999999"


@pytest.mark.parametrize(
    ("office", "on", "serial"),
    [
        ("5520", date(2026, 3, 2), 1),
        ("5520A", date(2026, 3, 2), 1),
        ("55201", date(2026, 3, 2), 0),
        ("55201", date(2026, 3, 2), 10_000_000),
        ("55201", date(1999, 12, 31), 1),
    ],
)
def test_make_registration_number_rejects_bad_arguments(office: str, on: date, serial: int) -> None:
    with pytest.raises(ValueError, match=r"office|serial|date"):
        make_registration_number(office, on, serial)


@pytest.mark.parametrize(
    "value", ["55201/020326/1", "10702020/290224/0012345", "05/311226/9999999"]
)
def test_valid_registration_numbers(value: str) -> None:
    assert validate_registration_number(value) == CodeCheck(
        CodeKind.REGISTRATION_NUMBER, valid=True
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("55201/290226/1", "date '290226' is not a real date (DDMMYY)"),
        ("55201/310426/1", "date '310426' is not a real date (DDMMYY)"),
        ("55201/001326/1", "date '001326' is not a real date (DDMMYY)"),
        ("5520/020326/1", "office code must have 2, 5, 8 digits, got 4"),
        ("55201/02032/1", "date must be 6 digits DDMMYY, got '02032'"),
        ("55201/020326/12345678", "serial must be 1 to 7 digits, got '12345678'"),
        ("55201/020326/", "serial must be 1 to 7 digits, got ''"),
        ("55201/020326/0000000", "serial must not be zero"),
        ("55201-020326-1", "must be office code/DDMMYY/serial, three parts separated by '/'"),
        ("55201/020326/1\n", "serial must be 1 to 7 digits, got '1\\n'"),
        ("５５２０１/020326/1", "office code must be digits only, got '５５２０１'"),
    ],
)
def test_invalid_registration_numbers(value: str, reason: str) -> None:
    assert validate_registration_number(value) == CodeCheck(
        CodeKind.REGISTRATION_NUMBER, valid=False, reason=reason
    )


def test_registration_number_office_length_by_state() -> None:
    assert validate_registration_number("10702020/020326/1", state="RU").valid
    check = validate_registration_number("10702020/020326/1", state="KZ")
    assert check.reason == "an office code of KZ has 5 digits, got 8"
    assert validate_registration_number("55201/020326/1", state="CN").reason == (
        "'CN' is not a member state"
    )


# --- commodity and office codes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("8471300000", None),
        ("0101210000", None),
        ("847130000", "must be exactly 10 digits, got 9"),
        ("84713000001", "must be exactly 10 digits, got 11"),
        ("8471.30.00", "must be digits only"),
        ("", "must be digits only"),
        ("0012345678", "chapter 00 is not a chapter of the nomenclature (01–97, not 77)"),
        ("7712345678", "chapter 77 is not a chapter of the nomenclature (01–97, not 77)"),
        ("9912345678", "chapter 99 is not a chapter of the nomenclature (01–97, not 77)"),
    ],
)
def test_commodity_codes(value: str, reason: str | None) -> None:
    check = validate_commodity_code(value)
    assert check == CodeCheck(CodeKind.COMMODITY_CODE, valid=reason is None, reason=reason)


@pytest.mark.parametrize(
    ("value", "state", "reason"),
    [
        ("05", "AM", None),
        ("06611", "BY", None),
        ("55201", "KZ", None),
        ("41703", "KG", None),
        ("10702020", "RU", None),
        ("10702020", None, None),
        ("10702020", "KZ", "an office code of KZ has 5 digits, got 8"),
        ("5520", None, "office code must have 2, 5, 8 digits, got 4"),
        ("55A01", "KZ", "office code must be digits only, got '55A01'"),
        ("55201", "EEC", "'EEC' is not a member state"),
    ],
)
def test_office_codes(value: str, state: str | None, reason: str | None) -> None:
    check = validate_office_code(value, state)
    assert check == CodeCheck(CodeKind.OFFICE_CODE, valid=reason is None, reason=reason)


# --- identify ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "valid"),
    [
        ("24GB000246J8NY33L7", CodeKind.MRN, True),
        ("27WF9X1FQ9RCKN0TM3", CodeKind.MRN, False),
        ("24gb000246j8ny33l7", CodeKind.MRN, False),
        ("2?GB000246J8NY33K7", CodeKind.MRN, False),
        ("25KZ0000000001238", CodeKind.GRN, True),
        ("25KZ0000000001238A123456", CodeKind.GRN, True),
        ("25KZ0000000001239", CodeKind.GRN, False),
        ("SW26KZ000000123452", CodeKind.MOVEMENT_REFERENCE, True),
        ("SW26KZ000000123453", CodeKind.MOVEMENT_REFERENCE, False),
        ("SW26KZ00000012345", CodeKind.MOVEMENT_REFERENCE, False),
        ("55201/020326/0000042", CodeKind.REGISTRATION_NUMBER, True),
        ("55201/300226/1", CodeKind.REGISTRATION_NUMBER, False),
        ("8471300000", CodeKind.COMMODITY_CODE, True),
        ("847130", CodeKind.COMMODITY_CODE, False),
        ("55201", CodeKind.OFFICE_CODE, True),
        ("10702020", CodeKind.OFFICE_CODE, True),
        ("05", CodeKind.OFFICE_CODE, True),
        ("hello", CodeKind.UNKNOWN, False),
        ("1234", CodeKind.UNKNOWN, False),
        ("", CodeKind.UNKNOWN, False),
    ],
)
def test_identify(value: str, kind: CodeKind, valid: bool) -> None:
    check = identify(value)
    assert check.kind is kind
    assert check.valid is valid
    assert (check.reason is None) is valid


def test_identify_reports_the_failed_check() -> None:
    assert identify("27WF9X1FQ9RCKN0TM3").as_dict() == {
        "kind": "mrn",
        "valid": False,
        "reason": "check character is 3, expected 9",
    }
    assert identify("24GB000246J8NY33L7").as_dict() == {
        "kind": "mrn",
        "valid": True,
        "reason": None,
    }


@given(st.text(max_size=40))
def test_identify_never_raises(value: str) -> None:
    check = identify(value)
    assert isinstance(check.kind, CodeKind)
    assert (check.reason is None) is check.valid
