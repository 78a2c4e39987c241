"""Stores filled by real runs for the map layers' tests.

* :func:`etle_run`: the ETLE engine-feed grid of the enforcement tests (700 veh/h along
  the middle row; two speed cameras and a red-light camera on it, ETLE running live) with
  a breakdown blocking both lanes of ``r1c1-r1c2`` (no camera there) from 300 s to 900 s
  and loop detectors on it and on the link before it, run to its end: violations on the
  camera links, an incident report, and detector intervals in its store.
* :func:`dispatch_run`: grid_small with the dispatch module of the dispatch live tests,
  run 900 s: stored incidents with their areas (stations ``west`` and ``east``).
"""

from __future__ import annotations

from pathlib import Path

from tests.modules.dispatch.test_live_run import scenario as dispatch_scenario
from tests.modules.enforcement.test_live import grid_etle
from twin.runner import TwinRun
from twin.scenario import IncidentSpec, LoopDetectorSpec

BLOCKED = "r1c1-r1c2"
"""The link of :func:`etle_run`'s breakdown (no camera on it)."""
QUEUE = "r1c0-r1c1"
"""The link before it, where the queue backs up (a speed and a red-light camera on it)."""


def etle_run(tmp_path: Path) -> TwinRun:
    """The finished ETLE grid run described above (its store still open)."""
    base = grid_etle(tmp_path)
    stall = IncidentSpec(id="breakdown-top", type="breakdown", link=BLOCKED, start_s=300.0,
                         duration_s=600.0, lanes_blocked=2)
    loops = [LoopDetectorSpec(id="loop-blocked", link=BLOCKED, pos_m=20.0),
             LoopDetectorSpec(id="loop-queue", link=QUEUE, pos_m=150.0)]
    sc = base.model_copy(update={
        "incidents": [stall],
        "sensors": base.sensors.model_copy(update={"loop_detectors": loops}),
    })
    run = TwinRun(sc, store_url=f"sqlite:///{tmp_path / 'etle.db'}")
    run.run(chunk_s=300.0)
    return run


def dispatch_run(tmp_path: Path) -> TwinRun:
    """The finished dispatch grid run described above (its store still open)."""
    run = TwinRun(dispatch_scenario(900.0), store_url=f"sqlite:///{tmp_path / 'dispatch.db'}")
    run.run(chunk_s=300.0)
    return run
