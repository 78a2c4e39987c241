"""Hand-built straight corridors for the verification tests.

A corridor is nodes ``n0 .. nK`` in a line (west to east), one directed link
``l{i}: n{i} -> n{i+1}`` per entry of ``lengths``. Lane ``j`` of a link feeds
lane ``min(j, lanes_out - 1)`` of the next one and every lane of the next link
is fed (the :func:`twin.network.default_connections` rule). Optionally the end
of one link carries a fixed-time signal whose single state character controls
every lane connection leaving that link.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twin.demand import TripRecord, Trips
from twin.network import Network, SignalPrograms, default_connections


def _per_link(value: float | Sequence[float], n: int, dtype: type) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype), (n,)).copy()


def chain_connections(lanes: Sequence[int]) -> tuple[np.ndarray, ...]:
    """(from_link, from_lane, to_link, to_lane) of a chain with ``lanes[i]`` lanes on link ``i``:
    :func:`twin.network.default_connections` of the chain ``n0 -> n1 -> ...``."""
    n = len(lanes)
    links = np.arange(n)
    # node k has one outgoing link, k, except the last node, which has none
    out_offsets = np.minimum(np.arange(n + 2), n)
    return default_connections(links, links + 1, np.asarray(lanes, np.int32), out_offsets, links)


def corridor(
    lengths: Sequence[float],
    *,
    lanes: int | Sequence[int] = 1,
    speed_mps: float | Sequence[float] = 13.89,
    signal_at: int | None = None,
    phases: Sequence[tuple[str, float]] = (),
    offset_s: float = 0.0,
) -> Network:
    """A straight corridor; with ``signal_at`` the end of that link is signalised.

    ``phases`` is a list of ``(state, seconds)``; a state of one character
    (``"G"``, ``"r"``, ...) controls every connection leaving ``signal_at``
    (all use signal index 0).
    """
    n = len(lengths)
    lanes_a = _per_link(lanes, n, np.int32)
    conns = chain_connections(lanes_a.tolist())
    conn_program = conn_signal = signals = None
    if signal_at is not None:
        from_link = conns[0]
        conn_program = np.where(from_link == signal_at, 0, -1).astype(np.int32)
        conn_signal = np.where(from_link == signal_at, 0, -1).astype(np.int32)
        signals = SignalPrograms(
            program_ids=("sig",),
            program_node=np.array([signal_at + 1], np.int32),
            offset_s=np.array([offset_s]),
            phase_offsets=np.array([0, len(phases)], np.int64),
            phase_duration_s=np.array([d for _, d in phases], np.float64),
            phase_state=tuple(s for s, _ in phases),
        )
    return Network.from_arrays(
        name="corridor",
        node_ids=[f"n{i}" for i in range(n + 1)],
        node_lon=106.8 + 0.01 * np.arange(n + 1),
        node_lat=np.full(n + 1, -6.2),
        link_ids=[f"l{i}" for i in range(n)],
        link_from=np.arange(n),
        link_to=np.arange(1, n + 1),
        link_length_m=np.asarray(lengths, np.float64),
        link_lanes=lanes_a,
        link_speed_limit_mps=_per_link(speed_mps, n, np.float64),
        link_capacity_vph=np.full(n, 1800.0) * lanes_a,
        connections=conns,
        conn_program=conn_program,
        conn_signal_index=conn_signal,
        signals=signals,
    )


def corridor_trips(net: Network, depart_s: Sequence[float], vehicle_class: str | int = "car",
                   prefix: str = "t") -> Trips:
    """Vehicles of one class driving the whole corridor (explicit route), departing at ``depart_s``."""
    route = list(range(net.n_links))
    return Trips.from_records(net, [
        TripRecord(f"{prefix}{i}", vehicle_class, float(t), route=route)
        for i, t in enumerate(depart_s)
    ])


def idm_equilibrium_capacity(length_m: float, min_gap_m: float, headway_s: float, v0_mps: float,
                             delta: float = 4.0, n: int = 200_001) -> tuple[float, float]:
    """Maximum of the IDM equilibrium flow ``q(v) = v / (s_e(v) + L)`` and the speed of it.

    ``s_e(v) = (s0 + v T) / sqrt(1 - (v / v0)^delta)`` is the gap at which
    the IDM acceleration is zero for a platoon at speed ``v``. Returns
    ``(q_max veh/s, v_at_max m/s)``.
    """
    v = np.linspace(0.0, v0_mps, n)[1:-1]
    s_e = (min_gap_m + v * headway_s) / np.sqrt(1.0 - (v / v0_mps) ** delta)
    q = v / (s_e + length_m)
    k = int(np.argmax(q))
    return float(q[k]), float(v[k])
