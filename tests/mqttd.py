"""An MQTT broker for tests: Debian's ``mosquitto`` on a free loopback port, started per session.

``SILKWAY_TEST_MQTT_URL`` (``mqtt://host:port``) names an external broker instead. Under CI
(``CI=true``) a broker that cannot be had fails the run; elsewhere its tests are skipped with
the reason (``make install`` installs mosquitto where apt is available).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_START_TIMEOUT_S = 10.0


class Mosquitto:
    """A private mosquitto on 127.0.0.1: no persistence, anonymous clients."""

    def __init__(self, binary: str) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="silkway-mqtt-")
        folder = Path(self._folder.name)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        config = folder / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n"
        )
        self._log_path = folder / "mosquitto.log"
        self._log = self._log_path.open("wb")
        self._proc = subprocess.Popen(
            [binary, "-c", str(config)], stdout=self._log, stderr=self._log
        )
        try:
            _wait_for_port("127.0.0.1", self.port, self._proc, self._log_path)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()
        self._folder.cleanup()


def _wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited ({proc.returncode}): {log.read_text()}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on {host}:{port} within {_START_TIMEOUT_S} s")


@contextmanager
def mqtt_broker() -> Iterator[tuple[str, int]]:
    """(host, port) of a running broker, or skip (fail under CI) when there is none."""
    url = os.environ.get("SILKWAY_TEST_MQTT_URL")
    if url:
        parts = urlsplit(url)
        yield parts.hostname or "127.0.0.1", parts.port or 1883
        return
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None,
    )
    if binary is None:
        reason = "no MQTT broker: install Debian's mosquitto or set SILKWAY_TEST_MQTT_URL"
        if IN_CI:
            pytest.fail(f"an MQTT broker is required under CI: {reason}")
        pytest.skip(reason)
    try:
        broker = Mosquitto(binary)
    except (RuntimeError, OSError) as error:
        if IN_CI:
            pytest.fail(f"an MQTT broker is required under CI: {error}")
        pytest.skip(str(error))
    try:
        yield "127.0.0.1", broker.port
    finally:
        broker.stop()
