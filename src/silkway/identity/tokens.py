"""Access tokens: signed JWTs (ES256) that the node issues and any caller presents.

joserfc does every signature and claim check; this module decides which keys and which
issuers are trusted and turns verified claims into a :class:`Principal`. The node's own tokens
are verified against its key ring; tokens of an external OpenID Connect provider (a ministry's
identity service) against that provider's JWKS, fetched from its URL and cached, with its
claim names mapped onto ours.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, KeySet

from silkway.identity.domain.principal import Principal, Role
from silkway.identity.ports import SigningKey
from silkway.kernel.errors import NotAuthenticated

__all__ = [
    "ALGORITHM",
    "ExternalIssuer",
    "KeyRing",
    "TokenVerifier",
    "new_signing_key",
    "sign",
]

log = logging.getLogger("silkway.identity")

ALGORITHM = "ES256"
_ALGORITHMS = [ALGORITHM]
_LEEWAY_S = 30
"""Clock skew tolerated between issuer and node."""
_JWKS_TTL_S = 300
_MAX_JWKS_BYTES = 256 * 1024


def new_signing_key(kid: str, at: datetime) -> SigningKey:
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
    return SigningKey(kid, key.as_pem(private=True).decode(), at, retired=False)


def _key_of(stored: SigningKey) -> ECKey:
    return ECKey.import_key(
        stored.private_pem, parameters={"kid": stored.kid, "use": "sig", "alg": ALGORITHM}
    )


class KeyRing:
    """The node's signing keys, read from storage once and again when a key id is unknown."""

    def __init__(self, load: Callable[[], list[SigningKey]]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._keys: dict[str, ECKey] = {}
        self._signing: ECKey | None = None

    def reload(self) -> None:
        stored = self._load()
        keys = {s.kid: _key_of(s) for s in stored}
        active = [s for s in stored if not s.retired]
        newest = max(active, key=lambda s: (s.created_at, s.kid), default=None)
        with self._lock:
            self._keys = keys
            self._signing = keys[newest.kid] if newest else None

    def signing_key(self) -> ECKey:
        if self._signing is None:
            self.reload()
        if self._signing is None:
            raise RuntimeError("the node has no token signing key")
        return self._signing

    def verification_keys(self, kid: str | None) -> KeySet:
        if kid is None or kid not in self._keys:
            self.reload()
        return KeySet(list(self._keys.values()))

    def jwks(self) -> dict[str, Any]:
        """The public keys, as a JWK set (RFC 7517) for ``/.well-known/jwks.json``."""
        self.reload()
        return {"keys": [k.as_dict(private=False) for k in self._keys.values()]}


def sign(ring: KeyRing, claims: Mapping[str, Any]) -> str:
    key = ring.signing_key()
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "at+jwt"}, dict(claims), key)


@dataclass(frozen=True, slots=True)
class ExternalIssuer:
    """An OpenID Connect provider whose tokens this node accepts.

    ``claims`` maps our fields (``subject``, ``role``, ``state``, ``office``, ``party``) to the
    provider's claim names; ``roles`` maps the provider's role values to ours (identity when
    empty)."""

    issuer: str
    jwks_url: str
    audience: str
    claims: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)

    def claim(self, name: str) -> str:
        return self.claims.get(name, "sub" if name == "subject" else name)


class _RemoteKeys:
    """One provider's JWKS, cached for a few minutes by the node's clock."""

    def __init__(self, url: str, now: Callable[[], float]) -> None:
        self._url = url
        self._now = now
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, kid: str | None) -> KeySet:
        with self._lock:
            stale = self._now() - self._fetched_at > _JWKS_TTL_S
            unknown = self._keys is None or (kid is not None and not _has_kid(self._keys, kid))
            # An unknown key id refetches at most every few seconds: a flood of forged kids
            # must not become a flood of requests to the provider.
            if stale or (unknown and self._now() - self._fetched_at > 5):
                self._keys = self._fetch()
                self._fetched_at = self._now()
            if self._keys is None:
                raise NotAuthenticated("issuer-unreachable", "the token issuer's keys are unknown")
            return self._keys

    def _fetch(self) -> KeySet | None:
        try:
            request = urllib.request.Request(self._url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read(_MAX_JWKS_BYTES + 1)
            if len(body) > _MAX_JWKS_BYTES:
                raise ValueError("JWKS document too large")
            return KeySet.import_key_set(json.loads(body))
        except (OSError, ValueError, JoseError) as error:
            log.warning("JWKS %s could not be fetched: %s", self._url, error)
            return self._keys


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What this node requires of its own tokens."""

    issuer: str
    audience: str


class TokenVerifier:
    """Verifies a bearer token from the node itself or from a configured external issuer."""

    def __init__(
        self,
        ring: KeyRing,
        own: Expectation,
        now: Callable[[], datetime],
        external: tuple[ExternalIssuer, ...] = (),
    ) -> None:
        self._ring = ring
        self._own = own
        self._now = now
        self._external = {e.issuer: e for e in external}
        self._remote = {
            e.issuer: _RemoteKeys(e.jwks_url, lambda: now().timestamp()) for e in external
        }

    def verify(self, token: str) -> tuple[Principal, datetime]:
        """The caller and the token's expiry; ``NotAuthenticated`` naming what is wrong."""
        issuer, kid = _peek(token)
        if issuer == self._own.issuer:
            claims = self._check(
                token, self._ring.verification_keys(kid), issuer, self._own.audience
            )
            return _own_principal(claims), _expiry(claims)
        external = self._external.get(issuer)
        if external is None:
            raise NotAuthenticated("issuer-untrusted", f"tokens of {issuer!r} are not trusted here")
        claims = self._check(token, self._remote[issuer].get(kid), issuer, external.audience)
        return _external_principal(claims, external), _expiry(claims)

    def _check(self, token: str, keys: KeySet, issuer: str, audience: str) -> dict[str, Any]:
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._now().timestamp()),
            leeway=_LEEWAY_S,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            decoded = jwt.decode(token, keys, algorithms=_ALGORITHMS)
            registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise NotAuthenticated("token-expired", "the token has expired") from None
        except (MissingClaimError, InvalidClaimError) as error:
            code = "audience-wrong" if "aud" in str(error) else "token-invalid"
            raise NotAuthenticated(
                code, f"the token's claims are not valid here: {error}"
            ) from None
        except (BadSignatureError, InvalidTokenError, JoseError, ValueError) as error:
            raise NotAuthenticated("token-invalid", f"the token is not valid: {error}") from None
        return dict(decoded.claims)


def _peek(token: str) -> tuple[str, str | None]:
    """The issuer and key id a token claims, read before its signature is checked."""
    try:
        unverified = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(unverified.payload)
        issuer = claims.get("iss") if isinstance(claims, dict) else None
        kid = unverified.headers().get("kid")
    except (JoseError, ValueError, TypeError, UnicodeError) as error:
        raise NotAuthenticated("token-invalid", f"the token cannot be read: {error}") from None
    if not isinstance(issuer, str):
        raise NotAuthenticated("token-invalid", "the token names no issuer")
    return issuer, kid if isinstance(kid, str) else None


def _expiry(claims: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


def _role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        raise NotAuthenticated("token-invalid", f"the token's role {value!r} is unknown") from None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _own_principal(claims: Mapping[str, Any]) -> Principal:
    return Principal(
        subject=str(claims["sub"]),
        role=_role(claims.get("role")),
        state=str(claims.get("state", "")),
        office=_text(claims.get("office")),
        party=_text(claims.get("party")),
        client=_text(claims.get("client_id")),
        token_id=str(claims.get("jti", "")),
        issuer=str(claims["iss"]),
    )


def _external_principal(claims: Mapping[str, Any], issuer: ExternalIssuer) -> Principal:
    raw_role = claims.get(issuer.claim("role"))
    role = _role(issuer.roles.get(str(raw_role), raw_role) if issuer.roles else raw_role)
    return Principal(
        subject=str(claims.get(issuer.claim("subject"), claims["sub"])),
        role=role,
        state=str(claims.get(issuer.claim("state"), "")),
        office=_text(claims.get(issuer.claim("office"))),
        party=_text(claims.get(issuer.claim("party"))),
        token_id=str(claims.get("jti", "")),
        issuer=issuer.issuer,
    )
