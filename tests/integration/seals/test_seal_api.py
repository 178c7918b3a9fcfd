"""The seal routes of the node API: registry, JSON-lines telemetry, tracks, incidents, stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.auth import NodeClient
from tests.integration.seals.seal_support import (
    IMEI,
    SEAL_ID,
    corridor_track,
    count_rows,
    released_movement,
)

from silkway.bootstrap import Node
from silkway.node.clock import ManualClock
from silkway.seals.db.tables import seal_positions
from silkway.web.app import create_node_app

API = "/api/v1"
NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture
def client(node: Node) -> Iterator[TestClient]:
    with NodeClient(create_node_app(node), node) as c:
        yield c


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    for err in body["errors"]:
        assert {"code", "pointer", "message"} <= err.keys()
    return dict(body)


def lines(node: Node, clock: ManualClock, count: int, **extra: Any) -> str:
    track = corridor_track(node, clock.now(), count=count)
    rows = [
        {
            "device_id": p.device_id,
            "time": p.time.isoformat(),
            "lat": p.lat,
            "lon": p.lon,
            "speed_kmh": p.speed_kmh,
            "battery_pct": 80,
            **extra,
        }
        for p in track
    ]
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def register(client: TestClient) -> None:
    r = client.post(
        f"{API}/seals",
        json={"seal_id": SEAL_ID, "protocol": "egts", "imei": IMEI, "reporting_period_s": 60},
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "registered"


def test_registry_routes(client: TestClient) -> None:
    register(client)
    assert client.get(f"{API}/seals/{SEAL_ID}").json()["imei"] == IMEI
    assert [s["seal_id"] for s in client.get(f"{API}/seals?operator=KZ").json()] == [SEAL_ID]
    again = client.post(f"{API}/seals", json={"seal_id": SEAL_ID, "protocol": "egts", "imei": IMEI})
    assert assert_problem(again, 409)["code"] == "seal-exists"
    bad = client.post(f"{API}/seals", json={"seal_id": "x", "protocol": "fax", "imei": "1"})
    pointers = {e["pointer"] for e in assert_problem(bad, 422)["errors"]}
    assert {"/seal_id", "/protocol"} <= pointers
    assert_problem(client.get(f"{API}/seals/NOSUCHSEAL"), 404)


def test_ndjson_batch_through_to_track_and_incidents(
    client: TestClient, node: Node, clock: ManualClock
) -> None:
    register(client)
    movement = released_movement(node)
    body = lines(node, clock, 300)
    clock.advance(timedelta(days=1))
    r = client.post(f"{API}/telemetry", content=body, headers=NDJSON)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 300
    assert r.json()["handovers"] == 2
    track = client.get(f"{API}/movements/{movement.reference}/track?tolerance_km=2").json()
    assert track["stored_points"] == 300
    assert track["current_state"] == "BY"
    assert track["seals"] == [SEAL_ID]
    assert len(track["points"]) < 300
    assert client.get(f"{API}/seal-incidents").json() == []
    assert_problem(client.get(f"{API}/movements/SW26KZ999999999999/track"), 404)


def test_malformed_batches_get_problem_json_and_store_nothing(
    client: TestClient, node: Node, clock: ManualClock
) -> None:
    register(client)
    released_movement(node)
    good = lines(node, clock, 5)
    broken = good + '{"device_id": "1", "time": "2026-12-01T08:00:00", "lat": 91, "lon": 1}\n'
    body = assert_problem(client.post(f"{API}/telemetry", content=broken, headers=NDJSON), 422)
    assert body["code"] == "batch-invalid"
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/5/time", "/5/lat"} <= pointers
    not_json = good + "{not json\n"
    body = assert_problem(client.post(f"{API}/telemetry", content=not_json, headers=NDJSON), 422)
    assert body["errors"][0]["pointer"] == "/5"
    unknown_field = lines(node, clock, 1, colour="red")
    assert_problem(client.post(f"{API}/telemetry", content=unknown_field, headers=NDJSON), 422)
    assert_problem(client.post(f"{API}/telemetry", content="\n\n", headers=NDJSON), 422)
    assert_problem(client.post(f"{API}/telemetry", content=b"\xff\xfe", headers=NDJSON), 400)
    wrong_type = client.post(
        f"{API}/telemetry", content=good, headers={"content-type": "application/json"}
    )
    assert assert_problem(wrong_type, 415)["code"] == "media-type-unsupported"
    assert count_rows(node, seal_positions) == 0


def test_incident_worklist_closure_and_live_stream(
    client: TestClient, node: Node, clock: ManualClock
) -> None:
    register(client)
    movement = released_movement(node)
    body = lines(node, clock, 20, events=["housing_opened"])
    clock.advance(timedelta(hours=1))
    r = client.post(f"{API}/telemetry", content=body, headers=NDJSON)
    assert r.json()["incidents_opened"] == 1
    [incident] = client.get(f"{API}/seal-incidents?office=19201&status=open").json()
    assert incident["code"] == "02"
    assert incident["points"] == 20
    assert incident["movement_reference"] == movement.reference
    assert client.get(f"{API}/seal-incidents?office=41701").json() == []

    with client.stream("GET", f"{API}/seal-incidents/stream?wait=0") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert [e["code"] for e in events] == ["02"]
    assert f"id: {incident['seq']}" in text

    closed = client.post(
        f"{API}/seal-incidents/{incident['id']}/closure", json={"note": "inspected, resealed"}
    ).json()
    assert closed["status"] == "closed"
    resumed = client.get(
        f"{API}/seal-incidents/stream?wait=0", headers={"Last-Event-ID": str(incident["seq"])}
    ).text
    assert '"status":"closed"' in resumed
    assert_problem(
        client.get(f"{API}/seal-incidents/stream?wait=0", headers={"Last-Event-ID": "x"}), 422
    )
    assert_problem(client.post(f"{API}/seal-incidents/999/closure", json={"note": "n"}), 404)
    clock.advance(timedelta(minutes=10))
    silent = client.post(f"{API}/seal-incidents/silence-check").json()
    assert [i["code"] for i in silent["opened"]] == ["06"]
