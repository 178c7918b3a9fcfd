"""``silkway run`` (what ``make run`` starts): the embedded Union serves every node."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from tests.union import Running, silkway_run

from silkway.examples import example_declaration
from silkway.node.clock import SystemClock
from silkway.sim.accounts import DEMO_PASSWORD


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
