"""``silkway users``, ``silkway clients`` and ``silkway token``, and who runs a command.

Every command that changes state acts as one of the node's users, named by ``SILKWAY_USER``
with ``SILKWAY_PASSWORD`` (and ``SILKWAY_OTP`` for an account with a second factor), and runs
only if that user's role may (:data:`silkway.identity.domain.policy.COMMANDS`); both the run and
a refusal go to the node's access log. The one exception is the first administrator of a node,
which ``silkway users add`` makes while the node has none. Secrets are printed once and only
their hashes are kept. Every command prints JSON; a refusal prints ``{"error", ...}`` and exits 1.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated, Any

import typer

from silkway.entrypoints.cli_output import emit, fail, refused
from silkway.identity import service as identity
from silkway.identity.domain import access_log
from silkway.identity.domain.policy import COMMANDS
from silkway.identity.domain.principal import Principal, Role
from silkway.kernel.errors import AccessDenied, DomainError, NotAuthenticated

users_app = typer.Typer(help="People: officers, analysts, administrators.", no_args_is_help=True)
clients_app = typer.Typer(
    help="Machine clients (client credentials): declarants', guarantors', operators' systems.",
    no_args_is_help=True,
)

NodeOption = Annotated[str, typer.Option("--node", "--state", help="The node: AM BY KZ KG RU EEC.")]
UrlOption = Annotated[str | None, typer.Option(help="The node's database (default: settings).")]
RoleOption = Annotated[Role, typer.Option(help="The account's role.")]
OfficeOption = Annotated[str | None, typer.Option(help="An officer's one office.")]
PartyOption = Annotated[
    str | None, typer.Option(help="The identification number the account acts for.")
]


def operator(ctx: identity.IdentityContext, command: str) -> Principal:
    """The user running ``command``, signed in from the environment; refuses a wrong role."""
    username = os.environ.get("SILKWAY_USER", "")
    password = os.environ.get("SILKWAY_PASSWORD")
    principal: Principal | None = None
    try:
        if not username or password is None:
            raise NotAuthenticated(
                "operator-missing",
                f"{command!r} changes state: set SILKWAY_USER and SILKWAY_PASSWORD (and "
                "SILKWAY_OTP) to one of the node's users",
            )
        principal = replace(
            identity.verify_person(ctx, username, password, os.environ.get("SILKWAY_OTP")),
            address=_address(),
        )
        if principal.role not in COMMANDS[command]:
            raise AccessDenied(
                "role-forbidden", f"a {principal.role.value} may not run {command!r}"
            )
    except (NotAuthenticated, AccessDenied) as error:
        _log(ctx, command, principal, 401 if isinstance(error, NotAuthenticated) else 403, error)
        refused(error)
    _log(ctx, command, principal, 200, None)
    return principal


def _log(
    ctx: identity.IdentityContext,
    command: str,
    who: Principal | None,
    status: int,
    error: DomainError | None,
) -> None:
    identity.record_access(
        ctx,
        access_log.entry(
            ctx.clock.now(),
            who,
            client_address=_address(),
            method="CLI",
            path=command,
            status=status,
            reason=error.code if error else "",
            unknown=os.environ.get("SILKWAY_USER") or "anonymous",
        ),
    )


def _address() -> str:
    """Where a command-line run comes from: the login that ran it."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def _identity(
    state: str, database_url: str | None, *, create: bool = False
) -> Iterator[identity.IdentityContext]:
    """The node's identity context, on its existing database; ``create`` makes one that is
    missing (adding a node's first administrator is how a node begins)."""
    from silkway.bootstrap import build_node

    node = build_node(state.upper(), database_url=database_url, create=create)
    try:
        yield node.identity
    except DomainError as error:
        refused(error)
    finally:
        node.dispose()


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    role: RoleOption,
    node: NodeOption,
    office: OfficeOption = None,
    party: PartyOption = None,
    second_factor: Annotated[bool, typer.Option(help="Enrol a TOTP second factor.")] = False,
    database_url: UrlOption = None,
) -> None:
    """Add a person; the new password is read from SILKWAY_NEW_PASSWORD or asked for.

    A node's first administrator needs no sign-in; every later account is added by one."""
    password = os.environ.get("SILKWAY_NEW_PASSWORD") or getpass.getpass("new password: ")
    with _identity(node, database_url, create=role is Role.ADMINISTRATOR) as ctx:
        if not (role is Role.ADMINISTRATOR and not identity.has_administrator(ctx)):
            operator(ctx, "users add")
        user, secret = identity.add_user(
            ctx, username, password, role, office=office, party=party, second_factor=second_factor
        )
    out: dict[str, Any] = {"username": user.username, "role": user.role.value, "state": user.state}
    if secret:
        out["totp_secret"] = secret
        out["totp_uri"] = f"otpauth://totp/Silkway:{username}?secret={secret}&issuer=Silkway"
    emit(out)


@users_app.command("list")
def users_list(node: NodeOption, database_url: UrlOption = None) -> None:
    with _identity(node, database_url) as ctx, ctx.uow() as uow:
        users = uow.identity.users()
    emit(
        [
            {
                "username": u.username,
                "role": u.role.value,
                "state": u.state,
                "office": u.office,
                "party": u.party,
                "second_factor": u.totp_secret is not None,
                "disabled": u.disabled,
            }
            for u in users
        ]
    )


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument()], node: NodeOption, database_url: UrlOption = None
) -> None:
    """Disable a person: their tokens stop working at once."""
    with _identity(node, database_url) as ctx:
        operator(ctx, "users disable")
        identity.set_user_disabled(ctx, username)
    emit({"username": username, "disabled": True})


@clients_app.command("add")
def clients_add(
    client_id: Annotated[str, typer.Argument()],
    role: RoleOption,
    node: NodeOption,
    office: OfficeOption = None,
    party: PartyOption = None,
    database_url: UrlOption = None,
) -> None:
    """Add a machine client; its secret is printed once."""
    with _identity(node, database_url) as ctx:
        operator(ctx, "clients add")
        client, secret = identity.add_client(ctx, client_id, role, office=office, party=party)
    emit({"client_id": client.client_id, "role": client.role.value, "client_secret": secret})


@clients_app.command("rotate")
def clients_rotate(
    client_id: Annotated[str, typer.Argument()], node: NodeOption, database_url: UrlOption = None
) -> None:
    """A new secret; the old one stops working at once."""
    with _identity(node, database_url) as ctx:
        operator(ctx, "clients rotate")
        secret = identity.rotate_client(ctx, client_id)
    emit({"client_id": client_id, "client_secret": secret})


@clients_app.command("revoke")
def clients_revoke(
    client_id: Annotated[str, typer.Argument()], node: NodeOption, database_url: UrlOption = None
) -> None:
    with _identity(node, database_url) as ctx:
        operator(ctx, "clients revoke")
        identity.revoke_client(ctx, client_id)
    emit({"client_id": client_id, "revoked": True})


def token(
    username: Annotated[str, typer.Argument(help="A user of the node.")],
    node: NodeOption,
    database_url: UrlOption = None,
) -> None:
    """Print an access token for a user (for scripts on the node's host)."""
    with _identity(node, database_url) as ctx:
        with ctx.uow() as uow:
            user = uow.identity.user(username)
        if user is None or user.disabled:
            fail("account-not-found", f"no active user {username!r}")
        pair = identity.issue_for(ctx, user.principal(ctx.issuer))
    emit({"access_token": pair.access_token, "token_type": "Bearer", "expires_in": pair.expires_in})
