"""EGTS over TCP: one session per terminal connection.

The frames received together are decoded together, straight into one columnar batch
(``egts.decode_columns``), and answered from the same decoding. Every application packet is
answered with a PT=0 response carrying a RECORD_RESPONSE per record (each with that record's own
result). A packet whose header is sound but whose content is not
(data checksum, lengths, unsupported type) is answered with the GOST result code and the
connection stays open; bytes that cannot be cut into frames (wrong version, header length or
header checksum) mean the stream is out of step, and the connection is closed. A TERM_IDENTITY
in the AUTH service names the terminal for the rest of the connection and is answered with a
RESULT_CODE packet.
"""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np

from silkway.seals.devices import egts
from silkway.seals.devices.records import DecodeError
from silkway.seals.domain.telemetry import PositionBatch
from silkway.seals.listeners.tcp import MAX_EGTS_FRAME_BYTES, Reply

__all__ = ["EgtsSession"]

log = logging.getLogger("silkway.listeners")

_SHORT_HEADER = 11
_ROUTED_HEADER = 16


class EgtsSession:
    """The state of one EGTS connection: the terminal's identity and the server's counters."""

    def __init__(self, *, max_frame_bytes: int = MAX_EGTS_FRAME_BYTES) -> None:
        self.device_id: str | None = None
        self._max_frame_bytes = max_frame_bytes
        self._buffer = b""
        self._pid = 0
        self._rn = 0

    def feed(self, chunk: bytes, now: datetime) -> Reply:
        self._buffer += chunk
        reply = Reply()
        try:
            frames, self._buffer = egts.split_frames(self._buffer)
        except DecodeError as error:
            return self._out_of_step(error)
        if frames:
            self._answer(frames, now, reply)
        if len(self._buffer) > self._max_frame_bytes:
            log.info("egts: frame over %d bytes, closing", self._max_frame_bytes)
            reply.errors += 1
            reply.close = True
        return reply

    def _answer(self, frames: list[bytes], now: datetime, reply: Reply) -> None:
        start = 0
        while start < len(frames):
            decoded = egts.decode_columns(frames[start:], device_id=self.device_id, now=now)
            start += self._answer_decoded(decoded, reply)

    def _answer_decoded(self, decoded: egts.EgtsColumns, reply: Reply) -> int:
        """Answer the decoded frames in order and take their positions; return how many frames.

        A frame in which the terminal names itself for the first time ends the run: the frames
        after it were decoded before the connection knew whose they are, and are decoded again.
        """
        outcomes = decoded.frames
        taken = [False] * len(outcomes)
        answered = len(outcomes)
        for index, outcome in enumerate(outcomes):
            reply.frames += 1
            if outcome.error is not None:
                log.info("egts %s: packet refused: %s", self.device_id, outcome.error.reason)
                reply.errors += 1
                reply.answer += self._refusal(outcome.pid, outcome.error)
                continue
            if outcome.pt == egts.PacketType.RESPONSE:
                continue  # the terminal confirming one of our packets (the AUTH result)
            reply.answer += decoded.response(index, pid=self._next_pid())
            taken[index] = True
            reply.errors += len(outcome.rejected)
            identity = outcome.identity
            if identity is not None:
                named = self.device_id is None
                if named:
                    self.device_id = identity.imei or str(identity.tid)
                self._rn = (self._rn + 1) & 0xFFFF
                reply.answer += egts.encode_auth_result(self._next_pid(), self._rn)
                if named and index + 1 < len(outcomes):
                    answered = index + 1
                    break
        reply.add(_positions_of(decoded, taken))
        return answered

    def _out_of_step(self, error: DecodeError) -> Reply:
        log.info("egts %s: stream out of step, closing: %s", self.device_id, error.reason)
        reply = Reply(close=True, errors=1)
        # A header whose only fault is its checksum is still answered, as GOST asks, when it is
        # the first thing buffered (its PID is then where the header says).
        if error.code == egts.ResultCode.HEADERCRC_ERROR and self._header_fails_first():
            reply.answer = self._refusal(egts.peek_packet_id(self._buffer), error)
        self._buffer = b""
        return reply

    def _header_fails_first(self) -> bool:
        buffer = self._buffer
        if len(buffer) < 4:
            return False
        header = _ROUTED_HEADER if buffer[2] & 0x20 else _SHORT_HEADER
        try:
            egts.split_frames(buffer[:header])
        except DecodeError:
            return True
        return False

    def _refusal(self, pid: int | None, error: DecodeError) -> bytes:
        if pid is None:
            return b""
        code = error.code if isinstance(error.code, int) else egts.ResultCode.INC_DATAFORM
        return egts.encode_packet(self._next_pid(), pt=egts.PacketType.RESPONSE, rpid=pid, pr=code)

    def _next_pid(self) -> int:
        pid = self._pid
        self._pid = (pid + 1) & 0xFFFF
        return pid


def _positions_of(decoded: egts.EgtsColumns, taken: list[bool]) -> PositionBatch:
    """The positions of the frames ``taken``: the decoded batch itself when no other has any."""
    batch = decoded.positions
    if all(keep or not outcome.fixes for keep, outcome in zip(taken, decoded.frames, strict=True)):
        return batch
    counts = np.array([outcome.fixes for outcome in decoded.frames], dtype=np.intp)
    owner = np.repeat(np.arange(len(counts)), counts)
    return batch.take(np.flatnonzero(np.array(taken, dtype=np.bool_)[owner]))
