"""Where the virtual cameras stand and what they watch, checked against the network.

:func:`camera_problems` is the one check of a scenario's ``[[cameras]]`` against its
network (``kota validate`` and :class:`~twin.cameras.VirtualCameras` both use it); each
message names the camera. The other helpers give a camera's heading, the road distance
of an average-speed section and the lane connections behind a stop line.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from twin.network import Network

if TYPE_CHECKING:
    from twin.scenario import CameraSpec

__all__ = ["bearing_deg", "camera_pos_m", "camera_problems", "section_length_m",
           "stop_line_connections"]


def camera_pos_m(spec: CameraSpec, network: Network) -> float:
    """Where ``spec`` stands on its link, metres: its ``pos_m``, else the link's middle (a
    red-light camera: the stop line at the link's end)."""
    length = float(network.link_length_m[network.link_index[spec.link]])
    if spec.pos_m is not None:
        return float(spec.pos_m)
    return length if spec.type == "red_light" else length / 2.0


def bearing_deg(network: Network, link: int, pos_m: float) -> float:
    """Direction of travel on ``link`` at ``pos_m``, degrees clockwise from north, in [0, 360)."""
    a, b = int(network.geom_offsets[link]), int(network.geom_offsets[link + 1])
    xs, ys = network.geom_x_m[a:b], network.geom_y_m[a:b]
    seg = np.hypot(np.diff(xs), np.diff(ys))
    if seg.size == 0 or float(seg.sum()) <= 0.0:
        return 0.0
    frac = min(max(pos_m / float(network.link_length_m[link]), 0.0), 1.0)
    cum = np.concatenate(([0.0], np.cumsum(seg)))
    i = int(min(np.searchsorted(cum, frac * cum[-1], side="right") - 1, seg.size - 1))
    while seg[i] <= 0.0 and i > 0:
        i -= 1
    dx, dy = float(xs[i + 1] - xs[i]), float(ys[i + 1] - ys[i])
    return math.degrees(math.atan2(dx, dy)) % 360.0


def stop_line_connections(network: Network, link: int) -> np.ndarray:
    """Indices of the lane connections leaving ``link`` through its end (its stop line)."""
    return np.flatnonzero(network.conn_from_link == link)


def section_length_m(network: Network, entry: tuple[int, float], exit_: tuple[int, float]
                     ) -> float | None:
    """Shortest road distance in metres from ``entry`` to ``exit_`` (each ``(link, pos_m)``)
    along the network's lane connections; None when the exit cannot be reached."""
    (a, pos_a), (b, pos_b) = entry, exit_
    if a == b and pos_b > pos_a:
        return pos_b - pos_a
    pairs = np.unique(np.stack([network.conn_from_link, network.conn_to_link]), axis=1)
    nxt: dict[int, list[int]] = {}
    for f, t in pairs.T.tolist():
        nxt.setdefault(f, []).append(t)
    length = network.link_length_m
    # best[k]: metres from the entry to the start of link k
    first = float(length[a]) - pos_a
    best: dict[int, float] = {}
    heap: list[tuple[float, int]] = []
    for t in nxt.get(a, ()):
        if first < best.get(t, math.inf):
            best[t] = first
            heapq.heappush(heap, (first, t))
    while heap:
        d, k = heapq.heappop(heap)
        if d > best.get(k, math.inf):
            continue
        if k == b:
            return d + pos_b
        end = d + float(length[k])
        for t in nxt.get(k, ()):
            if end < best.get(t, math.inf):
                best[t] = end
                heapq.heappush(heap, (end, t))
    return None


def camera_problems(cameras: Sequence[CameraSpec], network: Network) -> list[str]:
    """Every way ``cameras`` do not fit ``network``, one line each (empty when they fit).

    Lines read ``cameras.{i}: camera '{id}' ({type}): ...``.
    """
    problems: list[str] = []
    by_id = {c.id: c for c in cameras}
    for i, cam in enumerate(cameras):
        where = f"cameras.{i}: camera {cam.id!r} ({cam.type})"
        if cam.link not in network.link_index:
            problems.append(f"{where}: no link {cam.link!r} in the network")
            continue
        link = network.link_index[cam.link]
        length = float(network.link_length_m[link])
        n_lanes = int(network.link_lanes[link])
        if cam.pos_m is not None and cam.pos_m > length:
            problems.append(f"{where}: pos_m {cam.pos_m} m is beyond the end of link "
                            f"{cam.link!r} ({length:.1f} m)")
        if cam.pos_m is not None and cam.pos_m <= 0 and cam.type in ("anpr", "speed"):
            problems.append(f"{where}: pos_m must be > 0 (a camera sees vehicles pass a point "
                            f"after the link's start)")
        bad = [k for k in cam.lanes or () if k >= n_lanes]
        if bad:
            problems.append(f"{where}: lane(s) {bad} do not exist on link {cam.link!r} "
                            f"({n_lanes} lane(s), 0 = kerb side)")
        if cam.type == "red_light":
            conns = stop_line_connections(network, link)
            if conns.size == 0:
                problems.append(f"{where}: link {cam.link!r} leads nowhere (no lane connections "
                                f"at its end), so it has no stop line to watch")
            elif bool((network.conn_program[conns] < 0).any()):
                node = network.node_ids[int(network.link_to[link])]
                problems.append(f"{where}: link {cam.link!r} does not end at a signalised "
                                f"junction (node {node!r}); signalise it with a "
                                f"[[network.signals]] entry node = {node!r}")
            elif cam.lanes is not None:
                from_lanes = set(network.conn_from_lane[conns].tolist())
                idle = [k for k in cam.lanes if k < n_lanes and k not in from_lanes]
                if idle:
                    problems.append(f"{where}: lane(s) {idle} of link {cam.link!r} lead "
                                    f"nowhere through the stop line")
        if cam.section_exit is not None and cam.section_exit in by_id:
            other = by_id[cam.section_exit]
            if other.link in network.link_index:
                entry = (link, camera_pos_m(cam, network))
                exit_ = (network.link_index[other.link], camera_pos_m(other, network))
                if section_length_m(network, entry, exit_) is None:
                    problems.append(f"{where}: its section exit {other.id!r} on link "
                                    f"{other.link!r} cannot be reached from it by road")
    return problems
