"""A road network built from a sensor graph, for mirroring sensors that have no street map here.

METR-LA's 207 sensors sit on Los Angeles freeways, and there is no LA street
network in this project. :func:`sensor_graph_network` builds a stand-in from
what the recording does ship: the sensor coordinates and the DCRNN sensor
adjacency.

Construction
------------
- **Nodes** are the sensors, at their coordinates.
- **Links** are the adjacency's directed edges ``i -> j`` (weight > 0, no
  self-loops), *pruned*: DCRNN's weights are a Gaussian kernel of the road
  distance, ``w = exp(-(d / sigma)^2)`` thresholded at 0.1, so they link a sensor
  to every sensor within a few kilometres downstream, not only the next one.
  With ``r = sqrt(-ln w)`` (proportional to the road distance), the edge
  ``i -> k`` is dropped when some ``j`` gives ``r(i, j) + r(j, k) <= (1 + detour)
  r(i, k)``: ``k`` is reached through ``j`` at (almost) the same distance, so
  ``j`` lies between them. For METR-LA (``detour`` 0.05) this keeps 467 of 1,515
  edges.
- **Lengths** are the haversine distances between the sensors (the straight
  line, shorter than the road), at least ``min_length_m``.
- **Lanes and speed**: every link gets ``lanes`` lanes (4: LA freeway mainlines
  have 3-5 per direction) and ``speed_limit_mps`` (65 mph, California's
  maximum on urban freeways), capacity ``lanes x capacity_vph_per_lane``
  (2,000, the HCM basic freeway segment order of magnitude). Lane connections
  are :func:`twin.network.default_connections`; no signals.
- **Exits**: a sensor with no outgoing edge gets an ``exit_stub_m`` link
  onwards (in the direction of its incoming edges) to a node ``<id>-exit``, so
  every sensor has a link it measures.

Each sensor *measures* the links leaving its node (:attr:`SensorNetwork.sensor_links`):
the road from the loop to the next sensors downstream. Each link is measured by
exactly one sensor, its from-node.

This is a stand-in for the road network, not a map of it: distances are
straight lines, ramps and arterials are missing, and junction rules apply at
every sensor where links merge.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from twin.demand import Trips, random_trips
from twin.network import EARTH_RADIUS_M, Network

from .replay_sources import DATA_DIR, MPH_TO_MPS

__all__ = [
    "FREEWAY_SPEED_LIMIT_MPS",
    "SensorNetwork",
    "freeway_trips",
    "haversine_m",
    "metr_la_network",
    "prune_detours",
    "sensor_graph_network",
]

FREEWAY_SPEED_LIMIT_MPS = 65.0 * MPH_TO_MPS
"""65 mph in m/s, the speed limit on California's urban freeways."""


@dataclass(frozen=True, eq=False)
class SensorNetwork:
    """A network built from a sensor graph.

    Attributes
    ----------
    network : Network
    sensor_links : mapping of sensor (source) id to the ids of the links it measures
    """

    network: Network
    sensor_links: Mapping[str, tuple[str, ...]]


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def prune_detours(weights: NDArray[np.float64], detour: float = 0.05) -> NDArray[np.bool_]:
    """The edges of a Gaussian-kernel adjacency that no intermediate sensor explains.

    Parameters
    ----------
    weights : (n, n) array, ``weights[i, j] > 0`` for an edge ``i -> j``, values in (0, 1]
    detour : float >= 0, the relative slack of "on the way"

    Returns
    -------
    (n, n) bool array of the kept edges (no diagonal).
    """
    w = np.asarray(weights, dtype=np.float64)
    n = w.shape[0]
    edge = (w > 0) & ~np.eye(n, dtype=bool)
    r = np.full((n, n), np.inf)
    r[edge] = np.sqrt(-np.log(np.minimum(w[edge], 1.0)))
    keep = edge.copy()
    for i in range(n):
        for k in np.flatnonzero(edge[i]):
            via = r[i] + r[:, k]
            via[i] = via[k] = np.inf
            if (via <= r[i, k] * (1.0 + detour)).any():
                keep[i, k] = False
    return keep


def sensor_graph_network(
    sensor_ids: Sequence[str],
    lon: Sequence[float] | NDArray[np.float64],
    lat: Sequence[float] | NDArray[np.float64],
    weights: NDArray[np.float64],
    *,
    name: str = "sensor-graph",
    source_ids: Sequence[str] | None = None,
    detour: float = 0.05,
    lanes: int = 4,
    speed_limit_mps: float = FREEWAY_SPEED_LIMIT_MPS,
    capacity_vph_per_lane: float = 2000.0,
    min_length_m: float = 30.0,
    exit_stub_m: float = 500.0,
) -> SensorNetwork:
    """Build the network of the module docstring.

    Parameters
    ----------
    sensor_ids : node ids, one per sensor, in the order of ``weights``' rows
    lon, lat : degrees, per sensor
    weights : (n, n) Gaussian-kernel adjacency (see :func:`prune_detours`)
    source_ids : the observation ``source_id`` of each sensor (default ``sensor_ids``),
        the keys of :attr:`SensorNetwork.sensor_links`
    """
    ids = [str(s) for s in sensor_ids]
    n = len(ids)
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n, n) or lon_a.shape != (n,) or lat_a.shape != (n,):
        raise ValueError(f"{n} sensors need (n, n) weights and n coordinates, got "
                         f"{w.shape}, {lon_a.shape}, {lat_a.shape}")
    keep = prune_detours(w, detour)
    node_ids, node_lon, node_lat = list(ids), list(lon_a), list(lat_a)
    frm: list[int] = []
    to: list[int] = []
    length: list[float] = []
    for i, j in zip(*np.nonzero(keep), strict=True):
        frm.append(int(i))
        to.append(int(j))
        length.append(max(min_length_m, haversine_m(lon_a[i], lat_a[i], lon_a[j], lat_a[j])))
    for i in np.flatnonzero(~keep.any(axis=1)).tolist():  # exits
        ins = np.flatnonzero(keep[:, i])
        dx = float(np.mean(lon_a[i] - lon_a[ins])) * math.cos(math.radians(lat_a[i])) if ins.size else 0.0
        dy = float(np.mean(lat_a[i] - lat_a[ins])) if ins.size else 1.0
        norm = math.hypot(dx, dy) or 1.0
        deg = exit_stub_m / (math.pi / 180.0 * EARTH_RADIUS_M)
        node_ids.append(f"{ids[i]}-exit")
        node_lat.append(float(lat_a[i] + deg * dy / norm))
        node_lon.append(float(lon_a[i] + deg * dx / norm / math.cos(math.radians(lat_a[i]))))
        frm.append(i)
        to.append(len(node_ids) - 1)
        length.append(exit_stub_m)
    link_ids = [f"{node_ids[a]}>{node_ids[b]}" for a, b in zip(frm, to, strict=True)]
    m = len(link_ids)
    network = Network.from_arrays(
        name=name, node_ids=node_ids, node_lon=node_lon, node_lat=node_lat,
        link_ids=link_ids, link_from=frm, link_to=to, link_length_m=length,
        link_lanes=[lanes] * m, link_speed_limit_mps=[speed_limit_mps] * m,
        link_capacity_vph=[lanes * capacity_vph_per_lane] * m,
        link_road_class=["motorway"] * m, source=name,
    )
    keys = [str(s) for s in source_ids] if source_ids is not None else ids
    links: dict[str, list[str]] = {k: [] for k in keys}
    for link_id, a in zip(link_ids, frm, strict=True):
        links[keys[a]].append(link_id)
    return SensorNetwork(network, {k: tuple(v) for k, v in links.items()})


def metr_la_network(data_dir: str | Path | None = None, **options: float) -> SensorNetwork:
    """The METR-LA sensor graph as a network (see the module docstring).

    ``sensor_links`` is keyed by the replay's source ids, ``metr-la-<sensor id>``;
    ``options`` go to :func:`sensor_graph_network`.
    """
    folder = Path(data_dir) if data_dir is not None else DATA_DIR / "metr-la"
    with open(folder / "graph_sensor_locations.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    ids = [r[1] for r in rows]
    with gzip.open(folder / "adj_mx_dcrnn.csv.gz", "rt", encoding="utf-8", newline="") as f:
        adj_rows = list(csv.reader(f))
    if [s.strip() for s in adj_rows[0]] != ids:
        raise ValueError(f"{folder}: the adjacency's sensor order differs from the locations'")
    weights = np.array([[float(x) for x in r] for r in adj_rows[1:]], dtype=np.float64)
    return sensor_graph_network(
        ids, [float(r[3]) for r in rows], [float(r[2]) for r in rows], weights, name="metr-la",
        source_ids=[f"metr-la-{s}" for s in ids], **options)  # type: ignore[arg-type]


def freeway_trips(network: Network, trips_per_hour: float, duration_s: float,
                  rng: np.random.Generator) -> Trips:
    """Cars only (no motorcycles on LA freeways, trucks left out), between random
    mutually reachable nodes, departing at a flat rate over ``duration_s``."""
    return random_trips(network, trips_per_hour=trips_per_hour, duration_s=duration_s, rng=rng,
                        vehicle_mix={"car": 1.0}, id_prefix="fwy")
