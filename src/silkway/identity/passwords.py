"""Secrets at rest: passwords and client secrets hashed with argon2, TOTP second factors.

pwdlib does the hashing (argon2id with its recommended parameters) and pyotp the RFC 6238
codes; nothing here is cryptography of our own.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import pyotp
from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError

__all__ = ["hash_secret", "new_client_secret", "new_totp_secret", "totp_ok", "verify_secret"]

_HASHER = PasswordHash.recommended()

# Verifying against this when the account does not exist costs the same as a real check, so
# the answer time does not tell which usernames exist.
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def verify_secret(secret: str, stored: str | None) -> bool:
    if stored is None:
        _HASHER.verify(secret, _DUMMY)
        return False
    try:
        return _HASHER.verify(secret, stored)
    except (ValueError, PwdlibError):
        return False  # an unreadable stored hash proves nothing: refused like a wrong secret


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_ok(secret: str, code: str, at: datetime) -> bool:
    """Whether ``code`` is the secret's code at ``at`` (one 30-second step either side)."""
    return pyotp.TOTP(secret).verify(code, for_time=at, valid_window=1)


def totp_code(secret: str, at: datetime) -> str:
    """The code a second-factor device shows at ``at`` (for scripts and tests)."""
    return pyotp.TOTP(secret).at(at)
