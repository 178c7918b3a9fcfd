"""``silkway seals`` against a node's SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.auth import cli_user
from typer.testing import CliRunner

from silkway.entrypoints.cli import app
from silkway.identity.domain.principal import Role

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SILKWAY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SILKWAY_DATABASE_URL", raising=False)
    # The commands that change state run as a user whose role may run them.
    cli_user(monkeypatch, "KZ", Role.SEAL_OPERATOR)
    return tmp_path


def invoke(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, ["seals", *args])
    return result.exit_code, json.loads(result.stdout)


def test_register_show_and_list() -> None:
    code, seal = invoke(
        "register",
        "KZNS2600045180",
        "--node",
        "KZ",
        "--protocol",
        "egts",
        "--imei",
        "356307042441013",
        "--period",
        "60",
    )
    assert code == 0, seal
    assert seal["status"] == "registered"
    assert invoke("show", "KZNS2600045180", "--node", "KZ")[1]["imei"] == "356307042441013"
    assert invoke("incidents", "--node", "KZ", "--status", "open") == (0, [])
    assert invoke("check-silence", "--node", "KZ") == (0, [])
    assert invoke("purge", "--node", "KZ") == (0, {"deleted": 0})


def test_bad_input_gets_a_precise_error() -> None:
    code, out = invoke("register", "x", "--node", "KZ", "--protocol", "fax")
    assert code == 1
    assert out["error"] == "seal-invalid"
    assert {e["pointer"] for e in out["errors"]} >= {"/seal_id", "/protocol"}
    code, out = invoke("show", "NOSUCHSEAL", "--node", "KZ")
    assert (code, out["error"]) == (1, "seal-not-found")
    code, out = invoke("track", "SW26KZ000000000011", "--node", "KZ")
    assert (code, out["error"]) == (1, "movement-not-found")
    code, out = invoke("incidents", "--node", "KZ", "--code", "99")
    assert (code, out["error"]) == (1, "filter-invalid")
    code, out = invoke("show", "KZNS2600045180", "--node", "XX")
    assert (code, out["error"]) == (1, "node-unknown")
