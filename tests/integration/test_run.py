"""``silkway run`` (what ``make run`` starts): the embedded Union serves every node."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from silkway.examples import example_declaration
from silkway.node.clock import SystemClock
from silkway.sim.accounts import DEMO_PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    base: str
    output: list[str]
    """Every line the process printed so far (standard output and error)."""
    taken_port: int


@contextmanager
def silkway_run(folder: Path, *args: str, egts_port: int = 0) -> Iterator[Running]:
    """``silkway run`` in ``folder``, on a free port, until it answers ``/health`` 200."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SILKWAY_")}
    env.update(
        SILKWAY_DATA_DIR=str(folder),
        SILKWAY_PORT=str(port),
        SILKWAY_EGTS_PORT=str(egts_port),
        SILKWAY_WIALON_PORT="0",
        SILKWAY_TELTONIKA_PORT="0",
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", "from silkway.entrypoints.cli import main; main()", "run", *args],
        env=env,
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


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    # The EGTS port is taken: the demo runs all the same, and says so.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        folder = tmp_path_factory.mktemp("union")
        with silkway_run(folder, egts_port=taken.getsockname()[1]) as run:
            yield run


@pytest.fixture
def union(running: Running) -> str:
    return running.base


# What an interstate test provokes on purpose, as the receivers and the journal would log it.
EXPECTED_REFUSALS = ("signature-invalid", "key-unknown", "replayed envelope", "not journalled")


def test_run_prints_a_line_per_node_listener_and_process_then_the_landing_page(
    running: Running,
) -> None:
    lines = list(running.output)
    up = next(i for i, line in enumerate(lines) if line.startswith("Silkway is up"))
    start = lines[: up + 1]
    assert start[0].startswith("Silkway: the embedded Union, data in ")
    nodes = [line for line in start if line.startswith("  node ")]
    assert [line.split()[1] for line in nodes] == ["AM:", "BY:", "KZ:", "KG:", "RU:", "EEC:"]
    assert all(f"API {running.base}/nodes/" in line for line in nodes)
    devices = [line for line in start if line.startswith("  devices: ")]
    assert len(devices) == 3
    # A port that cannot be had is said plainly, with what to do about it.
    assert devices[0].startswith(f"  devices: EGTS NOT LISTENING: 127.0.0.1:{running.taken_port}:")
    assert re.fullmatch(r"  devices: Wialon IPS tcp://127\.0\.0\.1:\d+", devices[1])
    assert re.fullmatch(r"  devices: Teltonika tcp://127\.0\.0\.1:\d+", devices[2])
    [tests] = [line for line in start if line.startswith("  interstate tests: ")]
    assert re.fullmatch(
        r"  interstate tests: P\.CP\.01 20/20 directions pass, P\.SO\.01 20/20 \(\d+\.\d s\)",
        tests,
    ), tests
    assert re.fullmatch(
        rf"Silkway is up: landing page {re.escape(running.base)}/ \(ready in \d+\.\d s\)",
        start[-1],
    )
    # Nothing else before it: no migrations, no requests, no refusals.
    assert [
        line
        for line in start
        if not line.startswith(
            ("Silkway: ", "  node ", "  devices: ", "  exchange: ", "  trust list: ")
        )
        and line not in (tests, start[-1])
    ] == []
    after = lines[up + 1 :]
    assert after[0] == "  demo accounts (password silkway-demo-password):"
    assert any(line.startswith("    KZ: admin.kz, analyst.kz, officer.kz") for line in after)
    assert any(line.startswith("  a token: curl -s -X POST ") for line in after)


def test_run_logs_no_migration_request_or_expected_refusal_at_the_default_level(
    running: Running,
) -> None:
    # The demo traffic has been running meanwhile (the other tests of this module lodge too).
    printed = "\n".join(running.output)
    assert "alembic" not in printed
    assert "HTTP Request" not in printed
    assert [line for line in running.output if any(r in line for r in EXPECTED_REFUSALS)] == []
    assert "Traceback" not in printed


def test_run_at_debug_level_shows_everything_the_default_level_leaves_out(
    tmp_path: Path,
) -> None:
    with silkway_run(tmp_path, "--log-level", "debug", "--no-demo") as run:
        lines = list(run.output)
    assert any(line.startswith("INFO alembic.runtime.migration: Running upgrade") for line in lines)
    refusals = [line for line in lines if any(r in line for r in EXPECTED_REFUSALS)]
    # Each pair of states, both ways, for both processes: a replay, a tampered envelope and an
    # unknown key at the receiver, the last two also at the Commission's journal.
    assert len(refusals) >= 40 * 5
    assert all(line.startswith("DEBUG ") for line in refusals)
    assert all(line.endswith("(an interstate test's, as expected)") for line in refusals)
    assert any("signature-invalid" in line for line in refusals)
    assert any("P.SO.01" in line and "replayed envelope" in line for line in refusals)
    [tests] = [line for line in lines if line.startswith("  interstate tests: ")]
    assert "P.CP.01 20/20 directions pass, P.SO.01 20/20" in tests


def test_run_serves_every_node_and_lodges(union: str) -> None:
    page = httpx.get(f"{union}/").text
    for state in ("am", "by", "kz", "kg", "ru", "eec"):
        assert f"/nodes/{state}/api/v1" in page
    # `silkway run` is a real process on the real clock: the example is dated by the same one.
    decl = example_declaration("western-road", SystemClock().now().date()).model_copy(
        update={"lrn": "RUN-SMOKE-1"}
    )
    anonymous = httpx.post(
        f"{union}/nodes/kz/api/v1/declarations",
        content=decl.model_dump_json(),
        headers={"content-type": "application/json"},
    )
    assert anonymous.status_code == 401, anonymous.text
    # The demo account the start-up message names, as the README's quick tour uses it.
    token = httpx.post(
        f"{union}/nodes/kz/api/v1/auth/token",
        data={"grant_type": "password", "username": "declarant.kz", "password": DEMO_PASSWORD},
    )
    assert token.status_code == 200, token.text
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    r = httpx.post(
        f"{union}/nodes/kz/api/v1/declarations",
        content=decl.model_dump_json(),
        headers={"content-type": "application/json", **auth},
    )
    assert r.status_code == 201, r.text
    ref = r.json()["reference"]
    movement = httpx.get(f"{union}/nodes/kz/api/v1/movements/{ref}", headers=auth)
    assert movement.json()["status"] in (
        "lodged",
        "accepted",
        "released",
        "in_passage",
        "arrived",
        "completed",
    )
    assert httpx.get(f"{union}/nodes/by/docs").status_code == 200
