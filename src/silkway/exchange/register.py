"""The Commission's register of common processes, and what interstate tests measured.

Two kinds of status live side by side, and the headline shows both:

- the **declared** stage per process and state (listed ... in operation, suspended), imported
  from the Commission's lists;
- the **measured** status, from the conformance kit's latest results: a process is in operation
  between two states only when its scenarios pass both ways, and in operation in a state when
  that holds with every other member state.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from itertools import permutations
from typing import Any

from silkway.exchange.ports import ConformanceResult, ProcessEntry
from silkway.kernel.errors import DomainError, Violation
from silkway.reference.model import MEMBER_STATES
from silkway.unit_of_work import UnitOfWork

STAGES = (
    "listed",
    "rules_adopted",
    "technical_documents_adopted",
    "joining",
    "interstate_tests",
    "in_operation",
    "suspended",
)
"""How a process becomes operational (DOMAIN.md §6), per process and state."""

COLUMNS = (
    "code",
    "title",
    "group",
    "legal_acts",
    "approved",
    *(f"stage_{s}" for s in MEMBER_STATES),
)


class RegisterImportInvalid(DomainError):
    code = "register-import-invalid"


@dataclass(frozen=True, slots=True)
class ImportReport:
    processes: int
    stages: int


def shipped_register() -> str:
    """The processes Silkway knows of (DOMAIN.md), as CSV."""
    return (
        resources.files("silkway.reference")
        .joinpath("register/processes.csv")
        .read_text(encoding="utf-8")
    )


def import_register(uow: UnitOfWork, text: str, now: datetime, *, source: str) -> ImportReport:
    """Upsert processes and their declared stages from CSV; all or nothing.

    Columns: ``code,title,group,legal_acts,approved,stage_AM,...,stage_RU`` (stages optional,
    blank = unknown). Every row is checked before anything is written.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS[:5] if c not in (reader.fieldnames or ())]
    if missing:
        raise RegisterImportInvalid(
            f"missing columns: {', '.join(missing)}",
            [Violation("column-missing", f"/columns/{c}", "required") for c in missing],
        )
    entries: list[ProcessEntry] = []
    stages: list[tuple[str, str, str]] = []
    violations: list[Violation] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        code = (row.get("code") or "").strip()
        if not _process_code(code):
            violations.append(Violation("process-code-invalid", f"/rows/{line}/code", code[:40]))
            continue
        if code in seen:
            violations.append(Violation("process-duplicate", f"/rows/{line}/code", code))
            continue
        seen.add(code)
        approved = (row.get("approved") or "").strip().lower()
        if approved not in ("true", "false"):
            violations.append(
                Violation("approved-invalid", f"/rows/{line}/approved", "true or false")
            )
            continue
        title = (row.get("title") or "").strip()
        if not title or len(title) > 500:
            violations.append(Violation("title-invalid", f"/rows/{line}/title", "1-500 chars"))
            continue
        entries.append(
            ProcessEntry(
                code,
                title,
                (row.get("group") or code.split(".")[1]).strip()[:4],
                (row.get("legal_acts") or "").strip()[:2000],
                approved == "true",
            )
        )
        for state in MEMBER_STATES:
            stage = (row.get(f"stage_{state}") or "").strip()
            if not stage:
                continue
            if stage not in STAGES:
                violations.append(
                    Violation("stage-invalid", f"/rows/{line}/stage_{state}", stage[:40])
                )
                continue
            stages.append((code, state, stage))
    if violations:
        raise RegisterImportInvalid(
            f"{len(violations)} problem(s) in the register file", violations
        )
    for entry in entries:
        uow.exchange.process_upsert(entry)
    for code, state, stage in stages:
        uow.exchange.stage_set(code, state, stage, now, source)
    return ImportReport(len(entries), len(stages))


def _process_code(code: str) -> bool:
    parts = code.split(".")
    return (
        len(parts) == 3
        and parts[0] == "P"
        and parts[1].isalpha()
        and parts[1].isupper()
        and len(parts[1]) == 2
        and parts[2].isdigit()
        and len(parts[2]) == 2
    )


def pair_status(results: Iterable[ConformanceResult]) -> dict[tuple[str, str, str], bool]:
    """(process, from, to) -> whether every scenario of its latest run passed."""
    status: dict[tuple[str, str, str], bool] = {}
    for r in results:
        key = (r.process, r.from_state, r.to_state)
        status[key] = status.get(key, True) and r.passed
    return status


def in_operation_between(
    status: dict[tuple[str, str, str], bool], process: str, a: str, b: str
) -> bool:
    return status.get((process, a, b), False) and status.get((process, b, a), False)


def headline(uow: UnitOfWork) -> dict[str, Any]:
    """Approved vs in operation: measured and declared, per state and Union-wide."""
    processes = uow.exchange.processes()
    declared = uow.exchange.stages()
    status = pair_status(uow.exchange.conformance_latest())
    approved = [p for p in processes if p.approved]
    measured_union = []
    per_state: dict[str, dict[str, int]] = {
        s: {"declared_in_operation": 0, "measured_in_operation": 0} for s in MEMBER_STATES
    }
    rows = []
    for p in approved:
        pairs = {
            f"{a}-{b}": in_operation_between(status, p.code, a, b)
            for a, b in permutations(MEMBER_STATES, 2)
            if a < b and (p.code, a, b) in status
        }
        state_measured = {
            s: all(in_operation_between(status, p.code, s, o) for o in MEMBER_STATES if o != s)
            for s in MEMBER_STATES
        }
        for s in MEMBER_STATES:
            if declared.get((p.code, s)) == "in_operation":
                per_state[s]["declared_in_operation"] += 1
            if state_measured[s]:
                per_state[s]["measured_in_operation"] += 1
        union_measured = all(state_measured.values())
        if union_measured:
            measured_union.append(p.code)
        rows.append(
            {
                "code": p.code,
                "title": p.title,
                "declared": {s: declared.get((p.code, s)) for s in MEMBER_STATES},
                "measured_pairs": pairs,
                "measured_in_operation": union_measured,
            }
        )
    declared_union = [
        p.code
        for p in approved
        if all(declared.get((p.code, s)) == "in_operation" for s in MEMBER_STATES)
    ]
    return {
        "approved": len(approved),
        "in_operation_measured": len(measured_union),
        "in_operation_declared": len(declared_union),
        "headline": f"{len(measured_union)} of {len(approved)} approved processes in operation"
        " (measured by interstate tests)",
        "per_state": per_state,
        "processes": rows,
    }
