"""A dispatch run paused while a crash waits for its units, saved with its board.

Shared by the board tests here and the dispatch page tests (``tests/dashboard``): the
real :class:`~twin.modules.dispatch.DispatchModel` on a 3x3 grid, one call taker busy
with nuisance calls (so calls wait), a fire at 0 s already served, and crash ``crash-1``
(minor injury: police, ambulance, tow) at 600 s. The run is stepped second by second
until the crash is classified but not yet dispatched (the dispatcher's decision time is
120 s) while a call waits, then stored with :func:`save_run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import simpy

from twin.modules.dispatch import DispatchModel
from twin.modules.dispatch.persist import save_run
from twin.store import Store

from .conftest import make_model

CRASH = "crash-1"
UNITS = {"police": 1, "ambulance": 1, "tow": 1}
RAW: dict[str, Any] = {
    "seed": 3,
    "incidents": [
        {"id": "fire-1", "type": "fire", "link": "r0c1-r0c2", "at_s": 0.0, "calls": 1},
        {"id": CRASH, "type": "crash", "link": "r1c0-r1c1", "at_s": 600.0, "injury": "minor",
         "calls": 1},
    ],
    "calls": {"nuisance_per_hour": 240.0, "patience_mean_s": 600.0},
    "call_centre": {"shifts": [{"from_hour": 0, "to_hour": 24, "count": 1}],
                    "dispatch_decision_s": 120.0},
    "stations": [{"id": "a", "node": "r0c0", "units": {**UNITS, "fire": 1}},
                 {"id": "b", "node": "r2c2", "units": UNITS}],
    "hospitals": ["r1c1"],
}
STARTED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass
class BoardRun:
    """The paused run and where it is stored."""

    env: simpy.Environment
    model: DispatchModel
    run_id: str


def awaiting_dispatch(model: DispatchModel) -> bool:
    """The crash is classified, no unit is sent yet, and some call is waiting."""
    inc = model.incidents.get(CRASH)
    waiting = any(c.t_answer is None and c.t_abandon is None for c in model.calls)
    return inc is not None and inc.t_classified is not None and not inc.units and waiting


def board_run(store: Store) -> BoardRun:
    """Run :data:`RAW` until :func:`awaiting_dispatch`, then store it (a ``runs`` row too)."""
    env, model = make_model(RAW)
    env.run(until=600.0)
    for _ in range(900):
        if awaiting_dispatch(model):
            break
        env.run(until=env.now + 1.0)
    assert awaiting_dispatch(model), "the crash never waited for dispatch with a call queued"
    run_id = store.start_run("dispatch-board-test", seed=RAW["seed"], started_at=STARTED)
    save_run(store, run_id, model)
    return BoardRun(env, model, run_id)
