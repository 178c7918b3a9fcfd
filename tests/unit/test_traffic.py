"""The simulator's traffic model: deterministic by seed, valid, varied, on every corridor."""

from __future__ import annotations

from datetime import date

import pytest

from silkway.examples import example_names
from silkway.sim.traffic import CORRIDOR_SHARES, TrafficModel, corridor_names

TODAY = date(2026, 12, 6)


def test_the_same_seed_gives_the_same_declarations_and_another_seed_others() -> None:
    first = TrafficModel(11).declarations(60, TODAY)
    assert first == TrafficModel(11).declarations(60, TODAY)
    assert [d for _, d in first] != [d for _, d in TrafficModel(12).declarations(60, TODAY)]
    # Movement n is the same whatever batch it is made in.
    assert TrafficModel(11).declarations(5, TODAY, first=31) == first[30:35]


def test_every_corridor_carries_traffic_and_no_two_movements_share_an_lrn_or_a_seal() -> None:
    planned = TrafficModel(3).declarations(400, TODAY)
    assert set(corridor_names(planned)) == set(CORRIDOR_SHARES) == set(example_names())
    lrns = [d.lrn for _, d in planned]
    assert len(set(lrns)) == len(lrns)
    seals = [s for _, d in planned for s in d.seals.navigation_seal_ids]
    assert len(set(seals)) == len(seals)
    # Consignments vary: not every western-road truck carries the same load.
    loads = {
        tuple((i.commodity_code, i.gross_mass_kg) for i in d.items)
        for name, d in planned
        if name == "western-road"
    }
    assert len(loads) > 10
    for _, d in planned:
        assert [i.item_number for i in d.items] == list(range(1, len(d.items) + 1))
        assert all(i.net_mass_kg <= i.gross_mass_kg for i in d.items)


def test_shares_choose_the_corridors() -> None:
    only_rail = TrafficModel(1, shares={"western-rail": 1, "northern-rail": 1})
    assert set(corridor_names(only_rail.declarations(50, TODAY))) == {
        "western-rail",
        "northern-rail",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shares": {"moon-road": 1}}, "no corridor example"),
        ({"shares": {"western-road": 0}}, "positive share"),
        ({"lrn_prefix": "BAD PREFIX"}, "LRN prefix"),
    ],
)
def test_a_model_that_cannot_be_is_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrafficModel(1, **options)  # type: ignore[arg-type]
