"""``kota report``: the HTML report of a sweep run on a real Dask cluster."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dashboard.sweep_report import (
    DIFF_CLASSES,
    ReportError,
    build_report,
    difference_classes,
    load_sweep,
    point_link_speed_mps,
    write_report,
)
from tests.dask_cluster import local_client
from twin.cli import main
from twin.planning.sweep import run_sweep
from twin.planning.sweep_spec import SweepSpec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
GRID = REPO / "scenarios" / "grid_small.toml"


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """demand.scale 0.5 and 2.0, two seeds each, 15 simulated minutes, on one Dask worker."""
    out = tmp_path_factory.mktemp("sweep")
    with local_client(1) as client:
        spec = SweepSpec.build(GRID, {"demand.scale": [0.5, 2.0]}, replications=2, duration_s=900.0)
        result = run_sweep(spec, out, client=client, progress=False)
        assert result.ran == 4
    yield out


def test_the_report_opens_offline_and_shows_every_points_kpis(sweep_dir):
    path = write_report(sweep_dir)
    assert path == sweep_dir / "report.html"
    text = path.read_text(encoding="utf-8")
    markup = re.sub(r"<script[^>]*>.*?</script>", "<script></script>", text, flags=re.S)
    assert "<script src" not in text and "<link" not in markup
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)  # nothing fetched
    assert "plotly.js" in text[:200_000]  # the library itself is inlined
    summary = json.loads((sweep_dir / "summary.json").read_text())
    for row in summary:
        assert f">{row['point']}" in text
        assert f"{row['mean_travel_time_s']:,.1f} ± {row['mean_travel_time_s_ci']:,.2f}" in text
    assert "jatinegara" not in text and "grid-small" in text  # the sweep's own scenario
    assert text.count("demand.scale=2.0 against demand.scale=0.5") == 1


def test_link_speeds_are_the_mean_over_seeds_of_each_runs_meter(sweep_dir):
    data = load_sweep(sweep_dir)
    runs = [r for r in data.runs if r["params"]["demand.scale"] == 2.0]
    assert len(runs) == 2
    a, b = (np.array([np.nan if v is None else v for v in r["kpis"]["link_speed_mps"]])
            for r in runs)
    mean = point_link_speed_mps(data, "demand.scale=2.0")
    both = np.isfinite(a) & np.isfinite(b)
    assert np.allclose(mean[both], (a[both] + b[both]) / 2)
    only_a = np.isfinite(a) & ~np.isfinite(b)
    assert np.allclose(mean[only_a], a[only_a])
    assert np.isnan(mean[~np.isfinite(a) & ~np.isfinite(b)]).all()
    limit = data.network.link_speed_limit_mps
    seen = np.isfinite(mean)
    assert seen.sum() > data.network.n_links // 2
    assert (mean[seen] <= limit[seen] + 1e-6).all()  # nobody averages above the limit


def test_four_times_the_demand_slows_more_links_than_it_speeds_up(sweep_dir):
    data = load_sweep(sweep_dir)
    low = point_link_speed_mps(data, "demand.scale=0.5")
    high = point_link_speed_mps(data, "demand.scale=2.0")
    classes = difference_classes((high - low) * 3.6)
    slower = int(np.isin(classes, [0, 1]).sum())
    faster = int(np.isin(classes, [3, 4]).sum())
    assert slower > faster  # more vehicles on the same roads: lower speeds
    both = np.isfinite(low) & np.isfinite(high)
    assert float(np.mean(high[both] - low[both])) < 0


def test_difference_classes_follow_their_bounds():
    diff = np.array([-25.0, -10.0, -3.5, -3.0, 0.0, 2.99, 3.0, 9.9, 10.0, np.nan])
    assert difference_classes(diff).tolist() == [0, 1, 1, 2, 2, 2, 3, 3, 4, -1]
    assert len(DIFF_CLASSES) == 5


def test_a_wrong_baseline_or_folder_is_a_clear_error(sweep_dir, tmp_path, capsys):
    with pytest.raises(ReportError, match="no point 'demand.scale=9' in the sweep; its points: "
                                          "demand.scale=0.5, demand.scale=2.0"):
        build_report(load_sweep(sweep_dir), baseline="demand.scale=9")
    assert main(["report", str(tmp_path)]) == 1
    assert "is not a sweep's folder: no sweep.json" in capsys.readouterr().err


def test_kota_report_writes_where_asked_and_compares_against_the_baseline(sweep_dir, tmp_path,
                                                                          capsys):
    out = tmp_path / "r" / "report.html"
    assert main(["report", str(sweep_dir), "--out", str(out), "--baseline", "demand.scale=2.0"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    assert "demand.scale=0.5 against demand.scale=2.0" in text
    assert "demand.scale=2.0 (baseline)" in text


@pytest.mark.browser
def test_the_report_renders_in_chromium_without_console_errors(sweep_dir, dash_duo):
    path = write_report(sweep_dir)
    dash_duo.driver.get(path.as_uri())
    dash_duo.wait_for_element(".js-plotly-plot .scatterlayer", timeout=20)
    assert len(dash_duo.find_elements(".js-plotly-plot")) == 7 + 1  # a chart per KPI, one map
    assert dash_duo.get_logs() == []
