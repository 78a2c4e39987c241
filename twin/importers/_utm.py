"""UTM and general transverse Mercator projections without pyproj.

SUMO networks built from OSM carry ``projParameter="+proj=utm +zone=33
+ellps=WGS84 ..."`` (or, less often, ``+proj=tmerc +lat_0 +lon_0 +k +x_0
+y_0``) and junction coordinates in metres in that projection (shifted by
``netOffset``). This module turns such metres back into WGS84 degrees.

The formulas are the ellipsoidal transverse Mercator series of Snyder, *Map
Projections: A Working Manual* (USGS Professional Paper 1395, 1987), eqs. 8-9
to 8-25 (forward) and 3-26, 7-19, 8-18 to 8-25 (inverse). Within a UTM zone
(3 degrees either side of the central meridian) their error is well below a
millimetre, far finer than any road geometry. No datum shift is applied: the
ellipsoid is taken from ``+ellps`` (or ``+datum=WGS84``) and the result is
treated as WGS84 degrees.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

UTM_SCALE_FACTOR = 0.9996
UTM_FALSE_EASTING_M = 500_000.0
UTM_FALSE_NORTHING_SOUTH_M = 10_000_000.0
_EPSG_UTM_RE = re.compile(r"^\s*epsg:32([67])(\d\d)\s*$", re.IGNORECASE)

#: Ellipsoids by PROJ name: (semi-major axis a in metres, inverse flattening 1/f).
ELLIPSOIDS: dict[str, tuple[float, float]] = {
    "WGS84": (6_378_137.0, 298.257223563),
    "GRS80": (6_378_137.0, 298.257222101),
    "clrk66": (6_378_206.4, 294.9786982),
    "intl": (6_378_388.0, 297.0),
    "krass": (6_378_245.0, 298.3),
}


@dataclass(frozen=True)
class TransverseMercator:
    """A transverse Mercator projection on an ellipsoid (UTM is one).

    Attributes
    ----------
    lon0_deg, lat0_deg : float, degrees; the central meridian and the latitude
        of origin.
    k0 : float, scale factor on the central meridian.
    false_easting_m, false_northing_m : float, metres added to x and y.
    ellipsoid : str, a key of :data:`ELLIPSOIDS`.
    """

    lon0_deg: float
    lat0_deg: float = 0.0
    k0: float = UTM_SCALE_FACTOR
    false_easting_m: float = UTM_FALSE_EASTING_M
    false_northing_m: float = 0.0
    ellipsoid: str = "WGS84"


def utm_zone(zone: int, south: bool = False, ellipsoid: str = "WGS84") -> TransverseMercator:
    """The projection of UTM ``zone`` (1..60); ``south`` adds the 10,000 km false northing."""
    if not 1 <= zone <= 60:
        raise ValueError(f"UTM zone {zone} is outside 1..60")
    return TransverseMercator(
        lon0_deg=-183.0 + 6.0 * zone,
        false_northing_m=UTM_FALSE_NORTHING_SOUTH_M if south else 0.0,
        ellipsoid=ellipsoid,
    )


def parse_proj(proj: str) -> TransverseMercator:
    """Read a PROJ string: ``"+proj=utm +zone=48 +south ..."`` or ``"+proj=tmerc ..."``.

    The EPSG codes of the WGS84 UTM zones are accepted too: ``EPSG:326zz``
    (north) and ``EPSG:327zz`` (south), as pyproj writes them.

    Raises
    ------
    ValueError
        When the projection is neither ``utm`` nor ``tmerc``, a parameter is
        not a number, the units are not metres, or the ellipsoid is not in
        :data:`ELLIPSOIDS`.
    """
    epsg = _EPSG_UTM_RE.match(proj)
    if epsg:
        return utm_zone(int(epsg.group(2)), south=epsg.group(1) == "7")
    params: dict[str, str] = {}
    for token in proj.split():
        key, _, value = token.lstrip("+").partition("=")
        params[key] = value
    kind = params.get("proj")
    if kind not in ("utm", "tmerc"):
        raise ValueError(f"projection {kind!r} is not supported, only '+proj=utm' and "
                         f"'+proj=tmerc'")
    if params.get("units", "m") != "m":
        raise ValueError(f"units {params['units']!r} are not supported, only '+units=m'")
    ellipsoid = params.get("ellps") or ("WGS84" if params.get("datum", "WGS84") == "WGS84" else "")
    if ellipsoid not in ELLIPSOIDS:
        raise ValueError(
            f"ellipsoid {ellipsoid or params.get('datum')!r} is not supported "
            f"(supported: {', '.join(ELLIPSOIDS)})"
        )

    def number(key: str, default: float) -> float:
        try:
            return float(params[key]) if key in params else default
        except ValueError:
            raise ValueError(f"+{key}={params[key]!r} is not a number") from None

    if kind == "utm":
        zone = number("zone", float("nan"))
        if zone != zone or zone != int(zone):
            raise ValueError(f"UTM zone {params.get('zone')!r} is not a number 1..60")
        return utm_zone(int(zone), "south" in params, ellipsoid)
    return TransverseMercator(
        lon0_deg=number("lon_0", 0.0),
        lat0_deg=number("lat_0", 0.0),
        k0=number("k_0", number("k", 1.0)),
        false_easting_m=number("x_0", 0.0),
        false_northing_m=number("y_0", 0.0),
        ellipsoid=ellipsoid,
    )


def _constants(ellipsoid: str) -> tuple[float, float, float]:
    a, inv_f = ELLIPSOIDS[ellipsoid]
    f = 1.0 / inv_f
    e2 = f * (2.0 - f)
    return a, e2, e2 / (1.0 - e2)


def _meridian_arc_m(phi, a: float, e2: float):
    e4, e6 = e2 * e2, e2 * e2 * e2
    return a * (
        (1 - e2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * phi
        - (3 * e2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * np.sin(2 * phi)
        + (15 * e4 / 256 + 45 * e6 / 1024) * np.sin(4 * phi)
        - (35 * e6 / 3072) * np.sin(6 * phi)
    )


def tm_to_lonlat(
    easting_m: FloatArray, northing_m: FloatArray, tm: TransverseMercator
) -> tuple[FloatArray, FloatArray]:
    """Inverse transverse Mercator: easting/northing in metres to lon/lat in degrees.

    Parameters
    ----------
    easting_m, northing_m : float64 arrays, metres, false easting/northing
        included. A northern UTM zone's northing may be negative for points
        just south of the equator (SUMO writes such nets).
    tm : TransverseMercator, e.g. from :func:`utm_zone` or :func:`parse_proj`.

    Returns
    -------
    lon, lat : float64 arrays, degrees.
    """
    a, e2, ep2 = _constants(tm.ellipsoid)
    k0 = tm.k0
    x = np.asarray(easting_m, dtype=np.float64) - tm.false_easting_m
    y = np.asarray(northing_m, dtype=np.float64) - tm.false_northing_m
    e4, e6 = e2 * e2, e2 * e2 * e2
    m0 = float(_meridian_arc_m(math.radians(tm.lat0_deg), a, e2))
    mu = (m0 + y / k0) / (a * (1 - e2 / 4 - 3 * e4 / 64 - 5 * e6 / 256))
    s = math.sqrt(1 - e2)
    e1 = (1 - s) / (1 + s)
    phi1 = (
        mu
        + (3 * e1 / 2 - 27 * e1**3 / 32) * np.sin(2 * mu)
        + (21 * e1**2 / 16 - 55 * e1**4 / 32) * np.sin(4 * mu)
        + (151 * e1**3 / 96) * np.sin(6 * mu)
        + (1097 * e1**4 / 512) * np.sin(8 * mu)
    )
    sin1, cos1, tan1 = np.sin(phi1), np.cos(phi1), np.tan(phi1)
    c1 = ep2 * cos1**2
    t1 = tan1**2
    w = 1 - e2 * sin1**2
    n1 = a / np.sqrt(w)
    r1 = a * (1 - e2) / w**1.5
    d = x / (n1 * k0)
    phi = phi1 - (n1 * tan1 / r1) * (
        d**2 / 2
        - (5 + 3 * t1 + 10 * c1 - 4 * c1**2 - 9 * ep2) * d**4 / 24
        + (61 + 90 * t1 + 298 * c1 + 45 * t1**2 - 252 * ep2 - 3 * c1**2) * d**6 / 720
    )
    lam = (
        d
        - (1 + 2 * t1 + c1) * d**3 / 6
        + (5 - 2 * c1 + 28 * t1 - 3 * c1**2 + 8 * ep2 + 24 * t1**2) * d**5 / 120
    ) / cos1
    return tm.lon0_deg + np.degrees(lam), np.degrees(phi)


def lonlat_to_tm(
    lon: FloatArray, lat: FloatArray, tm: TransverseMercator
) -> tuple[FloatArray, FloatArray]:
    """Forward transverse Mercator: lon/lat in degrees to easting/northing in metres.

    The inverse of :func:`tm_to_lonlat`; used to check it.

    Parameters
    ----------
    lon, lat : float64 arrays, degrees.
    tm : TransverseMercator

    Returns
    -------
    easting_m, northing_m : float64 arrays, metres (false easting/northing included).
    """
    a, e2, ep2 = _constants(tm.ellipsoid)
    k0 = tm.k0
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64) - tm.lon0_deg)
    sin, cos, tan = np.sin(phi), np.cos(phi), np.tan(phi)
    n = a / np.sqrt(1 - e2 * sin**2)
    t = tan**2
    c = ep2 * cos**2
    aa = lam * cos
    m = _meridian_arc_m(phi, a, e2)
    m0 = float(_meridian_arc_m(math.radians(tm.lat0_deg), a, e2))
    x = k0 * n * (
        aa + (1 - t + c) * aa**3 / 6 + (5 - 18 * t + t**2 + 72 * c - 58 * ep2) * aa**5 / 120
    )
    y = k0 * (
        m - m0
        + n * tan * (
            aa**2 / 2
            + (5 - t + 9 * c + 4 * c**2) * aa**4 / 24
            + (61 - 58 * t + t**2 + 600 * c - 330 * ep2) * aa**6 / 720
        )
    )
    return x + tm.false_easting_m, y + tm.false_northing_m
