"""The shared scenario: one grid network and one set of routed trips for every engine.

:func:`build_scenario` writes, into a work directory,

- ``grid.net.xml``: the network, from SUMO's ``netgenerate --grid`` (see
  :func:`netgenerate_args` for every option). Kota imports this very file with
  :func:`twin.importers.sumo.read_sumo_net`, and UXsim is built from the
  resulting Kota :class:`~twin.network.Network` arrays, so all three drive the
  same links, lengths, lanes, speeds and signal programs.
- ``trips.npz``: the trips (drawn in Kota with :func:`twin.demand.random_trips`,
  cars only) with explicit routes: Kota's free-flow shortest path over link
  lengths / speeds through the lane connections (no U-turns).
- ``routes.rou.xml``: the same trips as SUMO ``<vehicle>``/``<route edges=...>``
  plus the IDM vehicle type.
- ``scenario.json``: the :class:`GridParams`.

:func:`load_scenario` reads them back (each engine subprocess calls it).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

import numpy as np

from benchmarks.peers.common import sumo_tool
from twin.demand import Trips, random_trips
from twin.network import Network

Signals = Literal["interior", "none"]

NET_FILE = "grid.net.xml"
KOTA_NET_FILE = "network.npz"
TRIPS_FILE = "trips.npz"
ROUTES_FILE = "routes.rou.xml"
PARAMS_FILE = "scenario.json"


@dataclass(frozen=True)
class CarParams:
    """The one vehicle type of the scenario (a passenger car), IDM parameters.

    By default they are Kota's own ``car`` class parameters
    (:func:`kota_car_params`, read from ``twin.simulation.EngineConfig()``), so
    SUMO's IDM ``vType`` drives the same car as Kota; UXsim uses
    ``length + min_gap`` for its jam spacing. ``source`` says where they came from.
    """

    length_m: float = 4.5
    min_gap_m: float = 2.5
    accel_mps2: float = 2.6
    decel_mps2: float = 4.5
    emergency_decel_mps2: float = 9.0
    tau_s: float = 1.0
    delta: float = 4.0
    max_speed_mps: float = 33.3
    source: str = "SUMO's passenger defaults"

    @property
    def jam_density_per_lane_vpm(self) -> float:
        """Vehicles per metre per lane at standstill, ``1 / (length + min_gap)``."""
        return 1.0 / (self.length_m + self.min_gap_m)


CAR = CarParams()


def kota_car_params() -> CarParams:
    """Kota's IDM parameters of the ``car`` class, from the façade's default
    ``EngineConfig().class_params``; :data:`CAR` when this engine has none.

    IDM ``T`` becomes SUMO's ``tau``, ``s0`` its ``minGap``, ``a``/``b`` its
    ``accel``/``decel``; the exponent ``delta`` stays 4 (the IDM's usual value).
    """
    try:
        from twin.demand import VEHICLE_CLASSES
        from twin.simulation import EngineConfig

        config: Any = EngineConfig()  # Any: older engines have no class_params
        cp = config.class_params[VEHICLE_CLASSES.index("car")]
        return CarParams(length_m=float(cp.length_m), min_gap_m=float(cp.min_gap_m),
                         accel_mps2=float(cp.accel_mps2), decel_mps2=float(cp.decel_mps2),
                         tau_s=float(cp.headway_s), max_speed_mps=float(cp.max_speed_mps),
                         source="Kota EngineConfig().class_params['car']")
    except (ImportError, AttributeError, IndexError, ValueError):
        return CAR


@dataclass(frozen=True)
class GridParams:
    """Everything that defines the scenario (written to ``scenario.json``).

    Attributes
    ----------
    grid : junctions per side (``grid x grid`` junctions).
    trips : number of trips (one vehicle each).
    seed : seeds the trip draw, SUMO, UXsim and Kota.
    horizon_s : the simulation stops here at the latest (seconds).
    depart_window_s : departures are uniform over ``[0, depart_window_s)``.
    block_m : distance between neighbouring junctions = link length (metres).
    lanes : lanes per direction.
    speed_mps : speed limit of every link (m/s).
    signals : ``"interior"``: fixed-time signals (SUMO's default static
        program) at every interior four-way junction, priority junctions on the
        border; ``"none"``: priority junctions everywhere.
    record_routes : also record the links each vehicle drove (SUMO
        ``--vehroute-output``, UXsim vehicle logging). Slower; for the tests.
    """

    grid: int = 10
    trips: int = 10_000
    seed: int = 1
    horizon_s: float = 7200.0
    depart_window_s: float = 3600.0
    block_m: float = 200.0
    lanes: int = 2
    speed_mps: float = 13.89
    signals: Signals = "interior"
    record_routes: bool = False

    def __post_init__(self) -> None:
        if self.grid < 2:
            raise ValueError(f"grid must be >= 2 junctions per side, got {self.grid}")
        if self.trips < 1:
            raise ValueError(f"trips must be >= 1, got {self.trips}")
        if not self.horizon_s > 0 or not self.depart_window_s > 0:
            raise ValueError("horizon_s and depart_window_s must be > 0")
        if self.depart_window_s > self.horizon_s:
            raise ValueError(f"depart_window_s ({self.depart_window_s:g}) must not exceed "
                             f"horizon_s ({self.horizon_s:g})")
        if self.lanes < 1 or not self.block_m > 0 or not self.speed_mps > 0:
            raise ValueError("lanes must be >= 1, block_m and speed_mps > 0")
        if self.signals not in ("interior", "none"):
            raise ValueError(f"signals must be 'interior' or 'none', got {self.signals!r}")


def junction_id(col: int, row: int) -> str:
    """netgenerate's grid junction id: column letter(s) then row number (``"B1"``)."""
    letters = ""
    c = col
    while True:
        letters = chr(ord("A") + c % 26) + letters
        c = c // 26 - 1
        if c < 0:
            break
    return f"{letters}{row}"


def netgenerate_args(params: GridParams, out: Path) -> list[str]:
    """The netgenerate options that build the grid.

    Lanes, speed and length are explicit; ``--lefthand`` (traffic keeps left,
    as in Jakarta and as Kota's engine assumes by default); ``--no-turnarounds`` (no U-turn
    connections); ``--no-internal-links`` (vehicles cross a junction from the end
    of one lane to the start of the next, so every engine drives exactly the
    link lengths; SUMO still applies right of way and signals at the stop
    line); ``--default.junctions.type priority`` and, with
    ``signals="interior"``, ``--tls.set`` on every interior junction with
    SUMO's default static program (``--tls.default-type static``: 42 s green,
    3 s yellow per direction, permissive left turns, 90 s cycle).
    """
    args = [
        "--grid",
        "--grid.number", str(params.grid),
        "--grid.length", f"{params.block_m:g}",
        "--default.lanenumber", str(params.lanes),
        "--default.speed", f"{params.speed_mps:g}",
        "--lefthand", "true",
        "--no-turnarounds", "true",
        "--no-internal-links", "true",
        "--default.junctions.type", "priority",
        "--tls.default-type", "static",
        "--seed", str(params.seed),
        "--output-file", str(out),
    ]
    if params.signals == "interior":
        interior = [junction_id(c, r) for c in range(1, params.grid - 1)
                    for r in range(1, params.grid - 1)]
        if interior:
            args += ["--tls.set", ",".join(interior)]
    return args


def build_network(params: GridParams, workdir: Path) -> Path:
    """Run netgenerate; return the ``.net.xml`` path.

    Raises
    ------
    FileNotFoundError
        When SUMO's netgenerate is not installed.
    RuntimeError
        When netgenerate fails.
    """
    exe = sumo_tool("netgenerate")
    if exe is None:
        raise FileNotFoundError("netgenerate (SUMO) is not installed")
    out = workdir / NET_FILE
    proc = subprocess.run([str(exe), *netgenerate_args(params, out)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"netgenerate failed ({proc.returncode}): {proc.stderr.strip()}")
    return out


def import_network(params: GridParams, workdir: Path) -> tuple[Network, str]:
    """The grid as a Kota Network, and where it came from.

    With SUMO installed: netgenerate's file imported with
    :func:`twin.importers.sumo.read_sumo_net`. Without SUMO (the peer is then
    skipped): Kota's own :func:`twin.importers.grid.grid_network` with the same
    size, lanes, speed and block length, and its default signal programs at
    the four-way junctions when ``signals="interior"``.
    """
    if sumo_tool("netgenerate") is not None:
        from twin.importers.sumo import read_sumo_net

        path = build_network(params, workdir)
        return read_sumo_net(path, name="peers-grid"), f"netgenerate -> {path.name}"
    from twin.importers.grid import grid_network

    net = grid_network(params.grid, params.grid, block_m=params.block_m, lanes=params.lanes,
                       speed_limit_mps=params.speed_mps, signals=params.signals == "interior",
                       name="peers-grid")
    return net, "twin.importers.grid.grid_network (SUMO not installed)"


def load_network(workdir: Path) -> Network:
    """The Kota Network saved by :func:`build_scenario` (native ``.npz``)."""
    return Network.load(workdir / KOTA_NET_FILE)


def routed_trips(network: Network, params: GridParams) -> Trips:
    """``params.trips`` random car trips with explicit free-flow shortest-path routes.

    The routes are Kota's own (the turn-aware free-flow routing of
    :class:`twin.simulation.Simulation` through the network's lane
    connections), so every route is drivable. Departures are rounded to 0.01 s
    (what the SUMO file holds), so every engine gets the same numbers.

    Raises
    ------
    ValueError
        When a trip has no route.
    """
    from twin.simulation import Simulation  # not at the top: the UXsim process imports this

    rng = np.random.default_rng(params.seed)
    drawn = random_trips(network, n_trips=params.trips, duration_s=params.depart_window_s,
                         rng=rng, vehicle_mix={"car": 1.0}, id_prefix="t")
    router = Simulation(network, drawn, seed=params.seed)
    if router.unroutable:
        raise ValueError(f"trip {router.unroutable[0]!r} has no route")
    routes = [router.route_of(i) for i in range(len(drawn))]
    offsets = np.zeros(len(drawn) + 1, np.int64)
    np.cumsum([r.shape[0] for r in routes], out=offsets[1:])
    return Trips.from_arrays(
        network, trip_ids=drawn.trip_ids, vehicle_class=drawn.vehicle_class,
        origin_node=drawn.origin_node, destination_node=drawn.destination_node,
        depart_s=np.round(drawn.depart_s, 2), route_offsets=offsets,
        route_links=np.concatenate(routes), source="benchmarks.peers")


def route_ids(network: Network, trips: Trips, i: int) -> list[str]:
    """Trip ``i``'s route as link ids."""
    return [network.link_ids[k] for k in trips.route_of(i).tolist()]


def write_sumo_routes(network: Network, trips: Trips, path: Path, car: CarParams = CAR) -> Path:
    """The trips as a SUMO route file: one IDM ``vType`` and one ``<vehicle>`` per trip.

    ``speedFactor="1" speedDev="0"`` (every car drives the limit, as in the
    other engines); ``departLane="best"``, ``departSpeed="max"`` (enter at the
    highest safe speed, as UXsim and Kota insert at the link's speed);
    departure and arrival at the lane start and end (SUMO's defaults).
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!-- generated by benchmarks.peers: the same trips and routes as Kota and UXsim -->",
        "<routes>",
        f'    <vType id="car" vClass="passenger" carFollowModel="IDM" length="{car.length_m:g}" '
        f'minGap="{car.min_gap_m:g}" accel="{car.accel_mps2:g}" decel="{car.decel_mps2:g}" '
        f'emergencyDecel="{car.emergency_decel_mps2:g}" tau="{car.tau_s:g}" '
        f'delta="{car.delta:g}" maxSpeed="{car.max_speed_mps:g}" speedFactor="1" speedDev="0"/>',
        f"    <!-- car parameters: {car.source} -->",
    ]
    for i, trip_id in enumerate(trips.trip_ids):
        edges = " ".join(route_ids(network, trips, i))
        lines.append(f'    <vehicle id={quoteattr(trip_id)} type="car" '
                     f'depart="{trips.depart_s[i]:.2f}" departLane="best" departSpeed="max">')
        lines.append(f'        <route edges="{edges}"/>')
        lines.append("    </vehicle>")
    lines.append("</routes>")
    path.write_text("\n".join(lines) + "\n")
    return path


def save_trips(trips: Trips, path: Path) -> Path:
    np.savez(path, trip_ids=np.array(trips.trip_ids), vehicle_class=trips.vehicle_class,
             origin_node=trips.origin_node, destination_node=trips.destination_node,
             depart_s=trips.depart_s, route_offsets=trips.route_offsets,
             route_links=trips.route_links)
    return path


def load_trips(network: Network, path: Path) -> Trips:
    with np.load(path, allow_pickle=False) as z:
        return Trips.from_arrays(
            network, trip_ids=[str(t) for t in z["trip_ids"]], vehicle_class=z["vehicle_class"],
            origin_node=z["origin_node"], destination_node=z["destination_node"],
            depart_s=z["depart_s"], route_offsets=z["route_offsets"],
            route_links=z["route_links"], source=str(path))


@dataclass(frozen=True)
class Scenario:
    """What :func:`build_scenario` made."""

    network: Network
    trips: Trips
    network_source: str
    workdir: Path
    car: CarParams


def build_scenario(params: GridParams, workdir: Path) -> Scenario:
    """Write the network (SUMO and native Kota), trips, SUMO routes and parameters
    into ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    network, source = import_network(params, workdir)
    network.save(workdir / KOTA_NET_FILE)
    trips = routed_trips(network, params)
    car = kota_car_params()
    (workdir / PARAMS_FILE).write_text(
        json.dumps({**asdict(params), "car": asdict(car)}, indent=2) + "\n")
    write_trips(workdir, network, trips)
    return Scenario(network, trips, source, workdir, car)


def write_trips(workdir: Path, network: Network, trips: Trips) -> None:
    """Write (or replace) the scenario's trips: ``trips.npz`` and the SUMO route file."""
    save_trips(trips, workdir / TRIPS_FILE)
    write_sumo_routes(network, trips, workdir / ROUTES_FILE, load_car(workdir))


def load_params(workdir: Path) -> GridParams:
    raw = json.loads((workdir / PARAMS_FILE).read_text())
    raw.pop("car", None)
    return GridParams(**raw)


def load_car(workdir: Path) -> CarParams:
    """The car parameters the scenario was built with."""
    raw = json.loads((workdir / PARAMS_FILE).read_text()).get("car")
    return CarParams(**raw) if raw else CAR


def load_scenario(workdir: Path) -> tuple[Network, Trips, GridParams]:
    """The network, trips and parameters written by :func:`build_scenario`."""
    params = load_params(workdir)
    network = load_network(workdir)
    return network, load_trips(network, workdir / TRIPS_FILE), params


def free_flow_time_s(network: Network, trips: Trips) -> np.ndarray:
    """Free-flow travel time of every trip's route (sum of length / speed), seconds."""
    per_link = network.free_flow_time_s[trips.route_links]
    return np.add.reduceat(per_link, trips.route_offsets[:-1])
