"""Access codes are kept as salted scrypt hashes and checked in constant time."""

from __future__ import annotations

import pytest

from silkway.guarantees.access import (
    ACCESS_CODE_LENGTH,
    hash_access_code,
    is_well_formed,
    new_access_code,
    verify_access_code,
)


def test_a_new_code_is_four_capitals_or_digits() -> None:
    codes = {new_access_code() for _ in range(50)}
    assert all(len(c) == ACCESS_CODE_LENGTH and is_well_formed(c) for c in codes)
    assert len(codes) > 40  # drawn at random, not a constant


def test_the_hash_verifies_its_code_only_and_never_holds_it() -> None:
    stored = hash_access_code("4821")
    assert "4821" not in stored
    assert stored.startswith("scrypt$")
    assert verify_access_code("4821", stored)
    assert not verify_access_code("4822", stored)
    # A fresh salt each time: the same code never hashes alike.
    assert hash_access_code("4821") != stored


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "bcrypt$1$2$3$00$00",
        "scrypt$16384$8$1$zz$00",
        "scrypt$16384$8$1$00$",
        "scrypt$99999999$8$1$00$00",
        "scrypt$16384$8",
    ],
)
def test_a_malformed_or_hostile_hash_never_verifies(stored: str) -> None:
    assert not verify_access_code("4821", stored)


@pytest.mark.parametrize("code", ["482", "48211", "48a1", "48 1", ""])
def test_malformed_codes(code: str) -> None:
    assert not is_well_formed(code)
