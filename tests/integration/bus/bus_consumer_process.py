"""A consumer node in a process of its own, for the test that kills it with SIGKILL.

``python bus_consumer_process.py URL DURABLE SUBJECT DATABASE`` consumes until killed. Its
handler is idempotent the way an inbound handler is: one transaction records the delivery,
applies the effect only if the message id is new, and commits before the bus acknowledges.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from silkway.exchange.bus.nats import NatsBus
from silkway.exchange.bus.ports import Delivery


def open_database(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS effects (id TEXT PRIMARY KEY)")
    db.execute("CREATE TABLE IF NOT EXISTS applications (id TEXT NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS deliveries (id TEXT NOT NULL, attempt INTEGER)")
    db.commit()
    return db


def apply_once(db: sqlite3.Connection, delivery: Delivery) -> None:
    with db:
        db.execute("INSERT INTO deliveries VALUES (?, ?)", (delivery.message_id, delivery.attempt))
        new = db.execute("INSERT OR IGNORE INTO effects VALUES (?)", (delivery.message_id,))
        if new.rowcount == 1:
            db.execute("INSERT INTO applications VALUES (?)", (delivery.message_id,))


HOLD_AFTER = 100
"""Deliveries after which the handler keeps every further message in hand until killed."""


async def main(url: str, durable: str, subject: str, database: Path) -> None:
    db = open_database(database)
    bus = NatsBus(url, ack_wait=2.0, fetch_timeout=0.5, concurrency=16, batch_size=16)
    await bus.start()

    handled = 0
    stuck = asyncio.Event()

    async def handle(delivery: Delivery) -> None:
        nonlocal handled
        apply_once(db, delivery)
        handled += 1
        if handled >= HOLD_AFTER:
            # Committed, never acknowledged: the kill is certain to catch these in hand.
            await stuck.wait()
        await asyncio.sleep(0.005)

    async def dead_letter(delivery: Delivery, reason: str) -> None:
        raise RuntimeError(f"unexpected dead letter: {reason}")

    await bus.subscribe(durable, subject, handle, on_dead_letter=dead_letter)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])))
