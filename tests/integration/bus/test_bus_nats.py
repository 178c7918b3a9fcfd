"""The NATS JetStream bus against real servers that are killed and restarted under traffic."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import nats
import pytest
from bus_consumer_process import apply_once, open_database
from bus_kit import publish_with_retry, run, until
from tests.natsd import NatsCluster, NatsServer, free_port

from silkway.exchange.bus.nats import STREAM, NatsBus
from silkway.exchange.bus.ports import BusUnavailable, Delivery, subject_for

FAST = {
    "publish_timeout": 0.5,
    "fetch_timeout": 0.5,
    "reconnect_wait": 0.1,
    "connect_timeout": 0.5,
    "ack_wait": 2.0,
}


class Effects:
    """An idempotent handler: the effect of each message is applied once, deliveries counted."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self.dead: list[str] = []

    async def handle(self, delivery: Delivery) -> None:
        self.deliveries[delivery.message_id] += 1
        if delivery.message_id not in self.applied:
            self.applied[delivery.message_id] += 1

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self.dead.append(reason)


def test_start_is_unavailable_without_a_server() -> None:
    async def body() -> None:
        bus = NatsBus(f"nats://127.0.0.1:{free_port()}", connect_timeout=0.2, start_timeout=0.5)
        with pytest.raises(BusUnavailable, match="cannot connect"):
            await bus.start()
        with pytest.raises(BusUnavailable, match="not started"):
            await bus.publish("silkway.KZ.P_CP_01", b"", message_id="x")

    run(body)


def test_start_creates_the_stream_then_brings_it_up_to_date(nats_server: NatsServer) -> None:
    async def body() -> None:
        first = NatsBus(nats_server.url, duplicate_window=60, max_age=3600)
        await first.start()
        await first.close()
        second = NatsBus(nats_server.url, duplicate_window=30, max_age=7200)
        await second.start()
        await second.start()  # a second start on a started bus changes nothing
        await second.close()
        nc = await nats.connect(nats_server.url)
        info = await nc.jetstream().stream_info(STREAM)
        await nc.close()
        assert info.config.subjects == ["silkway.>"]
        assert info.config.storage == "file"
        assert info.config.duplicate_window == 30
        assert info.config.max_age == 7200

    run(body)


def test_server_restart_mid_stream_loses_nothing(nats_server: NatsServer) -> None:
    """Kill the server during traffic and start it again on the same port and store."""

    async def body() -> None:
        publisher, consumer = NatsBus(nats_server.url, **FAST), NatsBus(nats_server.url, **FAST)
        await publisher.start()
        await consumer.start()
        effects = Effects()
        subject = subject_for("RU", "P.CP.01")
        await consumer.subscribe(
            "ru-restart", subject, effects.handle, on_dead_letter=effects.dead_letter
        )

        async def restart() -> None:
            await asyncio.to_thread(nats_server.kill)
            await asyncio.sleep(0.7)  # publishes fail meanwhile
            await asyncio.to_thread(nats_server.start)
            await asyncio.to_thread(nats_server.wait_ready)

        ids = [f"restart-{i:04d}" for i in range(400)]
        failures, restarting = 0, None
        for i, mid in enumerate(ids):
            if i == 150:
                restarting = asyncio.create_task(restart())
                await asyncio.sleep(0.1)

            async def publish(mid: str = mid) -> None:
                await publisher.publish(subject, mid.encode(), message_id=mid)

            failures += await publish_with_retry(publish)
        assert restarting is not None
        await restarting
        assert failures > 0, "publishing while the server was down raised BusUnavailable"
        await until(lambda: set(effects.applied) == set(ids), "every message after the restart")
        await asyncio.sleep(0.3)
        assert effects.applied == Counter(dict.fromkeys(ids, 1))
        assert not effects.dead
        await publisher.close()
        await consumer.close()

    run(body, timeout=50)


def test_cluster_loses_nothing_when_the_stream_leader_is_killed(nats_cluster: NatsCluster) -> None:
    async def body() -> None:
        urls = nats_cluster.urls
        publisher = NatsBus(urls, replicas=3, **FAST)
        consumer = NatsBus(list(reversed(urls)), replicas=3, **FAST)
        await publisher.start()
        await consumer.start()
        effects = Effects()
        subject = subject_for("BY", "P.CP.01")
        await consumer.subscribe(
            "by-cluster", subject, effects.handle, on_dead_letter=effects.dead_letter
        )
        nc = await nats.connect(urls)
        info = await nc.jetstream().stream_info(STREAM)
        await nc.close()
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        leader = next(s for s in nats_cluster.servers if s.name == info.cluster.leader)

        ids = [f"cluster-{i:04d}" for i in range(400)]
        failures, killing = 0, None
        for i, mid in enumerate(ids):
            if i == 150:
                killing = asyncio.create_task(asyncio.to_thread(leader.kill))

            async def publish(mid: str = mid) -> None:
                await publisher.publish(subject, mid.encode(), message_id=mid)

            failures += await publish_with_retry(publish)
        assert killing is not None
        await killing
        await until(lambda: set(effects.applied) == set(ids), "every message after the kill")
        await asyncio.sleep(0.3)
        assert effects.applied == Counter(dict.fromkeys(ids, 1))
        assert not effects.dead
        await publisher.close()
        await consumer.close()

    run(body, timeout=50)


CONSUMER_PROCESS = Path(__file__).with_name("bus_consumer_process.py")
HOLD_AFTER = 100  # as in bus_consumer_process.py: from then on it holds what it receives


def test_consumer_process_killed_mid_batch_resumes_with_each_effect_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """SIGKILL a consumer process while it has a batch in hand; a new one takes over."""
    database = tmp_path / "effects.sqlite"
    subject = subject_for("KZ", "P.CP.01")
    ids = [f"kill-{i:04d}" for i in range(400)]

    def count(sql: str) -> int:
        if not database.exists():
            return 0
        with closing(sqlite3.connect(database, timeout=10)) as db:
            try:
                return int(db.execute(sql).fetchone()[0])
            except sqlite3.OperationalError:  # the process has not created its tables yet
                return 0

    async def body() -> None:
        publisher = NatsBus(nats_server.url, **FAST)
        await publisher.start()
        for mid in ids:
            await publisher.publish(subject, mid.encode(), message_id=mid)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CONSUMER_PROCESS),
            nats_server.url,
            "kz-kill",
            subject,
            str(database),
        )
        try:
            await until(
                lambda: count("SELECT COUNT(*) FROM deliveries") >= HOLD_AFTER,
                "the consumer process to be under way",
            )
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        assert process.returncode == -signal.SIGKILL
        assert count("SELECT COUNT(*) FROM effects") < len(ids)

        db = open_database(database)

        async def handle(delivery: Delivery) -> None:
            apply_once(db, delivery)

        consumer = NatsBus(nats_server.url, **FAST)
        await consumer.start()
        await consumer.subscribe("kz-kill", subject, handle, on_dead_letter=_never_dead)
        await until(
            lambda: count("SELECT COUNT(*) FROM effects") == len(ids), "every effect", timeout=30
        )
        # What the killed process held comes back only after its ack wait, possibly after the
        # new consumer has done all the rest: wait for it rather than for a fixed time.
        await until(
            lambda: count("SELECT COUNT(*) FROM deliveries WHERE attempt > 1") > 0,
            "the batch the killed process held to come back",
            timeout=30,
        )
        await asyncio.sleep(0.3)
        applications = dict(db.execute("SELECT id, COUNT(*) FROM applications GROUP BY id"))
        assert applications == dict.fromkeys(ids, 1)
        db.close()
        await consumer.close()
        await publisher.close()

    run(body, timeout=50)


async def _never_dead(delivery: Delivery, reason: str) -> None:
    raise AssertionError(f"no dead letter expected: {reason}")


def test_a_server_that_lost_its_store_gets_stream_and_consumer_back(
    nats_server: NatsServer,
) -> None:
    async def body() -> None:
        publisher, consumer = NatsBus(nats_server.url, **FAST), NatsBus(nats_server.url, **FAST)
        await publisher.start()
        await consumer.start()
        effects = Effects()
        subject = subject_for("KG", "P.CP.01")
        await consumer.subscribe(
            "kg-wiped", subject, effects.handle, on_dead_letter=effects.dead_letter
        )
        await publisher.publish(subject, b"", message_id="before")
        await until(lambda: set(effects.applied) == {"before"}, "the first message")

        await asyncio.to_thread(nats_server.kill)
        await asyncio.to_thread(shutil.rmtree, nats_server.store_dir)
        await asyncio.to_thread(nats_server.start)
        await asyncio.to_thread(nats_server.wait_ready)

        async def publish() -> None:
            await publisher.publish(subject, b"", message_id="after")

        assert await publish_with_retry(publish) > 0, "the first try found no stream"
        await until(lambda: set(effects.applied) == {"before", "after"}, "the message after")
        assert effects.applied == Counter(before=1, after=1)
        await publisher.close()
        await consumer.close()

    run(body)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"replicas": 0}, "replicas"),
        ({"batch_size": 0}, "batch_size"),
        ({"ack_wait": 0}, "ack_wait must be positive"),
        ({"duplicate_window": 600, "max_age": 60}, "duplicate_window cannot be longer"),
        ({"servers": []}, "at least one server"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NatsBus(**options)
