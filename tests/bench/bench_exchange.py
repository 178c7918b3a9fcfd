"""exchange.nats and exchange.inproc: signed, schema-validated envelopes per second, node to node.

Each envelope is a release notification (the whole declaration, about 5 KiB) sent by the Kazakh
node's relay and applied by the Belarusian node, which answers with an R.006 that the Kazakh node
records: a figure counts envelopes whose answer has come back. Baseline: plain JetStream publish
and pull-consume of payloads of the same size on the same server, in the same run.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from silkway.examples import example_declaration
from silkway.exchange.bus.inproc import InProcessBus
from silkway.exchange.bus.nats import NatsBus
from silkway.exchange.bus.ports import Bus
from silkway.exchange.db.tables import outbox, outbox_results
from silkway.exchange.runtime import ExchangeRuntime
from silkway.exchange.service import envelope_for
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release
from tests.bench.bench_bus import ASYNC_WINDOW, raw_jetstream_rate
from tests.bench.harness import Result
from tests.conftest import START
from tests.integration.exchange.federation import federation
from tests.natsd import running_server

COUNT = 600


def _exchange_rate(folder: Path, bus: Bus) -> tuple[float, int]:
    with federation(folder, ("KZ", "BY"), START) as fed:
        kz = fed.nodes["KZ"].transit
        decl = example_declaration("western-road", START.date())
        # Prepare the movements first: the figure measures the exchange, not lodging.
        for i in range(COUNT):
            d = decl.model_copy(update={"lrn": f"BX{i:06d}"})
            ref = transit.lodge_declaration(kz, d).movement.reference
            transit.act(kz, ref, Accept())
            transit.act(kz, ref, Release(d.security[0].reference, d.departure_office))
        fed.open_all()
        with kz.uow() as uow:
            pending = uow.exchange.outbox_views(channel="pending", limit=10 * COUNT)
        # Messages to states outside this federation go on paper; count what travels.
        envelopes = sum(1 for v in pending if v.to_state == "BY")
        first = next(v for v in pending if v.message_kind == "release_notification")
        size = len(
            fed.contexts["KZ"].sealer.seal(
                envelope_for(fed.contexts["KZ"], _message(kz, first.message_id)), START
            )
        )
        runtime = ExchangeRuntime(
            {s: fed.contexts[s] for s in ("KZ", "BY")}, bus, relay_interval=0.005
        )
        start = time.perf_counter()
        runtime.start()
        try:
            deadline = time.monotonic() + 300
            while _answered(fed.nodes["KZ"].engine) < envelopes:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"only {_answered(fed.nodes['KZ'].engine)} of {envelopes} answered"
                    )
                time.sleep(0.05)
            elapsed = time.perf_counter() - start
        finally:
            runtime.stop()
        return envelopes / elapsed, size


def _message(ctx: transit.TransitContext, message_id: str) -> transit.OutboxMessage:
    with ctx.uow() as uow:
        return next(m for m in uow.outbox.pending(limit=100_000) if m.message_id == message_id)


def _answered(engine: Engine) -> int:
    """Messages (not answers) whose R.006 came back accepted: one cheap count per poll."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(
                    outbox_results.join(outbox, outbox.c.message_id == outbox_results.c.message_id)
                )
                .where(
                    outbox_results.c.outcome == "accepted",
                    outbox.c.message_kind != "processing_result",
                )
            ).scalar_one()
        )


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="silkway-bench-x-") as tmp:
        folder = Path(tmp)
        with running_server(folder / "nats") as server:
            nats_rate, size = _exchange_rate(folder / "a", NatsBus(server.url))
            raw = raw_jetstream_rate(server.url, 5000, size)
            raw_async = raw_jetstream_rate(server.url, 5000, size, window=ASYNC_WINDOW)
        inproc_rate, _ = _exchange_rate(folder / "b", InProcessBus())
    return [
        Result("exchange.nats", nats_rate, "envelopes/s", "jetstream.raw_same_size", raw),
        Result("exchange.nats", nats_rate, "envelopes/s", "jetstream.raw_async", raw_async),
        Result("exchange.inproc", inproc_rate, "envelopes/s", "jetstream.raw_same_size", raw),
    ]
