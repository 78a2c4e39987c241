"""The Operations map's band traces rebuilt in headless Chromium (``assets/ops_map.js``) from
the geometry the page holds and the links' state each tick sends: exactly the traces the
server builds, hover texts included; the operator's legend toggles and zoom outlive the
ticks. Run with ``pytest -m browser``."""

from __future__ import annotations

import numpy as np
import pytest
from dash.testing.wait import until
from selenium.webdriver import ActionChains
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

from dashboard import figures, ids
from dashboard.app import create_app
from dashboard.figures import SPEED_BANDS
from tests.dashboard.conftest import grid_network, make_view
from twin.live import LiveTwin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # selenium 4.2 + urllib3
]

N_BANDS = len(SPEED_BANDS)
GD = f"document.querySelector('#{ids.OPS_MAP} .js-plotly-plot')"


def _view(network, seed: int, time_s: float):
    rng = np.random.default_rng(seed)
    speed = network.link_speed_limit_mps * rng.uniform(0.0, 1.2, network.n_links)
    speed[rng.random(network.n_links) < 0.1] = np.nan
    count = rng.integers(0, 4, network.n_links)
    return make_view(network, speed, count, time_s=time_s, n_active=int(count.sum()))


def _bands_in_browser(dash_duo) -> list[dict]:
    return dash_duo.driver.execute_script(
        f"return {GD}.data.slice(0, {N_BANDS})"
        ".map(t => ({x: t.x, y: t.y, hovertext: t.hovertext}));")


def _x_range(dash_duo) -> list[float]:
    return dash_duo.driver.execute_script(f"return {GD}.layout.xaxis.range.slice();")


def _expected(network, view) -> list[dict]:
    return figures.speed_band_traces(network, view.link_speed_mps, view.link_vehicle_count)


def _show(dash_duo, live, network, view, clock: str) -> None:
    """Publish ``view`` and wait until the browser has drawn it."""
    live.publish_view(view)
    dash_duo.wait_for_text_to_equal(f"#{ids.ops_kpi('clock')}", clock, timeout=15)
    want = _expected(network, view)
    until(lambda: _bands_in_browser(dash_duo) == want, timeout=10)
    lon = [x for trace in want for x in trace["x"] if x is not None]
    until(lambda: _x_range(dash_duo)[0] <= min(lon) < max(lon) <= _x_range(dash_duo)[1],
          timeout=5)  # the map autoranges to the links drawn after load


def test_the_browser_rebuilds_the_band_traces_of_each_tick(dash_duo):
    network = grid_network(rows=4, cols=5)
    first = _view(network, 1, 0.0)
    live = LiveTwin(network, first)
    dash_duo.driver.set_window_size(1400, 940)
    dash_duo.start_server(create_app(live))
    dash_duo.wait_for_element(f"#{ids.OPS_MAP} .js-plotly-plot .scatterlayer", timeout=20)
    want = _expected(network, first)  # the page's figure has empty bands: drawn on load
    until(lambda: _bands_in_browser(dash_duo) == want, timeout=10)

    second = _view(network, 2, 65.0)
    _show(dash_duo, live, network, second, "07:01:05")
    texts = {t for trace in _bands_in_browser(dash_duo) for t in trace["hovertext"] if t}
    speed_kmh = figures.shown_speed_kmh(second.link_speed_mps, second.link_vehicle_count)
    busy = next(i for i, kmh in enumerate(speed_kmh) if kmh is not None)
    limit_kmh = network.link_speed_limit_mps[busy] * figures.MPS_TO_KMH
    assert (f"<b>{network.link_name[busy]}</b><br>{speed_kmh[busy]} km/h · "
            f"{second.link_vehicle_count[busy]} veh<br>limit {limit_kmh:.0f} km/h") in texts

    # the operator hides the "free" band and zooms in: both outlive the next tick
    free = [b.key for b in SPEED_BANDS].index("free")
    dash_duo.find_elements(f"#{ids.OPS_MAP} .legend .traces .legendtoggle")[free].click()
    until(lambda: dash_duo.driver.execute_script(
        f"return {GD}.data[{free}].visible;") == "legendonly", timeout=5)
    plot = dash_duo.find_element(f"#{ids.OPS_MAP} .nsewdrag")
    full_range = _x_range(dash_duo)
    ActionChains(dash_duo.driver).scroll_from_origin(
        ScrollOrigin.from_element(plot), 0, -400).perform()
    until(lambda: _x_range(dash_duo) != full_range, timeout=5)
    zoomed = _x_range(dash_duo)
    assert zoomed[1] - zoomed[0] < full_range[1] - full_range[0]

    _show(dash_duo, live, network, _view(network, 3, 130.0), "07:02:10")
    assert dash_duo.driver.execute_script(f"return {GD}.data[{free}].visible;") == "legendonly"
    assert _x_range(dash_duo) == zoomed
    assert dash_duo.get_logs() == []
