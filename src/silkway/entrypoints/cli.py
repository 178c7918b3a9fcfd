"""The ``silkway`` command line."""

from __future__ import annotations

import enum
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from silkway.entrypoints.cli_output import emit as _emit
from silkway.entrypoints.cli_output import fail as _fail
from silkway.entrypoints.cli_output import refused as _refused
from silkway.exchange.cli import conformance_app, exchange_app, keys_app, trust_app
from silkway.guarantees.cli import claims_app, guarantee_app
from silkway.identity.access import require_party
from silkway.identity.cli import clients_app, operator, users_app
from silkway.identity.cli import token as identity_token
from silkway.kernel.codes import identify
from silkway.kernel.errors import DomainError
from silkway.node.ports import DatabaseMissing
from silkway.reference.model import MEMBER_STATES, NODE_CODES
from silkway.seals.cli import seal_app
from silkway.settings import Settings
from silkway.sim.cli import simulate
from silkway.transit.domain.declaration import TransitDeclaration


class _Commands(TyperGroup):
    """Every command: a node database that is not where the command looked is an answer with
    its code (``database-missing``), not a traceback and not a new, empty database."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except DatabaseMissing as exc:
            _fail(exc.code, str(exc))


app = typer.Typer(
    cls=_Commands,
    help="Silkway: seamless customs transit across the Eurasian Economic Union.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Node database.", no_args_is_help=True)
declaration_app = typer.Typer(help="Transit declarations.", no_args_is_help=True)
movement_app = typer.Typer(help="Transit movements.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident event log.", no_args_is_help=True)
codes_app = typer.Typer(help="Identifiers and their check characters.", no_args_is_help=True)
devices_app = typer.Typer(help="Navigation-seal device protocols.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(declaration_app, name="declaration")
app.add_typer(movement_app, name="movement")
app.add_typer(audit_app, name="audit")
app.add_typer(codes_app, name="codes")
app.add_typer(devices_app, name="devices")
app.add_typer(guarantee_app, name="guarantee")
app.add_typer(claims_app, name="claims")
app.add_typer(seal_app, name="seals")
app.add_typer(exchange_app, name="messages")
app.add_typer(conformance_app, name="conformance")
app.add_typer(keys_app, name="keys")
app.add_typer(trust_app, name="trust")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.command("simulate")(simulate)
app.command("token")(identity_token)

StateOption = Annotated[str, typer.Option("--node", "--state", help="Node: AM BY KZ KG RU EEC.")]
UrlOption = Annotated[
    str | None,
    typer.Option("--database-url", envvar="SILKWAY_DATABASE_URL", help="Node database URL."),
]


def _check_state(state: str) -> str:
    state = state.upper()
    if state not in NODE_CODES:
        _fail("node-unknown", f"unknown node {state!r}; expected one of {', '.join(NODE_CODES)}")
    return state


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    demo: Annotated[bool, typer.Option(help="Lodge and drive demo movements.")] = True,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            envvar="SILKWAY_LOG_LEVEL",
            case_sensitive=False,
            help="What else to print: warning (problems only), info, or debug (everything,"
            " the interstate tests' deliberate refusals included).",
        ),
    ] = LogLevel.WARNING,
) -> None:
    """Start the embedded Union: every node in one process, a SQLite file per node."""
    started = time.monotonic()
    from silkway.entrypoints.serve import ServerNotStarted, serve_union
    from silkway.entrypoints.union_lock import FolderInUse

    settings = Settings()
    try:
        serve_union(
            settings,
            host=host or settings.host,
            port=port or settings.port,
            demo=demo,
            log_level=log_level.value,
            started=started,
        )
    except FolderInUse as exc:
        _fail(exc.code, f"{exc}: stop it first, or give this Union its own SILKWAY_DATA_DIR")
    except ServerNotStarted as exc:
        _fail("server-not-started", str(exc))


@app.command()
def node(
    state: StateOption,
    database_url: UrlOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    bus: Annotated[
        str | None,
        typer.Option(help="NATS URL(s), comma-separated, e.g. nats://127.0.0.1:4222."),
    ] = None,
) -> None:
    """Start one national node (production: its own PostgreSQL via SILKWAY_DATABASE_URL)."""
    from silkway.entrypoints.serve import serve_node

    settings = Settings()
    if bus:
        settings = settings.model_copy(update={"bus_url": bus})
    serve_node(
        _check_state(state),
        settings,
        database_url=database_url,
        host=host or settings.host,
        port=port or settings.port,
    )


@db_app.command("upgrade")
def db_upgrade(
    state: Annotated[
        str | None, typer.Option("--node", "--state", help="One node; default all.")
    ] = None,
    database_url: UrlOption = None,
) -> None:
    """Bring node databases to the latest schema."""
    from silkway.bootstrap import build_node

    settings = Settings()
    states = [_check_state(state)] if state else list(settings.nodes)
    if database_url and len(states) > 1:
        _fail("database-url-ambiguous", "--database-url needs --node: it names one node's database")
    for s in states:
        n = build_node(s, settings, database_url=database_url)
        typer.echo(f"{s}: {n.engine.url.render_as_string(hide_password=True)} at head")
        n.dispose()


def _read_declaration(file: Path) -> TransitDeclaration:
    try:
        raw = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        _fail("file-unreadable", f"{file}: {exc.strerror}")
        raise
    try:
        return TransitDeclaration.model_validate_json(raw)
    except ValidationError as exc:
        _fail(
            "declaration-malformed",
            f"{file} does not match the declaration schema",
            [
                {
                    "code": f"schema-{e['type']}",
                    "pointer": "/" + "/".join(map(str, e["loc"])),
                    "message": e["msg"],
                }
                for e in exc.errors()
            ],
        )
        raise


@declaration_app.command("lodge")
def declaration_lodge(
    file: Annotated[Path, typer.Argument(help="Declaration JSON, or - for standard input.")],
    state: StateOption,
    database_url: UrlOption = None,
) -> None:
    """Lodge a declaration at a node and print its registration number and reference."""
    from silkway.bootstrap import build_node
    from silkway.transit.service import lodge_declaration

    declaration = _read_declaration(file)
    n = build_node(_check_state(state), database_url=database_url, create=False)
    try:
        who = operator(n.identity, "declaration lodge")
        require_party(who, declaration.owners(), "the declaration")
        lodged = lodge_declaration(n.transit, declaration, actor=who.actor)
    except DomainError as exc:
        _refused(exc)
    finally:
        n.dispose()
    m = lodged.movement
    _emit(
        {
            "reference": m.reference,
            "registration_number": m.registration_number,
            "status": m.status.value,
            "created": lodged.created,
        }
    )


@declaration_app.command("example")
def declaration_example(
    name: Annotated[str, typer.Argument(help="Corridor example, e.g. western-road.")],
    lrn: Annotated[
        str | None,
        typer.Option(
            help="The LRN to give it; default: a fresh one, from the clock and a random suffix."
        ),
    ] = None,
) -> None:
    """Print a valid example declaration, its dates moved to today, with an LRN of its own:
    each call is a new declaration to lodge (the same LRN again is the same declaration)."""
    from silkway.examples import example_declaration, example_names, fresh_lrn
    from silkway.node.clock import SystemClock

    now = SystemClock().now()
    try:
        decl = example_declaration(name, now.date())
    except KeyError:
        _fail("example-unknown", f"no example {name!r}; known: {', '.join(example_names())}")
        return
    data = decl.model_dump(mode="json")
    data["lrn"] = fresh_lrn(decl.lrn, now) if lrn is None else lrn
    try:
        decl = TransitDeclaration.model_validate(data)
    except ValidationError as exc:
        _fail(
            "lrn-invalid",
            f"--lrn {lrn!r} is not an LRN: 1 to 22 letters, digits and - _ / .",
            [
                {"code": f"schema-{e['type']}", "pointer": "/lrn", "message": e["msg"]}
                for e in exc.errors()
            ],
        )
        return
    typer.echo(decl.model_dump_json(indent=2, exclude_none=True))


@declaration_app.command("rules")
def declaration_rules() -> None:
    """List every validation rule with its stable code."""
    from silkway.transit.domain.rules import describe_rules

    _emit(describe_rules())


@movement_app.command("show")
def movement_show(
    key: Annotated[str, typer.Argument(help="Movement reference or registration number.")],
    state: Annotated[str | None, typer.Option("--node", "--state", help="Node to ask.")] = None,
    database_url: UrlOption = None,
) -> None:
    """Show a movement, its event log and whether the log verifies."""
    from silkway.bootstrap import build_node
    from silkway.transit import service as transit
    from silkway.transit.api.schemas import MovementDetail

    node_state = _check_state(state) if state else _state_of_key(key)
    n = build_node(node_state, database_url=database_url, create=False)
    try:
        m = transit.get_movement(n.transit, key)
        records, verdict = transit.event_log(n.transit, m.reference)
    except DomainError as exc:
        _fail(exc.code, exc.message)
        return
    finally:
        n.dispose()
    out = MovementDetail.of(m).model_dump(mode="json")
    out["events"] = [
        {"seq": r.seq, "kind": r.kind, "at": r.at.isoformat(), "actor": r.actor, "hash": r.hash}
        for r in records
    ]
    out["log_verified"] = verdict.ok
    _emit(out)


def _state_of_key(key: str) -> str:
    """The node that registered a movement, read from its reference or registration number."""
    from silkway.reference import load_reference

    check = identify(key)
    if check.kind == "movement_reference" and check.valid:
        return key[4:6]
    if check.kind == "registration_number":
        office = load_reference().offices.get(key.split("/")[0])
        if office is not None:
            return office.state
    _fail("node-unknown", f"cannot tell the node of {key!r}; pass --node")
    raise AssertionError


@audit_app.command("verify")
def audit_verify(
    state: Annotated[
        str | None, typer.Option("--node", "--state", help="One node; default all.")
    ] = None,
    reference: Annotated[str | None, typer.Option(help="One movement only.")] = None,
    database_url: UrlOption = None,
    skip_anchors: Annotated[
        bool,
        typer.Option(
            "--skip-anchors", help="Check each chain on its own, not against its anchored head."
        ),
    ] = False,
    commission_url: Annotated[
        str | None,
        typer.Option(
            "--commission-database-url",
            envvar="SILKWAY_COMMISSION_DATABASE_URL",
            help="The Commission's database, which keeps the anchors (default: its embedded one).",
        ),
    ] = None,
) -> None:
    """Prove every movement's event log and each node's access log untouched, or name the first
    bad record; then check every log against the latest anchor the Commission keeps of it, which
    catches a chain rewritten with its hashes recomputed."""
    from silkway.bootstrap import build_node
    from silkway.identity import service as identity
    from silkway.transit import service as transit

    settings = Settings()
    states = [_check_state(state)] if state else list(settings.nodes)
    failures = 0
    checked = 0
    access_checked = 0
    anchors: dict[str, str | None] = {}
    for s in states:
        n = build_node(s, settings, database_url=database_url, create=False)
        try:
            if reference:
                try:
                    verdicts = {reference: transit.event_log(n.transit, reference)[1]}
                except DomainError:
                    continue
            else:
                verdicts = transit.verify_all(n.transit)
                access = identity.verify_access_log(n.identity)
                access_checked += access.checked
                if not access.ok:
                    failures += 1
                    _emit(
                        {
                            "node": s,
                            "access_log": True,
                            "ok": False,
                            "first_bad_seq": access.first_bad_seq,
                            "reason": access.reason,
                        }
                    )
            if not skip_anchors and s in MEMBER_STATES:
                anchor_id, bad = _check_anchor(n, settings, database_url, commission_url)
                anchors[s] = anchor_id
                failures += len(bad)
                for finding in bad:
                    _emit({"node": s, "anchor": anchor_id, "ok": False, **finding})
        finally:
            n.dispose()
        for ref, v in verdicts.items():
            checked += 1
            if not v.ok:
                failures += 1
                _emit(
                    {
                        "node": s,
                        "reference": ref,
                        "ok": False,
                        "first_bad_seq": v.first_bad_seq,
                        "reason": v.reason,
                    }
                )
    if reference and checked == 0:
        _fail("movement-not-found", f"no movement {reference!r} on {', '.join(states)}")
    out: dict[str, object] = {"checked": checked, "failed": failures, "ok": failures == 0}
    if not reference:
        out["access_log_records"] = access_checked
    if not skip_anchors:
        out["anchors"] = anchors
    _emit(out)
    if failures:
        raise typer.Exit(2)


def _check_anchor(
    n: object, settings: Settings, database_url: str | None, commission_url: str | None
) -> tuple[str | None, list[dict[str, str]]]:
    """The latest anchor the Commission keeps of node ``n`` (its id, None if there is none),
    and each log of ``n`` that no longer reaches it."""
    from silkway.anchoring import service as anchoring
    from silkway.bootstrap import Node, build_node

    assert isinstance(n, Node)
    if commission_url is None and (database_url or settings.database_url):
        # One node's database is named, so the embedded Commission's is not this deployment's.
        return None, [
            {
                "chain": "anchors",
                "reason": "the Commission's database is not known here: pass"
                " --commission-database-url, or --skip-anchors",
            }
        ]
    try:
        commission = build_node("EEC", settings, database_url=commission_url, create=False)
    except DatabaseMissing as exc:
        # Not made empty here: an empty one would say "nothing anchored" of every log.
        return None, [
            {
                "chain": "anchors",
                "reason": f"{exc} (the Commission's database keeps the anchors:"
                " --commission-database-url names it; --skip-anchors checks the chains alone)",
            }
        ]
    try:
        try:
            kept = anchoring.latest_kept(commission.anchoring, n.state)
        except DomainError as exc:
            return None, [{"chain": "anchors", "reason": exc.message}]
    finally:
        commission.dispose()
    result = anchoring.check(n.anchoring, kept)
    anchor_id = None if result.anchor is None else result.anchor.anchor_id
    return anchor_id, [{"chain": f.chain, "reason": f.reason} for f in result.findings]


@audit_app.command("anchor")
def audit_anchor(state: StateOption, database_url: UrlOption = None) -> None:
    """Anchor the node's logs now: sign their heads and send them to the Commission (the node's
    scheduler does it every SILKWAY_ANCHOR_INTERVAL_S)."""
    from silkway.anchoring import service as anchoring
    from silkway.bootstrap import build_node

    n = build_node(_check_state(state), database_url=database_url, create=False)
    try:
        operator(n.identity, "audit anchor")
        anchor = anchoring.take_anchor(n.anchoring)
    except DomainError as exc:
        _refused(exc)
    finally:
        n.dispose()
    _emit(
        {
            "anchor": anchor.anchor_id,
            "node": anchor.state,
            "taken_at": anchor.taken_at.isoformat(),
            "chains": {c.name: {"records": c.records, "head": c.head} for c in anchor.chains},
        }
    )


@codes_app.command("check")
def codes_check(value: Annotated[str, typer.Argument(help="The code to check.")]) -> None:
    """Tell what a value is (MRN, GRN, reference, registration number...) and if it is valid."""
    result = identify(value)
    _emit(result.as_dict())
    if not result.valid:
        raise typer.Exit(1)


@devices_app.command("decode")
def devices_decode(
    payload: Annotated[str, typer.Argument(help="Hex (egts, teltonika) or text lines (wialon).")],
    protocol: Annotated[str, typer.Option(help="egts, wialon or teltonika.")],
) -> None:
    """Decode one captured payload into position records (JSON), or say why it is refused."""
    from silkway.seals.devices import DecodeError, decode

    try:
        records = decode(protocol, payload)
    except DecodeError as exc:
        _emit(
            {
                "error": "decode-failed",
                "protocol": exc.protocol,
                "reason": exc.reason,
                "code": exc.code,
            }
        )
        raise typer.Exit(1) from None
    _emit(records)


def main() -> None:
    app()


if __name__ == "__main__":  # python -m silkway.entrypoints.cli, as the silkway script
    main()
