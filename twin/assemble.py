"""Turn a validated scenario into the network and the trips it names."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from twin import demand
from twin.demand.event import event_trips
from twin.importers import load_network
from twin.importers.grid import grid_network
from twin.importers.signals import add_default_signals
from twin.network import Network, NetworkError
from twin.scenario import Scenario, ScenarioError


def run_seeds(seed: int) -> tuple[np.random.Generator, int]:
    """The demand generator and the engine seed a run derives from the scenario seed.

    Every place that builds a scenario's trips (``kota run``, ``kota validate``)
    uses this, so they draw the same trips.
    """
    demand_seq, engine_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(demand_seq), int(engine_seq.generate_state(1)[0])


def build_network(scenario: Scenario) -> Network:
    """Load or generate the scenario's network, with its ``[[network.signals]]``.

    Raises
    ------
    ScenarioError
        When a ``[[network.signals]]`` entry cannot be applied (naming it).
    """
    spec = scenario.network
    if spec.format == "grid":
        g = spec.grid
        assert g is not None  # checked by the scenario schema
        network = grid_network(
            g.rows, g.cols, block_m=g.block_m, lanes=g.lanes, speed_limit_mps=g.speed_limit_mps,
            capacity_per_lane_vph=g.capacity_per_lane_vph, signals=g.signals,
            name=scenario.scenario.name,
        )
    else:
        assert spec.file is not None
        network = load_network(scenario.resolve(spec.file), format=spec.format)
    for i, sig in enumerate(spec.signals):
        try:
            network = add_default_signals(network, [sig.node], [sig.id or sig.node])
        except NetworkError as exc:
            raise ScenarioError(f"{scenario.path or 'scenario'}: network.signals.{i}: {exc}") from None
    if spec.speed_limit_factor != 1.0:
        network = dataclasses.replace(
            network, link_speed_limit_mps=network.link_speed_limit_mps * spec.speed_limit_factor)
    return network


def _profile(scenario: Scenario) -> demand.TimeProfile:
    p = scenario.demand.profile
    if p == "flat":
        return demand.FLAT
    if p == "morning_peak":
        return demand.MORNING_PEAK
    if p == "evening_peak":
        return demand.EVENING_PEAK
    return demand.TimeProfile(tuple((float(a), float(b)) for a, b in p), name="scenario")


def build_trips(scenario: Scenario, network: Network, rng: np.random.Generator) -> demand.Trips:
    """The scenario's trips on ``network``, drawn with ``rng``: the ``[demand]`` and then
    each ``[[events]]`` entry's trips (ids ``event-{id}-{k}``)."""
    trips = _demand_trips(scenario, network, rng)
    for ev in scenario.events:
        mix = ev.vehicle_mix or scenario.demand.vehicle_mix or demand.JAKARTA_VEHICLE_MIX
        _check_mix(mix, f"events.{ev.id}.vehicle_mix")
        try:
            extra = event_trips(network, ev.origin, ev.trips, start_s=ev.start_s, end_s=ev.end_s,
                                rng=rng, destinations=ev.destinations, vehicle_mix=mix,
                                id_prefix=f"event-{ev.id}-")
        except demand.DemandError as exc:
            raise ScenarioError(f"{scenario.path or 'scenario'}: events.{ev.id}: {exc}") from None
        trips = trips.concat(extra)
    return trips


def _check_mix(mix: dict[str, float] | Any, where: str) -> None:
    unknown = set(mix) - set(demand.VEHICLE_CLASSES)
    if unknown:
        raise ScenarioError(f"{where}: unknown vehicle class(es) {sorted(unknown)}; "
                            f"known: {', '.join(demand.VEHICLE_CLASSES)}")


def _demand_trips(scenario: Scenario, network: Network, rng: np.random.Generator
                  ) -> demand.Trips:
    spec = scenario.demand
    duration_s = scenario.scenario.duration_s
    mix = spec.vehicle_mix or demand.JAKARTA_VEHICLE_MIX
    _check_mix(mix, "demand.vehicle_mix")
    if spec.kind == "random":
        assert spec.trips_per_hour is not None
        return demand.random_trips(
            network, trips_per_hour=spec.trips_per_hour * spec.scale, duration_s=duration_s,
            rng=rng, vehicle_mix=mix, profile=_profile(scenario),
        )
    if spec.kind == "od":
        od: dict[tuple[str | int, str | int], float] = {
            (o, d): float(n) for o, d, n in spec.od or []
        }
        return demand.od_trips(network, od, duration_s=duration_s, rng=rng,
                               profile=_profile(scenario), vehicle_mix=mix, scale=spec.scale)
    if spec.kind == "tntp":
        assert spec.file is not None
        tntp_od = demand.read_tntp_trips(scenario.resolve(spec.file))
        return demand.od_trips(network, dict(tntp_od.items()), duration_s=duration_s, rng=rng,
                               profile=_profile(scenario), vehicle_mix=mix, scale=spec.scale)
    assert spec.file is not None
    return demand.read_sumo_routes(scenario.resolve(spec.file), network, rng=rng)
