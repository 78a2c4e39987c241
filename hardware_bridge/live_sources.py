"""What a live run follows: a network, its sensors' links, demand, and (for a replay) a recording.

- :func:`metr_la_source`: the built-in source ``metr-la``, the METR-LA sensor
  graph with light freeway demand and the recording, as
  :func:`~hardware_bridge.mirror_eval.score_metr_la` builds them;
- :func:`scenario_source`: a scenario's network, demand and loop detectors, for
  devices reporting over MQTT as those detectors (``kota emulate`` publishes a
  scenario's detectors so).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

import numpy as np

from twin.demand import Trips
from twin.network import Network
from twin.scenario import Scenario

from .replay_records import Recording
from .replay_sources import MetrLa
from .sensor_network import SensorNetwork, freeway_trips, metr_la_network

__all__ = ["LIVE_SOURCES", "LiveSource", "metr_la_source", "scenario_sensor_links",
           "scenario_source"]


@dataclass(frozen=True, eq=False)
class LiveSource:
    """Everything a live run of one source needs.

    Attributes
    ----------
    name : str
    network : Network
    sensor_links : mapping of observation source id to the link ids its sensor measures
    trips : Trips, the twin's demand (readings give speeds, not trips)
    seed : int, the engine's seed
    recording : Recording or None, the readings to replay (None: they come from devices)
    time_zone : tzinfo or None, the zone of the twin's clock when it follows devices
    duration_s : float or None, how long the demand lasts (seconds)
    """

    name: str
    network: Network
    sensor_links: Mapping[str, tuple[str, ...]]
    trips: Trips
    seed: int
    recording: Recording | None = None
    time_zone: tzinfo | None = None
    duration_s: float | None = None


def metr_la_source(duration_s: float, *, trips_per_hour: float = 12_000.0, seed: int = 1,
                   recording: MetrLa | None = None,
                   sensor_network: SensorNetwork | None = None) -> LiveSource:
    """METR-LA as :func:`~hardware_bridge.mirror_eval.score_metr_la` builds it: the sensor-graph
    network, light flat freeway demand over ``duration_s`` seconds, the recording."""
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration must be a finite number of seconds > 0, got {duration_s!r}")
    sn = sensor_network if sensor_network is not None else metr_la_network()
    trips = freeway_trips(sn.network, trips_per_hour, duration_s, np.random.default_rng(seed))
    return LiveSource("metr-la", sn.network, sn.sensor_links, trips, seed,
                      recording=recording if recording is not None else MetrLa(),
                      duration_s=float(duration_s))


LIVE_SOURCES: dict[str, Callable[..., LiveSource]] = {"metr-la": metr_la_source}
"""Built-in replayed live sources by name: ``builder(duration_s, **options)``."""


def scenario_sensor_links(scenario: Scenario, network: Network) -> dict[str, tuple[str, ...]]:
    """The link each of a scenario's loop detectors measures, by the source id it reports as.

    The same detectors, with the same ids, as :class:`~twin.runner.TwinRun` places:
    ``[[sensors.loop_detectors]]`` (``<id>-lane<k>`` for each lane of a ``per_lane``
    one), then ``auto_loop_detectors`` on links that have none.
    """
    from twin.sensors import auto_detector_sites

    links: dict[str, tuple[str, ...]] = {}
    for d in scenario.sensors.loop_detectors:
        if d.per_lane:
            lanes = int(network.link_lanes[network.link_index[d.link]])
            links.update({f"{d.id}-lane{k}": (d.link,) for k in range(lanes)})
        else:
            links[d.id] = (d.link,)
    wanted = scenario.sensors.auto_loop_detectors
    if wanted:
        taken = {link for (link,) in links.values()}
        extra = auto_detector_sites(network, max_count=wanted + len(taken))
        links.update({site[0]: (site[1],) for site in
                      [s for s in extra if s[1] not in taken][:wanted]})
    return links


def scenario_source(path: str | Path) -> LiveSource:
    """A scenario's network, demand (as ``kota run`` draws it) and loop detectors, with no
    recording: devices report the readings.

    Raises
    ------
    twin.scenario.ScenarioError, twin.network.NetworkError
        For a broken scenario or network file.
    """
    from twin.assemble import build_network, build_trips, run_seeds
    from twin.scenario import check_against_network, load_scenario

    scenario = load_scenario(path)
    network = build_network(scenario)
    check_against_network(scenario, network)
    demand_rng, engine_seed = run_seeds(scenario.scenario.seed)
    trips = build_trips(scenario, network, demand_rng)
    return LiveSource(scenario.scenario.name, network, scenario_sensor_links(scenario, network),
                      trips, engine_seed, time_zone=scenario.scenario.start.tzinfo,
                      duration_s=float(scenario.scenario.duration_s))
