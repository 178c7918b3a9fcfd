"""Fixtures of the listener tests: a real MQTT broker for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.mqttd import mqtt_broker


@pytest.fixture(scope="session")
def broker() -> Iterator[tuple[str, int]]:
    """(host, port) of a broker private to this test session."""
    with mqtt_broker() as address:
        yield address
