"""Route queries the rules lean on: one-chainage arithmetic and states along the route."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.seals.tracks import GEOMETRY

from silkway.seals.domain.corridor import GeometryInvalid


@pytest.mark.parametrize("progress", [0.0, -1e-7, 0.5, 1234.5678, "end", "end+", "end-"])
def test_one_chainage_gives_what_an_array_of_them_gives(progress: float | str) -> None:
    corridor = GEOMETRY.corridor
    length = corridor.length_km
    value = {"end": length, "end+": length + 1e-7, "end-": length - 1e-9}.get(
        str(progress), progress
    )
    assert isinstance(value, float)
    assert corridor.remaining_km(value) == corridor.remaining_km(np.array([value]))[0]


@pytest.mark.parametrize("progress", [-1e-5, 1e12, float("nan"), float("inf")])
def test_one_chainage_off_the_route_is_refused_as_an_array_is(progress: float) -> None:
    with pytest.raises(GeometryInvalid) as one:
        GEOMETRY.corridor.remaining_km(progress)
    with pytest.raises(GeometryInvalid) as many:
        GEOMETRY.corridor.remaining_km(np.array(progress))
    assert one.value.message == many.value.message


def test_state_indices_name_the_states_along_the_route() -> None:
    corridor = GEOMETRY.corridor
    progress = np.linspace(0.0, corridor.length_km, 500)
    lats, lons = corridor.points_at(progress)
    located = corridor.locate(lats, lons)
    states = GEOMETRY.states_at(located.segment_index, located.progress_km)
    indices = GEOMETRY.state_indices_at(located.segment_index, located.progress_km)
    assert states == [GEOMETRY.state_codes[i] for i in indices.tolist()]
    assert list(dict.fromkeys(states)) == ["KZ", "RU", "BY"]
    assert dict(GEOMETRY.member_rank) == {"KZ": 0, "RU": 1, "BY": 2}
