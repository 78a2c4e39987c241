"""The camera stream from the traffic engine: the scenario run with its virtual cameras.

With ``[modules.enforcement.feed] source = "engine"`` a scenario's ETLE run takes its
camera stream from :class:`~twin.runner.TwinRun`: the microscopic engine moves the
scenario's demand and the virtual cameras of :mod:`twin.cameras` publish ``plate_read``
observations (speeds, plates as read, stop-line crossings with the signal state the
engine showed) and the watched signals' ``signal_state`` changes, exactly the fields the
rules read. The registry holds the simulated fleet's records
(:class:`twin.vehicles.Fleet`) for every plate the cameras read that belongs to a
simulated vehicle (a misread may belong to someone else: the letter then goes to the
wrong owner, as in the field, and the owner disputes it).

The run also stores its observations in the store (as ``kota run`` does), under its
own run id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from twin.observations import Observation, ObservationKind
from twin.runner import TwinRun
from twin.scenario import Scenario
from twin.vehicles import Fleet, Registry

__all__ = ["EngineFeed", "add_read_vehicles", "engine_stream"]


@dataclass(frozen=True)
class EngineFeed:
    """What the engine run gave: the stream by time, the registry and the run's summary."""

    observations: list[Observation]
    registry: Registry
    summary: dict[str, Any]


def engine_stream(scenario: Scenario, *, store_url: str | None = None) -> EngineFeed:
    """Run ``scenario`` in the engine and collect its cameras' observations.

    Parameters
    ----------
    scenario : Scenario, with its ``[[cameras]]``
    store_url : overrides the scenario's ``[store] url`` for the run's own records
    """
    run = TwinRun(scenario, store_url=store_url, modules=())
    seen: list[Observation] = []
    run.bus.subscribe_callback("plate_read/#", seen.append, name="etle-engine-feed")
    run.bus.subscribe_callback("signal_state/#", seen.append, name="etle-engine-signals")
    try:
        result = run.run()
    finally:
        run.close()
    stream = sorted(seen, key=lambda o: o.observed_at)
    registry = Registry()
    add_read_vehicles(registry, run.fleet, stream)
    return EngineFeed(stream, registry, result.summary)


def add_read_vehicles(registry: Registry, fleet: Fleet, observations: Iterable[Observation]) -> int:
    """Add to ``registry`` the fleet's records (owner, vehicle, drivers) of every simulated
    vehicle whose plate a camera read in ``observations``; how many vehicles were new.

    A plate that belongs to no simulated vehicle (unreadable, or misread into a plate
    nobody has) adds nothing, so its case ends with the owner unknown.
    """
    read = {fleet.vehicle_of(o.payload.get("plate")) for o in observations
            if o.kind is ObservationKind.PLATE_READ}
    new = {v for v in read if v is not None and registry.vehicle(fleet.plate(v)) is None}
    if not new:
        return 0
    records = fleet.registry(new)
    registry.add(*records.owners.values(), *records.vehicles.values(), *records.drivers.values())
    return len(new)
