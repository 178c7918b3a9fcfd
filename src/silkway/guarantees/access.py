"""Access codes: the secret a holder quotes with a GRN, kept only as a salted scrypt hash.

An access code is short (4 characters, as in NCTS), so the hash uses a memory-hard KDF
(``hashlib.scrypt``, 16 MiB per try) with a random salt per guarantee: a stolen registry does
not hand out the codes. Verification compares in constant time. The stored form names its
parameters, so that they can be raised later without invalidating stored hashes.

The code is the holder's alone: it is checked when a declaration quoting it is lodged or
amended, never stored in clear, and a guarantee's hash never leaves its node (a certificate
carries the hash of its own, longer code). Wrong codes are counted per guarantee; too many in a
window lock it out (:class:`~silkway.guarantees.service.GuaranteePolicy`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import string

ACCESS_CODE_ALPHABET = string.digits + string.ascii_uppercase
ACCESS_CODE_LENGTH = 4
ACCESS_CODE_PATTERN = re.compile(rf"^[0-9A-Z]{{{ACCESS_CODE_LENGTH}}}$")
CERTIFICATE_ACCESS_CODE_LENGTH = 10
"""A certificate's own access code is longer: the hash travels with the certificate document
(MSG.912, the paper channel), and ten characters put an offline search out of reach where four
(1.7 million codes) do not."""

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_N = 2**20
"""Stored parameters above this are refused rather than computed (a forged row must not make
verification take minutes)."""


def new_access_code(length: int = ACCESS_CODE_LENGTH) -> str:
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(length))


def is_well_formed(code: str) -> bool:
    return ACCESS_CODE_PATTERN.match(code) is not None


def hash_access_code(code: str) -> str:
    """``scrypt$N$r$p$salt$key`` with hex salt and key."""
    salt = os.urandom(_SALT_BYTES)
    key = _derive(code, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_access_code(code: str, stored: str) -> bool:
    """Whether ``code`` is the one ``stored`` was made from; False for any malformed hash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return False
    if not (1 < n <= _MAX_N and 0 < r <= 32 and 0 < p <= 4 and expected):
        return False
    return hmac.compare_digest(_derive(code, salt, n, r, p, len(expected)), expected)


def _derive(code: str, salt: bytes, n: int, r: int, p: int, length: int = _KEY_BYTES) -> bytes:
    return hashlib.scrypt(
        code.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p, dklen=length
    )
