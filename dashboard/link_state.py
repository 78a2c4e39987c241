"""The Operations map's links drawn in the browser: the geometry once, a small state per tick.

The page sends :func:`link_geometry` once, with its layout: every link's polyline (shifted to
its side of the street, in degrees) and the fixed parts of its hover text. Each tick then
sends only :func:`link_state`: the speed band, shown speed and vehicle count of every link
with vehicles (the others are "no vehicles"), about 12 bytes a link instead of its whole
polyline and a hover text per polyline point.
``assets/ops_map.js`` (``kota_ops.bandTraces``) rebuilds the band traces from the two exactly
as :func:`dashboard.figures.speed_band_traces` builds them on the server; the browser test
checks that they are equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dashboard import figures
from twin.network import Network

LinkData = dict[str, Any]


def link_geometry(network: Network, *, side_offset_m: float = figures.SIDE_OFFSET_M) -> LinkData:
    """What the browser keeps of the links for the whole run.

    Parameters
    ----------
    network : Network
    side_offset_m : float, metres
        Draw each link this far to the left of its centreline.

    Returns
    -------
    dict of lists
        ``offsets`` (n_links + 1,): link ``i``'s points are ``offsets[i]:offsets[i + 1]``
        of ``lon`` and ``lat`` (degrees, rounded to :data:`~dashboard.figures.COORD_DECIMALS`);
        ``head`` and ``tail`` (n_links,): the fixed parts of its hover text
        (:func:`~dashboard.figures.link_text_ends`); ``n_bands``: how many band traces
        lead the figure (:data:`~dashboard.figures.SPEED_BANDS`); ``empty_band``: the band
        of a link :func:`link_state` does not list.
    """
    lon, lat = figures.map_geometry(network, float(side_offset_m))
    head, tail = figures.link_text_ends(network)
    return {"offsets": network.geom_offsets.tolist(), "lon": lon.tolist(), "lat": lat.tolist(),
            "head": head, "tail": tail, "n_bands": len(figures.SPEED_BANDS),
            "empty_band": figures.EMPTY_BAND}


def link_state(network: Network, link_speed_mps: NDArray[np.float64],
               link_vehicle_count: NDArray[np.integer]) -> LinkData:
    """What the browser needs each tick to colour the links and write their hover texts.

    Parameters
    ----------
    network : Network
    link_speed_mps : float64 array (n_links,), m/s; ``nan`` where unknown.
    link_vehicle_count : int array (n_links,)

    Returns
    -------
    dict of lists of equal length
        ``link``: the indices of the links with vehicles and a speed (the others are in the
        "no vehicles" band, :data:`~dashboard.figures.EMPTY_BAND`); for each, ``band``: index
        into :data:`~dashboard.figures.SPEED_BANDS` (:func:`~dashboard.figures.link_bands`),
        ``speed_kmh``: whole km/h (:func:`~dashboard.figures.shown_speed_kmh`) and
        ``vehicles``. A listed link's hover text is
        ``head[i] + speed_text(speed_kmh[k], vehicles[k]) + tail[i]`` (:func:`link_geometry`,
        :func:`~dashboard.figures.speed_text`), an unlisted link's
        ``head[i] + speed_text(None, None) + tail[i]``.
    """
    count = np.asarray(link_vehicle_count)
    bands = figures.link_bands(network, link_speed_mps, count)
    shown = figures.shown_speed_kmh(link_speed_mps, count)
    listed = [i for i, (band, kmh) in enumerate(zip(bands.tolist(), shown, strict=True))
              if band != figures.EMPTY_BAND or kmh is not None]
    return {"link": listed,
            "band": bands[listed].tolist(),
            "speed_kmh": [shown[i] for i in listed],
            "vehicles": count[listed].astype(np.int64).tolist()}
