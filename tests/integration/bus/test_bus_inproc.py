"""What only the in-process bus has to show: its windows, retention and durable bookkeeping."""

from __future__ import annotations

import asyncio

import pytest
from bus_kit import run, until

from silkway.exchange.bus.inproc import InProcessBus
from silkway.exchange.bus.ports import Delivery

SUBJECT = "silkway.KZ.P_CP_01"


class Seen:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.dead: list[str] = []

    async def handle(self, delivery: Delivery) -> None:
        self.ids.append(delivery.message_id)

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self.dead.append(reason)


def test_an_id_is_accepted_again_once_the_window_has_passed() -> None:
    async def body() -> None:
        bus = InProcessBus(duplicate_window=0.2)
        await bus.start()
        seen = Seen()
        await bus.subscribe("kz", SUBJECT, seen.handle, on_dead_letter=seen.dead_letter)
        await bus.publish(SUBJECT, b"1", message_id="m")
        await bus.publish(SUBJECT, b"2", message_id="m")
        await until(lambda: seen.ids == ["m"], "the first copy")
        await asyncio.sleep(0.3)
        await bus.publish(SUBJECT, b"3", message_id="m")
        await until(lambda: seen.ids == ["m", "m"], "the copy published after the window")
        await bus.close()

    run(body)


def test_a_durable_created_later_gets_the_retained_messages() -> None:
    async def body() -> None:
        bus = InProcessBus(max_retained=3)
        await bus.start()
        for i in range(5):
            await bus.publish(SUBJECT, b"", message_id=f"m{i}")
        late = Seen()
        await bus.subscribe("late", "silkway.KZ.*", late.handle, on_dead_letter=late.dead_letter)
        await until(lambda: len(late.ids) == 3, "the retained messages")
        await asyncio.sleep(0.05)
        assert late.ids == ["m2", "m3", "m4"]  # the oldest two were beyond max_retained
        await bus.close()

    run(body)


def test_a_closed_bus_keeps_its_consumers_places_for_the_next_start() -> None:
    async def body() -> None:
        bus = InProcessBus()
        await bus.start()
        seen = Seen()
        await bus.subscribe("kz", SUBJECT, seen.handle, on_dead_letter=seen.dead_letter)
        await bus.publish(SUBJECT, b"", message_id="before")
        await until(lambda: seen.ids == ["before"], "the first message")
        await bus.close()
        await bus.start()
        await bus.publish(SUBJECT, b"", message_id="while-away")
        await asyncio.sleep(0.05)
        assert seen.ids == ["before"]  # nobody is subscribed while the node is away
        await bus.subscribe("kz", SUBJECT, seen.handle, on_dead_letter=seen.dead_letter)
        await until(lambda: seen.ids == ["before", "while-away"], "the message sent meanwhile")
        await bus.close()

    run(body)


def test_one_subscription_per_durable_at_a_time() -> None:
    async def body() -> None:
        bus = InProcessBus()
        await bus.start()
        seen = Seen()
        await bus.subscribe("kz", SUBJECT, seen.handle, on_dead_letter=seen.dead_letter)
        with pytest.raises(ValueError, match="already has an active subscription"):
            await bus.subscribe("kz", SUBJECT, seen.handle, on_dead_letter=seen.dead_letter)
        await bus.close()

    run(body)


def test_concurrency_one_finishes_messages_in_publish_order() -> None:
    async def body() -> None:
        bus = InProcessBus(concurrency=1)
        await bus.start()
        finished: list[int] = []

        async def handler(delivery: Delivery) -> None:
            n = int(delivery.data)
            await asyncio.sleep(0.002 * (n % 4))  # later messages would overtake if they could
            finished.append(n)

        await bus.subscribe("kz", SUBJECT, handler, on_dead_letter=Seen().dead_letter)
        for n in range(40):
            await bus.publish(SUBJECT, str(n).encode(), message_id=f"m{n}")
        await until(lambda: len(finished) == 40, "every message")
        assert finished == list(range(40))
        await bus.close()

    run(body)


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": 0},
        {"duplicate_window": -1},
        {"retention": -1},
        {"stop_grace": -0.1},
    ],
)
def test_bad_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"concurrency|negative"):
        InProcessBus(**options)
