"""``silkway run`` as a test or a benchmark starts it: its own process, on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

from tests.natsd import free_port


@dataclass
class Running:
    base: str
    output: list[str]
    """Every line the process printed so far (standard output and error)."""
    taken_port: int


@contextmanager
def silkway_run(
    folder: Path, *args: str, egts_port: int = 0, env: Mapping[str, str] | None = None
) -> Iterator[Running]:
    """``silkway run`` in ``folder``, on a free port, until it answers ``/health`` 200.

    The process sees none of this one's ``SILKWAY_*`` settings, only ``env`` beside its own."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SILKWAY_")}
    environment.update(
        SILKWAY_DATA_DIR=str(folder),
        SILKWAY_PORT=str(port),
        SILKWAY_EGTS_PORT=str(egts_port),
        SILKWAY_WIALON_PORT="0",
        SILKWAY_TELTONIKA_PORT="0",
    )
    environment.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-c", "from silkway.entrypoints.cli import main; main()", "run", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        output.extend(line.rstrip("\n") for line in proc.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                reader.join(5)
                raise AssertionError("silkway run exited: " + "\n".join(output))
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("silkway run was not ready within 120 s: " + "\n".join(output))
        yield Running(base, output, egts_port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(5)
        assert proc.stdout is not None
        proc.stdout.close()
