"""Property: whatever arrives on the wire, decoders fail only with ``DecodeError``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from silkway.seals.devices import DecodeError, decode, egts, teltonika, wialon

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

EGTS_FRAME = egts.encode_packet(
    1,
    [
        egts.encode_record(
            1, [egts.encode_term_identity(5, imei="864123456789012")], sst=egts.Service.AUTH
        ),
        egts.encode_record(
            2,
            [
                egts.encode_pos_data(T0, 51.1694, 71.4491, speed_kmh=72.5, course=300),
                egts.encode_ext_pos_data(satellites=9, hdop=1.2),
                egts.encode_ad_sensors_data(digital_inputs={1: 3}, analog_inputs={2: 7}),
            ],
            oid=5,
            time=T0,
        ),
    ],
)
TELTONIKA_FRAMES = [
    teltonika.encode_avl_packet(
        [
            teltonika.AvlRecord(
                time=T0,
                lat=51.1694,
                lon=71.4491,
                satellites=9,
                io={239: (1, 1), 66: (2, 12800), 16: (4, 1000), 78: (8, 5)},
                variable_io={256: b"\x01\x02"},
            )
        ],
        codec,
    )
    for codec in (teltonika.CODEC_8, teltonika.CODEC_8E)
]
WIALON_LINES = [
    wialon.encode_login("864123456789012"),
    wialon.encode_sd(wialon.sd_body(T0, 51.1694, 71.4491, speed_kmh=72, course=300)),
    wialon.encode_d(wialon.d_body(T0, 51.1694, 71.4491, adc=[1.5], params={"seal": 1})),
    wialon.encode_black_box([wialon.sd_body(T0, 1.0, 2.0), wialon.sd_body(T0, 3.0, 4.0)]),
]


def _outcome(call: Callable[[], object]) -> DecodeError | None:
    try:
        call()
    except DecodeError as error:
        return error
    return None


def _never_crashes(call: Callable[[], object]) -> None:
    """Run ``call``; any exception other than ``DecodeError`` fails the test."""
    error = _outcome(call)
    assert error is None or error.reason


@st.composite
def _mutated(draw: st.DrawFn, originals: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            del data[position]
    return bytes(data)


def _all_binary_decoders(data: bytes) -> None:
    _never_crashes(lambda: egts.decode_packet(data, now=T0))
    _never_crashes(lambda: egts.decode_columns([data, EGTS_FRAME, data], now=T0))
    _never_crashes(lambda: egts.split_frames(data))
    _never_crashes(lambda: teltonika.decode_avl_packet(data, now=T0))
    _never_crashes(lambda: teltonika.decode_imei_handshake(data))
    _never_crashes(lambda: teltonika.split_frames(data))
    session = teltonika.TeltonikaSession()
    _never_crashes(lambda: session.feed(teltonika.encode_imei_handshake("864123456789012")))
    _never_crashes(lambda: session.feed(data, now=T0))
    _never_crashes(lambda: decode("egts", data.hex()))
    _never_crashes(lambda: decode("teltonika", data.hex()))


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    _all_binary_decoders(data)


@settings(max_examples=300)
@given(_mutated([EGTS_FRAME, *TELTONIKA_FRAMES]))
def test_mutated_frames(data: bytes) -> None:
    _all_binary_decoders(data)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    session = wialon.WialonSession(require_login=False)
    _never_crashes(lambda: session.handle_line(text, now=T0))
    _never_crashes(lambda: wialon.WialonSession().handle_line(text))
    for protocol in ("egts", "wialon", "teltonika", "other"):
        _never_crashes(lambda protocol=protocol: decode(protocol, text))  # type: ignore[misc]


@settings(max_examples=300)
@given(
    line=st.sampled_from(WIALON_LINES),
    position=st.integers(0, 200),
    replacement=st.sampled_from([";", "|", "#", "NA", "", "9", "-", ".", "\x00", "é", "\r\n"]),
)
def test_mutated_wialon_lines(line: str, position: int, replacement: str) -> None:
    cut = position % len(line)
    mutated = line[:cut] + replacement + line[cut + 1 :]
    session = wialon.WialonSession()
    _never_crashes(lambda: session.handle_line(WIALON_LINES[0]))
    _never_crashes(lambda: session.handle_line(mutated, now=T0))
    _never_crashes(lambda: wialon.decode_lines(mutated))


def test_the_seed_frames_are_valid() -> None:
    assert len(egts.decode_packet(EGTS_FRAME).positions) == 1
    assert all(len(teltonika.decode_avl_packet(f).records) == 1 for f in TELTONIKA_FRAMES)
    session = wialon.WialonSession()
    answers = [session.handle_line(line)[0] for line in WIALON_LINES]
    assert answers == ["#AL#1\r\n", "#ASD#1\r\n", "#AD#1\r\n", "#AB#2\r\n"]
