"""One live update of the Operations page on the Jatinegara network (issue 8: at most
100 ms at 1 Hz), and its payload.

The twin is the demo scenario (its ANPR camera and 14 loop detectors) with the dispatch
module of ``jakarta_jatinegara_dispatch.toml`` running live, a crash reported to it at
30 s and the scenario's own lane block from 60 s; it is run until units are driving to
the crash (so their routes are drawn). The timed call is the whole server side of one
tick: the refresh callback through Flask's test client (``POST /_dash-update-component``
with the page's interval, last view key and layer digests), building the map's update
(the band, speed and vehicles of each link with vehicles, and every live layer: incidents, units, routes;
the page had drawn none of them: the worst tick) and serialising it with the tiles and
the alert feed. ``extra_info`` has the response bytes of that tick, of a typical tick (no
marker changed: links only) and of the links-only baseline measured in the same run (the
same view with no incidents, units or sites), the time ratio against that baseline, and
the bytes of the page itself (the page router's response: figure, link geometry, tiles),
sent once when the page opens.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import pytest

from benchmarks.conftest import JATINEGARA, REPO
from dashboard import ids, live_layers
from dashboard.app import create_app
from twin.live import LiveTwin, TwinView
from twin.runner import TwinRun
from twin.scenario import IncidentSpec, load_scenario

BASELINE_ROUNDS = 15


def _scenario() -> Any:
    demo = load_scenario(REPO / "scenarios" / "jakarta_jatinegara.toml")
    dispatch = load_scenario(REPO / "scenarios" / "jakarta_jatinegara_dispatch.toml")
    section = dict(dispatch.modules["dispatch"])
    section["incidents"] = [{"id": "crash-radjiman", "type": "crash", "injury": "minor",
                             "link": "1682844563-1720088744-0", "at_s": 30, "calls": 2}]
    stall = IncidentSpec(id="stall-radjiman", type="breakdown", link="1336960567-1709501112-0",
                         start_s=60.0, duration_s=3600.0, lanes_blocked=1)
    return demo.model_copy(update={"incidents": [stall],
                                   "modules": {**demo.modules, "dispatch": section}})


def _body(app: Any, view: TwinView, drawn: dict[str, str]) -> dict[str, Any]:
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    (dep,) = [d for d in deps if f"{ids.OPS_TICK}.data" in d["output"]]
    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs,
            "inputs": [{"id": ids.OPS_INTERVAL, "property": "n_intervals", "value": 1}],
            "state": [{"id": ids.OPS_LAST_TIME, "property": "data", "value": [-1.0, False]},
                      {"id": ids.OPS_LAYER_KEYS, "property": "data", "value": drawn}],
            "changedPropIds": [f"{ids.OPS_INTERVAL}.n_intervals"]}


def _page_bytes(client: Any) -> int:
    """The bytes of the Operations page as Dash's page router sends it when it opens."""
    deps = client.get("/_dash-dependencies").get_json()
    (router,) = [d["output"] for d in deps if "_pages_content.children" in d["output"]]
    body = {"output": router,
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/"},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200 and ids.OPS_MAP in response.get_data(as_text=True)
    return len(response.get_data())


def _poster(live: LiveTwin, drawn: dict[str, str]) -> tuple[Any, Any]:
    app = create_app(live)
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    body = _body(app, live.latest(), drawn)

    def post() -> int:
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return len(response.get_data())

    return post, client


@pytest.mark.benchmark(group="dashboard")
def test_operations_update_jatinegara(benchmark) -> None:
    if not JATINEGARA.exists():
        pytest.skip(f"{JATINEGARA} not in this checkout")
    run = TwinRun(_scenario(), store_url="sqlite://")
    try:
        t = 0.0
        while t < 1800.0 and not any(u.route_lon for u in run.live.latest().units):
            t = run.advance(t + 30.0)
        view = run.live.latest()
    finally:
        run.close()
    assert view.incidents and any(u.route_lon for u in view.units) and view.sites
    network = run.network

    links_only = dataclasses.replace(view, incidents=(), units=(), sites=())
    base_post, _ = _poster(LiveTwin(network, links_only), {})
    base_post()  # warm (figure geometry cache, Flask)
    base_s = []
    for _ in range(BASELINE_ROUNDS):
        t0 = time.perf_counter()
        base_bytes = base_post()
        base_s.append(time.perf_counter() - t0)

    full_post, _ = _poster(LiveTwin(network, view), {})
    typical_post, typical_client = _poster(LiveTwin(network, view), live_layers.layer_digests(view))
    full_post()
    full_bytes = benchmark(full_post)
    typical_bytes = typical_post()
    full_s = benchmark.stats.stats.median if benchmark.stats else None
    page_bytes = _page_bytes(typical_client)

    benchmark.extra_info.update({
        "links": network.n_links,
        "incidents": len(view.incidents),
        "units": len(view.units),
        "units_with_route": sum(1 for u in view.units if u.route_lon),
        "sites": len(view.sites),
        "bytes_per_update": full_bytes,
        "bytes_typical_tick": typical_bytes,
        "bytes_links_only": base_bytes,
        "bytes_page_once": page_bytes,
        "bytes_ratio": round(full_bytes / base_bytes, 3),
        "links_only_median_ms": round(1e3 * statistics.median(base_s), 2),
        "time_ratio": None if full_s is None else round(full_s / statistics.median(base_s), 3),
    })
    assert full_bytes > base_bytes >= typical_bytes * 0.9
