"""Bad dispatch configuration is refused with a message naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from twin.modules.dispatch import DispatchConfigError, parse_config

from .conftest import make_model

STATION = {"id": "a", "node": "r0c0", "units": {"police": 1}}


@pytest.mark.parametrize(("raw", "key"), [
    ({"stations": [STATION], "calls": {"patience": 3}}, "modules.dispatch.calls.patience"),
    ({"stations": [STATION], "calls": {"patience_mean_s": -1}},
     "modules.dispatch.calls.patience_mean_s"),
    ({"stations": [STATION], "rates": [{"type": "alien", "per_hour": 1}]},
     "modules.dispatch.rates.0.type"),
    ({"stations": [STATION], "rates": [{"type": "fire", "per_hour": 1, "from_hour": 9,
                                         "to_hour": 8}]}, "modules.dispatch.rates.0"),
    ({"stations": []}, "modules.dispatch.stations"),
    ({"stations": [{"id": "a", "node": "r0c0", "units": {"helicopter": 1}}]},
     "modules.dispatch.stations.0.units.helicopter"),
    ({"stations": [STATION], "targets": {"turnout_s": {"plumber": 3}}},
     "modules.dispatch.targets"),
])
def test_bad_config_names_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(DispatchConfigError) as err:
        parse_config(raw)
    assert key in str(err.value)


def test_unknown_node_and_link_are_named() -> None:
    with pytest.raises(ValueError, match=r"stations\.a\.node: unknown node 'nowhere'"):
        make_model({"stations": [{"id": "a", "node": "nowhere", "units": {"police": 1}}]})
    with pytest.raises(ValueError, match=r"incidents\.x\.link: unknown link 'nolink'"):
        make_model({"stations": [STATION], "incidents": [
            {"id": "x", "type": "crime", "link": "nolink", "at_s": 0}]})
    with pytest.raises(ValueError, match="no call taker"):
        make_model({"stations": [STATION],
                    "call_centre": {"shifts": [{"from_hour": 0, "to_hour": 24, "count": 0}]}})
