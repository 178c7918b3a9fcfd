"""The NATS JetStream bus: the production transport between national nodes.

One stream, ``SILKWAY``, holds the Union's traffic (subjects ``silkway.>``, file storage, limits
retention for ``max_age``, de-duplication by ``Nats-Msg-Id`` within ``duplicate_window``); every
``start()`` creates it or brings its settings up to date, so any node may be first. Each
subscription is a durable pull consumer (explicit acks, ``ack_wait``) fetched in batches and
handled with bounded concurrency; a handler that takes long keeps its message with "in progress"
acks, so ``ack_wait`` only decides how soon the messages of a consumer that died come back.

Attempts are counted by the server (``num_delivered``) and judged here (see
:mod:`silkway.exchange.bus.handling`): a retry is a nak with the backoff delay, a dead letter
is a term after ``on_dead_letter`` returned. The server's own ``max_deliver`` is left unlimited
so that it never drops a message silently; ``max_attempts`` is enforced by the bus.

The client reconnects by itself (to any server of the list, or one the cluster announces); a
publish that gets no PubAck in ``publish_timeout`` raises :class:`BusUnavailable`, and a consumer
loop waits through the outage and resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from silkway.exchange.bus.handling import DeliveryProcessor, RetryPolicy, Verdict
from silkway.exchange.bus.ports import (
    BusUnavailable,
    DeadLetterHandler,
    Delivery,
    Handler,
    Subscription,
)
from silkway.exchange.bus.subjects import (
    RESERVED_HEADER_PREFIX,
    STREAM_SUBJECTS,
    check_durable,
    check_filter,
    check_headers,
    check_message_id,
    check_subject,
)

log = logging.getLogger("silkway.bus")

STREAM = "SILKWAY"
MSG_ID = "Nats-Msg-Id"
_TRANSIENT = (nats.errors.Error, asyncio.TimeoutError, OSError)
"""What the client raises when the server is away, slow, or between leaders."""
_REPAIR_INTERVAL = 1.0
"""Seconds between two attempts to recreate a missing stream or consumer."""


@dataclass(frozen=True)
class NatsAuth:
    """Who the node is to the NATS server, and how it checks the server (TLS).

    One of: a user and password, a ``.creds`` file (JWT and NKey seed of an operator-mode
    account), or an NKey seed file. ``tls_ca`` makes the connection TLS, verifying the server
    against that CA; ``tls_cert`` and ``tls_key`` add a client certificate."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    creds_file: Path | None = None
    nkey_seed_file: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def __post_init__(self) -> None:
        ways = [self.user is not None, self.creds_file is not None, self.nkey_seed_file is not None]
        if sum(ways) > 1:
            raise ValueError("NATS credentials: a user, a creds file or an NKey seed, not several")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("a NATS client certificate needs both its certificate and its key")

    def connect_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.user is not None:
            options["user"] = self.user
            options["password"] = self.password or ""
        if self.creds_file is not None:
            options["user_credentials"] = str(self.creds_file)
        if self.nkey_seed_file is not None:
            options["nkeys_seed"] = str(self.nkey_seed_file)
        if self.tls_ca is not None:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.tls_ca))
            if self.tls_cert is not None and self.tls_key is not None:
                context.load_cert_chain(str(self.tls_cert), str(self.tls_key))
            options["tls"] = context
        return options


class NatsBus:
    """The bus over NATS JetStream. ``servers``: one URL or the URLs of a cluster."""

    def __init__(
        self,
        servers: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        name: str = "silkway",
        replicas: int = 1,
        duplicate_window: float = 120.0,
        max_age: float = 7 * 24 * 3600.0,
        ack_wait: float = 30.0,
        retry: RetryPolicy | None = None,
        batch_size: int = 64,
        concurrency: int = 64,
        publish_timeout: float = 5.0,
        fetch_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        reconnect_wait: float = 0.5,
        start_timeout: float = 30.0,
        stop_grace: float = 5.0,
        auth: NatsAuth | None = None,
    ) -> None:
        if not 1 <= replicas <= 5:
            raise ValueError(f"replicas must be 1 to 5, got {replicas}")
        if batch_size < 1 or concurrency < 1:
            raise ValueError("batch_size and concurrency must be at least 1")
        for label, value in (
            ("duplicate_window", duplicate_window),
            ("max_age", max_age),
            ("ack_wait", ack_wait),
            ("publish_timeout", publish_timeout),
            ("fetch_timeout", fetch_timeout),
            ("connect_timeout", connect_timeout),
            ("reconnect_wait", reconnect_wait),
            ("start_timeout", start_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{label} must be positive, got {value}")
        if duplicate_window > max_age:
            raise ValueError("duplicate_window cannot be longer than max_age")
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        if not self.servers:
            raise ValueError("at least one server URL is needed")
        self.name = name
        self.auth = auth or NatsAuth()
        self.replicas = replicas
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self.ack_wait = ack_wait
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.publish_timeout = publish_timeout
        self.fetch_timeout = fetch_timeout
        self.connect_timeout = connect_timeout
        self.reconnect_wait = reconnect_wait
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._subscriptions: set[_NatsSubscription] = set()
        self._last_repair = -math.inf

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._nc is not None:
            return
        nc = Client()
        try:
            # The client retries for ever (max_reconnect_attempts=-1), also on the first
            # connect: start_timeout bounds that first one.
            await asyncio.wait_for(
                nc.connect(
                    servers=self.servers,
                    name=self.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    # nats-py annotates these as int but waits on them as seconds.
                    connect_timeout=cast(int, self.connect_timeout),
                    reconnect_time_wait=cast(int, self.reconnect_wait),
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    **self.auth.connect_options(),
                ),
                self.start_timeout,
            )
        except _TRANSIENT as exc:
            await nc.close()
            raise BusUnavailable(
                f"cannot connect to NATS at {', '.join(self.servers)}: {exc!r}"
            ) from exc
        self._nc = nc
        self._js = nc.jetstream(timeout=self.publish_timeout)
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                await self._ensure_stream(self._js)
                return
            except _TRANSIENT as exc:
                # A cluster that has just started may not have elected its leaders yet.
                if time.monotonic() >= deadline:
                    await self.close()
                    raise BusUnavailable(f"JetStream did not answer: {exc}") from exc
                log.info("waiting for JetStream: %s", exc)
                await asyncio.sleep(0.2)
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        await asyncio.gather(*(s.stop() for s in list(self._subscriptions)))
        nc, self._nc, self._js = self._nc, None, None
        if nc is None:
            return
        with contextlib.suppress(*_TRANSIENT):
            await nc.flush(timeout=1)  # pending acks go out before the connection does
        await nc.close()

    async def _on_error(self, exc: Exception) -> None:
        # Refused or dropped connections repeat on every reconnect attempt of an outage, which
        # _on_disconnected has already reported once.
        transient = isinstance(
            exc, OSError | asyncio.TimeoutError | nats.errors.StaleConnectionError
        )
        log.log(logging.DEBUG if transient else logging.WARNING, "NATS client error: %r", exc)

    async def _on_disconnected(self) -> None:
        if self._nc is not None:  # not when closing or failing to start
            log.warning("disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        nc = self._nc
        log.info(
            "reconnected to NATS at %s",
            nc.connected_url.geturl() if nc and nc.connected_url else "?",
        )

    def _stream_config(self) -> StreamConfig:
        return StreamConfig(
            name=STREAM,
            description="Silkway: messages between the national nodes of the Union",
            subjects=[STREAM_SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=StorageType.FILE,
            max_age=self.max_age,
            duplicate_window=self.duplicate_window,
            num_replicas=self.replicas,
        )

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        wanted = self._stream_config()
        try:
            info = await js.stream_info(STREAM)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(wanted)
                return
            except nats.js.errors.BadRequestError:
                # Another node created it meanwhile (perhaps with other settings): update below.
                info = await js.stream_info(STREAM)
        current = info.config
        # The server's answer carries the storage as a plain string.
        storage = StorageType(current.storage or StorageType.FILE)
        if storage is not StorageType.FILE:
            raise ValueError(
                f"stream {STREAM} exists with {storage.value} storage; the Union's traffic"
                " needs file storage (the stream must be recreated)"
            )
        if (
            current.subjects != wanted.subjects
            or not math.isclose(current.max_age or 0, self.max_age)
            or not math.isclose(current.duplicate_window or 0, self.duplicate_window)
            or (current.num_replicas or 1) != self.replicas
        ):
            log.info("updating stream %s to %s", STREAM, wanted)
            await js.update_stream(
                current.evolve(
                    subjects=wanted.subjects,
                    max_age=self.max_age,
                    duplicate_window=self.duplicate_window,
                    num_replicas=self.replicas,
                )
            )

    # -- publishing ------------------------------------------------------------------------

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        check_subject(subject)
        check_message_id(message_id)
        fields = check_headers(headers)
        js = self._js
        if js is None:
            raise BusUnavailable("the NATS bus is not started")
        fields[MSG_ID] = message_id
        try:
            await js.publish(
                subject, data, timeout=self.publish_timeout, stream=STREAM, headers=fields
            )
        except nats.js.errors.NoStreamResponseError as exc:
            # Nobody stores silkway.> any more: a server that lost its store, or an operator who
            # deleted the stream. Set it up again, so that the outbox's next try goes through.
            await self._repair_stream(js)
            raise BusUnavailable(f"no stream takes {subject} (recreating {STREAM})") from exc
        except _TRANSIENT as exc:
            # No PubAck: the message may or may not be stored. The outbox publishes it again
            # with the same id, and the stream keeps one copy.
            raise BusUnavailable(
                f"no acknowledgement from JetStream for {subject}: {exc!r}"
            ) from exc

    async def _repair_stream(self, js: JetStreamContext) -> None:
        now = time.monotonic()
        if now - self._last_repair < _REPAIR_INTERVAL:
            return
        self._last_repair = now
        try:
            await self._ensure_stream(js)
        except _TRANSIENT as exc:
            log.debug("recreating stream %s failed: %r", STREAM, exc)

    # -- consuming -------------------------------------------------------------------------

    def _consumer_config(self, durable: str, subject: str) -> ConsumerConfig:
        return ConsumerConfig(
            name=durable,
            durable_name=durable,
            filter_subject=subject,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            max_ack_pending=max(1000, 4 * self.concurrency),
        )

    async def _ensure_consumer(self, js: JetStreamContext, config: ConsumerConfig) -> None:
        durable = cast(str, config.durable_name)
        try:
            info = await js.consumer_info(STREAM, durable)
        except nats.js.errors.NotFoundError:
            pass
        else:
            if info.config.filter_subject != config.filter_subject:
                raise ValueError(
                    f"durable {durable!r} follows {info.config.filter_subject!r}, not"
                    f" {config.filter_subject!r}: use another name for another subject"
                )
        # Creates it, or updates ack wait and limits of an existing one.
        await js.add_consumer(STREAM, config)

    async def subscribe(
        self,
        durable: str,
        subject: str,
        handler: Handler,
        *,
        on_dead_letter: DeadLetterHandler,
        max_attempts: int = 5,
    ) -> Subscription:
        check_durable(durable)
        check_filter(subject)
        processor = DeliveryProcessor(
            handler, on_dead_letter, max_attempts=max_attempts, retry=self.retry
        )
        js = self._js
        if js is None:
            raise BusUnavailable("the NATS bus is not started")
        config = self._consumer_config(durable, subject)
        try:
            await self._ensure_consumer(js, config)
            pull = await js.pull_subscribe_bind(durable=durable, stream=STREAM)
        except _TRANSIENT as exc:
            raise BusUnavailable(f"cannot create consumer {durable!r}: {exc!r}") from exc
        subscription = _NatsSubscription(self, js, pull, processor, config)
        self._subscriptions.add(subscription)
        return subscription


class _NatsSubscription:
    """Fetches a durable consumer's messages in batches and runs the handler on each."""

    def __init__(
        self,
        bus: NatsBus,
        js: JetStreamContext,
        pull: JetStreamContext.PullSubscription,
        processor: DeliveryProcessor,
        config: ConsumerConfig,
    ) -> None:
        self._bus = bus
        self._js = js
        self._pull = pull
        self._processor = processor
        self._config = config
        self._in_flight: dict[asyncio.Task[None], tuple[Msg, float]] = {}
        self._room = asyncio.Event()
        self._stopped = False
        self._last_repair = -math.inf
        name = f"silkway-bus-{config.durable_name}"
        self._fetcher = asyncio.create_task(self._fetch_loop(), name=name)
        self._keeper = asyncio.create_task(self._keep_in_progress(), name=f"{name}-progress")

    async def _fetch_loop(self) -> None:
        bus = self._bus
        pause = min(1.0, bus.reconnect_wait)
        while True:
            room = bus.concurrency - len(self._in_flight)
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                messages = await self._pull.fetch(
                    min(bus.batch_size, room), timeout=bus.fetch_timeout
                )
            except nats.errors.TimeoutError:
                continue  # nothing new (or the server is away: the next fetch tells)
            except (nats.js.errors.NotFoundError, nats.js.errors.ServiceUnavailableError):
                # No consumer answers the pull (also seen briefly while a cluster elects).
                await self._recreate_consumer(pause)
                continue
            except _TRANSIENT as exc:
                log.debug("fetch on %s failed: %r", self._config.durable_name, exc)
                await asyncio.sleep(pause)
                continue
            started = asyncio.get_running_loop().time()
            delivered_at = await self._delivered_at()
            for msg in messages:
                task = asyncio.create_task(self._handle(msg, delivered_at))
                self._in_flight[task] = (msg, started)
                task.add_done_callback(self._finished)

    async def _recreate_consumer(self, pause: float) -> None:
        """The consumer (or its stream) may be gone with a server's store: set them up again."""
        bus = self._bus
        now = time.monotonic()
        if now - self._last_repair >= _REPAIR_INTERVAL:
            self._last_repair = now
            try:
                await bus._ensure_stream(self._js)
                await bus._ensure_consumer(self._js, self._config)
            except _TRANSIENT as exc:
                log.debug("recreating consumer %s failed: %r", self._config.durable_name, exc)
        await asyncio.sleep(pause)

    def _finished(self, task: asyncio.Task[None]) -> None:
        del self._in_flight[task]
        self._room.set()

    async def _delivered_at(self) -> datetime | None:
        """When the server delivered the batch just fetched, on the server's clock.

        A message's timestamp is the server's too, so the difference is how long the message
        waited on the bus, whatever this host's clock says. Unknown (None, judged as not having
        waited) when the server does not answer or does not say."""
        try:
            info = await self._pull.consumer_info()
        except _TRANSIENT as exc:
            log.debug("consumer info of %s failed: %r", self._config.durable_name, exc)
            return None
        return info.delivered.last_active if info.delivered is not None else None

    async def _handle(self, msg: Msg, delivered_at: datetime | None = None) -> None:
        meta = msg.metadata
        headers = msg.headers or {}
        message_id = headers.get(MSG_ID) or f"{STREAM}:{meta.sequence.stream}"
        if len(headers) > 1:
            headers = {
                k: v for k, v in headers.items() if not k.lower().startswith(RESERVED_HEADER_PREFIX)
            }
        else:
            headers = {}
        delivery = Delivery(
            subject=msg.subject,
            data=msg.data,
            message_id=message_id,
            headers=headers,
            attempt=meta.num_delivered,
            waited=(
                max(0.0, (delivered_at - meta.timestamp).total_seconds())
                if delivered_at is not None and meta.timestamp is not None
                else 0.0
            ),
        )
        try:
            outcome = await self._processor.process(delivery, meta.sequence.stream)
        except asyncio.CancelledError:
            # Stopped mid-handling: hand the message back at once rather than after ack_wait.
            await self._answer(msg.nak())
            raise
        if outcome.verdict is Verdict.ACK:
            await self._answer(msg.ack())
        elif outcome.verdict is Verdict.RETRY:
            await self._answer(msg.nak(delay=outcome.delay))
        else:
            await self._answer(msg.term())

    async def _answer(self, reply: Awaitable[None]) -> None:
        try:
            await reply
        except _TRANSIENT as exc:
            # Lost with the connection: the server redelivers after ack_wait and the
            # idempotent handler sees the message again.
            log.debug("acknowledgement lost: %r", exc)

    async def _keep_in_progress(self) -> None:
        """Tell the server that long-running handlers still hold their messages."""
        period = self._bus.ack_wait / 3
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            threshold = loop.time() - period
            for msg, started in list(self._in_flight.values()):
                if started <= threshold:
                    try:
                        await msg.in_progress()
                    except _TRANSIENT:
                        break

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._fetcher.cancel()
        self._keeper.cancel()
        await asyncio.gather(self._fetcher, self._keeper, return_exceptions=True)
        if self._in_flight:
            _, late = await asyncio.wait(set(self._in_flight), timeout=self._bus.stop_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        with contextlib.suppress(*_TRANSIENT):
            await self._pull.unsubscribe()
        self._bus._subscriptions.discard(self)
