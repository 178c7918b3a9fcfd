"""The gate in front of every route: the bearer token, the policy row, the rate limit, the log.

:func:`make_guard` is the one dependency of the node's app. For each request it finds the
route's row in :data:`silkway.identity.domain.policy.POLICY` (no row: refused, so a new route
is closed until someone decides who may call it), verifies the bearer token, checks the role
and the state the caller acts in, and counts the request against the caller's rate limit. The
principal is left on ``request.state.principal`` for the route's own ownership checks.
:class:`AccessLog` then appends every state-changing request and every refusal to the node's
hash-chained access log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from time import time as _epoch  # noqa: TID251 - see _Limiter.check
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from silkway.identity import service as identity
from silkway.identity.domain import access_log
from silkway.identity.domain.access_log import AccessEntry
from silkway.identity.domain.policy import Own, Rule, allows, rule_for
from silkway.identity.domain.principal import Principal, acting_states
from silkway.identity.service import IdentityContext
from silkway.kernel.errors import AccessDenied, NotAuthenticated
from silkway.web.problems import ApiProblem

__all__ = ["AccessLog", "GuardSettings", "make_guard"]

log = logging.getLogger("silkway.access")

_PRINCIPAL = "principal"
_RULE = "rule"


@dataclass(frozen=True, slots=True)
class GuardSettings:
    rate_limit: str = "1200/minute"
    """Requests per caller (token subject, or address when anonymous)."""
    token_rate_limit: str = "30/minute"
    """Token requests per client address: password guessing is slow."""


class _Limiter:
    def __init__(self, settings: GuardSettings) -> None:
        self._window = MovingWindowRateLimiter(MemoryStorage())
        self._general: RateLimitItem = parse(settings.rate_limit)
        self._token: RateLimitItem = parse(settings.token_rate_limit)

    def check(self, key: str, *, token_endpoint: bool = False) -> None:
        item = self._token if token_endpoint else self._general
        if self._window.hit(item, "silkway", key):
            return
        reset, _ = self._window.get_window_stats(item, "silkway", key)
        # The limiter counts in the machine's epoch seconds, not the node's clock: its windows
        # are about this process's load, so Retry-After is read from its own reset time.
        wait = max(1, int(reset - _epoch()) + 1)
        raise ApiProblem(
            429,
            "rate-limited",
            "Too many requests",
            f"more than {item} for this caller; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )


# Declared as a security scheme, so the OpenAPI page offers "Authorize"; the guard itself
# decides what a missing token means (public routes take none).
_BEARER = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/token")

OwnershipCheck = Callable[[Principal, Mapping[str, str]], None]
"""Refuses a caller the resource a route's path parameters lead to, if it is not theirs."""


def make_guard(
    ctx: IdentityContext,
    settings: GuardSettings,
    ownership: Mapping[Own, OwnershipCheck] | None = None,
) -> Callable[..., None]:
    """The dependency every route of a node's app runs first."""
    limiter = _Limiter(settings)
    checks = dict(ownership or {})

    def guard(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        route = request.scope.get("route")
        path = getattr(route, "path", None)
        rule = rule_for(request.method, path) if isinstance(path, str) else None
        request.state.rule = rule
        if rule is None:
            raise AccessDenied("route-unlisted", "no access rule names this route")
        address = request.client.host if request.client else "unknown"
        if rule.public:
            limiter.check(address, token_endpoint=str(path).endswith("/auth/token"))
            return
        if credentials is None or not credentials.credentials.strip():
            raise NotAuthenticated("token-missing", "send Authorization: Bearer <access token>")
        principal = replace(
            identity.authenticate(ctx, credentials.credentials.strip()), address=address
        )
        request.state.principal = principal
        limiter.check(f"{principal.issuer}|{principal.subject}")
        _check_state(principal, ctx.state)
        if not allows(rule, principal):
            raise AccessDenied(
                "role-forbidden", f"a {principal.role.value} may not call {request.method} {path}"
            )
        check = checks.get(rule.own)
        if check is not None:
            check(principal, request.path_params)

    return guard


def _check_state(principal: Principal, state: str) -> None:
    if principal.state not in acting_states(principal.role, state):
        raise AccessDenied(
            "state-foreign", f"a caller acting in {principal.state or '?'} cannot act in {state}"
        )


class AccessLog:
    """Appends each state-changing request and each refusal to the access log, after it ended."""

    def __init__(self, app: ASGIApp, ctx: IdentityContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            entry = self._entry(scope, status)
            if entry is not None:
                try:
                    await anyio.to_thread.run_sync(identity.record_access, self.ctx, entry)
                except Exception:
                    log.exception("access log: could not record %s %s", entry.method, entry.path)

    def _entry(self, scope: Scope, status: int) -> AccessEntry | None:
        state = scope.get("state") or {}
        rule = state.get(_RULE)
        refused = status in (401, 403, 429)
        changes = isinstance(rule, Rule) and rule.changes_state
        if not refused and not changes:
            return None
        principal = state.get(_PRINCIPAL)
        client = scope.get("client")
        return access_log.entry(
            self.ctx.clock.now(),
            principal if isinstance(principal, Principal) else None,
            client_address=str(client[0]) if client else "",
            method=str(scope.get("method", "")),
            path=str(scope.get("path", "")),
            status=status,
            reason=str(state.get("refusal", "")),
        )
