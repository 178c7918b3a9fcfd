"""Identifiers used in Union transit and their check characters.

Every validator returns a :class:`CodeCheck` with a precise reason instead of raising, so that a
mistyped value at the counter gets an answer, not a stack trace; the ``make_*`` functions raise
:class:`ValueError` on arguments that cannot produce a well-formed identifier.

Check character (DOMAIN.md §2, the EU DG TAXUD algorithm in the ISO 6346 style): digits keep
their value, letters take 10 (A) to 38 (Z) skipping multiples of 11; the value at 0-based
position ``i`` is multiplied by ``2**i``; the sum is taken modulo 11 and a remainder of 10 is
written ``0``.

Formats:

* MRN, 18 characters: year ``YY``, country (2 letters), 12 letters or digits, procedure
  character ``J``/``K``/``L``/``M``, check character over the first 17.
* GRN, 17 characters: year ``YY``, country, 12 letters or digits, check character over the
  first 16; a voucher GRN appends a letter and 6 digits (24 characters in all).
* Security certificate number (Silkway's numbering, like a GRN of the issuing state): 17
  characters, year ``YY``, the issuing member state, ``C``, 11 letters or digits, and the GRN
  check character over the first 16.
* Silkway movement reference, 18 characters, e.g. ``SW26KZ000000012345`` + check::

      SW  YY  SS  NNNNNNNNNNN  C
      │   │   │   │            └ check character over the first 17 (see below)
      │   │   │   └ serial, 11 digits, zero-padded (up to 99,999,999,999 per state and year)
      │   │   └ member state of departure (AM BY KG KZ RU)
      │   └ last two digits of the year of release
      └ fixed prefix

  The serial is digits only and the state one of the five member states because, under this
  algorithm, a digit and a letter (``1`` and ``B``) or two letters (``A`` and ``K``) can differ by
  exactly 11 and so leave the sum unchanged; with these restrictions every single-character error
  changes the remainder. The remainder is computed as for the MRN, but a remainder of 10 is written
  ``X`` instead of being folded into ``0``, for the same reason: folding would let a reference
  whose check character is ``0`` survive some single-character errors.
* Declaration registration number: ``{office code}/{DDMMYY}/{serial}``, serial 1–7 digits
  (issued zero-padded to 7), office code length by state (AM 2, BY/KG/KZ 5, RU 8).
* Commodity code (TN VED EAEU): exactly 10 digits; the first 6 are the HS subheading and the
  first 2 the chapter (01–97, chapter 77 being reserved in the HS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from silkway.reference.model import MEMBER_STATES, OFFICE_CODE_LENGTH

__all__ = [
    "CERTIFICATE_MARK",
    "MOVEMENT_REFERENCE_LENGTH",
    "MOVEMENT_REFERENCE_PREFIX",
    "REGISTRATION_NUMBER_PATTERN",
    "CodeCheck",
    "CodeKind",
    "check_character",
    "check_remainder",
    "identify",
    "make_grn",
    "make_movement_reference",
    "make_mrn",
    "make_registration_number",
    "movement_check_character",
    "movement_state",
    "validate_certificate_number",
    "validate_commodity_code",
    "validate_grn",
    "validate_movement_reference",
    "validate_mrn",
    "validate_office_code",
    "validate_registration_number",
]


class CodeKind(StrEnum):
    MRN = "mrn"
    GRN = "grn"
    SECURITY_CERTIFICATE = "security_certificate"
    MOVEMENT_REFERENCE = "movement_reference"
    REGISTRATION_NUMBER = "registration_number"
    COMMODITY_CODE = "commodity_code"
    OFFICE_CODE = "office_code"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """What a value is and whether it is valid; ``reason`` is ``None`` exactly when valid."""

    kind: CodeKind
    valid: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, str | bool | None]:
        return {"kind": self.kind.value, "valid": self.valid, "reason": self.reason}


# --- check character -------------------------------------------------------------------------


def _character_values() -> dict[str, int]:
    values = {str(d): d for d in range(10)}
    value = 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


_VALUES: dict[str, int] = _character_values()
# 2**i mod 11 repeats every 10 positions; reducing the weight first keeps the sum small.
_WEIGHTS: tuple[int, ...] = tuple(pow(2, i, 11) for i in range(10))

_ALNUM = frozenset(_VALUES)
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_remainder(body: str) -> int:
    """The weighted sum of ``body`` modulo 11 (0–10), before 10 is written as a character.

    Raises :class:`ValueError` when ``body`` is empty or holds a character outside ``[0-9A-Z]``.
    """
    if not body:
        raise ValueError("cannot compute a check character over an empty value")
    total = 0
    for i, char in enumerate(body):
        value = _VALUES.get(char)
        if value is None:
            raise ValueError(
                f"character {char!r} at position {i + 1} is not a digit or a capital letter A–Z"
            )
        total += value * _WEIGHTS[i % 10]
    return total % 11


def check_character(body: str) -> str:
    """The MRN/GRN check character of ``body`` (a remainder of 10 is written ``0``)."""
    return str(check_remainder(body) % 10)


def movement_check_character(body: str) -> str:
    """The movement reference check character of ``body`` (a remainder of 10 is written ``X``)."""
    remainder = check_remainder(body)
    return "X" if remainder == 10 else str(remainder)


# --- shared pieces ---------------------------------------------------------------------------


def _yy(year: int) -> str:
    if not 2000 <= year <= 2099:
        raise ValueError(f"year must be between 2000 and 2099, got {year}")
    return f"{year % 100:02d}"


def _require(chars: str, allowed: frozenset[str]) -> bool:
    return bool(chars) and all(c in allowed for c in chars)


def _bad_case(value: str) -> bool:
    return any("a" <= c <= "z" for c in value)


def _fail(kind: CodeKind, reason: str) -> CodeCheck:
    return CodeCheck(kind=kind, valid=False, reason=reason)


def _check_ncts_head(kind: CodeKind, value: str) -> CodeCheck | None:
    """Checks the year, country and 12-character serial shared by the MRN and the GRN."""
    if _bad_case(value):
        return _fail(kind, "must be written in capital letters")
    if not _require(value[0:2], _DIGITS):
        return _fail(kind, f"characters 1–2 must be the year's two digits, got {value[0:2]!r}")
    if not _require(value[2:4], _LETTERS):
        return _fail(
            kind, f"characters 3–4 must be a country code of two letters, got {value[2:4]!r}"
        )
    for i in range(4, 16):
        if value[i] not in _ALNUM:
            return _fail(kind, f"character {i + 1} must be a letter or a digit, got {value[i]!r}")
    return None


def _check_character_matches(kind: CodeKind, given: str, expected: str) -> CodeCheck:
    if given != expected:
        return _fail(kind, f"check character is {given}, expected {expected}")
    return CodeCheck(kind=kind, valid=True)


def _check_serial12(serial: str) -> None:
    if len(serial) != 12 or not _require(serial, _ALNUM):
        raise ValueError(f"serial must be 12 capital letters or digits, got {serial!r}")


def _check_country(country: str) -> None:
    if len(country) != 2 or not _require(country, _LETTERS):
        raise ValueError(f"country must be two capital letters, got {country!r}")


# --- MRN and GRN -----------------------------------------------------------------------------

MRN_LENGTH = 18
MRN_PROCEDURES = frozenset("JKLM")
GRN_LENGTH = 17
GRN_VOUCHER_LENGTH = 24


def make_mrn(year: int, country: str, serial: str, procedure: str = "J") -> str:
    """An MRN for ``serial`` (12 capital letters or digits) allocated in ``country``."""
    _check_country(country)
    _check_serial12(serial)
    if procedure not in MRN_PROCEDURES:
        raise ValueError(f"procedure character must be J, K, L or M, got {procedure!r}")
    body = f"{_yy(year)}{country}{serial}{procedure}"
    return body + check_character(body)


def validate_mrn(value: str) -> CodeCheck:
    """Checks an MRN's layout and its check character."""
    kind = CodeKind.MRN
    if len(value) != MRN_LENGTH:
        return _fail(kind, f"must be {MRN_LENGTH} characters, got {len(value)}")
    head = _check_ncts_head(kind, value)
    if head is not None:
        return head
    if value[16] not in MRN_PROCEDURES:
        return _fail(kind, f"character 17 must be the procedure J, K, L or M, got {value[16]!r}")
    if value[17] not in _DIGITS:
        return _fail(kind, f"character 18 must be the check digit, got {value[17]!r}")
    return _check_character_matches(kind, value[17], check_character(value[:17]))


def make_grn(year: int, country: str, serial: str) -> str:
    """A 17-character GRN for ``serial`` (12 capital letters or digits) issued in ``country``."""
    _check_country(country)
    _check_serial12(serial)
    body = f"{_yy(year)}{country}{serial}"
    return body + check_character(body)


def validate_grn(value: str) -> CodeCheck:
    """Checks a GRN (17 characters, or 24 for a voucher) and its check character."""
    kind = CodeKind.GRN
    if len(value) not in (GRN_LENGTH, GRN_VOUCHER_LENGTH):
        return _fail(
            kind,
            f"must be {GRN_LENGTH} characters ({GRN_VOUCHER_LENGTH} for a voucher), "
            f"got {len(value)}",
        )
    head = _check_ncts_head(kind, value)
    if head is not None:
        return head
    if value[16] not in _DIGITS:
        return _fail(kind, f"character 17 must be the check digit, got {value[16]!r}")
    if len(value) == GRN_VOUCHER_LENGTH and not (
        value[17] in _LETTERS and _require(value[18:], _DIGITS)
    ):
        return _fail(kind, "a voucher suffix must be a letter followed by 6 digits")
    return _check_character_matches(kind, value[16], check_character(value[:16]))


CERTIFICATE_MARK = "C"
"""The character after the country code that makes a GRN-shaped number a security certificate."""


def validate_certificate_number(value: str) -> CodeCheck:
    """Checks a security certificate number: a 17-character GRN of a member state whose serial
    starts with ``C`` (what :func:`make_grn` gives for ``"C" + 11 characters``)."""
    kind = CodeKind.SECURITY_CERTIFICATE
    if len(value) != GRN_LENGTH:
        return _fail(kind, f"must be {GRN_LENGTH} characters, got {len(value)}")
    grn = validate_grn(value)
    if not grn.valid:
        return _fail(kind, str(grn.reason))
    if value[2:4] not in MEMBER_STATES:
        return _fail(kind, f"characters 3–4 must be the issuing member state, got {value[2:4]!r}")
    if value[4] != CERTIFICATE_MARK:
        return _fail(
            kind, f"character 5 must be {CERTIFICATE_MARK!r} for a certificate, got {value[4]!r}"
        )
    return CodeCheck(kind=kind, valid=True)


# --- Silkway movement reference --------------------------------------------------------------

MOVEMENT_REFERENCE_PREFIX = "SW"
MOVEMENT_REFERENCE_LENGTH = 18
MOVEMENT_SERIAL_DIGITS = 11
_MOVEMENT_CHECKS = frozenset("0123456789X")


def make_movement_reference(state: str, year: int, serial: int) -> str:
    """The movement reference for the ``serial``-th movement released in ``state`` in ``year``."""
    if state not in MEMBER_STATES:
        raise ValueError(
            f"state must be a member state ({', '.join(MEMBER_STATES)}), got {state!r}"
        )
    if not 0 <= serial < 10**MOVEMENT_SERIAL_DIGITS:
        raise ValueError(f"serial must be between 0 and {10**MOVEMENT_SERIAL_DIGITS - 1}")
    body = f"{MOVEMENT_REFERENCE_PREFIX}{_yy(year)}{state}{serial:0{MOVEMENT_SERIAL_DIGITS}d}"
    return body + movement_check_character(body)


def movement_state(reference: str) -> str:
    """The member state of departure that a (valid) movement reference names."""
    return reference[4:6]


def validate_movement_reference(value: str) -> CodeCheck:
    """Checks a Silkway movement reference's layout and its check character."""
    kind = CodeKind.MOVEMENT_REFERENCE
    if len(value) != MOVEMENT_REFERENCE_LENGTH:
        return _fail(kind, f"must be {MOVEMENT_REFERENCE_LENGTH} characters, got {len(value)}")
    if _bad_case(value):
        return _fail(kind, "must be written in capital letters")
    if not value.startswith(MOVEMENT_REFERENCE_PREFIX):
        return _fail(kind, f"must start with {MOVEMENT_REFERENCE_PREFIX!r}, got {value[:2]!r}")
    if not _require(value[2:4], _DIGITS):
        return _fail(kind, f"characters 3–4 must be the year's two digits, got {value[2:4]!r}")
    if value[4:6] not in MEMBER_STATES:
        return _fail(kind, f"characters 5–6 must be a member state, got {value[4:6]!r}")
    if not _require(value[6:17], _DIGITS):
        return _fail(kind, f"characters 7–17 must be the serial's 11 digits, got {value[6:17]!r}")
    if value[17] not in _MOVEMENT_CHECKS:
        return _fail(kind, f"character 18 must be a digit or X, got {value[17]!r}")
    return _check_character_matches(kind, value[17], movement_check_character(value[:17]))


# --- declaration registration number ---------------------------------------------------------

_OFFICE_LENGTHS: tuple[int, ...] = tuple(sorted(set(OFFICE_CODE_LENGTH.values())))
REGISTRATION_NUMBER_PATTERN = (
    "^(" + "|".join(rf"\d{{{n}}}" for n in _OFFICE_LENGTHS) + r")/\d{6}/\d{1,7}$"
)
"""The EEC pattern, built from :data:`OFFICE_CODE_LENGTH` (``\\d`` meaning ASCII digits)."""
_REGISTRATION_RE = re.compile(REGISTRATION_NUMBER_PATTERN, re.ASCII)
REGISTRATION_SERIAL_MAX = 9_999_999


def _check_office_code(code: str, state: str | None) -> str | None:
    """The reason ``code`` is not an office code (of ``state`` when given), or ``None``."""
    if not _require(code, _DIGITS):
        return f"office code must be digits only, got {code!r}"
    if state is None:
        if len(code) not in _OFFICE_LENGTHS:
            lengths = ", ".join(str(n) for n in _OFFICE_LENGTHS)
            return f"office code must have {lengths} digits, got {len(code)}"
        return None
    expected = OFFICE_CODE_LENGTH.get(state)
    if expected is None:
        return f"{state!r} is not a member state"
    if len(code) != expected:
        return f"an office code of {state} has {expected} digits, got {len(code)}"
    return None


def make_registration_number(office_code: str, on: date, serial: int) -> str:
    """The registration number of the ``serial``-th declaration registered at an office on ``on``."""
    problem = _check_office_code(office_code, None)
    if problem is not None:
        raise ValueError(problem)
    if not 1 <= serial <= REGISTRATION_SERIAL_MAX:
        raise ValueError(f"serial must be between 1 and {REGISTRATION_SERIAL_MAX}, got {serial}")
    if not 2000 <= on.year <= 2099:
        raise ValueError(f"registration date must be in 2000–2099, got {on.isoformat()}")
    return f"{office_code}/{on:%d%m%y}/{serial:07d}"


def _registration_shape_problem(value: str) -> str:
    """Why ``value`` does not match the registration number pattern, part by part."""
    parts = value.split("/")
    if len(parts) != 3:
        return "must be office code/DDMMYY/serial, three parts separated by '/'"
    office, day, serial = parts
    problem = _check_office_code(office, None)
    if problem is not None:
        return problem
    if len(day) != 6 or not _require(day, _DIGITS):
        return f"date must be 6 digits DDMMYY, got {day!r}"
    if not (1 <= len(serial) <= 7 and _require(serial, _DIGITS)):
        return f"serial must be 1 to 7 digits, got {serial!r}"
    return f"does not match {REGISTRATION_NUMBER_PATTERN}"


def validate_registration_number(value: str, state: str | None = None) -> CodeCheck:
    """Checks the pattern, that the date is a real date, and the office code length.

    With ``state``, the office code must have that state's length.
    """
    kind = CodeKind.REGISTRATION_NUMBER
    if _REGISTRATION_RE.fullmatch(value) is None:
        return _fail(kind, _registration_shape_problem(value))
    office, day, serial = value.split("/")
    if state is not None:
        problem = _check_office_code(office, state)
        if problem is not None:
            return _fail(kind, problem)
    try:
        date(2000 + int(day[4:6]), int(day[2:4]), int(day[0:2]))
    except ValueError:
        return _fail(kind, f"date {day!r} is not a real date (DDMMYY)")
    if int(serial) == 0:
        return _fail(kind, "serial must not be zero")
    return CodeCheck(kind=kind, valid=True)


# --- commodity and office codes --------------------------------------------------------------

COMMODITY_CODE_LENGTH = 10
_RESERVED_CHAPTERS = frozenset({"00", "77", "98", "99"})


def validate_commodity_code(value: str) -> CodeCheck:
    """Checks a TN VED EAEU commodity code: 10 digits in an HS chapter 01–97 other than 77."""
    kind = CodeKind.COMMODITY_CODE
    if not _require(value, _DIGITS):
        return _fail(kind, "must be digits only")
    if len(value) != COMMODITY_CODE_LENGTH:
        return _fail(kind, f"must be exactly {COMMODITY_CODE_LENGTH} digits, got {len(value)}")
    if value[:2] in _RESERVED_CHAPTERS:
        return _fail(
            kind, f"chapter {value[:2]} is not a chapter of the nomenclature (01–97, not 77)"
        )
    return CodeCheck(kind=kind, valid=True)


def validate_office_code(value: str, state: str | None = None) -> CodeCheck:
    """Checks a customs office code's digits and length (the length of ``state`` when given)."""
    problem = _check_office_code(value, state)
    if problem is not None:
        return _fail(CodeKind.OFFICE_CODE, problem)
    return CodeCheck(kind=CodeKind.OFFICE_CODE, valid=True)


# --- recognition -----------------------------------------------------------------------------

_NEAR_MISS_COMMODITY_LENGTHS = frozenset({6, 9, 11})
"""Digit strings this long are taken for a mistyped commodity code (6 = an HS subheading)."""


def identify(value: str) -> CodeCheck:
    """Recognises which kind of identifier ``value`` is and checks it.

    A value shaped like a kind but failing its checks comes back with that kind and
    ``valid=False``; a value shaped like none comes back as ``unknown``.
    """
    shape = value.upper()
    if "/" in value:
        return validate_registration_number(value)
    if shape.startswith(MOVEMENT_REFERENCE_PREFIX) and (
        len(shape) == MOVEMENT_REFERENCE_LENGTH or shape[2:3] in _DIGITS
    ):
        return validate_movement_reference(value)
    if len(shape) == MRN_LENGTH and (shape[16] in MRN_PROCEDURES or _require(shape[:2], _DIGITS)):
        return validate_mrn(value)
    if len(shape) == GRN_LENGTH or (
        len(shape) == GRN_VOUCHER_LENGTH and _require(shape[:2], _DIGITS)
    ):
        return validate_grn(value)
    if _require(value, _DIGITS):
        if len(value) in _OFFICE_LENGTHS:
            return validate_office_code(value)
        if len(value) == COMMODITY_CODE_LENGTH or len(value) in _NEAR_MISS_COMMODITY_LENGTHS:
            return validate_commodity_code(value)
    return _fail(CodeKind.UNKNOWN, "not a recognised Silkway or NCTS identifier")
