"""Device passwords (Wialon IPS logins), kept only as Argon2id hashes.

A password is hashed once, when the seal is registered; the registry stores the hash (a PHC
string carrying its own salt and parameters), and a login is checked against it. The hash is
also what travels to another operator that takes the seal over (P.SO.01), never the password.
"""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError

__all__ = ["hash_password", "verify_password"]

# pwdlib's recommendation, as the identity capability uses: Argon2id (argon2-cffi) with the
# parameters RFC 9106 recommends where memory is constrained (3 passes over 64 MiB, 4 lanes).
_HASHER = PasswordHash.recommended()


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password``, with a fresh salt."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from (False for a hash that
    cannot be read, rather than an error: a login is refused, nothing else)."""
    try:
        return _HASHER.verify(password, password_hash)
    except (PwdlibError, ValueError):
        return False
