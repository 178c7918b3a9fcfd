"""The README runs as written, top to bottom, against the embedded Union.

**Which blocks run.** A fenced shell block whose info string carries a ``readme:NAME`` word
(```` ```sh readme:lodge ````) is runnable; a Markdown renderer shows only the language, so the
reader sees an ordinary block. Blocks without one are listings (placeholders such as ``FILE``
or ``GRN``, or production set-ups with PostgreSQL and NATS) and are not run. Every named block
has its checks in :data:`CHECKS`, and every entry there a block: a runnable block says what it
promises, and a promise cannot outlive its block.

**How.** The Union starts as ``make run`` starts it (the Makefile's ``run`` recipe, ``$(BIN)``
being ``.venv/bin``), in a temporary folder whose ``.venv/bin/silkway`` runs this checkout, on
free ports (``SILKWAY_PORT``, which the README's addresses honour, and device ports 0). Once
``/health`` answers 200 the blocks run in order in one bash, so that what a block sets is there
for the next, as in a reader's terminal. The blocks' commands are run unchanged; around them the
shell has an ERR trap (a failing command fails its block) and ``curl`` reports each answer's
status and address on standard error (``-w '%{stderr}...'``), which the checks read beside the
JSON the block prints.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from tests.natsd import free_port

from silkway.kernel.codes import identify

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_FENCE = re.compile(r"^```(?P<info>[^`\n]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_DONE = "README-BLOCK-DONE"
_FAILED = "README-FAILED"
_HTTP = "README-HTTP"
_PRELUDE = f"""
set -E
trap 'echo "{_FAILED} $? $BASH_COMMAND" >&2' ERR
curl() {{ command curl -w '%{{stderr}}{_HTTP} %{{http_code}} %{{url_effective}}\\n' "$@"; }}
"""


def runnable_blocks(text: str) -> list[tuple[str, str]]:
    """``(name, body)`` of each shell block marked ``readme:NAME``, in the README's order."""
    blocks = []
    for fence in _FENCE.finditer(text):
        words = fence["info"].split()
        names = [w.removeprefix("readme:") for w in words if w.startswith("readme:")]
        if names:
            assert words[0] in ("sh", "bash"), f"block {names[0]} is not a shell block"
            blocks.append((names[0], fence["body"]))
    return blocks


def run_recipe(makefile: str) -> str:
    """The shell command of the Makefile's ``run`` target, as ``make run`` runs it."""
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^run\s*:", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line[1:].lstrip("@"))
    command = " && ".join(recipe).replace("$(BIN)", ".venv/bin").replace("$(VENV)", ".venv")
    assert "$(" not in command, (
        f"the run recipe uses a make variable the test does not know: {command}"
    )
    return command


# --- what each block promises ---------------------------------------------------------------


@dataclass
class Ran:
    """One block's run: its exit status, standard output and error, the answers curl saw."""

    name: str
    status: int
    out: str
    err: str
    http: list[tuple[int, str]] = field(default_factory=list)

    def docs(self) -> list[Any]:
        """Every JSON document the block printed, in order (curl's answers have no newline
        between them; text that is not JSON is passed over)."""
        found: list[Any] = []
        decoder = json.JSONDecoder()
        i = 0
        while i < len(self.out):
            if self.out[i] in "{[":
                try:
                    doc, end = decoder.raw_decode(self.out, i)
                except json.JSONDecodeError:
                    i += 1
                    continue
                found.append(doc)
                i = end
            else:
                i += 1
        return found

    def one(self, where: Callable[[Any], bool]) -> Any:
        matching = [d for d in self.docs() if where(d)]
        assert len(matching) == 1, f"{self.name}: {len(matching)} matching answers in {self.out}"
        return matching[0]

    def codes(self, path: str) -> list[int]:
        """The statuses of the answers from addresses ending with ``path``."""
        return [code for code, url in self.http if url.split("?")[0].endswith(path)]


State = dict[str, Any]


def _dict_with(**fields: Any) -> Callable[[Any], bool]:
    return lambda d: isinstance(d, dict) and all(d.get(k) == v for k, v in fields.items())


def _has(key: str) -> Callable[[Any], bool]:
    return lambda d: isinstance(d, dict) and key in d


def check_lodge(r: Ran, state: State) -> None:
    assert r.codes("/auth/token") == [200, 200]
    assert r.codes("/declarations") == [201]
    lodged = r.one(_has("reference"))
    assert (lodged["status"], lodged["created"]) == ("lodged", True)
    assert lodged["registration_number"].startswith("19201/")
    check = identify(lodged["reference"])
    assert (check.kind, check.valid) == ("movement_reference", True)
    state["ref"] = lodged["reference"]


def check_codes(r: Ran, state: State) -> None:
    assert [(d["kind"], d["valid"]) for d in r.docs()] == [
        ("movement_reference", True),
        ("mrn", True),
    ]


def check_drive(r: Ran, state: State) -> None:
    ref = state["ref"]
    assert set(r.codes(f"/movements/{ref}/accept") + r.codes("/release")) == {200}
    steps = [d["status"] for d in r.docs() if isinstance(d, dict) and d.get("reference") == ref]
    # accept, release, passage, then the declarant's own view
    assert steps == ["accepted", "released", "in_passage", "in_passage"]
    [outbox] = [d for d in r.docs() if isinstance(d, list)]
    told = {(m["to_state"], m["message_kind"]) for m in outbox}
    assert {("RU", "release_notification"), ("BY", "release_notification")} <= told
    assert r.one(_has("items"))["items"]
    assert all(code == 200 for code, _ in r.http)


def check_elsewhere(r: Ran, state: State) -> None:
    assert r.codes("/arrival") == [422]
    refusal = r.one(_has("code"))
    assert (refusal["code"], refusal["office_state"]) == ("office-other-state", "BY")


def check_route(r: Ran, state: State) -> None:
    ref = state["ref"]
    assert r.codes("/passages") == [200, 200, 200]
    assert r.codes("/arrival") == [200]
    worklist = r.one(lambda d: isinstance(d, list) and any(m.get("reference") == ref for m in d))
    assert worklist
    shown = [d for d in r.docs() if isinstance(d, dict) and d.get("reference") == ref]
    movement = next(d for d in reversed(shown) if "passed_offices" in d)
    assert movement["state"] == "KZ"
    assert movement["status"] == "completed"
    assert {"39201", "10504070", "10113080", "08140"} <= set(movement["passed_offices"])
    log = r.one(_has("verification"))
    assert log["verification"]["ok"] is True
    actors = {e["actor"] for e in log["events"]}
    assert {"message:RU", "message:BY"} <= actors


def check_rules(r: Ran, state: State) -> None:
    api, cli = r.docs()
    assert r.codes("/rules") == [200]
    assert "office-unknown" in {rule["code"] for rule in api}
    assert {rule["code"] for rule in api} == {rule["code"] for rule in cli}


def check_cli(r: Ran, state: State) -> None:
    lodged, shown, verdict = r.docs()
    assert lodged["created"] is True
    assert lodged["reference"] != state["ref"]
    assert (shown["reference"], shown["status"], shown["log_verified"]) == (
        state["ref"],
        "completed",
        True,
    )
    assert (verdict["ok"], verdict["failed"]) == (True, 0)


def check_token(r: Ran, state: State) -> None:
    assert r.codes("/auth/token") == [200]
    assert r.codes("/declarations") == [201]
    lodged = r.one(_has("reference"))
    assert lodged["created"] is True
    assert lodged["reference"] != state["ref"]


def check_guarantee(r: Ran, state: State) -> None:
    registered = r.one(_has("access_code"))
    balance = r.one(_has("usages"))
    assert (balance["grn"], balance["available"], balance["usages"]) == (
        registered["grn"],
        "500000.00",
        [],
    )
    history, quoted = [d for d in r.docs() if isinstance(d, list)]
    assert [h["kind"] for h in history] == ["register"]
    # The guarantee the tour's declaration quotes (the demo traffic's too): the tour's movement
    # locked at its release, and was credited back at its completion.
    ours = [h["kind"] for h in quoted if h["lock_id"] == f"release:{state['ref']}"]
    assert ours == ["lock", "credit"]
    assert r.one(_has("balanced"))["balanced"] is True
    assert r.one(_has("problems"))["total"] == 0


def check_liability(r: Ran, state: State) -> None:
    assert r.codes(f"/movements/{state['ref']}/liability") == [200]
    assert r.one(_has("liability"))["liability"]["items"]


def check_exchange(r: Ran, state: State) -> None:
    ref = state["ref"]
    assert all(code == 200 for code, _ in r.http)
    messages, journal = [d for d in r.docs() if isinstance(d, list)]
    assert messages
    assert {m["channel"] for m in messages} == {"bus"}
    assert all(m["movement_reference"] == ref for m in messages)
    copy = r.one(_dict_with(reference=ref))
    assert copy["status"] == "completed"
    assert "in operation" in r.one(_has("headline"))["headline"]
    assert journal
    assert {(e["from_state"], e["to_state"]) for e in journal} == {("KZ", "BY")}


def check_register(r: Ran, state: State) -> None:
    docs = r.docs()
    assert "in operation" in docs[0]["headline"]
    assert docs[1] == []  # nothing on paper: every pair passed its interstate tests
    assert docs[2] == []  # no dead letter
    assert len(docs[3]) == 6  # a key for each node
    written = r.one(_has("written"))
    assert written["written"] == "evidence.json"
    assert r.one(_has("problems")) == {"ok": True, "problems": []}


def check_seals(r: Ran, state: State) -> None:
    assert r.codes("/devices/listeners") == [200]
    board = r.one(_has("tcp"))
    assert set(board["tcp"]) == {"egts", "wialon", "teltonika"}
    assert "Usage:" in r.out  # the register command's help
    [position] = r.one(lambda d: isinstance(d, list) and d and "lat" in d[0])
    assert (round(position["lat"], 4), round(position["lon"], 4)) == (53.0854, 61.6428)


def check_seal_register(r: Ran, state: State) -> None:
    seal = r.one(_has("seal_id"))
    assert seal["seal_id"] == "KZNS2600000042"


CHECKS: dict[str, Callable[[Ran, State], None]] = {
    "lodge": check_lodge,
    "codes": check_codes,
    "drive": check_drive,
    "elsewhere": check_elsewhere,
    "route": check_route,
    "rules": check_rules,
    "cli": check_cli,
    "token": check_token,
    "guarantee": check_guarantee,
    "liability": check_liability,
    "exchange": check_exchange,
    "register": check_register,
    "seals": check_seals,
    "seal-register": check_seal_register,
}


def test_every_runnable_block_has_its_checks_and_every_check_its_block() -> None:
    names = [name for name, _ in runnable_blocks(README.read_text(encoding="utf-8"))]
    assert len(names) == len(set(names)), f"a block name is used twice: {names}"
    assert set(names) == set(CHECKS)
    # The quick tour's blocks come first and in the order they build on each other.
    assert names[:5] == ["lodge", "codes", "drive", "elsewhere", "route"]


def test_the_run_recipe_is_read_from_the_makefile() -> None:
    assert run_recipe(MAKEFILE.read_text(encoding="utf-8")) == ".venv/bin/silkway run"
    assert run_recipe("run: install\n\t@$(BIN)/silkway run --x\n\nx:\n") == (
        ".venv/bin/silkway run --x"
    )


# --- the Union and the shell ------------------------------------------------------------------


def _needs(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        reason = f"the README's commands need {', '.join(missing)}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


class Shell:
    """One bash, fed a block at a time, as a reader's terminal is."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._send(_PRELUDE)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def run(self, name: str, body: str, timeout_s: float = 120.0) -> Ran:
        folder = self.cwd / ".readme-blocks"
        folder.mkdir(exist_ok=True)
        script, out, err = (folder / f"{name}.{x}" for x in ("sh", "out", "err"))
        script.write_text(body, encoding="utf-8")
        self._send(f'{{ source "{script}"; }} > "{out}" 2> "{err}"; echo "{_DONE} $?"\n')
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"block {name} did not finish within {timeout_s:.0f} s"
                ) from None
            if line.startswith(_DONE):
                status = int(line.split()[1])
                break
        errors = err.read_text(encoding="utf-8")
        http = [
            (int(code), url)
            for code, url in re.findall(rf"^{_HTTP} (\d+) (\S+)$", errors, re.MULTILINE)
        ]
        return Ran(name, status, out.read_text(encoding="utf-8"), errors, http)

    def close(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc.stdout.close()


@dataclass
class Union:
    folder: Path
    env: dict[str, str]
    port: int
    output: list[str]


@pytest.fixture
def union(tmp_path: Path) -> Iterator[Union]:
    _needs("bash", "curl", "python3")
    # The folder a reader runs the README in: the command line where make install puts it.
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    silkway = bin_dir / "silkway"
    silkway.write_text(
        "#!/bin/sh\n"
        f'exec "{sys.executable}" -c "import sys; from silkway.entrypoints.cli import main;'
        ' sys.argv[0] = \'silkway\'; main()" "$@"\n',
        encoding="utf-8",
    )
    silkway.chmod(0o755)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SILKWAY_")}
    env.update(
        SILKWAY_PORT=str(port),
        SILKWAY_EGTS_PORT="0",
        SILKWAY_WIALON_PORT="0",
        SILKWAY_TELTONIKA_PORT="0",
    )
    proc = subprocess.Popen(
        ["bash", "-c", run_recipe(MAKEFILE.read_text(encoding="utf-8"))],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        output.extend(proc.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                reader.join(5)
                raise AssertionError(f"the Union exited: {''.join(output)}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the Union was not ready within 120 s: {''.join(output)}")
            time.sleep(0.2)
        yield Union(tmp_path, env, port, output)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        reader.join(5)
        assert proc.stdout is not None
        proc.stdout.close()


def test_the_readme_runs_as_written(union: Union) -> None:
    base = f"http://127.0.0.1:{union.port}"
    printed = "".join(union.output)
    # What the README says make run prints: the landing page and each node's API.
    assert f"Silkway is up: landing page {base}/" in printed
    for state in ("am", "by", "kz", "kg", "ru", "eec"):
        assert f"API {base}/nodes/{state}/api/v1" in printed

    shell = Shell(union.folder, union.env)
    state: State = {}
    try:
        for name, body in runnable_blocks(README.read_text(encoding="utf-8")):
            ran = shell.run(name, body)
            failed = [line for line in ran.err.splitlines() if line.startswith(_FAILED)]
            assert (ran.status, failed) == (0, []), (
                f"block {name}: exit {ran.status}\n{ran.err}\n{ran.out}"
            )
            try:
                CHECKS[name](ran, state)
            except AssertionError as exc:
                raise AssertionError(f"block {name}: {exc}\n{ran.err}\n{ran.out}") from exc
    finally:
        shell.close()
