"""The hash-chained event log: its canonical form and the verdicts on tampered chains."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from silkway.transit.domain.audit import (
    GENESIS_HASH,
    EventRecord,
    append,
    canonical_bytes,
    record_hash,
    verify_chain,
)

REFERENCE = "KZ26MOV00000017"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def chain(length: int = 20) -> list[EventRecord]:
    records: list[EventRecord] = []
    previous: EventRecord | None = None
    for n in range(length):
        previous = append(
            previous,
            REFERENCE,
            ("lodge", "record_passage", "record_incident")[n % 3],
            {"n": n, "office": "10216100", "note": "пломба №7", "items": [1, 2]},
            T0 + timedelta(minutes=n),
            "55301",
        )
        records.append(previous)
    return records


def test_an_intact_chain_verifies() -> None:
    records = chain()
    verdict = verify_chain(records, movement_reference=REFERENCE, head_hash=records[-1].hash)
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq, verdict.reason) == (
        True,
        20,
        None,
        None,
    )


def test_records_link_to_their_predecessor() -> None:
    records = chain(3)
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH
    assert records[1].prev_hash == records[0].hash
    assert records[2].prev_hash == records[1].hash


def test_an_empty_chain_is_sound() -> None:
    assert verify_chain([]).ok


TAMPERING: list[tuple[str, Any]] = [
    ("kind", "record_arrival"),
    ("payload", {"n": 6, "office": "10404000", "note": "пломба №7", "items": [1, 2]}),
    ("at", T0 + timedelta(minutes=6, microseconds=1)),
    ("actor", "06611"),
    ("movement_reference", "KZ26MOV00000018"),
    ("prev_hash", "f" * 64),
    ("hash", "0" * 64),
    ("seq", 8),
]


@pytest.mark.parametrize(("field", "value"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_a_changed_field_is_caught_at_its_record(field: str, value: Any) -> None:
    records = chain()
    records[6] = replace(records[6], **{field: value})
    for reference in (REFERENCE, None):
        verdict = verify_chain(records, movement_reference=reference)
        assert not verdict.ok
        assert verdict.first_bad_seq == 7
        assert verdict.checked == 6
        assert verdict.reason


def test_a_payload_changed_in_place_is_caught() -> None:
    records = chain()
    records[6].payload["n"] = 600
    assert verify_chain(records).first_bad_seq == 7


def test_a_rewritten_record_with_a_fresh_hash_breaks_the_next_link() -> None:
    records = chain()
    forged = records[6]
    forged_payload = {**forged.payload, "office": "10404000"}
    forged_hash = record_hash(
        forged.prev_hash, REFERENCE, 7, forged.kind, forged_payload, forged.at, forged.actor
    )
    records[6] = replace(forged, payload=forged_payload, hash=forged_hash)
    verdict = verify_chain(records)
    assert verdict.first_bad_seq == 8
    assert verdict.reason is not None
    assert "link" in verdict.reason


@pytest.mark.parametrize("removed", [0, 6, 18])
def test_a_missing_record_is_named(removed: int) -> None:
    records = chain()
    del records[removed]
    verdict = verify_chain(records)
    assert not verdict.ok
    assert verdict.first_bad_seq == removed + 1
    assert verdict.reason is not None
    assert "missing or reordered" in verdict.reason


def test_reordered_records_are_caught() -> None:
    records = chain()
    records[6], records[7] = records[7], records[6]
    verdict = verify_chain(records)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 7)


def test_a_chain_of_another_movement_is_refused() -> None:
    verdict = verify_chain(chain(), movement_reference="KZ26MOV00000099")
    assert (verdict.ok, verdict.first_bad_seq, verdict.checked) == (False, 1, 0)


def test_records_removed_from_the_end_are_caught_against_the_anchored_head() -> None:
    records = chain()
    verdict = verify_chain(records[:17], head_hash=records[-1].hash)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 18)
    assert verify_chain(records[:17]).ok


def test_records_beyond_the_anchored_head_are_caught() -> None:
    records = chain()
    verdict = verify_chain(records, head_hash=records[9].hash)
    assert (verdict.ok, verdict.first_bad_seq, verdict.checked) == (False, 11, 10)


def test_canonical_form_is_the_documented_one() -> None:
    at = datetime(2026, 3, 1, 13, 0, 0, 5, tzinfo=timezone(timedelta(hours=5)))
    expected = (
        '{"actor":"55301","at":"2026-03-01T08:00:00.000005Z","kind":"lodge",'
        '"movement_reference":"R-1","payload":{"a":[1,"x"],"b":null,"é":"ü\\n"},'
        f'"prev_hash":"{GENESIS_HASH}","seq":1}}'
    ).encode()
    payload: dict[str, Any] = {"é": "ü\n", "b": None, "a": [1, "x"]}
    assert canonical_bytes(GENESIS_HASH, "R-1", 1, "lodge", payload, at, "55301") == expected
    record = append(None, "R-1", "lodge", payload, at, "55301")
    assert record.hash == hashlib.sha256(expected).hexdigest()
    assert record.at == datetime(2026, 3, 1, 8, 0, 0, 5, tzinfo=UTC)


def test_the_record_keeps_its_own_copy_of_the_payload() -> None:
    payload: dict[str, Any] = {"offices": ["10216100"]}
    record = append(None, REFERENCE, "record_passage", payload, T0, "10216100")
    payload["offices"].append("10404000")
    assert record.payload == {"offices": ["10216100"]}
    assert verify_chain([record]).ok


def test_append_refuses_bad_input() -> None:
    first = append(None, REFERENCE, "lodge", {}, T0, "55301")
    with pytest.raises(ValueError, match="cannot follow"):
        append(first, "KZ26MOV00000018", "accept", {}, T0, "55301")
    with pytest.raises(ValueError, match="time zone"):
        append(first, REFERENCE, "accept", {}, datetime(2026, 3, 1, 8, 0), "55301")
    with pytest.raises(ValueError, match="not plain JSON"):
        append(first, REFERENCE, "accept", {"mass": float("nan")}, T0, "55301")


def test_a_record_that_cannot_be_hashed_is_reported_not_raised() -> None:
    records = chain(3)
    records[1] = replace(records[1], at=datetime(2026, 3, 1, 8, 1))
    verdict = verify_chain(records)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 2)
    assert verdict.reason is not None
    assert "cannot be hashed" in verdict.reason
