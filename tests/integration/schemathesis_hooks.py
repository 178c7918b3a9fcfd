"""Schemathesis hooks for Silkway's API contract, loaded through ``schemathesis.toml``."""

from __future__ import annotations

import json
from typing import Any

import schemathesis

# Telemetry batches are JSON lines: text on the wire, sent as the schema's string.
schemathesis.serializer.alias(["application/x-ndjson", "application/jsonl"], "text/plain")

SCHEMA_REFUSALS = frozenset({"request-invalid"})
"""The problem codes of a request refused for not matching its schema (FastAPI's check)."""


@schemathesis.check
def valid_data_passes_the_schema(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A request generated to match the schema is never refused as not matching it (422
    ``request-invalid``) nor as malformed (400). A 422 with a rule's own code is the domain
    refusing what no schema can say, which ``schemathesis.toml`` lets positive data meet."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code == 400 or (
        response.status_code == 422 and _problem_code(response) in SCHEMA_REFUSALS
    ):
        raise AssertionError(
            f"A schema-valid request was refused by the schema layer: {response.status_code} "
            f"{response.content[:500]!r}"
        )
    return None


def _problem_code(response: schemathesis.Response) -> Any:
    try:
        return json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        return None
