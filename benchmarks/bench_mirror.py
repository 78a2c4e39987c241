"""The live mirror on METR-LA: how close the twin's speeds stay to the recorded ones.

One-step-ahead MAE of the twin's speed at the 207 sensors, mirrored
(:class:`hardware_bridge.mirror.SpeedMirror`) and not, over the morning of
1 March 2012 (06:00-09:00, 36 five-minute intervals) on the METR-LA stand-in
network with 12,000 trips/h; see :mod:`hardware_bridge.mirror_eval`. The MAE
in m/s and mph and the persistence floor go to ``extra_info``; the timed call
is the whole run (demand, routing, 3 h 15 min of simulation, assimilation).

As a script it prints both scores as JSON lines::

    python -m benchmarks.bench_mirror [FIRST_ROW INTERVALS]
"""

from __future__ import annotations

import json
import sys

import pytest

from hardware_bridge.mirror_eval import MirrorScore, score_metr_la
from hardware_bridge.replay_sources import MetrLa
from hardware_bridge.sensor_network import metr_la_network


@pytest.mark.benchmark(group="mirror")
@pytest.mark.parametrize("mirrored", [False, True], ids=["baseline", "mirrored"])
def test_mirror_metr_la_morning(benchmark, mirrored: bool) -> None:
    rec, sn = MetrLa(), metr_la_network()
    score_metr_la(mirror=mirrored, intervals=1, recording=rec, sensor_network=sn)  # kernels warm
    score: MirrorScore = benchmark.pedantic(
        score_metr_la, kwargs={"mirror": mirrored, "recording": rec, "sensor_network": sn},
        rounds=1, iterations=1)
    benchmark.extra_info.update(score.as_dict())
    assert score.comparisons == 36 * 207


def main(argv: list[str]) -> None:
    """Print the baseline and the mirrored score as JSON lines."""
    first_row, intervals = (int(argv[0]), int(argv[1])) if len(argv) == 2 else (72, 36)
    rec, sn = MetrLa(), metr_la_network()
    for mirrored in (False, True):
        score = score_metr_la(mirror=mirrored, first_row=first_row, intervals=intervals,
                              recording=rec, sensor_network=sn)
        print(json.dumps(score.as_dict()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
