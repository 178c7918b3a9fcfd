"""Device-facing listeners: navigation seals and trackers over TCP (EGTS, Wialon IPS, Teltonika)
and over MQTT, feeding the node's telemetry pipeline.

``start_device_listeners(settings, nodes, strict=...)`` is what the servers call;
``tcp_listener`` and ``mqtt.MqttSubscriber`` are the pieces, each taking a ``Sink`` (and a TCP
listener a ``DeviceGate``: which devices may connect, ``registry_gate`` for a node's registry). The MQTT
module is imported only when a broker is configured.
"""

from __future__ import annotations

from silkway.seals.listeners.gate import DeviceGate, RegistryGate
from silkway.seals.listeners.runtime import (
    TCP_PROTOCOLS,
    DeviceBoard,
    DeviceListeners,
    ListenerPlan,
    plan_from_settings,
    registry_gate,
    start_device_listeners,
    tcp_listener,
)
from silkway.seals.listeners.sink import Batcher, IngestResult, Sink, SinkFailed, make_pipeline_sink
from silkway.seals.listeners.tcp import DeviceListener, ListenerLimits, ListenerStats

__all__ = [
    "TCP_PROTOCOLS",
    "Batcher",
    "DeviceBoard",
    "DeviceGate",
    "DeviceListener",
    "DeviceListeners",
    "IngestResult",
    "ListenerLimits",
    "ListenerPlan",
    "ListenerStats",
    "RegistryGate",
    "Sink",
    "SinkFailed",
    "make_pipeline_sink",
    "plan_from_settings",
    "registry_gate",
    "start_device_listeners",
    "tcp_listener",
]
