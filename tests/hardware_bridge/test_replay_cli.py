"""``kota replay``: the command line end to end, through twin.cli's entry-point commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli import main
from twin.store import open_store


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    status = main(["replay", *argv])
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_json_totals_and_a_second_replay_counted_as_duplicates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'kota.db'}"
    status, first = _run(capsys, "i94", "--limit", "100", "--store", url, "--json")
    assert status == 0
    assert (first["received"], first["accepted"], first["duplicates"]) == (100, 100, 0)
    assert first["source"]["duplicate_rows"] == 7629
    assert first["first_time"] == "2012-10-02T10:00:00-05:00"
    status, second = _run(capsys, "i94", "--limit", "100", "--store", url, "--json")
    assert (second["accepted"], second["duplicates"]) == (0, 100)
    with open_store(url) as store:
        assert store.count_observations() == 100


def test_a_file_with_bad_lines_exits_0_and_reports_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "loops.csv"
    path.write_text("detector_id,interval_start,interval_s,count,mean_speed_mph\n"
                    "d1,2026-11-28T07:00:00+07:00,60,10,30\n"
                    "d1,2026-11-28T07:01:00+07:00,60,-3,30\n"
                    "d1,2026-11-28T07:03:00+07:00,60,12,31\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'kota.db'}"
    status, totals = _run(capsys, str(path), "--store", url, "--json", "--speedup", "1e6")
    assert status == 0
    # 07:01 was quarantined and 07:02 never recorded: both are missing from the replay
    assert (totals["accepted"], totals["quarantined"], totals["missing"]) == (2, 1, 2)
    with open_store(url) as store:
        (q,) = store.quarantined()
        assert "loops.csv:3:" in q.reason
        speeds = [o.payload["mean_speed_mps"] for o in store.observations()]
    assert speeds == pytest.approx([30 * 0.44704, 31 * 0.44704])


def test_user_errors_exit_1_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "nope.jsonl"), "--no-store"]) == 1
    assert "neither a built-in recording" in capsys.readouterr().err
    assert main(["replay", "i94", "--start", "whenever", "--no-store"]) == 1
    assert "--start" not in capsys.readouterr().out


def test_start_and_no_store(capsys: pytest.CaptureFixture[str]) -> None:
    status, totals = _run(capsys, "metr-la", "--start", "1d", "--limit", "207", "--no-store",
                          "--json")
    assert status == 0 and totals["ticks"] == 1
    assert totals["first_time"] == "2012-03-02T00:05:00-08:00"
