"""Wialon IPS 1.1 / 2.0: login, data lines, black box, answer codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkway.seals.devices import DecodeError, decode
from silkway.seals.devices.wialon import (
    WialonSession,
    d_body,
    decode_d,
    decode_sd,
    encode_black_box,
    encode_d,
    encode_login,
    encode_ping,
    encode_sd,
    sd_body,
    wialon_crc,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
IMEI = "864123456789012"

# Checksums computed by hand from the specification (CRC-16/ARC over the text after the
# second '#' up to and including the last ';' or '|'), not by the module under test.
HAND_LOGIN = "#L#2.0;864123456789012;NA;74A4\r\n"
HAND_SD = "#SD#010524;120000;5110.1640;N;07126.9460;E;72;300;347;10;B574\r\n"
HAND_D = (
    "#D#010524;120000;5110.1640;N;07126.9460;E;72;300;347;10;1.2;5;0;12.5,3.3;NA;"
    "seal:1:1,temp:2:-4.5,fw:3:V1.2;BDC9\r\n"
)
HAND_B = (
    "#B#010524;120000;5110.1640;N;07126.9460;E;72;300;347;10|"
    "010524;120100;5110.2000;N;07127.0000;E;60;290;345;9|AEEE\r\n"
)
SD_FIELDS = "010524;120000;5110.1640;N;07126.9460;E;72;300;347;10"
D_EXTRA = "1.2;5;0;12.5,3.3;NA;seal:1:1"


def _logged_in(version: str = "2.0") -> WialonSession:
    session = WialonSession()
    answer, _ = session.handle_line(encode_login(IMEI, version=version))
    assert answer == "#AL#1\r\n"
    return session


def _sd(body: str) -> str:
    return encode_sd(body)


class TestHandWrittenLines:
    def test_login(self) -> None:
        session = WialonSession()
        assert session.handle_line(HAND_LOGIN) == ("#AL#1\r\n", [])
        assert (session.imei, session.version) == (IMEI, "2.0")

    def test_short_data(self) -> None:
        session = _logged_in()
        answer, (position,) = session.handle_line(HAND_SD)
        assert answer == "#ASD#1\r\n"
        assert position.device_id == IMEI
        assert position.time == T0
        assert position.lat == pytest.approx(51.1694, abs=1e-9)
        assert position.lon == pytest.approx(71.4491, abs=1e-9)
        assert (position.speed_kmh, position.course, position.altitude_m) == (72.0, 300, 347.0)
        assert (position.satellites, position.valid, position.stored) == (10, True, False)

    def test_extended_data_params(self) -> None:
        answer, (position,) = _logged_in().handle_line(HAND_D)
        assert answer == "#AD#1\r\n"
        assert position.io == {
            "hdop": 1.2,
            "inputs": 5,
            "outputs": 0,
            "adc1": 12.5,
            "adc2": 3.3,
            "seal": 1,
            "temp": -4.5,
            "fw": "V1.2",
        }

    def test_black_box(self) -> None:
        answer, positions = _logged_in().handle_line(HAND_B)
        assert answer == "#AB#2\r\n"
        assert [p.stored for p in positions] == [True, True]
        assert positions[1].time == T0 + timedelta(minutes=1)

    def test_ping(self) -> None:
        assert WialonSession().handle_line(encode_ping()) == ("#AP#\r\n", [])

    def test_top_level_decode(self) -> None:
        records = decode("wialon", HAND_LOGIN + HAND_SD)
        assert [r["device_id"] for r in records] == [IMEI]
        assert records[0]["time"] == "2024-05-01T12:00:00.000Z"


class TestVersions:
    def test_version_1_1_has_no_checksum(self) -> None:
        session = WialonSession()
        assert session.handle_line(f"#L#{IMEI};secret\r\n")[0] == "#AL#1\r\n"
        assert session.version == "1.1"
        answer, positions = session.handle_line(f"#SD#{SD_FIELDS}\r\n")
        assert answer == "#ASD#1\r\n"
        assert len(positions) == 1

    def test_prefix_identifies_the_unit_without_login(self) -> None:
        answer, (position,) = WialonSession().handle_line(f"2.0;{IMEI}{HAND_SD}")
        assert answer == "#ASD#1\r\n"
        assert position.device_id == IMEI

    def test_bad_prefix_is_a_structure_error(self) -> None:
        assert WialonSession().handle_line(f"3.0;{IMEI}{HAND_SD}")[0] == "#ASD#-1\r\n"

    def test_data_before_login_is_refused_without_answer(self) -> None:
        with pytest.raises(DecodeError) as caught:
            WialonSession().handle_line(HAND_SD)
        assert caught.value.code is None
        assert "login" in caught.value.reason

    def test_several_lines_get_several_answers(self) -> None:
        answer, positions = WialonSession().handle_line(HAND_LOGIN + HAND_SD + encode_ping())
        assert answer == "#AL#1\r\n#ASD#1\r\n#AP#\r\n"
        assert len(positions) == 1


class TestLoginAnswers:
    def test_checksum_error(self) -> None:
        session = WialonSession()
        assert session.handle_line(HAND_LOGIN.replace("74A4", "74A5"))[0] == "#AL#10\r\n"
        assert session.imei is None

    def test_password_error(self) -> None:
        session = WialonSession(check_password=lambda imei, password: password == "s3cret")
        assert session.handle_line(encode_login(IMEI, "wrong"))[0] == "#AL#01\r\n"
        assert session.handle_line(encode_login(IMEI, "s3cret"))[0] == "#AL#1\r\n"

    @pytest.mark.parametrize("body", ["", "a;b;c", "2.0;;NA;"])
    def test_rejected(self, body: str) -> None:
        line = f"#L#{body}" if body != "2.0;;NA;" else encode_login("", "NA")
        session = WialonSession()
        assert session.handle_line(line)[0] == "#AL#0\r\n"
        assert session.last_error is not None


SD_ERRORS = [
    ("-1", "010524;120000;5110.1640;N;07126.9460;E;72;300;347"),
    ("0", "320524;120000;5110.1640;N;07126.9460;E;72;300;347;10"),
    ("0", "010524;126000;5110.1640;N;07126.9460;E;72;300;347;10"),
    ("0", "011324;120000;5110.1640;N;07126.9460;E;72;300;347;10"),
    ("10", "010524;120000;5160.1640;N;07126.9460;E;72;300;347;10"),
    ("10", "010524;120000;9110.1640;N;07126.9460;E;72;300;347;10"),
    ("10", "010524;120000;5110.1640;X;07126.9460;E;72;300;347;10"),
    ("10", "010524;120000;NA;NA;07126.9460;E;72;300;347;10"),
    ("11", "010524;120000;5110.1640;N;07126.9460;E;720;300;347;10"),
    ("11", "010524;120000;5110.1640;N;07126.9460;E;72;360;347;10"),
    ("11", "010524;120000;5110.1640;N;07126.9460;E;72;300;high;10"),
    ("11", "010524;120000;5110.1640;N;07126.9460;E;-5;300;347;10"),
    ("12", "010524;120000;5110.1640;N;07126.9460;E;72;300;347;99"),
    ("12", "010524;120000;5110.1640;N;07126.9460;E;72;300;347;1e1"),
]


class TestDataAnswers:
    @pytest.mark.parametrize(("code", "body"), SD_ERRORS)
    def test_short_data_error_classes(self, code: str, body: str) -> None:
        session = _logged_in()
        assert session.handle_line(_sd(body)) == (f"#ASD#{code}\r\n", [])
        assert session.last_error is not None
        assert session.last_error.code == code

    @pytest.mark.parametrize(("code", "body"), SD_ERRORS)
    def test_extended_data_shares_the_first_codes(self, code: str, body: str) -> None:
        assert _logged_in().handle_line(encode_d(f"{body};{D_EXTRA}"))[0] == f"#AD#{code}\r\n"

    def test_short_data_checksum(self) -> None:
        line = HAND_SD.replace("B574", "B575")
        assert _logged_in().handle_line(line)[0] == "#ASD#13\r\n"

    def test_extended_data_checksum_is_16(self) -> None:
        line = HAND_D.replace("BDC9", "0000")
        assert _logged_in().handle_line(line)[0] == "#AD#16\r\n"

    @pytest.mark.parametrize(
        ("code", "extra"),
        [
            ("12", "x;5;0;;NA;"),
            ("13", "1.2;five;0;;NA;"),
            ("13", "1.2;5;-1;;NA;"),
            ("14", "1.2;5;0;12.5,volts;NA;"),
            ("15", "1.2;5;0;;NA;seal:1"),
            ("15", "1.2;5;0;;NA;seal:4:1"),
            ("15", "1.2;5;0;;NA;seal:1:1.5"),
        ],
    )
    def test_extended_field_errors(self, code: str, extra: str) -> None:
        line = encode_d(f"{SD_FIELDS};{extra}")
        assert _logged_in().handle_line(line)[0] == f"#AD#{code}\r\n"

    def test_time_far_in_the_future(self) -> None:
        session = _logged_in()
        assert session.handle_line(HAND_SD, now=T0 - timedelta(days=3))[0] == "#ASD#0\r\n"
        assert session.handle_line(HAND_SD, now=T0)[0] == "#ASD#1\r\n"

    def test_unknown_values(self) -> None:
        body = "NA;NA;NA;NA;NA;NA;NA;NA;NA;NA"
        session = _logged_in()
        assert session.handle_line(_sd(body))[0] == "#ASD#0\r\n"
        now = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
        answer, (position,) = session.handle_line(_sd(body), now=now)
        assert answer == "#ASD#1\r\n"
        assert position.time == datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
        assert position.valid is False
        assert (position.speed_kmh, position.course, position.satellites) == (None, None, None)

    def test_fractional_seconds(self) -> None:
        position = decode_sd(
            "010524;120000.5;5110.1640;N;07126.9460;E;72;300;347;10", with_crc=False
        )
        assert position.time == T0 + timedelta(milliseconds=500)


class TestBlackBox:
    def test_bad_record_is_not_counted(self) -> None:
        bad = SD_FIELDS.replace(";10", ";99")
        session = _logged_in()
        answer, positions = session.handle_line(encode_black_box([SD_FIELDS, bad]))
        assert answer == "#AB#1\r\n"
        assert len(positions) == 1
        assert session.last_error is not None

    def test_checksum_error_gives_an_empty_count(self) -> None:
        assert _logged_in().handle_line(HAND_B.replace("AEEE", "AEEF"))[0] == "#AB#\r\n"

    def test_mixed_short_and_extended_records(self) -> None:
        line = encode_black_box([SD_FIELDS, f"{SD_FIELDS};{D_EXTRA}"])
        answer, positions = _logged_in().handle_line(line)
        assert answer == "#AB#2\r\n"
        assert positions[1].io["seal"] == 1

    def test_version_1_1(self) -> None:
        line = encode_black_box([SD_FIELDS, SD_FIELDS], version="1.1")
        assert line == f"#B#{SD_FIELDS}|{SD_FIELDS}\r\n"
        assert _logged_in("1.1").handle_line(line)[0] == "#AB#2\r\n"


class TestUnanswerable:
    @pytest.mark.parametrize("line", ["hello", "#X#1;2", "#SD", "\r\n", "#L"])
    def test_raises(self, line: str) -> None:
        with pytest.raises(DecodeError):
            WialonSession().handle_line(line)

    def test_top_level_decode_of_version_1_1_lines(self) -> None:
        (record,) = decode("wialon", f"#SD#{SD_FIELDS}\r\n")
        assert record["satellites"] == 10
        (first, _) = decode("wialon", HAND_B)
        assert first["stored"] is True

    def test_top_level_decode_raises_on_rejection(self) -> None:
        with pytest.raises(DecodeError) as caught:
            decode("wialon", HAND_SD.replace("B574", "0000"))
        assert caught.value.code == "13"


class TestBuilders:
    def test_crc_is_four_uppercase_hex_digits(self) -> None:
        assert wialon_crc("2.0;864123456789012;NA;") == "74A4"

    def test_decode_d_directly(self) -> None:
        body = d_body(T0, 43.25, 76.95, speed_kmh=10, params={"tamper": 1, "volts": 12.5})
        position = decode_d(f"{body};{wialon_crc(body + ';')}", with_crc=True)
        assert position.io == {"tamper": 1, "volts": 12.5}

    def test_decode_sd_rejection_code(self) -> None:
        with pytest.raises(DecodeError) as caught:
            decode_sd(SD_FIELDS + ";0000", with_crc=True)
        assert caught.value.code == "13"

    @given(
        lat=st.floats(-90, 90),
        lon=st.floats(-180, 180),
        speed=st.integers(0, 500),
        course=st.integers(0, 359),
        seconds=st.integers(0, 86400 * 365 * 50),
    )
    def test_round_trip(
        self, lat: float, lon: float, speed: int, course: int, seconds: int
    ) -> None:
        time = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        body = sd_body(time, lat, lon, speed_kmh=speed, course=course, satellites=8)
        answer, (position,) = WialonSession().handle_line(encode_sd(body, prefix_imei=IMEI))
        assert answer == "#ASD#1\r\n"
        # DDMM.MMMM keeps 1/10000 of a minute.
        assert position.lat == pytest.approx(lat, abs=1e-6)
        assert position.lon == pytest.approx(lon, abs=1e-6)
        assert (position.time, position.speed_kmh, position.course) == (time, speed, course)
