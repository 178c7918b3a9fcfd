"""lodge.service and lodge.http: declarations lodged per second on a SQLite node.

Each lodging checks the access code its GRN is quoted with against the registry, as every
lodging does: one scrypt hash (16 MiB) per declaration, by design the dearest step; the hash
runs outside the write transaction. Baseline: the very rows those lodgings wrote, inserted
again with plain SQL through the sqlite3 module, one transaction per declaration, on the same
SQLite settings (no hash).
"""

from __future__ import annotations

import socket
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import uvicorn
from sqlalchemy import select

from silkway.bootstrap import build_node
from silkway.examples import example_declaration, example_names
from silkway.identity.domain.principal import Role
from silkway.node.clock import ManualClock
from silkway.reference import load_reference
from silkway.settings import Settings
from silkway.sim.demo import register_example_guarantees
from silkway.transit.db import tables
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.service import lodge_declaration
from silkway.web.app import create_node_app
from tests.auth import bearer, demo_over_http
from tests.bench.harness import Result

# The access-code hash bounds a lodging near ten a second per core: a few hundred measure it.
COUNT = 600
HTTP_COUNT = 300
NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)


def _declarations(count: int, prefix: str) -> list[TransitDeclaration]:
    offices = load_reference().offices
    examples = [example_declaration(n, NOW.date()) for n in example_names()]
    base = [d for d in examples if offices[d.departure_office].state == "KZ"]
    return [
        base[i % len(base)].model_copy(update={"lrn": f"{prefix}{i:07d}"}) for i in range(count)
    ]


def _node(folder: Path, name: str) -> Any:
    node = build_node(
        "KZ",
        # The bench measures lodging, not the per-caller rate limit.
        Settings(data_dir=folder, rate_limit="10000000/minute"),
        database_url=f"sqlite:///{folder / name}",
        clock=ManualClock(NOW),
    )
    with demo_over_http({"KZ": node}) as demo:
        register_example_guarantees(demo)  # the GRNs the examples quote, with their codes
    return node


def _lodge_service(folder: Path) -> tuple[float, Path]:
    node = _node(folder, "service.sqlite")
    decls = _declarations(COUNT, "B")
    start = time.perf_counter()
    for d in decls:
        lodge_declaration(node.transit, d)
    elapsed = time.perf_counter() - start
    node.dispose()
    return COUNT / elapsed, folder / "service.sqlite"


def _rows(db: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row the lodgings wrote, as the raw SQL baseline will write them again."""
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for t in (tables.movements, tables.movement_offices, tables.movement_events):
            out[t.name] = [dict(r._mapping) for r in conn.execute(select(t))]
    engine.dispose()
    return out


def _raw_baseline(folder: Path, source: Path) -> float:
    import json

    target = folder / "raw.sqlite"
    node = _node(folder, "raw.sqlite")  # same schema, created by the migrations
    node.dispose()
    rows = _rows(source)
    offices: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows["movement_offices"]:
        offices.setdefault(r["movement_reference"], []).append(
            (r["movement_reference"], r["office"], r["role"])
        )
    events = {r["movement_reference"]: r for r in rows["movement_events"]}
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    m_cols = [c.name for c in tables.movements.columns if c.name != "id"]
    e_cols = [c.name for c in tables.movement_events.columns if c.name != "id"]
    insert_m = f"INSERT INTO movements ({','.join(m_cols)}) VALUES ({','.join('?' * len(m_cols))})"
    insert_e = (
        f"INSERT INTO movement_events ({','.join(e_cols)}) VALUES ({','.join('?' * len(e_cols))})"
    )
    insert_o = "INSERT INTO movement_offices VALUES (?, ?, ?)"
    counter = (
        "INSERT INTO counters (name, value) VALUES (?, 1) "
        "ON CONFLICT(name) DO UPDATE SET value = value + 1"
    )

    def encode(row: dict[str, Any], cols: list[str]) -> tuple[Any, ...]:
        return tuple(
            json.dumps(row[c])
            if isinstance(row[c], dict)
            else (row[c].isoformat(sep=" ") if isinstance(row[c], datetime) else row[c])
            for c in cols
        )

    prepared = [
        (encode(m, m_cols), offices[m["reference"]], encode(events[m["reference"]], e_cols))
        for m in rows["movements"]
    ]
    start = time.perf_counter()
    for m_row, o_rows, e_row in prepared:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(counter, ("registration",))
        conn.execute(counter, ("reference",))
        conn.execute(insert_m, m_row)
        conn.executemany(insert_o, o_rows)
        conn.execute(insert_e, e_row)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(prepared) / elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lodge_http(folder: Path) -> float:
    node = _node(folder, "http.sqlite")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_node_app(node), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    declarations = _declarations(HTTP_COUNT, "H")
    # Each declarant lodges with its own token, as a declarant's software would.
    tokens = {
        d.declarant.identification: bearer(node, Role.DECLARANT, party=d.declarant.identification)
        for d in declarations
    }
    bodies = [
        (d.model_dump_json().encode(), tokens[d.declarant.identification]) for d in declarations
    ]
    url = f"http://127.0.0.1:{port}/api/v1/declarations"
    with httpx.Client() as client:
        start = time.perf_counter()
        for body, token in bodies:
            headers = {"content-type": "application/json", **token}
            r = client.post(url, content=body, headers=headers)
            if r.status_code != 201:
                raise RuntimeError(f"lodging over HTTP failed: {r.status_code} {r.text[:300]}")
        elapsed = time.perf_counter() - start
    server.should_exit = True
    thread.join(timeout=10)
    node.dispose()
    return HTTP_COUNT / elapsed


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="silkway-bench-") as tmp:
        folder = Path(tmp)
        service, db = _lodge_service(folder)
        raw = _raw_baseline(folder, db)
        http = _lodge_http(folder)
    return [
        Result("lodge.service", service, "declarations/s", "lodge.raw_sql", raw),
        Result("lodge.http", http, "declarations/s", "lodge.raw_sql", raw),
    ]
