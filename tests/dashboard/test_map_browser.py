"""The Map page in headless Chromium on the store of a real ETLE grid run: its layers are
drawn, and unticking one in the switcher hides its trace. Run with ``pytest -m browser``."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.wait import until

from dashboard import ids, map_layers
from dashboard.app import create_app
from tests.dashboard.map_fixtures import etle_run

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # selenium 4.2 + urllib3
]

SCREENSHOT = Path("/tmp/kota_map.png")


def _visible(dash_duo) -> list[bool]:
    return dash_duo.driver.execute_script(
        f"return document.querySelector('#{ids.MAP_GRAPH} .js-plotly-plot').data"
        ".slice(1).map(t => t.visible);")


def test_map_page_layer_switcher(dash_duo, tmp_path):
    run = etle_run(tmp_path)
    try:
        app = create_app(run.live, store=run.store)
        dash_duo.driver.set_window_size(1400, 940)
        dash_duo.start_server(app)
        dash_duo.driver.get(f"{dash_duo.server_url}/map")
        dash_duo.wait_for_element(f"#{ids.MAP_GRAPH} .js-plotly-plot .scatterlayer", timeout=20)
        keys = map_layers.LAYER_KEYS
        assert _visible(dash_duo) == [k in map_layers.DEFAULT_SHOWN for k in keys]
        dash_duo.wait_for_contains_text(f"#{ids.MAP_NOTES}", "no station areas stored")
        boxes = dash_duo.find_elements(f"#{ids.MAP_LAYERS} input")
        boxes[keys.index("violation")].click()  # hide the violation hot spots
        until(lambda: _visible(dash_duo)[keys.index("violation")] is False, timeout=10)
        assert _visible(dash_duo) == [k in map_layers.DEFAULT_SHOWN and k != "violation" for k in keys]
        dash_duo.driver.save_screenshot(str(SCREENSHOT))
        assert dash_duo.get_logs() == []
    finally:
        run.close()
