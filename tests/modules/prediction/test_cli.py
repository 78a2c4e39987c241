"""``kota evaluate-forecast`` end to end on a 30-sensor slice of METR-LA written to a temporary folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twin.cli import main

from .conftest import MetrLa

N = 30


@pytest.fixture(scope="module")
def slice_dir(metr_la: MetrLa, tmp_path_factory: pytest.TempPathFactory):
    """``los_speed.csv`` (header of ids) and ``los_adj.csv`` (no header) for the first 30 sensors."""
    d = tmp_path_factory.mktemp("metr-la-slice")
    ids = ",".join(str(800000 + i) for i in range(N))
    np.savetxt(d / "los_speed.csv", metr_la.speeds_mph[:, :N], delimiter=",", header=ids, comments="",
               fmt="%.10g")
    np.savetxt(d / "los_adj.csv", metr_la.adjacency[:N, :N], delimiter=",", fmt="%.10g")
    return d


def test_json_output(slice_dir, metr_la: MetrLa, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate-forecast", "--data", str(slice_dir / "los_speed.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["adjacency"] == str(slice_dir / "los_adj.csv")  # found beside --data
    assert out["sensors"] == N and out["fit_rows"] == 1612 and out["rows"] == 2016
    x = metr_la.speeds_mph[:, :N]
    for h in out["horizons"]:
        steps = h["horizon_min"] // 5
        t = np.arange(1612, 2016 - steps)
        assert h["mae"]["last value"] == pytest.approx(np.abs(x[t + steps] - x[t]).mean(), rel=1e-9)
        assert h["scored"] == len(t) * N
        assert h["mae"]["model"] < h["mae"]["last value"]


def test_table_output(slice_dir, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate-forecast", "--data", str(slice_dir / "los_speed.csv"), "--fit-rows", "1500"]) == 0
    text = capsys.readouterr().out
    assert "fit on rows 0-1499" in text
    for label in ("15 min", "30 min", "60 min", "last value", "historical average", "model"):
        assert label in text
    assert text.count("left out: 0 missing targets") == 3


def test_missing_file_is_a_user_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate-forecast", "--data", str(tmp_path / "nope.csv")]) == 1
    err = capsys.readouterr().err
    assert "nope.csv does not exist" in err and "--data" in err
