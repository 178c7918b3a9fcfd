"""``silkway run`` (what ``make run`` starts): the embedded Union serves every node."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


@pytest.fixture
def union(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "SILKWAY_DATA_DIR": str(tmp_path), "SILKWAY_PORT": str(port)}
    env.pop("SILKWAY_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from silkway.entrypoints.cli import main; main()", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(
                    f"silkway run exited: {proc.stdout.read() if proc.stdout else ''}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("silkway run did not answer within 60 s")
        yield base
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # also closes the pipe


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
