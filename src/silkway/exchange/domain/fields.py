"""Message body fields as JSON: how the outbox keeps a body until the relay signs and sends it.

Works for every structure of every process from its field specifications, so the exchange needs
no knowledge of what a message means.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from silkway.exchange.domain.processes import STRUCTURES, FieldKind, FieldSpec


def _to_json(spec: FieldSpec, value: Any) -> Any:
    if spec.repeated and isinstance(value, tuple | list):
        return [_one_to_json(spec, v) for v in value]
    return _one_to_json(spec, value)


def _one_to_json(spec: FieldSpec, value: Any) -> Any:
    match spec.kind:
        case FieldKind.GROUP:
            sub = {f.name: f for f in spec.fields}
            return {k: _to_json(sub[k], v) for k, v in value.items()}
        case FieldKind.DATE | FieldKind.DATETIME:
            return value.isoformat()
        case FieldKind.DECIMAL | FieldKind.UUID:
            return str(value)
        case _:
            return value


def _from_json(spec: FieldSpec, value: Any) -> Any:
    if spec.repeated:
        return tuple(_one_from_json(spec, v) for v in value)
    return _one_from_json(spec, value)


def _one_from_json(spec: FieldSpec, value: Any) -> Any:
    match spec.kind:
        case FieldKind.GROUP:
            sub = {f.name: f for f in spec.fields}
            return {k: _from_json(sub[k], v) for k, v in value.items()}
        case FieldKind.DATE:
            return date.fromisoformat(value)
        case FieldKind.DATETIME:
            return datetime.fromisoformat(value)
        case FieldKind.DECIMAL:
            return Decimal(value)
        case FieldKind.UUID:
            return UUID(value)
        case _:
            return value


def fields_to_json(structure: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    specs = {f.name: f for f in STRUCTURES[structure].fields}
    return {k: _to_json(specs[k], v) for k, v in fields.items()}


def fields_from_json(structure: str, data: Mapping[str, Any]) -> dict[str, Any]:
    specs = {f.name: f for f in STRUCTURES[structure].fields}
    return {k: _from_json(specs[k], v) for k, v in data.items()}
