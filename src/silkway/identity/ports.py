"""What identity needs from storage: accounts, refresh tokens, revocations, keys, the access log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from silkway.identity.domain.access_log import AccessRecord
from silkway.identity.domain.accounts import Client, User

__all__ = ["IdentityRepository", "RefreshToken", "SigningKey"]


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A refresh token, kept only as the SHA-256 of its random value."""

    token_hash: str
    subject: str
    """``user:NAME`` or ``client:ID``."""
    expires_at: datetime
    revoked: bool


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One of the node's token signing keys (ES256); the newest active one signs."""

    kid: str
    private_pem: str
    created_at: datetime
    retired: bool


class IdentityRepository(Protocol):
    def add_user(self, user: User) -> None:
        """Raises ``DuplicateKey`` if the username is taken."""
        ...

    def user(self, username: str) -> User | None: ...

    def users(self) -> list[User]: ...

    def set_user_disabled(self, username: str, disabled: bool) -> bool: ...

    def set_user_totp(self, username: str, secret: str | None) -> bool: ...

    def add_client(self, client: Client) -> None:
        """Raises ``DuplicateKey`` if the client id is taken."""
        ...

    def client(self, client_id: str) -> Client | None: ...

    def clients(self) -> list[Client]: ...

    def set_client_secret(self, client_id: str, secret_hash: str) -> bool: ...

    def set_client_revoked(self, client_id: str) -> bool: ...

    def add_refresh(self, token: RefreshToken) -> None: ...

    def refresh(self, token_hash: str) -> RefreshToken | None: ...

    def revoke_refresh(self, token_hash: str) -> None: ...

    def revoke_refresh_of(self, subject: str) -> int: ...

    def revoke_token(self, token_id: str, expires_at: datetime, now: datetime) -> None:
        """Record an access token as revoked until it would have expired anyway."""
        ...

    def token_revoked(self, token_id: str) -> bool: ...

    def signing_keys(self) -> list[SigningKey]: ...

    def add_signing_key(self, key: SigningKey) -> None: ...

    def last_access(self) -> AccessRecord | None: ...

    def add_access(self, record: AccessRecord) -> None:
        """Raises ``DuplicateKey`` when another writer took the same position first."""
        ...

    def access_records(self, *, after: int = 0, limit: int | None = None) -> list[AccessRecord]: ...
