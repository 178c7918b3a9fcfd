"""The common processes Silkway runs, as data: roles, message catalogue and payload structures.

Two processes are catalogued:

- **P.CP.01**, exchange between customs authorities when controlling transit. Codes given by the
  EEC (the process, its roles ACT.001–ACT.008, message P.CP.01.MSG.010 with structure
  R.CA.CP.01.001, and the processing result R.006) keep their official values.
- **P.SO.01**, exchange between the national operators of navigation seals (rules: Decision 36
  of 9 April 2024; roles from Board Decision 139 of 14 September 2023). Its technological
  documents take effect on 1 February 2027 and are not published yet, so every code of it is
  Silkway's own.

Every code that is not official is numbered ``….MSG.9nn`` / ``R.SW.….9nn`` so that it can never
be mistaken for an official one.

A structure is described by an ordered tuple of :class:`FieldSpec`; the order is the order of
the XML elements in the structure's shipped XSD.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from silkway.exchange.domain.processes import p_cp_01, p_so_01
from silkway.exchange.domain.processes.p_cp_01 import (
    ANY_ROLE,
    COMMISSION_ANCHORS,
    LOG_ANCHOR,
    PROCEDURE_TRANSIT_CONTROL,
    PROCESS,
    PROCESS_VERSION,
    PROCESSING_RESULT,
    RELEASE_NOTIFICATION,
    ROLES,
)
from silkway.exchange.domain.processes.p_so_01 import (
    ANY_SEAL_ROLE,
    COMPLETION_OPERATOR,
    DEVICE_PROTOCOLS,
    MOVEMENT_ENDINGS,
    PASSAGE_OPERATOR,
    PROCEDURE_SEAL_TRACKING,
    REGISTRATION_OPERATOR,
    SEAL_ANSWERS,
    SEAL_PROCESS,
    SEAL_PROCESSING_RESULT,
    SEAL_ROLES,
    TRACKING_OPERATOR,
)
from silkway.exchange.domain.processes.spec import (
    RESULT_ACCEPTED,
    RESULT_REJECTED,
    FieldKind,
    FieldSpec,
    MessageType,
    ProcessInfo,
    StructureSpec,
    structure_namespace,
)

STRUCTURES: Final[MappingProxyType[str, StructureSpec]] = MappingProxyType(
    {
        spec.code: spec
        for spec in (
            StructureSpec(
                "R.006",
                "Processing result",
                "ProcessingResultDetails",
                (
                    FieldSpec("RelatedEDocId", FieldKind.UUID),
                    FieldSpec(
                        "ProcessingResultCode",
                        FieldKind.CODE,
                        choices=(RESULT_ACCEPTED, RESULT_REJECTED),
                    ),
                    FieldSpec("ProcessingDateTime", FieldKind.DATETIME),
                    FieldSpec(
                        "Error",
                        FieldKind.GROUP,
                        required=False,
                        repeated=True,
                        fields=(
                            FieldSpec("ErrorCode", FieldKind.CODE),
                            FieldSpec("ErrorDescription", FieldKind.TEXT),
                            FieldSpec("Pointer", FieldKind.TEXT, required=False),
                        ),
                    ),
                ),
            ),
            *p_cp_01.STRUCTURE_SPECS,
            *p_so_01.STRUCTURE_SPECS,
        )
    }
)
"""Payload structures by code."""


CATALOGUE: Final[MappingProxyType[str, MessageType]] = MappingProxyType(
    {
        entry.code: entry
        for entry in (
            *p_cp_01.MESSAGE_TYPES,
            *p_so_01.MESSAGE_TYPES,
        )
    }
)
"""Every message Silkway sends or accepts, of every process, by message code."""


PROCESSES: Final[MappingProxyType[str, ProcessInfo]] = MappingProxyType(
    {
        PROCESS: ProcessInfo(
            PROCESS,
            "Exchange between customs authorities when controlling transit",
            PROCESS_VERSION,
            PROCEDURE_TRANSIT_CONTROL,
            PROCESSING_RESULT,
        ),
        SEAL_PROCESS: ProcessInfo(
            SEAL_PROCESS,
            "Exchange between the national operators of navigation seals",
            "1.0.0",
            PROCEDURE_SEAL_TRACKING,
            SEAL_PROCESSING_RESULT,
        ),
    }
)
"""The processes Silkway runs, by process code."""


PROCESSING_RESULTS: Final = frozenset(p.processing_result for p in PROCESSES.values())


def process_of(code: str) -> str:
    """The process a message, role or transaction code belongs to (``P.SO.01.MSG.903`` → ``P.SO.01``)."""
    return code[:7]


def is_processing_result(code: str) -> bool:
    return code in PROCESSING_RESULTS


__all__ = [
    "ANY_ROLE",
    "ANY_SEAL_ROLE",
    "CATALOGUE",
    "COMMISSION_ANCHORS",
    "COMPLETION_OPERATOR",
    "DEVICE_PROTOCOLS",
    "LOG_ANCHOR",
    "MOVEMENT_ENDINGS",
    "PASSAGE_OPERATOR",
    "PROCEDURE_SEAL_TRACKING",
    "PROCEDURE_TRANSIT_CONTROL",
    "PROCESS",
    "PROCESSES",
    "PROCESSING_RESULT",
    "PROCESSING_RESULTS",
    "PROCESS_VERSION",
    "REGISTRATION_OPERATOR",
    "RELEASE_NOTIFICATION",
    "RESULT_ACCEPTED",
    "RESULT_REJECTED",
    "ROLES",
    "SEAL_ANSWERS",
    "SEAL_PROCESS",
    "SEAL_PROCESSING_RESULT",
    "SEAL_ROLES",
    "STRUCTURES",
    "TRACKING_OPERATOR",
    "FieldKind",
    "FieldSpec",
    "MessageType",
    "ProcessInfo",
    "StructureSpec",
    "is_processing_result",
    "process_of",
    "structure_namespace",
]
