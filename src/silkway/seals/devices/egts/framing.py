"""EGTS framing: where one transport frame ends in a stream, and its packet id before decoding."""

from __future__ import annotations

from silkway.seals.devices.crc import crc8_egts
from silkway.seals.devices.egts.frames import (
    ROUTED_HEADER_LEN,
    SHORT_HEADER_LEN,
    U16,
    ResultCode,
    fail,
)


def frame_length(buffer: bytes, offset: int) -> int | None:
    """Length of the frame at ``offset``, None while the header is incomplete."""
    available = len(buffer) - offset
    if available < 1:
        return None
    if buffer[offset] != 1:
        raise fail(f"unsupported protocol version {buffer[offset]}", ResultCode.UNS_PROTOCOL)
    if available < 4:
        return None
    routed = buffer[offset + 2] & 0x20
    hl = buffer[offset + 3]
    expected = ROUTED_HEADER_LEN if routed else SHORT_HEADER_LEN
    if hl != expected:
        raise fail(
            f"header length {hl}, expected {expected} (RTE={1 if routed else 0})",
            ResultCode.INC_HEADERFORM,
        )
    if available < hl:
        return None
    hcs = crc8_egts(buffer[offset : offset + hl - 1])
    if hcs != buffer[offset + hl - 1]:
        raise fail(
            f"header checksum {buffer[offset + hl - 1]:#04x}, computed {hcs:#04x}",
            ResultCode.HEADERCRC_ERROR,
        )
    fdl: int = U16.unpack_from(buffer, offset + 5)[0]
    return hl + fdl + (2 if fdl else 0)


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Cut complete frames off the front of a TCP byte stream; return them and the remainder.

    Raises ``DecodeError`` when a header cannot start a frame (wrong PRV, HL, or HCS): the
    stream is then out of step and the connection should be dropped.
    """
    frames: list[bytes] = []
    offset = 0
    while True:
        length = frame_length(buffer, offset)
        if length is None or len(buffer) - offset < length:
            return frames, bytes(buffer[offset:])
        frames.append(bytes(buffer[offset : offset + length]))
        offset += length


def peek_packet_id(frame: bytes) -> int | None:
    """The PID of a frame whose header is at least long enough to hold one, else None.

    Lets a listener address an error response to a frame that failed to decode.
    """
    if len(frame) < 9:
        return None
    (pid,) = U16.unpack_from(frame, 7)
    return int(pid)
