"""Movements through junctions, their priority ranks and which of them conflict.

A *movement* is a pair (from-link, to-link) that at least one lane connection
of the network joins. The engine needs, per movement, a priority rank (for
unsignalised junctions) and the movements it conflicts with.

Conflicts
---------
Two movements through the same node conflict when they come from different
links and either end on the same link (they merge) or their paths cross.
Crossing is decided on a circle around the node: each road leg (the bearing
along which a link leaves or enters the node) gives two points, its inbound
and its outbound side, offset a little to either side of the leg's bearing —
inbound on the right of the outbound side, seen from the node, when traffic
keeps left (Indonesia), mirrored when it keeps right. A movement is the chord
from its inbound point to its outbound point, and two movements cross when
their chords do (the endpoints interleave around the circle). So at a
crossroads with traffic keeping left, the left turn (the short turn) crosses
nothing, the through movement crosses the traffic from both sides, and the
right turn (the long turn) also crosses the opposing through traffic.

Ranks
-----
The rank of a movement is the rank of its from-link's road class
(:data:`ROAD_CLASS_RANK`, higher goes first). At an unsignalised junction a
movement gives way to conflicting movements of higher rank and takes turns
with those of equal rank (see :mod:`core_ext._micro_nb`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twin.importers.signals import end_bearings_deg
from twin.network import Network

__all__ = ["ROAD_CLASS_RANK", "Movements", "build_movements", "road_class_rank"]

ROAD_CLASS_RANK: dict[str, int] = {
    "motorway": 7, "trunk": 6, "primary": 5, "secondary": 4, "tertiary": 3,
    "unclassified": 2, "residential": 1, "living_street": 0, "service": 0,
}
"""Priority rank per OSM ``highway`` class (``*_link`` ramps rank with their road)."""

_SIDE_OFFSET_DEG = 5.0


def road_class_rank(road_class: str) -> int:
    """The rank of an OSM or SUMO road class string (``"primary"``,
    ``"highway.primary"``, ``"primary_link"``); 1 (residential) when unknown."""
    name = road_class.rsplit(".", 1)[-1].lower()
    if name.endswith("_link"):
        name = name[: -len("_link")]
    return ROAD_CLASS_RANK.get(name, 1)


@dataclass(frozen=True, eq=False)
class Movements:
    """Movements of a network as arrays.

    Attributes
    ----------
    conn_mov : int32 (n_conn,), the movement of each network connection.
    from_link, to_link, node : int32 (n_mov,)
    rank : int32 (n_mov,)
    conf_offsets : int64 (n_mov + 1,), CSR into ``conflicts``.
    conflicts : int32, the movements each movement conflicts with.
    """

    conn_mov: NDArray[np.int32]
    from_link: NDArray[np.int32]
    to_link: NDArray[np.int32]
    node: NDArray[np.int32]
    rank: NDArray[np.int32]
    conf_offsets: NDArray[np.int64]
    conflicts: NDArray[np.int32]

    @property
    def n_movements(self) -> int:
        return int(self.from_link.shape[0])

    def conflicts_of(self, mov: int) -> NDArray[np.int32]:
        """Movements conflicting with ``mov``."""
        return self.conflicts[self.conf_offsets[mov]:self.conf_offsets[mov + 1]]


def _interleave(a1: float, b1: float, a2: float, b2: float) -> bool:
    """Whether chord (a2, b2) crosses chord (a1, b1) on a circle (angles in degrees)."""
    def inside(p: float) -> bool:
        return 0.0 < (p - a1) % 360.0 < (b1 - a1) % 360.0
    return inside(a2) != inside(b2)


def build_movements(network: Network, *, left_hand_traffic: bool = True) -> Movements:
    """Movements, ranks and conflicts of ``network`` (see the module docstring)."""
    cf = network.conn_from_link.astype(np.int64)
    ct = network.conn_to_link.astype(np.int64)
    key = cf * network.n_links + ct
    uniq, conn_mov = np.unique(key, return_inverse=True)
    from_link = (uniq // network.n_links).astype(np.int32)
    to_link = (uniq % network.n_links).astype(np.int32)
    node = network.link_to[from_link].astype(np.int32)
    ranks = np.array([road_class_rank(network.link_road_class[int(f)]) for f in from_link],
                     dtype=np.int32)
    departure, approach = end_bearings_deg(
        network.link_from, network.link_to, network.node_lon, network.node_lat,
        [(lon.tolist(), lat.tolist())
         for lon, lat in map(network.link_polyline_lonlat, range(network.n_links))])
    at_to = (approach + 180.0) % 360.0  # from the to-node looking back up the link
    at_from = departure  # from the from-node looking down the link
    side = _SIDE_OFFSET_DEG if left_hand_traffic else -_SIDE_OFFSET_DEG
    p_in = (at_to[from_link] + side) % 360.0
    p_out = (at_from[to_link] - side) % 360.0
    conflicts: list[list[int]] = [[] for _ in range(len(uniq))]
    order = np.argsort(node, kind="stable")
    starts = np.flatnonzero(np.diff(node[order], prepend=-1))
    ends = np.append(starts[1:], order.shape[0])
    for s, e in zip(starts, ends, strict=True):
        group = order[s:e]
        for ii, m1 in enumerate(group):
            for m2 in group[ii + 1:]:
                if from_link[m1] == from_link[m2]:
                    continue
                if to_link[m1] == to_link[m2] or _interleave(p_in[m1], p_out[m1],
                                                             p_in[m2], p_out[m2]):
                    conflicts[int(m1)].append(int(m2))
                    conflicts[int(m2)].append(int(m1))
    conf_off = np.zeros(len(uniq) + 1, np.int64)
    np.cumsum([len(c) for c in conflicts], out=conf_off[1:])
    flat = np.array([m for c in conflicts for m in sorted(c)], dtype=np.int32)
    return Movements(conn_mov=conn_mov.astype(np.int32), from_link=from_link, to_link=to_link,
                     node=node, rank=ranks, conf_offsets=conf_off, conflicts=flat)
