"""Put a reported location on the network: a known link, or the nearest link within reach."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.network import Network, project_lonlat


@dataclass(frozen=True)
class Placement:
    """Where a report landed: ``link`` (index) and the distance snapped, or a refusal."""

    link: int | None
    snapped_m: float = 0.0
    reason: str = ""


def place(network: Network, lon: float, lat: float, link_id: str | None,
          max_snap_m: float) -> Placement:
    """The link of a report.

    A known ``link_id`` is taken as is. Otherwise the point is snapped to the nearest
    link (straight segment between its end nodes, local metres); farther than
    ``max_snap_m`` from every link it is refused with the distance in the reason.
    """
    if link_id is not None:
        if link_id in network.link_index:
            return Placement(int(network.link_index[link_id]))
        if not np.isfinite(lon) or not np.isfinite(lat):
            return Placement(None, reason=f"unknown link {link_id!r} and no position")
    x, y = project_lonlat(np.array([lon]), np.array([lat]), network.origin_lon,
                          network.origin_lat)
    px, py = float(x[0]), float(y[0])
    ax, ay = network.node_x_m[network.link_from], network.node_y_m[network.link_from]
    bx, by = network.node_x_m[network.link_to], network.node_y_m[network.link_to]
    dx, dy = bx - ax, by - ay
    seg2 = np.maximum(dx * dx + dy * dy, 1e-9)
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / seg2, 0.0, 1.0)
    dist = np.hypot(ax + t * dx - px, ay + t * dy - py)
    best = int(np.argmin(dist))
    d = float(dist[best])
    if d > max_snap_m:
        return Placement(None, snapped_m=d,
                         reason=f"location is {d:.0f} m from the nearest road "
                                f"(limit {max_snap_m:.0f} m)")
    return Placement(best, snapped_m=d)
