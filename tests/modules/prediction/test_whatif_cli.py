"""``kota what-if`` end to end: the Jatinegara demo's built-in incident candidates, and given ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli import main

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "scenarios" / "jakarta_jatinegara.toml"
GRID = REPO / "scenarios" / "grid_small.toml"


def test_jatinegara_demo_ranks_the_builtin_candidates(capsys: pytest.CaptureFixture[str]) -> None:
    """At 07:30 the scenario's crash opens; the built-in set is tried on it (the network has
    no signals, so "extra green" is reported as not applicable), ranked by delay saved,
    and the JSON says which one is recommended."""
    if not DEMO.exists():
        pytest.skip("demo scenario not in this checkout")
    assert main(["what-if", str(DEMO), "--at", "5400", "--horizon", "900", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["start_s"] == 5400 and out["horizon_s"] == 900
    (incident,) = out["incidents"]
    assert incident["link"] == "1682844563-1720088744-0" and incident["clear_at_s"] == 7200
    types = sorted(o["intervention"]["type"] for o in out["ranked"] + out["failed"])
    assert types == ["ClearIncidentEarlier", "CloseLink", "CloseLink", "ExtendGreen", "Reroute"]
    assert [o["intervention"]["type"] for o in out["failed"]] == ["ExtendGreen"]
    saved = [o["gain"]["delay_saved_veh_h"] for o in out["ranked"]]
    assert saved == sorted(saved, reverse=True)
    assert out["recommended"] == (out["ranked"][0]["label"] if saved[0] > 0 else None)
    assert out["baseline"]["trips_completed"] > 0


def test_given_interventions_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Interventions given on the command line are the candidates; the table lists them."""
    code = main(["what-if", str(GRID), "--at", "600", "--horizon", "600",
                 "--intervention", "reroute:20%", "--intervention", "close:nope"])
    text = capsys.readouterr().out
    assert code == 0
    assert "reroute 20% of drivers" in text and "do nothing" in text
    assert "close link nope: not applicable: unknown link id 'nope'" in text


def test_bad_intervention_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable --intervention exits 1 with the reason."""
    assert main(["what-if", str(GRID), "--intervention", "teleport:x"]) == 1
    assert "is not one of" in capsys.readouterr().err
