"""An MQTT broker for tests: Debian's ``mosquitto`` on a free loopback port, started per session.

``SILKWAY_TEST_MQTT_URL`` (``mqtt://host:port``) names an external broker instead. Under CI
(``CI=true``) a broker that cannot be had fails the run; elsewhere its tests are skipped with
the reason (``make install`` installs mosquitto where apt is available).

``secured_mqtt_broker(users, acl)`` starts one that refuses anonymous clients: a
``password_file`` written with ``mosquitto_passwd`` (shipped with Debian's mosquitto) and an
``acl_file``, as an operator would configure it (README, "Per-operator broker credentials").
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_START_TIMEOUT_S = 10.0


class Mosquitto:
    """A private mosquitto on 127.0.0.1 without persistence: anonymous clients, or with ``users``
    (name -> password) only those, each limited by the ``acl`` file's text."""

    def __init__(
        self,
        binary: str,
        *,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        passwd: str | None = None,
    ) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="silkway-mqtt-")
        folder = Path(self._folder.name)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        access = "allow_anonymous true\n"
        if users is not None:
            access = "allow_anonymous false\n" + _password_file(folder, users, passwd)
            if os.geteuid() == 0:
                # Started by root, mosquitto would drop to its own user, which may not read
                # this private folder; a throwaway test broker keeps root instead.
                access += "user root\n"
        if acl is not None:
            acl_file = folder / "acl"
            acl_file.write_text(acl)
            access += f"acl_file {acl_file}\n"
        config = folder / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\n{access}persistence false\n"
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


def _password_file(folder: Path, users: Mapping[str, str], passwd: str | None) -> str:
    """The ``password_file`` line for ``users``, their passwords hashed by mosquitto_passwd."""
    if passwd is None:
        raise RuntimeError("mosquitto_passwd is needed to write a password file")
    path = folder / "passwords"
    for n, (user, password) in enumerate(users.items()):
        create = ["-c"] if n == 0 else []
        subprocess.run(
            [passwd, *create, "-b", str(path), user, password], check=True, capture_output=True
        )
    path.chmod(0o600)
    return f"password_file {path}\n"


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


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (
            str(Path(folder) / name)
            for folder in ("/usr/sbin", "/usr/local/sbin", "/usr/bin")
            if (Path(folder) / name).exists()
        ),
        None,
    )


def _unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"an MQTT broker is required under CI: {reason}")
    pytest.skip(reason)


@contextmanager
def secured_mqtt_broker(users: Mapping[str, str], acl: str) -> Iterator[tuple[str, int]]:
    """(host, port) of a broker of ``users`` only, under ``acl``; skip (fail under CI) without
    mosquitto and mosquitto_passwd."""
    binary, passwd = _tool("mosquitto"), _tool("mosquitto_passwd")
    if binary is None or passwd is None:
        _unavailable("no mosquitto with mosquitto_passwd: install Debian's mosquitto")
    try:
        broker = Mosquitto(binary, users=users, acl=acl, passwd=passwd)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        _unavailable(str(error))
    try:
        yield "127.0.0.1", broker.port
    finally:
        broker.stop()


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
