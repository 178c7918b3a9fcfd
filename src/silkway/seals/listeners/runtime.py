"""Running the device listeners beside the HTTP server, wired from settings.

The listeners live on an event loop of their own, in a thread, so that ``uvicorn.run`` keeps the
main thread; the ingestion pipeline runs in worker threads either way (``make_pipeline_sink``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from silkway.seals.admission import DeviceRegistry
from silkway.seals.listeners.egts import EgtsSession
from silkway.seals.listeners.gate import DeviceGate, RegistryGate
from silkway.seals.listeners.sink import Sink, make_pipeline_sink
from silkway.seals.listeners.tcp import DeviceListener, DeviceSession, ListenerLimits
from silkway.seals.listeners.teltonika import TeltonikaStreamSession
from silkway.seals.listeners.wialon import WialonLineSession

if TYPE_CHECKING:
    from silkway.bootstrap import Node
    from silkway.seals.listeners.mqtt import MqttConfig, MqttSubscriber
    from silkway.settings import Settings

__all__ = [
    "TCP_PROTOCOLS",
    "DeviceListeners",
    "ListenerPlan",
    "plan_from_settings",
    "registry_gate",
    "start_device_listeners",
    "tcp_listener",
]

log = logging.getLogger("silkway.listeners")

TCP_PROTOCOLS = ("egts", "wialon", "teltonika")
_LABELS = {"egts": "EGTS", "wialon": "Wialon IPS", "teltonika": "Teltonika"}
_COMMISSION = "EEC"


def _session_factory(
    protocol: str, limits: ListenerLimits, gate: DeviceGate
) -> Callable[[], DeviceSession]:
    if protocol == "egts":
        return lambda: EgtsSession(gate, max_frame_bytes=limits.max_frame_bytes)
    if protocol == "wialon":
        return lambda: WialonLineSession(gate, max_line_bytes=limits.max_frame_bytes)
    if protocol == "teltonika":
        return lambda: TeltonikaStreamSession(gate)
    raise ValueError(f"unknown device protocol {protocol!r}; expected one of {TCP_PROTOCOLS}")


def tcp_listener(
    protocol: str,
    sink: Sink,
    *,
    clock: Callable[[], datetime],
    gate: DeviceGate,
    limits: ListenerLimits | None = None,
) -> DeviceListener:
    """An unstarted TCP listener for ``protocol`` ("egts", "wialon" or "teltonika").

    ``clock`` is the "now" of the node the sink feeds: it stamps receipt and bounds how far in
    the future a fix may be, so it must be the same clock the node judges the fixes by.
    ``gate`` decides which devices may connect (``registry_gate`` for the node's registry)."""
    limits = limits or ListenerLimits()
    return DeviceListener(
        protocol, _session_factory(protocol, limits, gate), sink, limits=limits, clock=clock
    )


def registry_gate(node: Node, settings: Settings) -> RegistryGate:
    """The gate of a node's TCP listeners: its seal registry, passwords as the settings say."""
    return RegistryGate(
        DeviceRegistry(node.seals, passwords_required=settings.device_passwords_required)
    )


@dataclass(frozen=True, slots=True)
class ListenerPlan:
    """What to open: TCP ports (protocol → port) feeding one sink, and MQTT feeding one per state."""

    clock: Callable[[], datetime] = field(kw_only=True)
    """The served nodes' clock (the embedded nodes share one)."""
    host: str = "127.0.0.1"
    tcp_ports: Mapping[str, int] = field(default_factory=dict)
    tcp_sink: Sink | None = None
    tcp_gate: DeviceGate | None = None
    """Which devices the TCP listeners let in; required with ``tcp_sink``."""
    limits: ListenerLimits = field(default_factory=ListenerLimits)
    mqtt: MqttConfig | None = None
    mqtt_sinks: Mapping[str, Sink] = field(default_factory=dict)


def plan_from_settings(settings: Settings, nodes: Mapping[str, Node]) -> ListenerPlan:
    """The listeners of a process serving ``nodes``.

    TCP devices feed one node: the only one in ``silkway node``, ``settings.listener_node`` in
    the embedded set-up. MQTT feeds every national node, each from its own topics. The
    Commission runs no seal operator and takes no telemetry.
    """
    operators = {state: node for state, node in nodes.items() if state != _COMMISSION}
    if len(nodes) == 1:
        tcp_node = next(iter(operators.values()), None)
    else:
        tcp_node = operators.get(settings.listener_node.upper())
        if tcp_node is None:
            raise ValueError(
                f"SILKWAY_LISTENER_NODE={settings.listener_node!r} is not a national node served"
                f" here ({', '.join(operators)})"
            )
    limits = ListenerLimits(
        max_connections=settings.listener_max_connections,
        idle_timeout_s=settings.listener_idle_timeout_s,
    )
    mqtt: MqttConfig | None = None
    if settings.mqtt_url and operators:
        # The MQTT client library is needed only when a broker is configured.
        from silkway.seals.listeners.mqtt import MqttConfig

        client_id = settings.mqtt_client_id or "silkway-" + "-".join(sorted(operators)).lower()
        mqtt = MqttConfig.from_url(
            settings.mqtt_url,
            username=settings.mqtt_username,
            password=(
                settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            ),
            topic_prefix=settings.mqtt_topic_prefix,
            client_id=client_id,
        )
    served = tcp_node or next(iter(operators.values()), None) or next(iter(nodes.values()))
    return ListenerPlan(
        clock=served.transit.clock.now,
        host=settings.listener_host,
        tcp_ports={
            "egts": settings.egts_port,
            "wialon": settings.wialon_port,
            "teltonika": settings.teltonika_port,
        }
        if tcp_node is not None
        else {},
        tcp_sink=make_pipeline_sink(tcp_node.seals) if tcp_node is not None else None,
        tcp_gate=registry_gate(tcp_node, settings) if tcp_node is not None else None,
        limits=limits,
        mqtt=mqtt,
        mqtt_sinks={state: make_pipeline_sink(node.seals) for state, node in operators.items()}
        if mqtt
        else {},
    )


class DeviceListeners:
    """The listeners of a plan, on their own event loop thread.

    ``start`` returns one line per listener for the operator to read. With ``strict`` a port
    that cannot be bound fails the start; without it (the embedded demo) it is reported and
    the rest runs.
    """

    def __init__(self, plan: ListenerPlan, *, strict: bool = True) -> None:
        self.plan = plan
        self.strict = strict
        self.tcp: dict[str, DeviceListener] = {}
        self.mqtt: MqttSubscriber | None = None
        self._lines: list[str] = []
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout_s: float = 30.0) -> list[str]:
        if self._thread is not None:
            raise RuntimeError("device listeners already started")
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(),), name="silkway-listeners", daemon=True
        )
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise RuntimeError(f"device listeners did not start within {timeout_s} s")
        if self._error is not None:
            self._thread.join(timeout_s)
            raise self._error
        return list(self._lines)

    def status(self) -> dict[str, Any]:
        """What each listener has seen so far: connections, frames, positions, failures.

        Read from another thread without locking: each counter is a plain int the listener
        thread increments, so a reading is at worst a moment old.
        """
        tcp: dict[str, Any] = {}
        for protocol, listener in self.tcp.items():
            try:
                host, port = listener.address
                address: str | None = f"{host}:{port}"
            except RuntimeError:
                address = None  # closed meanwhile
            tcp[protocol] = {
                "address": address,
                "counters": asdict(listener.stats),
                "batches": asdict(listener.batcher.stats),
            }
        mqtt = None
        if self.mqtt is not None and self.plan.mqtt is not None:
            mqtt = {
                "broker": self.plan.mqtt.describe(),
                "connected": self.mqtt.connected.is_set(),
                "counters": asdict(self.mqtt.stats),
            }
        return {
            "running": self._thread is not None and self._thread.is_alive(),
            "tcp": tcp,
            "mqtt": mqtt,
        }

    def stop(self, timeout_s: float = 30.0) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have finished meanwhile
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout_s)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        mqtt_task: asyncio.Task[None] | None = None
        try:
            try:
                await self._open_tcp()
                mqtt_task = self._open_mqtt()
            except BaseException as error:  # noqa: BLE001 - handed to the starting thread
                self._error = error
                return
            finally:
                self._started.set()
            await self._stop.wait()
        finally:
            if mqtt_task is not None:
                mqtt_task.cancel()
                await asyncio.gather(mqtt_task, return_exceptions=True)
            for listener in self.tcp.values():
                await listener.close()

    async def _open_tcp(self) -> None:
        plan = self.plan
        if plan.tcp_sink is None:
            return
        if plan.tcp_gate is None:
            raise ValueError("TCP device listeners need a gate: which devices may connect")
        for protocol, port in plan.tcp_ports.items():
            listener = tcp_listener(
                protocol, plan.tcp_sink, limits=plan.limits, clock=plan.clock, gate=plan.tcp_gate
            )
            label = _LABELS.get(protocol, protocol)
            try:
                await listener.start(plan.host, port)
            except OSError as error:
                if self.strict:
                    raise OSError(
                        error.errno, f"{label} port {plan.host}:{port}: {error.strerror}"
                    ) from error
                why = os.strerror(error.errno) if error.errno else str(error)
                self._lines.append(
                    f"  devices: {label} NOT LISTENING: {plan.host}:{port}: {why}"
                    f" (SILKWAY_{protocol.upper()}_PORT=0 takes any free port)"
                )
                continue
            self.tcp[protocol] = listener
            host, bound = listener.address
            self._lines.append(f"  devices: {label} tcp://{host}:{bound}")

    def _open_mqtt(self) -> asyncio.Task[None] | None:
        plan = self.plan
        if plan.mqtt is None or not plan.mqtt_sinks:
            return None
        from silkway.seals.listeners.mqtt import MqttSubscriber

        self.mqtt = MqttSubscriber(
            plan.mqtt,
            plan.mqtt_sinks,
            batch_positions=plan.limits.batch_positions,
            batch_delay_s=plan.limits.batch_delay_s,
            clock=plan.clock,
        )
        self._lines.append(
            f"  seals: MQTT {plan.mqtt.describe()} topics {', '.join(self.mqtt.topics)}"
        )
        return asyncio.get_running_loop().create_task(self.mqtt.run(), name="silkway-mqtt")


class DeviceBoard:
    """Where the API reads the device listeners' counters; the server attaches them once open."""

    def __init__(self) -> None:
        self.listeners: DeviceListeners | None = None

    def status(self) -> dict[str, Any]:
        if self.listeners is None:
            return {"running": False, "tcp": {}, "mqtt": None}
        return self.listeners.status()


def start_device_listeners(
    settings: Settings, nodes: Mapping[str, Node], *, strict: bool
) -> DeviceListeners | None:
    """Open the device listeners the settings ask for; None when they are switched off."""
    if not settings.listeners:
        return None
    listeners = DeviceListeners(plan_from_settings(settings, nodes), strict=strict)
    for line in listeners.start():
        print(line, flush=True)
    return listeners
