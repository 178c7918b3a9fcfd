"""Access codes: checked when quoted, never kept or shown, wrong ones counted and locked out."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.auth import NodeClient
from tests.integration.guarantees.guarantee_support import Registered, register, western

from silkway.bootstrap import Node, build_node
from silkway.exchange.db.tables import outbox
from silkway.guarantees.db.tables import guarantee_access_failures
from silkway.guarantees.service import AccessCodeLocked
from silkway.kernel.errors import ActionInvalid, DeclarationInvalid, ForbiddenTransition
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.transit import service as transit
from silkway.transit.db.tables import movement_events, movements
from silkway.transit.domain.declaration import SecurityKind, SecurityReference, TransitDeclaration
from silkway.transit.domain.movement import Accept, Amend, Release
from silkway.transit.ports import MovementFilter
from silkway.web.app import create_node_app

API = "/api/v1"


def quoting(decl: TransitDeclaration, g: Registered, code: str, lrn: str) -> TransitDeclaration:
    security = SecurityReference(kind=SecurityKind.GRN, reference=g.grn, access_code=code)
    return decl.model_copy(update={"lrn": lrn, "security": [security]})


def failures(n: Node) -> int:
    with n.engine.connect() as conn:
        query = select(func.count()).select_from(guarantee_access_failures)
        return int(conn.execute(query).scalar_one())


def stored_text(n: Node) -> str:
    """Every movement snapshot, log record and outbox message of the node, as text."""
    with n.engine.connect() as conn:
        rows: list[Any] = [
            *conn.execute(select(movements.c.snapshot)),
            *conn.execute(select(movement_events.c.payload)),
            *conn.execute(select(outbox.c.payload)),
        ]
    return json.dumps([list(r) for r in rows], default=str)


def test_the_code_is_checked_at_lodging_and_kept_nowhere(node: Node, clock: ManualClock) -> None:
    g = register(node, "500000.00")
    decl = western(clock)
    assert decl.security[0].access_code == g.access_code
    m = transit.lodge_declaration(node.transit, decl).movement
    assert [s.access_code for s in m.declaration.security] == [None]
    transit.act(node.transit, m.reference, Accept())
    released = transit.act(
        node.transit, m.reference, Release(g.grn, m.declaration.departure_office)
    )
    assert released.status.value == "released"
    records, verdict = transit.event_log(node.transit, m.reference)
    assert verdict.ok
    assert records[0].payload["declaration"]["security"] == [  # type: ignore[index]
        {"kind": "GRN", "reference": g.grn, "access_code": None}
    ]
    # Neither the snapshot, nor the log, nor the release notification to RU and BY carry it.
    text = stored_text(node)
    assert f'"access_code": "{g.access_code}"' not in text
    assert '"access_code": null' in text
    # A repeat of the lodging is answered by the same movement, after its code is checked too.
    again = transit.lodge_declaration(node.transit, decl)
    assert (again.created, again.movement.reference) == (False, m.reference)
    with pytest.raises(DeclarationInvalid) as wrong:
        transit.lodge_declaration(node.transit, quoting(decl, g, "0000", decl.lrn))
    assert [v.code for v in wrong.value.violations] == ["security-access-code-invalid"]


def test_the_api_shows_no_code(node: Node, clock: ManualClock) -> None:
    g = register(node, "500000.00")
    body = western(clock).model_dump(mode="json")
    with NodeClient(create_node_app(node), node) as client:
        created = client.post(f"{API}/declarations", json=body)
        assert created.status_code == 201, created.text
        ref = created.json()["reference"]
        detail = client.get(f"{API}/movements/{ref}").json()
        events = client.get(f"{API}/movements/{ref}/events").json()
    assert detail["declaration"]["security"] == [
        {"kind": "GRN", "reference": g.grn, "access_code": None}
    ]
    assert events["verification"]["ok"] is True
    assert f'"{g.access_code}"' not in json.dumps(detail) + json.dumps(events)


def test_wrong_codes_are_counted_and_lock_the_guarantee_out(
    sqlite_node: Callable[[str], Node], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    n = sqlite_node("KZ")
    g = register(n, "500000.00")
    decl = western(clock)
    policy = n.guarantees.policy
    assert (policy.access_code_max_failures, policy.access_code_window) == (
        5,
        timedelta(minutes=15),
    )
    messages = []
    with caplog.at_level(logging.WARNING, logger="silkway.guarantees"):
        for attempt in range(1, 6):
            clock.advance(timedelta(minutes=1))
            with pytest.raises(DeclarationInvalid) as wrong:
                transit.lodge_declaration(n.transit, quoting(decl, g, f"000{attempt}", "LRN-W"))
            [violation] = wrong.value.violations
            assert violation.code == "security-access-code-invalid"
            assert failures(n) == attempt  # kept although the lodging was refused
            messages.append(violation.message)
    assert messages[0].endswith("(4 more before it is locked for 15 minutes)")
    assert messages[-1].endswith("(it is now locked for 15 minutes)")
    assert [r.levelname for r in caplog.records].count("WARNING") == 4
    assert any(g.grn in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)

    # Locked: even the right code is not checked until the first failure leaves the window.
    first_failure = clock.now() - timedelta(minutes=4)
    with pytest.raises(AccessCodeLocked) as locked:
        transit.lodge_declaration(n.transit, decl)
    assert locked.value.locked_until == first_failure + timedelta(minutes=15)
    assert [v.code for v in locked.value.violations] == ["security-access-locked"]
    assert failures(n) == 5  # attempts while locked are refused, not counted
    with NodeClient(create_node_app(n), n) as client:
        answer = client.post(f"{API}/declarations", json=decl.model_dump(mode="json"))
    assert answer.status_code == 429, answer.text
    assert answer.json()["code"] == "security-access-locked"
    assert answer.json()["locked_until"] == locked.value.locked_until.isoformat()
    assert transit.list_movements(n.transit, MovementFilter(), offset=0, limit=5).total == 0

    clock.set(locked.value.locked_until + timedelta(seconds=1))
    assert transit.lodge_declaration(n.transit, decl).created


def test_the_lockout_survives_a_restart(
    sqlite_template: Path, clock: ManualClock, tmp_path: Path
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "kz.sqlite")

    def start() -> Node:
        url = f"sqlite:///{tmp_path / 'kz.sqlite'}"
        settings = Settings(
            data_dir=tmp_path, access_code_max_failures=3, access_code_window_minutes=60
        )
        return build_node("KZ", settings, database_url=url, clock=clock)

    n = start()
    g = register(n, "500000.00")
    for attempt in range(3):
        with pytest.raises(DeclarationInvalid):
            transit.lodge_declaration(n.transit, quoting(western(clock), g, f"999{attempt}", "L"))
    n.dispose()
    restarted = start()
    try:
        clock.advance(timedelta(minutes=59))  # the configured window, not the default 15
        with pytest.raises(AccessCodeLocked):
            transit.lodge_declaration(restarted.transit, western(clock))
        clock.advance(timedelta(minutes=2))
        assert transit.lodge_declaration(restarted.transit, western(clock)).created
    finally:
        restarted.dispose()


def test_an_amendment_is_checked_and_keeps_no_code(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    g = register(n, "500000.00")
    decl = western(clock)
    m = transit.lodge_declaration(n.transit, decl).movement
    later = decl.time_limit + timedelta(days=2)
    with pytest.raises(DeclarationInvalid) as wrong:
        transit.act(
            n.transit, m.reference, Amend(quoting(decl, g, "ZZZZ", decl.lrn).model_copy(
                update={"time_limit": later}
            )),
        )  # fmt: skip
    assert [(v.code, v.pointer) for v in wrong.value.violations] == [
        ("security-access-code-invalid", "/declaration/security/0/access_code")
    ]
    assert failures(n) == 1
    assert transit.get_movement(n.transit, m.reference) == m  # nothing else was stored

    amended = transit.act(
        n.transit, m.reference, Amend(decl.model_copy(update={"time_limit": later}))
    )
    assert amended.time_limit == later
    records, verdict = transit.event_log(n.transit, m.reference)
    assert verdict.ok
    assert [r.kind for r in records] == ["lodge", "amend"]
    assert records[1].payload["declaration"]["security"][0]["access_code"] is None  # type: ignore[index]
    assert [s.access_code for s in amended.declaration.security] == [None]


def test_an_amendment_with_a_code_never_reaches_the_log_unchecked(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    register(n, "500000.00")
    decl = western(clock)
    m = transit.lodge_declaration(n.transit, decl).movement
    with n.transit.uow() as uow, pytest.raises(ActionInvalid) as refused:
        transit.apply_event(n.transit, uow, m.reference, Amend(decl), clock.now())
    assert [v.code for v in refused.value.violations] == ["access-code-unchecked"]
    assert transit.get_movement(n.transit, m.reference) == m


def test_an_amendment_the_movement_cannot_take_is_refused_before_its_code_is_checked(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    g = register(n, "500000.00")
    decl = western(clock)
    m = transit.lodge_declaration(n.transit, decl).movement
    transit.act(n.transit, m.reference, Accept())
    transit.act(n.transit, m.reference, Release(g.grn, decl.departure_office))
    with pytest.raises(ForbiddenTransition):
        transit.act(n.transit, m.reference, Amend(quoting(decl, g, "ZZZZ", decl.lrn)))
    with pytest.raises(transit.MovementNotFound):
        transit.act(n.transit, "SW26KZ000000000999", Amend(quoting(decl, g, "ZZZZ", decl.lrn)))
    assert failures(n) == 0  # no code was checked, so no guess was counted
