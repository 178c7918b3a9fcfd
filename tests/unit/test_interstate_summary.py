"""What ``silkway run`` says of its start-up interstate tests: one line per process, and one
problem per failed scenario."""

from __future__ import annotations

from silkway.entrypoints.serve import interstate_summary
from silkway.exchange.conformance import ScenarioOutcome

SCENARIOS = ("accepted", "replay-refused", "unknown-refused", "tampered-refused", "key-refused")


def _passing() -> list[ScenarioOutcome]:
    return [ScenarioOutcome(s, True, "R.006 as expected") for s in SCENARIOS]


def test_the_summary_is_one_line_with_a_count_per_process() -> None:
    results = {
        "P.CP.01": {"KZ->BY": _passing(), "BY->KZ": _passing()},
        "P.SO.01": {"KZ->BY": _passing(), "BY->KZ": _passing()},
    }
    assert interstate_summary(results) == (
        "  interstate tests: P.CP.01 2/2 directions pass, P.SO.01 2/2",
        [],
    )


def test_a_failing_scenario_is_counted_and_named_with_what_it_means() -> None:
    failing = _passing()
    failing[3] = ScenarioOutcome("tampered-refused", False, "R.006 accepted")
    results = {
        "P.CP.01": {"KZ->BY": failing, "BY->KZ": _passing(), "KZ->RU": []},
        "P.SO.01": {"KZ->BY": _passing()},
    }
    line, problems = interstate_summary(results)
    assert line == "  interstate tests: P.CP.01 1/3 directions pass, P.SO.01 1/1"
    assert problems == [
        (
            "P.CP.01 KZ->BY tampered-refused: R.006 accepted;"
            " P.CP.01 messages between KZ and BY go on paper"
        ),
        "P.CP.01 KZ->RU: no scenario ran; P.CP.01 messages between KZ and RU go on paper",
    ]


def test_with_no_process_to_test_the_summary_says_so() -> None:
    assert interstate_summary({}) == ("  interstate tests: no process to test", [])
