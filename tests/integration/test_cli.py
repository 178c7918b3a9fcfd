"""The silkway command line against real node databases (SQLite files)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.auth import cli_user
from typer.testing import CliRunner

from silkway.entrypoints.cli import app
from silkway.identity.domain.principal import Role
from silkway.node.clock import SystemClock
from silkway.reference.model import NODE_CODES
from silkway.seals.devices.egts import encode_packet, encode_pos_data, encode_record

runner = CliRunner()


_ENV: list[pytest.MonkeyPatch] = []


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SILKWAY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SILKWAY_DATABASE_URL", raising=False)
    _ENV.append(monkeypatch)
    yield tmp_path
    _ENV.clear()


def _sign_in_for(args: tuple[str, ...]) -> None:
    """Commands that change state run as a user whose role may run them: a lodging as the
    declarant its file names, at the node it names; the interstate tests as the Commission's
    administrator."""
    if args[:2] == ("declaration", "lodge") and "--node" in args:
        state = args[args.index("--node") + 1].upper()
        try:
            declarant = json.loads(Path(args[2]).read_text())["declarant"]["identification"]
        except (OSError, ValueError, KeyError, TypeError):
            declarant = "NOBODY"
        if state in NODE_CODES:
            cli_user(_ENV[0], state, Role.DECLARANT, party=declarant)
    elif args[:2] == ("guarantee", "register") and "--node" in args:
        cli_user(_ENV[0], args[args.index("--node") + 1].upper(), Role.OFFICER)
    elif args[:2] == ("conformance", "run"):
        cli_user(_ENV[0], "EEC", Role.ADMINISTRATOR)


def invoke(*args: str, input: str | None = None) -> tuple[int, Any]:
    _sign_in_for(args)
    result = runner.invoke(app, list(args), input=input)
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.stdout


def test_codes_check_known_mrns() -> None:
    assert invoke("codes", "check", "24GB000246J8NY33L7") == (
        0,
        {"kind": "mrn", "valid": True, "reason": None},
    )
    code, out = invoke("codes", "check", "27WF9X1FQ9RCKN0TM3")
    assert code == 1
    assert out["kind"] == "mrn"
    assert out["valid"] is False
    assert out["reason"]


def register_quoted_guarantee(example: dict[str, Any], state: str) -> None:
    """Register at ``state`` the guarantee ``example`` quotes, under its GRN and access code:
    a lodging checks the quoted code against the registry."""
    [security] = example["security"]
    declarant = example["declarant"]
    code, out = invoke(
        "guarantee", "register", "--node", state, "--amount", "5000000", "--guarantor-name",
        "Halyk Bank", "--holder", declarant["identification"], "--holder-name",
        declarant["name"], "--holder-country", declarant["country"], "--grn",
        security["reference"], "--access-code", security["access_code"],
    )  # fmt: skip
    assert code == 0, out


def test_lodge_show_and_verify(tmp_path: Path) -> None:
    code, example = invoke("declaration", "example", "western-road")
    assert code == 0
    register_quoted_guarantee(example, "KZ")
    file = tmp_path / "decl.json"
    file.write_text(json.dumps(example))
    code, lodged = invoke("declaration", "lodge", str(file), "--node", "KZ")
    assert code == 0, lodged
    assert lodged["created"] is True
    code, check = invoke("codes", "check", lodged["reference"])
    assert (code, check["kind"], check["valid"]) == (0, "movement_reference", True)

    code, shown = invoke("movement", "show", lodged["reference"])
    assert code == 0
    assert shown["registration_number"] == lodged["registration_number"]
    assert shown["log_verified"] is True
    code, by_number = invoke("movement", "show", lodged["registration_number"])
    assert by_number["reference"] == lodged["reference"]

    # The Commission's node keeps the anchors (none of KZ yet): its database is there too.
    assert invoke("db", "upgrade", "--node", "EEC")[0] == 0
    code, verdict = invoke("audit", "verify", "--node", "KZ")
    # The access log holds the two runs that changed state: the guarantee and the lodging.
    assert (code, verdict) == (
        0,
        {"checked": 1, "failed": 0, "ok": True, "access_log_records": 2, "anchors": {"KZ": None}},
    )
    assert [s["access_code"] for s in shown["declaration"]["security"]] == [None]


def test_lodging_with_a_wrong_access_code_is_refused(tmp_path: Path) -> None:
    _, example = invoke("declaration", "example", "western-road")
    register_quoted_guarantee(example, "KZ")
    example["security"][0]["access_code"] = "0000"
    (tmp_path / "d.json").write_text(json.dumps(example))
    code, out = invoke("declaration", "lodge", str(tmp_path / "d.json"), "--node", "KZ")
    assert code == 1
    assert [(e["code"], e["pointer"]) for e in out["errors"]] == [
        ("security-access-code-invalid", "/security/0/access_code")
    ]
    assert invoke("audit", "verify", "--node", "KZ", "--skip-anchors")[1]["checked"] == 0


def test_audit_verify_names_the_tampered_record(tmp_path: Path) -> None:
    _, example = invoke("declaration", "example", "western-road")
    register_quoted_guarantee(example, "KZ")
    (tmp_path / "d.json").write_text(json.dumps(example))
    _, lodged = invoke("declaration", "lodge", str(tmp_path / "d.json"), "--node", "KZ")
    with sqlite3.connect(tmp_path / "nodes" / "kz.sqlite") as conn:
        conn.execute("UPDATE movement_events SET kind = 'forged' WHERE seq = 1")
    result = runner.invoke(app, ["audit", "verify", "--node", "KZ"])
    assert result.exit_code == 2
    assert '"first_bad_seq": 1' in result.stdout
    assert lodged["reference"] in result.stdout


def test_lodging_bad_input_says_why_and_stores_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"lrn": 5}')
    code, out = invoke("declaration", "lodge", str(bad), "--node", "KZ")
    assert code == 1
    assert out["error"] == "declaration-malformed"
    assert any(e["pointer"] == "/lrn" for e in out["errors"])
    code, out = invoke("declaration", "lodge", str(tmp_path / "missing.json"), "--node", "KZ")
    assert (code, out["error"]) == (1, "file-unreadable")
    code, out = invoke("declaration", "lodge", str(bad), "--node", "XX")
    assert code == 1
    assert invoke("audit", "verify", "--node", "KZ", "--skip-anchors")[1]["checked"] == 0


def test_lodging_at_the_wrong_node_is_refused(tmp_path: Path) -> None:
    _, example = invoke("declaration", "example", "western-road")
    (tmp_path / "d.json").write_text(json.dumps(example))
    code, out = invoke("declaration", "lodge", str(tmp_path / "d.json"), "--node", "BY")
    assert code == 1
    assert out["error"] == "declaration-invalid"
    assert out["errors"][0]["code"] == "departure-office-other-node"


def test_every_example_lodges_at_its_departure_node(tmp_path: Path) -> None:
    from silkway.examples import example_declaration, example_names
    from silkway.reference import load_reference

    offices = load_reference().offices
    assert len(example_names()) >= 6
    for name in example_names():
        # The CLI's node runs on the real clock, so the example is dated by it too.
        decl = example_declaration(name, SystemClock().now().date())
        file = tmp_path / f"{name}.json"
        file.write_text(decl.model_dump_json())
        state = offices[decl.departure_office].state
        register_quoted_guarantee(decl.model_dump(mode="json"), state)
        code, out = invoke("declaration", "lodge", str(file), "--node", state)
        assert code == 0, (name, out)


def test_devices_decode_egts() -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    frame = encode_packet(
        7, [encode_record(1, [encode_pos_data(at, 52.08, 23.66, speed_kmh=61.5, course=300)])]
    )
    code, out = invoke("devices", "decode", "--protocol", "egts", frame.hex())
    assert code == 0, out
    assert out[0]["time"] == "2026-12-01T09:30:00.000Z"
    assert abs(out[0]["lat"] - 52.08) < 1e-6
    assert abs(out[0]["lon"] - 23.66) < 1e-6
    assert out[0]["course"] == 300
    broken = frame[:-1] + bytes([frame[-1] ^ 0xFF])
    code, out = invoke("devices", "decode", "--protocol", "egts", broken.hex())
    assert code == 1
    assert out["error"] == "decode-failed"
    assert "checksum" in out["reason"]
    assert out["code"] == 138  # EGTS_PC_DATACRC_ERROR


def test_db_upgrade_all_nodes(data_dir: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0
    assert sorted(p.name for p in (data_dir / "nodes").iterdir() if p.suffix == ".sqlite") == [
        "am.sqlite",
        "by.sqlite",
        "eec.sqlite",
        "kg.sqlite",
        "kz.sqlite",
        "ru.sqlite",
    ]


def _enrol(*states: str) -> None:
    """What production does before nodes exchange: each node's administrator creates its key,
    the Commission's administrator publishes a trust list naming them."""
    for state in states:
        cli_user(_ENV[0], state, Role.ADMINISTRATOR)
        code, out = invoke("keys", "create", "--node", state)
        assert code == 0, out
    cli_user(_ENV[0], "EEC", Role.ADMINISTRATOR)
    assert invoke("trust", "init")[0] == 0
    code, out = invoke("trust", "publish", "--pending")
    assert code == 0, out
    assert out["keys"] == len(states)
    code, shown = invoke("trust", "show")
    assert code == 0, shown
    assert shown["version"] == 1
    assert sorted(k["owner"] for k in shown["keys"]) == sorted(states)


def test_conformance_run_between_two_nodes_puts_the_process_in_operation() -> None:
    _enrol("KZ", "BY", "EEC")
    code, out = invoke(
        "conformance", "run", "--between", "KZ", "--between", "BY", "--process", "P.SO.01"
    )
    assert code == 0, out
    assert out["in_operation"] is True
    assert set(out["results"]) == {"KZ->BY", "BY->KZ"}
    assert all(o["passed"] for v in out["results"].values() for o in v)


def test_trust_show_refuses_a_bare_list_of_keys(data_dir: Path) -> None:
    _enrol("KZ")
    (data_dir / "keys" / "trust.json").write_text("[]")
    code, out = invoke("trust", "show")
    assert code == 1
    assert out["error"] == "trust-list-unsigned"


def test_conformance_run_of_a_process_without_a_kit_says_which_have_one() -> None:
    assert invoke("db", "upgrade", "--node", "KZ")[0] == 0
    assert invoke("db", "upgrade", "--node", "BY")[0] == 0
    code, out = invoke(
        "conformance", "run", "--between", "KZ", "--between", "BY", "--process", "P.XX.01"
    )
    assert code != 0
    text = json.dumps(out) if not isinstance(out, str) else out
    assert "process-without-kit" in text
    assert "P.CP.01" in text
    assert "P.SO.01" in text


def test_a_command_that_changes_state_needs_a_user_whose_role_may_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "d.json"
    file.write_text(json.dumps(invoke("declaration", "example", "western-road")[1]))
    assert invoke("db", "upgrade", "--node", "KZ")[0] == 0  # a node, with no user yet
    lodge = ["declaration", "lodge", str(file), "--node", "KZ"]
    monkeypatch.delenv("SILKWAY_USER", raising=False)
    result = runner.invoke(app, lodge)
    assert (result.exit_code, json.loads(result.stdout)["error"]) == (1, "operator-missing")
    cli_user(monkeypatch, "KZ", Role.OFFICER)  # an officer does not lodge for a declarant
    result = runner.invoke(app, lodge)
    assert (result.exit_code, json.loads(result.stdout)["error"]) == (1, "role-forbidden")
    monkeypatch.setenv("SILKWAY_PASSWORD", "not-the-password")
    result = runner.invoke(app, lodge)
    assert json.loads(result.stdout)["error"] == "credentials-invalid"
    # Nothing was lodged.
    assert invoke("audit", "verify", "--node", "KZ", "--skip-anchors")[1]["checked"] == 0


def test_the_first_administrator_needs_no_sign_in_and_the_next_accounts_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SILKWAY_USER", raising=False)
    monkeypatch.setenv("SILKWAY_NEW_PASSWORD", "first-admin-password")
    first = runner.invoke(
        app, ["users", "add", "root.kz", "--role", "administrator", "--node", "KZ"]
    )
    assert first.exit_code == 0, first.stdout
    second = runner.invoke(
        app, ["users", "add", "eve.kz", "--role", "administrator", "--node", "KZ"]
    )
    assert json.loads(second.stdout)["error"] == "operator-missing"
    monkeypatch.setenv("SILKWAY_USER", "root.kz")
    monkeypatch.setenv("SILKWAY_PASSWORD", "first-admin-password")
    officer = runner.invoke(
        app, ["users", "add", "officer.kz", "--role", "officer", "--node", "KZ"]
    )
    assert officer.exit_code == 0, officer.stdout
    listed = json.loads(runner.invoke(app, ["users", "list", "--node", "KZ"]).stdout)
    assert [u["username"] for u in listed] == ["officer.kz", "root.kz"]


def test_conformance_run_refuses_a_live_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    # Throwaway nodes on the live bus would share the live nodes' consumers and take their
    # traffic: live nodes test their partners themselves.
    monkeypatch.setenv("SILKWAY_BUS_URL", "nats://127.0.0.1:4222")
    code, out = invoke("conformance", "run", "--between", "KZ", "--between", "BY")
    assert (code, out["error"]) == (1, "conformance-live")


def test_an_example_declaration_has_a_fresh_lrn_each_time_or_the_one_asked_for() -> None:
    from silkway.transit.domain.declaration import TransitDeclaration

    (code_a, a), (code_b, b) = (invoke("declaration", "example", "western-road") for _ in "ab")
    assert (code_a, code_b) == (0, 0)
    assert a["lrn"] != b["lrn"]
    for example in (a, b):
        assert example["lrn"].startswith("SRF-")  # the example declarant's series
        assert TransitDeclaration.model_validate(example).lrn == example["lrn"]
    # Otherwise the same declaration: the LRN is what makes it a new one.
    assert {k: v for k, v in a.items() if k != "lrn"} == {k: v for k, v in b.items() if k != "lrn"}

    code, chosen = invoke("declaration", "example", "western-road", "--lrn", "TOUR-0001")
    assert (code, chosen["lrn"]) == (0, "TOUR-0001")
    code, refused = invoke("declaration", "example", "western-road", "--lrn", "A B")
    assert (code, refused["error"]) == (1, "lrn-invalid")
    assert [e["pointer"] for e in refused["errors"]] == ["/lrn"]
    code, refused = invoke("declaration", "example", "western-road", "--lrn", "L" * 23)
    assert (code, refused["error"]) == (1, "lrn-invalid")


def test_two_examples_lodge_as_two_movements(tmp_path: Path) -> None:
    references = []
    for n in range(2):
        code, example = invoke("declaration", "example", "western-road")
        assert code == 0
        if n == 0:
            register_quoted_guarantee(example, "KZ")
        file = tmp_path / f"d{n}.json"
        file.write_text(json.dumps(example))
        code, lodged = invoke("declaration", "lodge", str(file), "--node", "KZ")
        assert (code, lodged["created"]) == (0, True), lodged
        references.append(lodged["reference"])
    assert references[0] != references[1]


@pytest.mark.parametrize(
    "command",
    [
        ("movement", "show", "SW26KZ000000000011"),
        ("audit", "verify", "--node", "KZ"),
        ("guarantee", "balance", "26KZ19201G0004171", "--node", "KZ"),
        ("claims", "report", "--node", "KZ"),
        ("messages", "list", "--node", "KZ"),
        ("conformance", "register"),
        ("seals", "incidents", "--node", "KZ"),
        ("users", "list", "--node", "KZ"),
    ],
)
def test_a_command_on_a_node_with_no_database_says_where_it_looked_and_makes_none(
    data_dir: Path, command: tuple[str, ...]
) -> None:
    code, out = invoke(*command)
    assert (code, out["error"]) == (1, "database-missing"), out
    state = "EEC" if command[0] == "conformance" else "KZ"
    path = data_dir / "nodes" / f"{state.lower()}.sqlite"
    assert out["message"].startswith(f"no database for node {state} at {path}: ")
    assert f"SILKWAY_DATA_DIR (here {data_dir})" in out["message"]
    assert not (data_dir / "nodes").exists()


def test_a_database_url_naming_no_file_is_refused_as_missing(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "kz.sqlite"
    code, out = invoke(
        "movement", "show", "SW26KZ000000000011", "--database-url", f"sqlite:///{missing}"
    )
    assert (code, out["error"]) == (1, "database-missing")
    assert out["message"] == f"no database for node KZ at {missing}: check the database URL"
    assert not missing.parent.exists()


def test_db_upgrade_makes_the_database_the_other_commands_then_read(data_dir: Path) -> None:
    assert invoke("db", "upgrade", "--node", "KZ")[0] == 0
    assert (data_dir / "nodes" / "kz.sqlite").exists()
    code, out = invoke("movement", "show", "SW26KZ000000000011")
    assert (code, out["error"]) == (1, "movement-not-found")


def test_a_second_exchange_over_a_data_folder_in_use_is_refused(data_dir: Path) -> None:
    from silkway.entrypoints.union_lock import hold

    _enrol("KZ", "BY", "EEC")
    with hold(data_dir, "silkway run"):
        code, out = invoke("conformance", "run", "--between", "KZ", "--between", "BY")
        assert (code, out["error"]) == (1, "data-folder-in-use")
        assert out["message"].startswith(f"{data_dir} is in use by 'silkway run' (pid ")
        assert "silkway conformance register" in out["message"]
        code, out = invoke("run", "--no-demo")
        assert (code, out["error"]) == (1, "data-folder-in-use")
    # Nothing was measured while it was refused; once the folder is free, the run goes ahead.
    assert _partners("KZ") == {}
    code, out = invoke("conformance", "run", "--between", "KZ", "--between", "BY")
    assert (code, out["in_operation"]) == (0, True)
    assert _partners("KZ") == {"BY": True}


def _partners(state: str) -> dict[str, bool]:
    """Whether P.CP.01 is in operation between ``state`` and each partner, as its node says."""
    from silkway.bootstrap import build_node

    node = build_node(state, create=False)
    try:
        with node.transit.uow() as uow:
            return uow.exchange.partners("P.CP.01")
    finally:
        node.dispose()


def test_the_module_runs_as_the_command() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "silkway.entrypoints.cli", "codes", "check", "24GB000246J8NY33L7"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, json.loads(done.stdout)) == (
        0,
        {"kind": "mrn", "valid": True, "reason": None},
    )
