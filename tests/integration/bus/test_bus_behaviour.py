"""What both buses promise, run against the in-process bus and a real nats-server alike."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from bus_kit import BusKit, run, until

from silkway.exchange.bus.handling import RetryPolicy
from silkway.exchange.bus.ports import (
    BusUnavailable,
    Delivery,
    RetryLater,
    Subscription,
    subject_for,
)


def _tag() -> str:
    return uuid.uuid4().hex[:8]


class Recorder:
    """An idempotent handler: applies each message's effect once, counts every delivery."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self.order: list[str] = []
        self.attempts: dict[str, list[int]] = {}
        self.dead: list[tuple[Delivery, str]] = []

    @property
    def effects(self) -> set[str]:
        return set(self.applied)

    def record(self, delivery: Delivery) -> None:
        self.deliveries[delivery.message_id] += 1
        self.order.append(delivery.message_id)
        self.attempts.setdefault(delivery.message_id, []).append(delivery.attempt)

    def apply(self, delivery: Delivery) -> None:
        if delivery.message_id not in self.applied:
            self.applied[delivery.message_id] += 1

    async def handle(self, delivery: Delivery) -> None:
        self.record(delivery)
        self.apply(delivery)

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self.dead.append((delivery, reason))


def test_each_message_published_twice_is_handled_once(kit: BusKit) -> None:
    async def body() -> None:
        publisher = await kit.open()
        consumer = await kit.open()
        subject = subject_for("KZ", "P.CP.01")
        recorder = Recorder()
        await consumer.subscribe(
            f"kz-{_tag()}", subject, recorder.handle, on_dead_letter=recorder.dead_letter
        )
        ids = [f"urn:uuid:{uuid.uuid4()}" for _ in range(150)]
        for mid in ids:  # a duplicate right after the original
            await publisher.publish(subject, mid.encode(), message_id=mid)
            await publisher.publish(subject, mid.encode(), message_id=mid)
        for mid in ids:  # and every message once more, much later
            await publisher.publish(subject, b"again", message_id=mid)
        await until(lambda: recorder.effects == set(ids), "every message handled")
        await asyncio.sleep(0.3)  # time for any duplicate to show up
        assert recorder.deliveries == Counter(dict.fromkeys(ids, 1))
        assert recorder.applied == Counter(dict.fromkeys(ids, 1))
        assert not recorder.dead
        await kit.close()

    run(body)


def test_first_deliveries_keep_publish_order_and_headers(kit: BusKit) -> None:
    async def body() -> None:
        bus = await kit.open()
        subject = subject_for("RU", "P.CP.01")
        seen: list[Delivery] = []

        async def handler(delivery: Delivery) -> None:
            seen.append(delivery)
            await asyncio.sleep(0.001 * (len(seen) % 3))  # overlapping handlers

        await bus.subscribe(f"ru-{_tag()}", subject, handler, on_dead_letter=Recorder().dead_letter)
        ids = [f"m{i:04d}-{_tag()}" for i in range(200)]
        for i, mid in enumerate(ids):
            await bus.publish(
                subject, f"{i}".encode(), message_id=mid, headers={"Silkway-Seq": str(i)}
            )
        await until(lambda: len(seen) == len(ids), "every message delivered")
        assert [d.message_id for d in seen] == ids
        assert [d.data for d in seen] == [f"{i}".encode() for i in range(200)]
        assert all(d.headers == {"Silkway-Seq": str(i)} for i, d in enumerate(seen))
        assert {d.subject for d in seen} == {subject}
        assert {d.attempt for d in seen} == {1}
        await kit.close()

    run(body)


def test_wildcards_select_subjects_as_nats_does(kit: BusKit) -> None:
    async def body() -> None:
        bus = await kit.open()
        per_process, per_state = Recorder(), Recorder()
        await bus.subscribe(
            f"any-state-{_tag()}",
            "silkway.*.P_CP_01",
            per_process.handle,
            on_dead_letter=per_process.dead_letter,
        )
        await bus.subscribe(
            f"kz-all-{_tag()}",
            "silkway.KZ.>",
            per_state.handle,
            on_dead_letter=per_state.dead_letter,
        )
        sent = {
            "a": "silkway.KZ.P_CP_01",
            "b": "silkway.RU.P_CP_01",
            "c": "silkway.KZ.P_CP_02",
            "d": "silkway.KZ.P_CP_01.extra",
            "e": "silkway.BY.P_CP_02",
        }
        for mid, subject in sent.items():
            await bus.publish(subject, b"", message_id=f"{mid}-{_tag()}")
        await until(lambda: len(per_state.order) == 3, "the KZ messages")
        await until(lambda: len(per_process.order) == 2, "the P.CP.01 messages")
        await asyncio.sleep(0.2)
        assert sorted(m[0] for m in per_process.order) == ["a", "b"]
        assert sorted(m[0] for m in per_state.order) == ["a", "c", "d"]
        await kit.close()

    run(body)


def test_retry_later_backs_off_then_dead_letters_with_the_reason(kit: BusKit) -> None:
    policy = RetryPolicy(base=0.2, cap=0.3)

    async def body() -> None:
        bus = await kit.open(retry=policy)
        subject = subject_for("KG", "P.CP.01")
        recorder = Recorder()
        times: dict[str, list[float]] = {}
        loop = asyncio.get_running_loop()

        async def handler(delivery: Delivery) -> None:
            recorder.record(delivery)
            times.setdefault(delivery.message_id, []).append(loop.time())
            if delivery.message_id.startswith("flaky") and delivery.attempt == 3:
                return
            raise RetryLater("peer not ready")

        await bus.subscribe(
            f"kg-{_tag()}", subject, handler, on_dead_letter=recorder.dead_letter, max_attempts=3
        )
        hopeless, flaky = f"hopeless-{_tag()}", f"flaky-{_tag()}"
        await bus.publish(subject, b"x", message_id=hopeless)
        await bus.publish(subject, b"y", message_id=flaky)
        await until(lambda: len(recorder.dead) == 1, "the dead letter")
        await until(lambda: len(recorder.attempts.get(flaky, [])) == 3, "the third attempt")
        await asyncio.sleep(0.8)  # longer than any backoff: nothing more may come
        assert recorder.attempts == {hopeless: [1, 2, 3], flaky: [1, 2, 3]}
        delivery, reason = recorder.dead[0]
        assert delivery.message_id == hopeless
        assert delivery.attempt == 3
        assert delivery.data == b"x"
        assert reason == "gave up after 3 attempts: RetryLater: peer not ready"
        # Each redelivery waited at least its backoff (0.2 s, then 0.3 s: the cap).
        for mid in (hopeless, flaky):
            first, second, third = times[mid]
            assert second - first >= 0.8 * policy.delay(1)
            assert third - second >= 0.8 * policy.delay(2)
        await kit.close()

    run(body)


def test_unexpected_error_is_retried_and_its_reason_kept(kit: BusKit) -> None:
    async def body() -> None:
        bus = await kit.open(retry=RetryPolicy(base=0.05, cap=0.05))
        subject = subject_for("AM", "P.CP.01")
        recorder = Recorder()

        async def handler(delivery: Delivery) -> None:
            recorder.record(delivery)
            raise ValueError(f"bad payload {delivery.data!r}")

        await bus.subscribe(
            f"am-{_tag()}", subject, handler, on_dead_letter=recorder.dead_letter, max_attempts=2
        )
        await bus.publish(subject, b"<xml", message_id="broken")
        await until(lambda: len(recorder.dead) == 1, "the dead letter")
        await asyncio.sleep(0.3)
        assert recorder.attempts == {"broken": [1, 2]}
        assert recorder.dead[0][1] == "gave up after 2 attempts: ValueError: bad payload b'<xml'"
        await kit.close()

    run(body)


def test_failing_dead_letter_handler_gets_the_message_again(kit: BusKit) -> None:
    async def body() -> None:
        bus = await kit.open(retry=RetryPolicy(base=0.05, cap=0.1))
        subject = subject_for("BY", "P.CP.01")
        calls: list[tuple[int, str]] = []

        async def handler(delivery: Delivery) -> None:
            raise RetryLater("database busy")

        async def dead_letter(delivery: Delivery, reason: str) -> None:
            calls.append((delivery.attempt, reason))
            if len(calls) == 1:
                raise RuntimeError("dead-letter table locked")

        await bus.subscribe(
            f"by-{_tag()}", subject, handler, on_dead_letter=dead_letter, max_attempts=2
        )
        await bus.publish(subject, b"", message_id="stubborn")
        await until(lambda: len(calls) == 2, "the second dead-letter call")
        await asyncio.sleep(0.3)
        reason = "gave up after 2 attempts: RetryLater: database busy"
        assert calls == [(2, reason), (3, reason)]
        await kit.close()

    run(body)


def test_stopped_consumer_resumes_and_applies_each_effect_once(kit: BusKit) -> None:
    """Stop a consumer while handlers are in flight; its successor gets what was not acked."""

    async def body() -> None:
        options = {"concurrency": 16, "batch_size": 16, "stop_grace": 0.1}
        first = await kit.open(**options)
        publisher = await kit.open(**options)
        subject = subject_for("KZ", "P.CP.02")
        durable = f"kz-{_tag()}"
        recorder = Recorder()
        stuck = asyncio.Event()  # never set: handlers waiting on it are "in flight" forever
        stalled: list[str] = []

        async def crashing(delivery: Delivery) -> None:
            recorder.record(delivery)
            n = int(delivery.message_id.split("-")[1])
            if n % 25 == 0:  # effect applied, then stuck before the ack
                recorder.apply(delivery)
                stalled.append(delivery.message_id)
                await stuck.wait()
            elif n % 25 == 7:  # stuck before the effect
                stalled.append(delivery.message_id)
                await stuck.wait()
            recorder.apply(delivery)

        ids = [f"msg-{i:04d}" for i in range(300)]
        subscription: Subscription = await first.subscribe(
            durable, subject, crashing, on_dead_letter=recorder.dead_letter
        )
        for mid in ids:
            await publisher.publish(subject, mid.encode(), message_id=mid)
        await until(lambda: len(recorder.deliveries) >= 150, "half the messages delivered")
        await subscription.stop()
        assert stalled, "some handlers were in flight when the consumer stopped"
        assert recorder.effects != set(ids)

        second = await kit.open(**options)
        await second.subscribe(
            durable, subject, recorder.handle, on_dead_letter=recorder.dead_letter
        )
        await until(lambda: recorder.effects == set(ids), "every effect after the restart")
        await asyncio.sleep(0.2)
        assert recorder.applied == Counter(dict.fromkeys(ids, 1))
        redelivered = {mid for mid, n in recorder.deliveries.items() if n > 1}
        assert set(stalled) <= redelivered
        assert all(recorder.attempts[mid][-1] >= 2 for mid in stalled)
        assert not recorder.dead
        await kit.close()

    run(body)


def test_bad_input_is_refused_with_a_precise_error(kit: BusKit) -> None:
    async def body() -> None:
        bus = await kit.open()
        ok = Recorder()
        with pytest.raises(ValueError, match="must start with 'silkway'"):
            await bus.publish("orders.KZ", b"", message_id="x")
        with pytest.raises(ValueError, match="token '\\*'"):
            await bus.publish("silkway.*.P_CP_01", b"", message_id="x")
        with pytest.raises(ValueError, match="token ''"):
            await bus.publish("silkway..P_CP_01", b"", message_id="x")
        with pytest.raises(ValueError, match="message id"):
            await bus.publish("silkway.KZ.P_CP_01", b"", message_id="")
        with pytest.raises(ValueError, match="reserved"):
            await bus.publish(
                "silkway.KZ.P_CP_01", b"", message_id="x", headers={"Nats-Msg-Id": "y"}
            )
        with pytest.raises(ValueError, match="line breaks"):
            await bus.publish("silkway.KZ.P_CP_01", b"", message_id="x", headers={"A": "1\r\n"})
        with pytest.raises(ValueError, match="'>' only as the last token"):
            await bus.subscribe("d", "silkway.>.KZ", ok.handle, on_dead_letter=ok.dead_letter)
        with pytest.raises(ValueError, match="durable name"):
            await bus.subscribe("a.b", "silkway.KZ.>", ok.handle, on_dead_letter=ok.dead_letter)
        with pytest.raises(ValueError, match="max_attempts"):
            await bus.subscribe(
                "d", "silkway.KZ.>", ok.handle, on_dead_letter=ok.dead_letter, max_attempts=0
            )
        durable = f"kz-{_tag()}"
        sub = await bus.subscribe(durable, "silkway.KZ.>", ok.handle, on_dead_letter=ok.dead_letter)
        await sub.stop()
        with pytest.raises(ValueError, match="use another name"):
            await bus.subscribe(durable, "silkway.RU.>", ok.handle, on_dead_letter=ok.dead_letter)
        # None of the refused publishes reached anyone.
        again = await bus.subscribe(
            durable, "silkway.KZ.>", ok.handle, on_dead_letter=ok.dead_letter
        )
        await bus.publish("silkway.KZ.P_CP_01", b"", message_id="fine")
        await until(lambda: ok.order == ["fine"], "the one valid message")
        await again.stop()
        await kit.close()
        with pytest.raises(BusUnavailable):
            await bus.publish("silkway.KZ.P_CP_01", b"", message_id="late")

    run(body)


def test_a_delivery_says_how_long_the_message_waited_on_the_bus(kit: BusKit) -> None:
    """The receiver judges a message's age as of when the bus took it, so the bus must say
    how long it held the message: a consumer that comes late sees the wait, one that keeps up
    sees next to none. Measured on the bus's own clock (the server's, for NATS)."""

    async def body() -> None:
        publisher = await kit.open()
        consumer = await kit.open()
        subject = subject_for("BY", "P.CP.01")
        durable = f"by-{_tag()}"
        early, late = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        recorder = Recorder()
        waited: dict[str, float] = {}

        async def handle(delivery: Delivery) -> None:
            waited[delivery.message_id] = delivery.waited
            await recorder.handle(delivery)

        subscription = await consumer.subscribe(
            durable, subject, handle, on_dead_letter=recorder.dead_letter
        )
        await subscription.stop()  # the node is down; its consumer keeps its place
        await publisher.publish(subject, b"early", message_id=early)
        await asyncio.sleep(1.5)
        await consumer.subscribe(durable, subject, handle, on_dead_letter=recorder.dead_letter)
        await until(lambda: early in waited, "the message that waited")
        await publisher.publish(subject, b"late", message_id=late)
        await until(lambda: late in waited, "the message that did not")
        assert waited[early] >= 1.4, waited
        assert waited[late] < 1.0, waited
        await kit.close()

    run(body)
