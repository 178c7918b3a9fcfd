"""SQLAlchemy Core storage of identity."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from silkway.identity.db.tables import (
    access_log,
    identity_clients,
    identity_keys,
    identity_refresh_tokens,
    identity_revoked_tokens,
    identity_users,
)
from silkway.identity.domain.access_log import AccessEntry, AccessRecord, Outcome
from silkway.identity.domain.accounts import Client, User
from silkway.identity.domain.principal import Role
from silkway.identity.ports import RefreshToken, SigningKey
from silkway.node.db.values import utc
from silkway.node.ports import DuplicateKey

__all__ = ["SqlIdentityRepository"]


class SqlIdentityRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _insert(self, statement: Any) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(statement)
        except IntegrityError as error:
            raise DuplicateKey(str(error.orig)) from None

    # --- people ---

    def add_user(self, user: User) -> None:
        self._insert(
            insert(identity_users).values(
                username=user.username,
                role=user.role.value,
                state=user.state,
                office=user.office,
                party=user.party,
                password_hash=user.password_hash,
                totp_secret=user.totp_secret,
                disabled=user.disabled,
                created_at=user.created_at,
            )
        )

    def user(self, username: str) -> User | None:
        row = self._conn.execute(
            select(identity_users).where(identity_users.c.username == username)
        ).first()
        return None if row is None else _user(row._mapping)

    def users(self) -> list[User]:
        rows = self._conn.execute(select(identity_users).order_by(identity_users.c.username))
        return [_user(r._mapping) for r in rows]

    def set_user_disabled(self, username: str, disabled: bool) -> bool:
        result = self._conn.execute(
            update(identity_users)
            .where(identity_users.c.username == username)
            .values(disabled=disabled)
        )
        return result.rowcount == 1

    def set_user_totp(self, username: str, secret: str | None) -> bool:
        result = self._conn.execute(
            update(identity_users)
            .where(identity_users.c.username == username)
            .values(totp_secret=secret)
        )
        return result.rowcount == 1

    # --- machine clients ---

    def add_client(self, client: Client) -> None:
        self._insert(
            insert(identity_clients).values(
                client_id=client.client_id,
                role=client.role.value,
                state=client.state,
                office=client.office,
                party=client.party,
                secret_hash=client.secret_hash,
                revoked=client.revoked,
                created_at=client.created_at,
            )
        )

    def client(self, client_id: str) -> Client | None:
        row = self._conn.execute(
            select(identity_clients).where(identity_clients.c.client_id == client_id)
        ).first()
        return None if row is None else _client(row._mapping)

    def clients(self) -> list[Client]:
        rows = self._conn.execute(select(identity_clients).order_by(identity_clients.c.client_id))
        return [_client(r._mapping) for r in rows]

    def set_client_secret(self, client_id: str, secret_hash: str) -> bool:
        result = self._conn.execute(
            update(identity_clients)
            .where(identity_clients.c.client_id == client_id)
            .values(secret_hash=secret_hash)
        )
        return result.rowcount == 1

    def set_client_revoked(self, client_id: str) -> bool:
        result = self._conn.execute(
            update(identity_clients)
            .where(identity_clients.c.client_id == client_id)
            .values(revoked=True)
        )
        return result.rowcount == 1

    # --- tokens ---

    def add_refresh(self, token: RefreshToken) -> None:
        self._insert(
            insert(identity_refresh_tokens).values(
                token_hash=token.token_hash,
                subject=token.subject,
                expires_at=token.expires_at,
                revoked=token.revoked,
            )
        )

    def refresh(self, token_hash: str) -> RefreshToken | None:
        t = identity_refresh_tokens
        row = self._conn.execute(select(t).where(t.c.token_hash == token_hash)).first()
        if row is None:
            return None
        m = row._mapping
        return RefreshToken(m["token_hash"], m["subject"], utc(m["expires_at"]), m["revoked"])

    def revoke_refresh(self, token_hash: str) -> None:
        t = identity_refresh_tokens
        self._conn.execute(update(t).where(t.c.token_hash == token_hash).values(revoked=True))

    def revoke_refresh_of(self, subject: str) -> int:
        t = identity_refresh_tokens
        result = self._conn.execute(
            update(t).where(t.c.subject == subject, t.c.revoked.is_(False)).values(revoked=True)
        )
        return int(result.rowcount)

    def revoke_token(self, token_id: str, expires_at: datetime, now: datetime) -> None:
        t = identity_revoked_tokens
        # Rows past their expiry guard nothing any more: each revocation sweeps them.
        self._conn.execute(delete(t).where(t.c.expires_at < now))
        with suppress(DuplicateKey):  # revoked twice is revoked
            self._insert(insert(t).values(token_id=token_id, expires_at=expires_at))

    def token_revoked(self, token_id: str) -> bool:
        t = identity_revoked_tokens
        row = self._conn.execute(select(t.c.token_id).where(t.c.token_id == token_id)).first()
        return row is not None

    # --- signing keys ---

    def signing_keys(self) -> list[SigningKey]:
        rows = self._conn.execute(select(identity_keys).order_by(identity_keys.c.created_at))
        return [
            SigningKey(m["kid"], m["private_pem"], utc(m["created_at"]), m["retired"])
            for m in (r._mapping for r in rows)
        ]

    def add_signing_key(self, key: SigningKey) -> None:
        self._insert(
            insert(identity_keys).values(
                kid=key.kid,
                private_pem=key.private_pem,
                created_at=key.created_at,
                retired=key.retired,
            )
        )

    # --- the access log ---

    def last_access(self) -> AccessRecord | None:
        row = self._conn.execute(
            select(access_log).order_by(access_log.c.seq.desc()).limit(1)
        ).first()
        return None if row is None else _access(row._mapping)

    def add_access(self, record: AccessRecord) -> None:
        e = record.entry
        self._insert(
            insert(access_log).values(
                seq=record.seq,
                at=e.at,
                subject=e.subject,
                role=e.role,
                state=e.state,
                office=e.office,
                client_address=e.client_address,
                method=e.method,
                path=e.path,
                status=e.status,
                outcome=e.outcome.value,
                reason=e.reason,
                prev_hash=record.prev_hash,
                hash=record.hash,
            )
        )

    def access_records(self, *, after: int = 0, limit: int | None = None) -> list[AccessRecord]:
        query = select(access_log).where(access_log.c.seq > after).order_by(access_log.c.seq)
        if limit is not None:
            query = query.limit(limit)
        return [_access(r._mapping) for r in self._conn.execute(query)]


def _user(m: Any) -> User:
    return User(
        m["username"],
        Role(m["role"]),
        m["state"],
        m["office"],
        m["party"],
        m["password_hash"],
        m["totp_secret"],
        m["disabled"],
        utc(m["created_at"]),
    )


def _client(m: Any) -> Client:
    return Client(
        m["client_id"],
        Role(m["role"]),
        m["state"],
        m["office"],
        m["party"],
        m["secret_hash"],
        m["revoked"],
        utc(m["created_at"]),
    )


def _access(m: Any) -> AccessRecord:
    entry = AccessEntry(
        at=utc(m["at"]),
        subject=m["subject"],
        role=m["role"],
        state=m["state"],
        office=m["office"],
        client_address=m["client_address"],
        method=m["method"],
        path=m["path"],
        status=m["status"],
        outcome=Outcome(m["outcome"]),
        reason=m["reason"],
    )
    return AccessRecord(m["seq"], entry, m["prev_hash"], m["hash"])
