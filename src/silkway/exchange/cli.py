"""``silkway`` commands for the interstate exchange: messages, conformance, register, keys,
the trust list."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from silkway.entrypoints.cli_output import emit as _emit
from silkway.entrypoints.cli_output import fail as _fail
from silkway.entrypoints.cli_output import refused as _refused
from silkway.identity.cli import operator
from silkway.kernel.errors import DomainError
from silkway.reference.model import MEMBER_STATES, NODE_CODES

if TYPE_CHECKING:
    from silkway.exchange.conformance import ScenarioOutcome

exchange_app = typer.Typer(
    help="Interstate exchange: messages, dead letters, journal, process register.",
    no_args_is_help=True,
)
conformance_app = typer.Typer(
    help="Interstate conformance tests of common processes, and the register.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="Node signing keys.", no_args_is_help=True)
trust_app = typer.Typer(
    help="The trust list the Commission signs and publishes.", no_args_is_help=True
)

NodeOption = Annotated[str, typer.Option("--node", "--state", help="Node: AM BY KZ KG RU EEC.")]


def _state(value: str) -> str:
    value = value.upper()
    if value not in NODE_CODES:
        _fail("node-unknown", f"unknown node {value!r}; expected one of {', '.join(NODE_CODES)}")
    return value


def _sign_in(state: str, command: str) -> None:
    """Sign in at ``state``'s node as the user running ``command`` (it changes state)."""
    n = _node(state)
    try:
        operator(n.identity, command)
    finally:
        n.dispose()


def _node(state: str) -> Any:
    from silkway.bootstrap import build_node

    return build_node(_state(state), create=False)


@exchange_app.command("list")
def messages_list(
    node: NodeOption,
    movement: Annotated[str | None, typer.Option(help="Only messages about this movement.")] = None,
    channel: Annotated[
        str | None, typer.Option(help="bus, paper, dead (could not be sealed) or pending.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Outbound messages and what became of them (bus or paper, R.006 outcome)."""
    if channel not in (None, "bus", "paper", "dead", "pending"):
        _fail("channel-invalid", "channel is bus, paper, dead or pending")
    n = _node(node)
    try:
        with n.transit.uow() as uow:
            views = uow.exchange.outbox_views(
                movement_reference=movement, channel=channel, limit=limit
            )
    finally:
        n.dispose()
    _emit([_fields(v) for v in views])


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


@exchange_app.command("show")
def messages_show(message_id: Annotated[str, typer.Argument()], node: NodeOption) -> None:
    """One outbound message."""
    n = _node(node)
    try:
        with n.transit.uow() as uow:
            views = uow.exchange.outbox_views(message_id=message_id, limit=1)
            answers = uow.exchange.inbox(relates_to=message_id, limit=10)
    finally:
        n.dispose()
    if not views:
        _fail("message-not-found", f"no message {message_id} at {node}")
    out = _fields(views[0])
    out["answers"] = [_fields(a) for a in answers]
    _emit(out)


@exchange_app.command("dead")
def messages_dead(node: NodeOption, all_: Annotated[bool, typer.Option("--all")] = False) -> None:
    """Dead letters: messages given up on, with the reason."""
    n = _node(node)
    try:
        with n.transit.uow() as uow:
            letters = uow.exchange.dead_letters(include_resolved=all_)
    finally:
        n.dispose()
    _emit([{k: v for k, v in _fields(d).items() if k != "data"} for d in letters])


@exchange_app.command("retry")
def messages_retry(dead_letter_id: Annotated[int, typer.Argument(min=1)], node: NodeOption) -> None:
    """Process a dead letter again."""
    from silkway.exchange import service as exchange

    n = _node(node)
    try:
        operator(n.identity, "messages retry")
        receipt = exchange.retry_dead_letter(n.exchange, dead_letter_id)
    except DomainError as exc:
        _fail(exc.code, exc.message)
        return
    finally:
        n.dispose()
    _emit({"outcome": receipt.outcome, "message_id": receipt.message_id, "errors": receipt.errors})


@exchange_app.command("journal")
def messages_journal(
    conversation: Annotated[str | None, typer.Option()] = None,
    from_state: Annotated[str | None, typer.Option("--from")] = None,
    to_state: Annotated[str | None, typer.Option("--to")] = None,
    outcome: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """The Commission's integration journal."""
    n = _node("EEC")
    try:
        with n.transit.uow() as uow:
            entries = uow.exchange.journal(
                conversation_id=conversation,
                from_state=from_state,
                to_state=to_state,
                outcome=outcome,
                limit=limit,
            )
    finally:
        n.dispose()
    _emit([_fields(e) for e in entries])


@conformance_app.command("run")
def conformance_run(
    between: Annotated[
        list[str], typer.Option(help="Two member states, e.g. --between KZ --between BY.")
    ],
    process: Annotated[str, typer.Option()] = "P.CP.01",
    timeout: Annotated[float, typer.Option(min=0.5, max=120)] = 10.0,
) -> None:
    """Run a process's scenarios between two nodes of the embedded set-up, in process, and
    record them at the register.

    Never against a live bus: nodes started with ``silkway node`` test their partners
    themselves, over the bus, with their own consumers, at start-up and every
    SILKWAY_INTERSTATE_TESTS_INTERVAL_S. Throwaway nodes on the live bus would share the live
    nodes' consumers and take their traffic."""
    from silkway.settings import Settings

    if Settings().database_url or Settings().bus_url:
        _fail(
            "conformance-live",
            "a production node (SILKWAY_DATABASE_URL, SILKWAY_BUS_URL) tests its partners"
            " itself: see 'silkway node'",
        )
    states = [_state(s) for s in between]
    if len(states) != 2 or states[0] == states[1] or not set(states) <= set(MEMBER_STATES):
        _fail("between-invalid", "--between takes two different member states")
    from silkway.entrypoints.union_lock import FolderInUse

    try:
        results = _conformance(states, process, timeout)
    except FolderInUse as exc:
        _fail(
            exc.code,
            f"{exc}, which runs these nodes' exchange: a second one would take its messages."
            " A running 'silkway run' measured every pair of states when it started"
            " ('silkway conformance register' shows the results); stop it to test here",
        )
    passed = all(o.passed for outcomes in results.values() for o in outcomes)
    _emit(
        {
            "process": process,
            "in_operation": passed,
            "results": {
                k: [{"scenario": o.scenario, "passed": o.passed, "detail": o.detail} for o in v]
                for k, v in results.items()
            },
        }
    )
    if not passed:
        raise typer.Exit(2)


def _conformance(
    states: list[str], process: str, timeout: float
) -> dict[str, list[ScenarioOutcome]]:
    """The scenarios both ways, on an exchange of this process's own: while it runs, no
    other process may run the exchange of the same data folder (``FolderInUse``)."""
    from silkway.bootstrap import build_node
    from silkway.entrypoints.union_lock import hold
    from silkway.exchange.bus.inproc import InProcessBus
    from silkway.exchange.runtime import ExchangeRuntime
    from silkway.settings import Settings

    nodes = {s: build_node(s, create=False) for s in (*states, "EEC")}
    try:
        # The results are recorded at the Commission's register, by one of its administrators.
        operator(nodes["EEC"].identity, "conformance run")
        kits = nodes[states[0]].exchange.kits
        if process not in kits:
            _fail(
                "process-without-kit", f"no conformance kit for {process}; kits: {', '.join(kits)}"
            )
        with hold(Settings().data_dir, "silkway conformance run"):
            runtime = ExchangeRuntime(
                {s: nodes[s].exchange for s in states},
                InProcessBus(),
                journal=nodes["EEC"].exchange,
            )
            runtime.start()
            try:
                results = runtime.conformance(
                    states[0], states[1], timeout=timeout, process=process
                )
            finally:
                runtime.stop()
    finally:
        for n in nodes.values():
            n.dispose()
    return results


@conformance_app.command("register")
def conformance_register() -> None:
    """The headline: approved processes vs in operation, measured and declared."""
    from silkway.exchange.register import headline

    n = _node("EEC")
    try:
        with n.transit.uow() as uow:
            board = headline(uow)
    finally:
        n.dispose()
    _emit(board)


@conformance_app.command("import")
def conformance_import(
    file: Annotated[
        Path | None, typer.Argument(help="CSV file; default: the shipped list.")
    ] = None,
) -> None:
    """Import the register of common processes (code,title,group,legal_acts,approved,stage_XX)."""
    from silkway.exchange.register import import_register, shipped_register

    try:
        text = file.read_text(encoding="utf-8") if file else shipped_register()
    except (OSError, UnicodeDecodeError) as exc:
        _fail("file-unreadable", f"{file}: {exc}")
        return
    n = _node("EEC")
    try:
        who = operator(n.identity, "conformance import")
        with n.transit.uow() as uow:
            report = import_register(
                uow, text, n.transit.clock.now(), source=f"{who.actor}: {file or 'shipped'}"
            )
            uow.commit()
    except DomainError as exc:
        _refused(exc)
    finally:
        n.dispose()
    _emit({"processes": report.processes, "stages": report.stages})


@keys_app.command("list")
def keys_list() -> None:
    """The keys of the trust list published in the key folder: validity and revocation."""
    published = _published()
    _emit([_key_fields(k) for k in published.keys])


def _key_fields(k: Any) -> dict[str, Any]:
    return {
        "key_id": k.key_id,
        "owner": k.owner,
        "valid_from": k.valid_from,
        "valid_to": k.valid_to,
        "revoked_at": k.revoked_at,
    }


def _published() -> Any:
    """The trust list in the key folder, verified against the Commission's anchor."""
    from silkway.exchange.signing.keeper import TRUST_FILE
    from silkway.exchange.signing.published import TrustAnchor, TrustListRefused, open_trust_list
    from silkway.settings import Settings

    settings = Settings()
    path = settings.key_folder() / TRUST_FILE
    try:
        anchor = TrustAnchor.from_json(settings.trust_anchor().read_bytes())
        return open_trust_list(path.read_bytes(), anchor)
    except OSError as exc:
        _fail("trust-list-unreadable", str(exc))
    except TrustListRefused as exc:
        _fail(exc.code, f"{path}: {exc.reason}")


@keys_app.command("create")
def keys_create(node: NodeOption) -> None:
    """A new signing key for the node. It signs once the Commission publishes a trust list that
    names it: hand the printed request file to the Commission (``silkway trust publish``)."""
    from silkway.exchange.signing.keystore import KeyStore
    from silkway.node.clock import SystemClock
    from silkway.settings import Settings

    _sign_in(node, "keys create")
    keys = KeyStore(Settings().key_folder())
    state = _state(node)
    signer = keys.create(state, SystemClock().now())
    _emit({"key_id": signer.key_id, "request": str(keys.request_path(state, signer.key_id))})


@keys_app.command("rotate")
def keys_rotate(
    node: NodeOption,
    overlap_hours: Annotated[float, typer.Option(min=0.1, max=24 * 90)] = 24.0,
) -> None:
    """A new signing key; once the Commission publishes it, the old one stays valid for the
    overlap, so nothing stops."""
    from silkway.exchange.signing.keystore import KeyStore
    from silkway.node.clock import SystemClock
    from silkway.settings import Settings

    _sign_in(node, "keys rotate")
    keys = KeyStore(Settings().key_folder())
    state = _state(node)
    signer = keys.rotate(state, SystemClock().now(), timedelta(hours=overlap_hours))
    _emit(
        {
            "key_id": signer.key_id,
            "overlap_hours": overlap_hours,
            "request": str(keys.request_path(state, signer.key_id)),
        }
    )


@trust_app.command("init")
def trust_init() -> None:
    """Create the Commission's trust-list key and its anchor (once): hand the anchor file to
    every node (``SILKWAY_TRUST_ANCHOR_FILE``); the private key stays here."""
    from silkway.bootstrap import trust_publisher
    from silkway.exchange.signing.keys import TrustListInvalid
    from silkway.node.clock import SystemClock
    from silkway.settings import Settings

    _sign_in("EEC", "trust init")
    settings = Settings()
    try:
        anchor = trust_publisher(settings).init(SystemClock().now())
    except TrustListInvalid as exc:
        _fail("trust-key-exists", str(exc))
    _emit({"key_id": anchor.key_id, "anchor": str(settings.trust_anchor())})


@trust_app.command("publish")
def trust_publish(
    requests: Annotated[
        list[Path] | None,
        typer.Argument(help="Key requests (.pub.json) the nodes handed in, to add."),
    ] = None,
    pending: Annotated[
        bool, typer.Option(help="Also add every key request in the key folder.")
    ] = False,
    revoke: Annotated[
        list[str] | None, typer.Option(help="A key id to revoke from now on (repeatable).")
    ] = None,
    validity_hours: Annotated[
        int | None, typer.Option(min=1, help="Default: SILKWAY_TRUST_LIST_VALIDITY_HOURS.")
    ] = None,
) -> None:
    """Publish the next version of the trust list, signed with the Commission's key: the last
    version's keys, the requests given, the revocations; valid from now."""
    from silkway.bootstrap import trust_publisher
    from silkway.exchange.signing.keys import TrustListInvalid
    from silkway.exchange.signing.keystore import KeyRequest, KeyStore
    from silkway.exchange.signing.published import TrustListRefused
    from silkway.node.clock import SystemClock
    from silkway.settings import Settings

    _sign_in("EEC", "trust publish")
    settings = Settings()
    hours = validity_hours or settings.trust_list_validity_hours
    try:
        add = [KeyRequest.read(p) for p in requests or ()]
        if pending:
            add += KeyStore(settings.key_folder()).requests()
        published = trust_publisher(settings).publish(
            SystemClock().now(), validity=timedelta(hours=hours), add=add, revoke=revoke or ()
        )
    except TrustListRefused as exc:
        _fail(exc.code, exc.reason)
    except TrustListInvalid as exc:
        _fail("trust-publish-refused", str(exc))
    _emit(
        {
            "version": published.version,
            "issued_at": published.issued_at,
            "expires_at": published.expires_at,
            "keys": len(published.keys),
        }
    )


@trust_app.command("show")
def trust_show() -> None:
    """The trust list in the key folder: version, expiry, who signed it and its keys (it is
    verified against the Commission's anchor first)."""
    published = _published()
    _emit(
        {
            "version": published.version,
            "issued_at": published.issued_at,
            "expires_at": published.expires_at,
            "signed_by": published.signed_by,
            "keys": [_key_fields(k) for k in published.keys],
        }
    )


@exchange_app.command("evidence")
def messages_evidence(
    message_id: Annotated[str, typer.Argument(help="The message's MessageID (urn:uuid:…).")],
    node: NodeOption,
    out: Annotated[
        Path | None, typer.Option(help="Write the bundle here (default stdout).")
    ] = None,
) -> None:
    """The evidence of a message this node received: the envelope as received, the sender's
    listed key, this node's R.006 answer and the times, in one JSON bundle."""
    import json

    from silkway.exchange.evidence import evidence_bundle

    n = _node(node)
    try:
        bundle = evidence_bundle(n.exchange, message_id)
    except DomainError as exc:
        _refused(exc)
    finally:
        n.dispose()
    if out is None:
        _emit(bundle)
        return
    try:
        out.write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        _fail("file-unwritable", f"{out}: {exc.strerror or exc}")
    _emit({"written": str(out), "message_id": message_id})


@exchange_app.command("verify-evidence")
def messages_verify_evidence(
    file: Annotated[Path, typer.Argument(help="A bundle written by 'messages evidence'.")],
    trust: Annotated[
        Path | None, typer.Option(help="A trust.json the bundled keys must be listed in.")
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(help="The Commission's anchor to check --trust with (default: the node's)."),
    ] = None,
) -> None:
    """Verify an evidence bundle offline and say precisely what fails (exit 2)."""
    import json

    from silkway.exchange.signing.evidence import verify_bundle
    from silkway.exchange.signing.published import TrustAnchor, TrustListRefused, open_trust_list
    from silkway.settings import Settings

    try:
        bundle = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail("file-unreadable", f"{file}: {exc}")
    listed = None
    if trust is not None:
        # A trust list counts only as the Commission signed it: checked against its anchor.
        anchor_file = anchor or Settings().trust_anchor()
        try:
            trusted = TrustAnchor.from_json(anchor_file.read_bytes())
            listed = open_trust_list(trust.read_bytes(), trusted).keys
        except OSError as exc:
            _fail("trust-list-unreadable", str(exc))
        except TrustListRefused as exc:
            _fail(exc.code, f"{trust}: {exc.reason}")
    problems = verify_bundle(bundle, listed)
    _emit({"ok": not problems, "problems": problems})
    if problems:
        raise typer.Exit(2)
