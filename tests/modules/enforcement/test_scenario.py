"""The Jatinegara ETLE scenario end to end through ``kota enforce``, shortened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli import main
from twin.modules.enforcement.scenario_run import enforcement_settings
from twin.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = ROOT / "scenarios" / "jakarta_jatinegara_etle.toml"


def shortened(tmp_path: Path, **replace: str) -> Path:
    text = SCENARIO.read_text().replace('"../data/', f'"{ROOT}/data/')
    text = text.replace("duration_s = 14400", "duration_s = 3600")
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "etle.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_kota_enforce_runs_the_scenario_end_to_end(tmp_path, capsys) -> None:
    """Violations of every configured kind, cases through to payment, refusals, points and
    STNK blocks, an intact audit chain, and the text summary printed."""
    path = shortened(tmp_path)
    url = f"sqlite:///{tmp_path / 'etle.db'}"
    assert main(["enforce", str(path), "--store", url, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["violations_by_code"]) >= {"SPEEDING", "RED_LIGHT", "ODD_EVEN",
                                                   "NO_PLATE_OR_INVALID_PLATE"}
    states = summary["cases_by_state"]
    assert states.get("CLOSED", 0) > 0 and states.get("STNK_BLOCKED", 0) > 0
    assert "PENDING_VERIFICATION" not in states  # the officers cleared the queue
    assert summary["payments_accepted"] == states["CLOSED"]
    assert summary["bank_callbacks"].get("duplicate", 0) > 0
    assert summary["payments_refused"] == summary["bank_callbacks"].get("refused:422", 0)
    assert summary["points_entries"] > 0 and summary["stnk_blocks"] > 0
    assert summary["audit_chain_ok"] and summary["audit_entries"] > summary["cases_created"] * 3
    assert summary["simulated_days"] == pytest.approx(25 + 1 / 24, abs=0.01)
    assert main(["enforce", "--verify-audit", "--store", url]) == 0
    capsys.readouterr()
    assert main(["enforce", str(path), "--store", f"sqlite:///{tmp_path / 'b.db'}"]) == 0
    out = capsys.readouterr().out
    assert "cases by state" in out and "chain intact" in out


def test_the_scenario_settings_validate_and_name_bad_keys(tmp_path) -> None:
    settings = enforcement_settings(load_scenario(SCENARIO))
    assert {c.id for c in settings.detection.cameras} == {
        "speed-radjiman-a", "speed-radjiman-b", "redlight-bekasi-timur", "anpr-radjiman-1"}
    bad = shortened(tmp_path, **{"follow_up_days = 25": "follow_up_dayz = 25"})
    with pytest.raises(ScenarioError, match="modules.enforcement.follow_up_dayz"):
        enforcement_settings(load_scenario(bad))
    bad = shortened(tmp_path, **{'id = "speed-radjiman-b"\nkind': 'id = "speed-radjiman-x"\nkind'})
    with pytest.raises(ScenarioError, match="unknown camera 'speed-radjiman-b'"):
        enforcement_settings(load_scenario(bad))
    bad = shortened(tmp_path, **{'id = "anpr-radjiman-1"\ntype': 'id = "anpr-x"\ntype'})
    with pytest.raises(ScenarioError, match="'anpr-radjiman-1' is not placed in"):
        enforcement_settings(load_scenario(bad))
