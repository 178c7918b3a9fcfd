"""EGTS (GOST R 54619-2011 / GOST 33472-2015) transport frames: decoding, responses, builders.

Pure functions over bytes. A frame is rejected as a whole (``DecodeError`` with the EGTS
processing result code) when its transport layer or record structure is broken; a record whose
content is implausible is marked with its own result code, so that the response tells the
terminal exactly which records were not accepted.

``decode_packet`` gives one frame as objects; ``decode_columns`` gives many frames' positions as
one ``PositionBatch`` for ingestion, with the same checks and errors, and each frame's answer
(the listener's live path). Both walk frames with the same code and read POS_DATA through the
same field layout.
"""

from __future__ import annotations

from silkway.seals.devices.egts.columns import (
    EgtsColumns,
    FrameOutcome,
    RecordResults,
    decode_columns,
)
from silkway.seals.devices.egts.decode import decode_packet
from silkway.seals.devices.egts.encode import (
    encode_ad_sensors_data,
    encode_auth_result,
    encode_ext_pos_data,
    encode_packet,
    encode_pos_data,
    encode_record,
    encode_record_response,
    encode_record_results,
    encode_response,
    encode_subrecord,
    encode_term_identity,
)
from silkway.seals.devices.egts.frames import (
    NTM_EPOCH,
    PROTOCOL,
    AdSensorsData,
    EgtsPacket,
    ExtPosData,
    PacketType,
    RecordResponse,
    ResultCode,
    Route,
    Service,
    ServiceRecord,
    Subrecord,
    SubrecordType,
    SubrecordValue,
    TermIdentity,
)
from silkway.seals.devices.egts.framing import peek_packet_id, split_frames

__all__ = [
    "NTM_EPOCH",
    "PROTOCOL",
    "AdSensorsData",
    "EgtsColumns",
    "EgtsPacket",
    "ExtPosData",
    "FrameOutcome",
    "PacketType",
    "RecordResponse",
    "RecordResults",
    "ResultCode",
    "Route",
    "Service",
    "ServiceRecord",
    "Subrecord",
    "SubrecordType",
    "SubrecordValue",
    "TermIdentity",
    "decode_columns",
    "decode_packet",
    "encode_ad_sensors_data",
    "encode_auth_result",
    "encode_ext_pos_data",
    "encode_packet",
    "encode_pos_data",
    "encode_record",
    "encode_record_response",
    "encode_record_results",
    "encode_response",
    "encode_subrecord",
    "encode_term_identity",
    "peek_packet_id",
    "split_frames",
]
