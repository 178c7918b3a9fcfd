"""Identity's routes: the OAuth 2.0 token endpoint, revocation, the keys, who am I, the access log."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel

from silkway.identity import service as identity
from silkway.identity.access import principal_of
from silkway.identity.domain.principal import Principal
from silkway.identity.service import IdentityContext
from silkway.kernel.errors import NotAuthenticated

__all__ = ["build_identity_router"]

_GRANTS = ("password", "client_credentials", "refresh_token")


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None
    role: str
    state: str


class MeOut(BaseModel):
    subject: str
    role: str
    state: str
    office: str | None
    party: str | None
    client: str | None
    issuer: str


class AccessRecordOut(BaseModel):
    seq: int
    at: str
    subject: str
    role: str
    state: str
    office: str
    client_address: str
    method: str
    path: str
    status: int
    outcome: str
    reason: str
    hash: str


class AccessLogOut(BaseModel):
    verified: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None
    records: list[AccessRecordOut]


def _basic(request: Request) -> tuple[str, str] | None:
    """Client credentials sent as HTTP Basic (RFC 6749 §2.3.1), if they are."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticated("credentials-invalid", "malformed Basic credentials") from None
    return (user, secret) if sep else None


def build_identity_router(ctx: IdentityContext) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/v1/auth/token",
        response_model=TokenOut,
        response_model_exclude_none=True,
        tags=["identity"],
        summary="Get an access token (OAuth 2.0: password, client_credentials, refresh_token)",
    )
    def token(
        request: Request,
        grant_type: Annotated[str, Form(pattern="^(" + "|".join(_GRANTS) + ")$")],
        username: Annotated[str | None, Form(max_length=64)] = None,
        password: Annotated[str | None, Form(max_length=256)] = None,
        otp: Annotated[str | None, Form(max_length=10, description="TOTP code")] = None,
        client_id: Annotated[str | None, Form(max_length=64)] = None,
        client_secret: Annotated[str | None, Form(max_length=256)] = None,
        refresh_token: Annotated[str | None, Form(max_length=256)] = None,
    ) -> dict[str, Any]:
        if grant_type == "password":
            if not username or password is None:
                raise NotAuthenticated("credentials-invalid", "username and password are needed")
            return identity.password_grant(ctx, username, password, otp).as_oauth()
        if grant_type == "client_credentials":
            basic = _basic(request)
            cid, secret = basic if basic else (client_id, client_secret)
            if not cid or secret is None:
                raise NotAuthenticated("credentials-invalid", "client_id and client_secret needed")
            return identity.client_grant(ctx, cid, secret).as_oauth()
        if not refresh_token:
            raise NotAuthenticated("token-invalid", "refresh_token is needed")
        return identity.refresh_grant(ctx, refresh_token).as_oauth()

    @router.post(
        "/api/v1/auth/revocation",
        status_code=200,
        tags=["identity"],
        summary="Revoke an access or refresh token (RFC 7009)",
    )
    def revocation(token: Annotated[str, Form(min_length=1, max_length=4096)]) -> dict[str, str]:
        identity.revoke(ctx, token)
        return {"status": "revoked"}

    @router.get("/api/v1/auth/me", response_model=MeOut, tags=["identity"])
    def me(request: Request) -> MeOut:
        p: Principal = principal_of(request)
        return MeOut(
            subject=p.subject,
            role=p.role.value,
            state=p.state,
            office=p.office,
            party=p.party,
            client=p.client,
            issuer=p.issuer,
        )

    @router.get("/.well-known/jwks.json", tags=["identity"], summary="The node's token keys")
    def jwks() -> dict[str, Any]:
        return ctx.ring.jwks()

    @router.get("/.well-known/openid-configuration", tags=["identity"])
    def discovery(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/") + request.scope.get("root_path", "")
        return {
            "issuer": ctx.issuer,
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "token_endpoint": f"{base}/api/v1/auth/token",
            "revocation_endpoint": f"{base}/api/v1/auth/revocation",
            "grant_types_supported": list(_GRANTS),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": ["ES256"],
        }

    @router.get("/api/v1/access-log", response_model=AccessLogOut, tags=["identity"])
    def access_log(
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> AccessLogOut:
        verdict = identity.verify_access_log(ctx)
        records = identity.access_records(ctx, after=after, limit=limit)
        return AccessLogOut(
            verified=verdict.ok,
            checked=verdict.checked,
            first_bad_seq=verdict.first_bad_seq,
            reason=verdict.reason,
            records=[
                AccessRecordOut(
                    seq=r.seq,
                    at=r.entry.at.isoformat(),
                    subject=r.entry.subject,
                    role=r.entry.role,
                    state=r.entry.state,
                    office=r.entry.office,
                    client_address=r.entry.client_address,
                    method=r.entry.method,
                    path=r.entry.path,
                    status=r.entry.status,
                    outcome=r.entry.outcome.value,
                    reason=r.entry.reason,
                    hash=r.hash,
                )
                for r in records
            ],
        )

    return router
