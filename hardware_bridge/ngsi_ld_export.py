"""The twin's current state as NGSI-LD entities (Smart Data Models, normalized form).

* one **TrafficFlowObserved** per link, ``urn:ngsi-ld:TrafficFlowObserved:link:{link_id}``:
  ``averageVehicleSpeed`` (km/h, the mean speed of the vehicles on the link, or the
  speed an entering car would aim for when it is empty), ``congested`` (mean speed
  below ``congested_below`` times the speed limit while vehicles are on the link),
  ``dateObserved`` (the twin's clock), ``refRoadSegment``, ``name`` and the link's
  polyline as a GeoJSON LineString ``location``;
* one **RoadSegment** per link, ``urn:ngsi-ld:RoadSegment:{link_id}`` (the target of those
  ``refRoadSegment`` relationships): ``name``, ``totalLaneNumber``, ``maximumAllowedSpeed``
  (km/h), ``category`` ``["oneway"]`` (a link is one direction of travel), ``laneUsage``,
  ``startPoint``, ``endPoint`` and ``location``.

The functions read only the twin's read-only view (:class:`twin.live.TwinView`) and its
:class:`twin.network.Network`; they never touch the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twin.live import TwinView
from twin.network import Network

from .ngsi_ld import CONTEXT, KMH_PER_MPS, entity_id, prop, rel

__all__ = ["EXPORT_TYPES", "road_segment_entities", "traffic_flow_entities", "twin_entities"]

EXPORT_TYPES = ("TrafficFlowObserved", "RoadSegment")


def _line(network: Network, link: int) -> dict[str, Any]:
    lon, lat = network.link_polyline_lonlat(link)
    coords = [[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]
    return {"type": "LineString", "coordinates": coords}


def traffic_flow_entities(view: TwinView, network: Network, *, congested_below: float = 0.5
                          ) -> list[dict[str, Any]]:
    """One TrafficFlowObserved per link of ``network`` from ``view`` (see the module docstring)."""
    if len(view.link_speed_mps) != network.n_links:
        raise ValueError(f"the view has {len(view.link_speed_mps)} links, the network {network.n_links}")
    at = view.clock_time
    out = []
    for i, link_id in enumerate(network.link_ids):
        speed = float(view.link_speed_mps[i])
        limit = float(network.link_speed_limit_mps[i])
        occupied = int(view.link_vehicle_count[i]) > 0
        ent: dict[str, Any] = {
            "id": entity_id("TrafficFlowObserved", f"link:{link_id}"), "type": "TrafficFlowObserved",
            "dateObserved": prop({"@type": "DateTime", "@value": at.isoformat()}),
            "averageVehicleSpeed": prop(round(speed * KMH_PER_MPS, 3), at),
            "congested": prop(bool(occupied and speed < congested_below * limit), at),
            "refRoadSegment": rel("RoadSegment", link_id),
            "location": {"type": "GeoProperty", "value": _line(network, i)},
        }
        if network.link_name[i]:
            ent["name"] = prop(network.link_name[i])
        ent["@context"] = CONTEXT
        out.append(ent)
    return out


def road_segment_entities(network: Network) -> list[dict[str, Any]]:
    """One RoadSegment per link of ``network`` (see the module docstring)."""
    out = []
    for i, link_id in enumerate(network.link_ids):
        line = _line(network, i)
        lanes = int(network.link_lanes[i])
        ent: dict[str, Any] = {
            "id": entity_id("RoadSegment", link_id), "type": "RoadSegment",
            "totalLaneNumber": prop(lanes),
            "maximumAllowedSpeed": prop(round(float(network.link_speed_limit_mps[i]) * KMH_PER_MPS, 3)),
            "category": prop(["oneway"]),
            "laneUsage": prop(["forward"] * lanes),
            "startPoint": prop({"type": "Point", "coordinates": line["coordinates"][0]}),
            "endPoint": prop({"type": "Point", "coordinates": line["coordinates"][-1]}),
            "location": {"type": "GeoProperty", "value": line},
        }
        if network.link_name[i]:
            ent["name"] = prop(network.link_name[i])
        ent["@context"] = CONTEXT
        out.append(ent)
    return out


def twin_entities(view: TwinView, network: Network, types: Iterable[str] = EXPORT_TYPES,
                  *, congested_below: float = 0.5) -> list[dict[str, Any]]:
    """The entities of the listed ``types`` (among :data:`EXPORT_TYPES`; others give none)."""
    wanted = set(types)
    out: list[dict[str, Any]] = []
    if "TrafficFlowObserved" in wanted:
        out += traffic_flow_entities(view, network, congested_below=congested_below)
    if "RoadSegment" in wanted:
        out += road_segment_entities(network)
    return out
