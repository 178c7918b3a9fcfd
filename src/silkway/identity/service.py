"""Identity's use cases: accounts, the OAuth 2.0 grants, verification, revocation, the access log.

Each use case is one transaction on the node's unit of work. Tokens are short-lived (minutes);
a refresh token (people only: RFC 6749 gives client-credentials callers none) is a random value
kept as its SHA-256, rotated at each use, and a reused refresh token revokes every refresh
token of its subject (it was stolen, or it leaked).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Container
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from silkway.identity.domain import access_log
from silkway.identity.domain.access_log import AccessEntry, AccessRecord
from silkway.identity.domain.accounts import AccountInvalid, Client, User, check_account
from silkway.identity.domain.principal import SECOND_FACTOR_ROLES, Principal, Role, home_state
from silkway.identity.passwords import (
    hash_secret,
    new_client_secret,
    new_totp_secret,
    totp_ok,
    verify_secret,
)
from silkway.identity.ports import RefreshToken, SigningKey
from silkway.identity.tokens import Expectation, ExternalIssuer, KeyRing, TokenVerifier, sign
from silkway.identity.tokens import new_signing_key as _new_key
from silkway.kernel.chain import ChainVerdict
from silkway.kernel.errors import DomainError, NotAuthenticated, Violation
from silkway.node.ports import Clock, DuplicateKey
from silkway.unit_of_work import UnitOfWork

__all__ = [
    "AccountExists",
    "AccountNotFound",
    "IdentityContext",
    "TokenPair",
    "add_client",
    "add_user",
    "authenticate",
    "client_grant",
    "password_grant",
    "record_access",
    "refresh_grant",
    "revoke",
    "rotate_client",
    "verify_access_log",
]

log = logging.getLogger("silkway.identity")

_ACCESS_APPEND_TRIES = 20
MIN_PASSWORD = 12


class AccountExists(DomainError):
    code = "account-exists"


class AccountNotFound(DomainError):
    code = "account-not-found"


@dataclass
class IdentityContext:
    state: str
    clock: Clock
    uow: Callable[[], UnitOfWork]
    offices: Callable[[str], Container[str]]
    """The office codes of a state."""
    issuer: str
    audience: str
    access_ttl: timedelta = timedelta(minutes=10)
    refresh_ttl: timedelta = timedelta(hours=8)
    external: tuple[ExternalIssuer, ...] = ()
    second_factor_required: bool = False
    """Whether officers and administrators must have a TOTP second factor to log in."""
    ring: KeyRing = field(init=False)
    verifier: TokenVerifier = field(init=False)

    def __post_init__(self) -> None:
        self.ring = KeyRing(self._keys)
        self.verifier = TokenVerifier(
            self.ring, Expectation(self.issuer, self.audience), self.clock.now, self.external
        )

    def _keys(self) -> list[SigningKey]:
        with self.uow() as uow:
            keys = uow.identity.signing_keys()
            if not any(not k.retired for k in keys):
                # The first key is made on first use, so a new node needs no set-up step.
                now = self.clock.now()
                key = _new_key(f"{self.state.lower()}-{now:%Y%m%d%H%M%S}", now)
                uow.identity.add_signing_key(key)
                uow.commit()
                keys = [*keys, key]
            return keys


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str | None
    principal: Principal

    def as_oauth(self) -> dict[str, Any]:
        """The token endpoint's answer (RFC 6749 §5.1)."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "role": self.principal.role.value,
            "state": self.principal.state,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


# --- accounts -------------------------------------------------------------------------------


def add_user(
    ctx: IdentityContext,
    username: str,
    password: str,
    role: Role,
    *,
    state: str | None = None,
    office: str | None = None,
    party: str | None = None,
    second_factor: bool = False,
) -> tuple[User, str | None]:
    """A new person; returns the TOTP secret to enrol when ``second_factor``."""
    state = state or home_state(role, ctx.state)
    _check(ctx, username, role, state, office, party)
    _check_password(password)
    secret = new_totp_secret() if second_factor else None
    user = User(
        username, role, state, office, party, hash_secret(password), secret, False, ctx.clock.now()
    )
    with ctx.uow() as uow:
        try:
            uow.identity.add_user(user)
        except DuplicateKey:
            raise AccountExists(f"user {username!r} exists") from None
        uow.commit()
    return user, secret


def add_users_sharing_password(
    ctx: IdentityContext, accounts: list[tuple[str, Role, str | None]], password: str
) -> list[User]:
    """People ``(username, role, party)`` who all have one password, as the embedded demo's
    published one: hashed once for all of them (one argon2 run instead of one per account),
    added in one transaction, or none if any is refused."""
    checked = []
    for username, role, party in accounts:
        state = home_state(role, ctx.state)
        _check(ctx, username, role, state, None, party)
        checked.append((username, role, state, party))
    _check_password(password)
    if not checked:
        return []
    hashed = hash_secret(password)
    now = ctx.clock.now()
    users = [User(u, r, s, None, p, hashed, None, False, now) for u, r, s, p in checked]
    with ctx.uow() as uow:
        for user in users:
            try:
                uow.identity.add_user(user)
            except DuplicateKey:
                raise AccountExists(f"user {user.username!r} exists") from None
        uow.commit()
    return users


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountInvalid(
            "the password is too short",
            [Violation("password-short", "/password", f"at least {MIN_PASSWORD} characters")],
        )


def set_user_disabled(ctx: IdentityContext, username: str, disabled: bool = True) -> None:
    with ctx.uow() as uow:
        if not uow.identity.set_user_disabled(username, disabled):
            raise AccountNotFound(f"no user {username!r}")
        if disabled:
            uow.identity.revoke_refresh_of(f"user:{username}")
        uow.commit()


def add_client(
    ctx: IdentityContext,
    client_id: str,
    role: Role,
    *,
    state: str | None = None,
    office: str | None = None,
    party: str | None = None,
) -> tuple[Client, str]:
    """A new machine client and its secret (shown once; only its hash is kept)."""
    state = state or home_state(role, ctx.state)
    _check(ctx, client_id, role, state, office, party)
    secret = new_client_secret()
    client = Client(
        client_id, role, state, office, party, hash_secret(secret), False, ctx.clock.now()
    )
    with ctx.uow() as uow:
        try:
            uow.identity.add_client(client)
        except DuplicateKey:
            raise AccountExists(f"client {client_id!r} exists") from None
        uow.commit()
    return client, secret


def rotate_client(ctx: IdentityContext, client_id: str) -> str:
    """A new secret for a client; the old one stops working at once."""
    secret = new_client_secret()
    with ctx.uow() as uow:
        found = uow.identity.client(client_id)
        if found is None or found.revoked:
            raise AccountNotFound(f"no active client {client_id!r}")
        uow.identity.set_client_secret(client_id, hash_secret(secret))
        uow.commit()
    return secret


def revoke_client(ctx: IdentityContext, client_id: str) -> None:
    with ctx.uow() as uow:
        if not uow.identity.set_client_revoked(client_id):
            raise AccountNotFound(f"no client {client_id!r}")
        uow.commit()


def _check(
    ctx: IdentityContext,
    name: str,
    role: Role,
    state: str,
    office: str | None,
    party: str | None,
) -> None:
    check_account(
        name=name,
        role=role,
        state=state,
        office=office,
        party=party,
        node_state=ctx.state,
        offices_of_state=ctx.offices(state),
    )


# --- grants ---------------------------------------------------------------------------------


def password_grant(
    ctx: IdentityContext, username: str, password: str, second_factor: str | None = None
) -> TokenPair:
    """The resource-owner password grant, with a TOTP code for accounts that have one."""
    principal = verify_person(ctx, username, password, second_factor)
    return _issue(ctx, principal, f"user:{username}", refresh=True)


def verify_person(
    ctx: IdentityContext, username: str, password: str, second_factor: str | None = None
) -> Principal:
    """The person these credentials prove, or ``NotAuthenticated`` naming what is wrong."""
    with ctx.uow() as uow:
        user = uow.identity.user(username)
    if not verify_secret(password, user.password_hash if user else None) or user is None:
        raise NotAuthenticated("credentials-invalid", "unknown user or wrong password")
    if user.disabled:
        raise NotAuthenticated("account-disabled", f"user {username!r} is disabled")
    now = ctx.clock.now()
    if user.totp_secret is not None:
        if not second_factor or not totp_ok(user.totp_secret, second_factor, now):
            raise NotAuthenticated("second-factor-invalid", "a valid one-time code is required")
    elif ctx.second_factor_required and user.role in SECOND_FACTOR_ROLES:
        raise NotAuthenticated(
            "second-factor-missing", f"a {user.role.value} needs a second factor enrolled"
        )
    return user.principal(ctx.issuer)


def has_administrator(ctx: IdentityContext) -> bool:
    with ctx.uow() as uow:
        return any(u.role is Role.ADMINISTRATOR and not u.disabled for u in uow.identity.users())


def client_grant(ctx: IdentityContext, client_id: str, secret: str) -> TokenPair:
    """The client-credentials grant (RFC 6749 §4.4): no refresh token."""
    with ctx.uow() as uow:
        client = uow.identity.client(client_id)
    if not verify_secret(secret, client.secret_hash if client else None) or client is None:
        raise NotAuthenticated("credentials-invalid", "unknown client or wrong secret")
    if client.revoked:
        raise NotAuthenticated("account-disabled", f"client {client_id!r} is revoked")
    return _issue(ctx, client.principal(ctx.issuer), f"client:{client_id}", refresh=False)


def refresh_grant(ctx: IdentityContext, refresh_token: str) -> TokenPair:
    digest = _digest(refresh_token)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        stored = uow.identity.refresh(digest)
        if stored is None or stored.expires_at <= now:
            raise NotAuthenticated("token-invalid", "unknown or expired refresh token")
        if stored.revoked:
            # A refresh token is good once: seeing it again means someone else holds a copy.
            uow.identity.revoke_refresh_of(stored.subject)
            uow.commit()
            log.warning(
                "refresh token of %s reused: all its refresh tokens revoked", stored.subject
            )
            raise NotAuthenticated("token-revoked", "the refresh token was already used")
        uow.identity.revoke_refresh(digest)
        kind, _, name = stored.subject.partition(":")
        user = uow.identity.user(name) if kind == "user" else None
        uow.commit()
    if user is None or user.disabled:
        raise NotAuthenticated("account-disabled", "the account is disabled")
    return _issue(ctx, user.principal(ctx.issuer), stored.subject, refresh=True)


def issue_for(
    ctx: IdentityContext, principal: Principal, *, audience: str | None = None
) -> TokenPair:
    """A token for an account the caller has already checked (``silkway token``, the demo)."""
    return _issue(ctx, principal, "", refresh=False, audience=audience)


def _issue(
    ctx: IdentityContext,
    principal: Principal,
    subject: str,
    *,
    refresh: bool,
    audience: str | None = None,
) -> TokenPair:
    now = ctx.clock.now()
    jti = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": principal.subject,
        "aud": audience or ctx.audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + ctx.access_ttl).timestamp()),
        "jti": jti,
        "role": principal.role.value,
        "state": principal.state,
    }
    for name, value in (
        ("office", principal.office),
        ("party", principal.party),
        ("client_id", principal.client),
    ):
        if value is not None:
            claims[name] = value
    token = sign(ctx.ring, claims)
    refresh_value: str | None = None
    if refresh:
        refresh_value = secrets.token_urlsafe(32)
        with ctx.uow() as uow:
            uow.identity.add_refresh(
                RefreshToken(_digest(refresh_value), subject, now + ctx.refresh_ttl, False)
            )
            uow.commit()
    issued = replace(principal, token_id=jti, issuer=ctx.issuer)
    return TokenPair(token, int(ctx.access_ttl.total_seconds()), refresh_value, issued)


def _digest(value: str) -> str:
    # A refresh token is 256 random bits: a plain hash is enough to keep it unusable at rest.
    return hashlib.sha256(value.encode()).hexdigest()


# --- verification and revocation ------------------------------------------------------------


def authenticate(ctx: IdentityContext, token: str) -> Principal:
    """The caller a bearer token names, if it is valid, unrevoked and its account active."""
    principal, _ = ctx.verifier.verify(token)
    if principal.issuer != ctx.issuer:
        return principal  # an external provider's token: that provider manages its accounts
    with ctx.uow() as uow:
        if principal.token_id and uow.identity.token_revoked(principal.token_id):
            raise NotAuthenticated("token-revoked", "the token was revoked")
        if principal.client is not None:
            client = uow.identity.client(principal.client)
            active = client is not None and not client.revoked
        else:
            user = uow.identity.user(principal.subject)
            active = user is not None and not user.disabled
    if not active:
        raise NotAuthenticated("account-disabled", "the token's account is disabled or revoked")
    return principal


def revoke(ctx: IdentityContext, token: str) -> None:
    """Revoke an access or a refresh token (RFC 7009: an unknown token is not an error)."""
    if token.count(".") == 2:
        try:
            principal, expires = ctx.verifier.verify(token)
        except NotAuthenticated:
            return
        if principal.issuer == ctx.issuer and principal.token_id:
            with ctx.uow() as uow:
                uow.identity.revoke_token(principal.token_id, expires, ctx.clock.now())
                uow.commit()
        return
    with ctx.uow() as uow:
        uow.identity.revoke_refresh(_digest(token))
        uow.commit()


# --- the access log -------------------------------------------------------------------------


def record_access(ctx: IdentityContext, entry: AccessEntry) -> AccessRecord:
    """Append one request to the access log (its own short transaction)."""
    for _ in range(_ACCESS_APPEND_TRIES):
        with ctx.uow() as uow:
            record = access_log.append(uow.identity.last_access(), entry)
            try:
                uow.identity.add_access(record)
            except DuplicateKey:
                continue  # another request took this position: link to it instead
            uow.commit()
            return record
    raise RuntimeError("the access log stayed busy")


def access_records(ctx: IdentityContext, *, after: int = 0, limit: int = 200) -> list[AccessRecord]:
    with ctx.uow() as uow:
        return uow.identity.access_records(after=after, limit=limit)


def verify_access_log(ctx: IdentityContext) -> ChainVerdict:
    with ctx.uow() as uow:
        return access_log.verify(uow.identity.access_records())
