"""The microscopic engine's step kernel at 10k, 100k and 1M vehicles.

The state is built directly: ``n_corridors`` straight two-lane corridors of
10 km, vehicles spread over them at 30 vehicles per km and lane with their
class drawn from the Jakarta mix, each driving to its corridor's end. So the
step cost measured is car-following, lane changing, detectors off, no
junctions (the whole-scenario benchmarks cover junctions). Each benchmark
reports vehicle updates per second (vehicles x steps / wall second), the
engine state's bytes per vehicle and the process's peak RSS.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from benchmarks.peers.common import peak_rss_self_mb
from core_ext import _micro_nb, micro
from core_ext.micro import DEFAULT_CLASS_PARAMS, MicroParams, MicroState
from twin.demand import JAKARTA_VEHICLE_MIX, VEHICLE_CLASSES

CORRIDOR_M = 10_000.0
LANES = 2
DENSITY_VPKM_LANE = 30.0
STEPS = 10


@lru_cache(maxsize=1)  # the serial and the parallel run of one size share it (read only)
def corridor_state(n_vehicles: int, seed: int = 1) -> MicroState:
    """``n_vehicles`` on 10 km two-lane corridors, already inserted and moving."""
    per_corridor = int(CORRIDOR_M / 1000.0 * DENSITY_VPKM_LANE * LANES)
    n_links = max(1, -(-n_vehicles // per_corridor))
    rng = np.random.default_rng(seed)
    mix = np.array([JAKARTA_VEHICLE_MIX[c] for c in VEHICLE_CLASSES])
    cls = rng.choice(len(VEHICLE_CLASSES), size=n_vehicles, p=mix / mix.sum()).astype(np.int8)
    link = np.arange(n_vehicles) // per_corridor
    st = micro.new_state(
        link_length_m=np.full(n_links, CORRIDOR_M), link_lanes=np.full(n_links, LANES, np.int32),
        link_speed_limit_mps=np.full(n_links, 13.9),
        conn_from_link=np.zeros(0, np.int32), conn_from_lane=np.zeros(0, np.int32),
        conn_to_link=np.zeros(0, np.int32), conn_to_lane=np.zeros(0, np.int32),
        conn_program=np.zeros(0, np.int32), conn_sig_index=np.zeros(0, np.int32),
        conn_mov=np.zeros(0, np.int32), mov_from_link=np.zeros(0, np.int32),
        mov_to_link=np.zeros(0, np.int32), mov_rank=np.zeros(0, np.int32),
        mov_conf_off=np.zeros(1, np.int64), mov_conf=np.zeros(0, np.int32),
        prog_offset_s=np.zeros(0), prog_phase_off=np.zeros(1, np.int64),
        phase_dur_s=np.zeros(0), phase_codes=np.zeros((0, 1), np.int8),
        route_offsets=np.arange(n_vehicles + 1, dtype=np.int64),
        route_links=link.astype(np.int32), depart_s=np.zeros(n_vehicles),
        vehicle_class=cls, class_params=[DEFAULT_CLASS_PARAMS[c] for c in VEHICLE_CLASSES],
    )
    # place them: slot k of a corridor goes to lane k % 2, evenly spaced, rear first
    k = np.arange(n_vehicles) - link * per_corridor
    lane = link * LANES + (k % LANES)
    spacing = 1000.0 / DENSITY_VPKM_LANE
    pos = CORRIDOR_M - 50.0 - (k // LANES) * spacing
    st.veh_state[:] = _micro_nb._ACTIVE
    st.veh_link[:] = link
    st.veh_lane[:] = lane
    st.veh_pos_m[:] = pos
    st.veh_prev_pos_m[:] = pos
    st.veh_speed_mps[:] = 8.0
    st.veh_insert_s[:] = 0.0
    order = np.lexsort((-pos, lane))
    counts = np.bincount(lane, minlength=st.n_lanes)
    for ln in np.flatnonzero(counts):
        a = int(st.lane_slot_off[ln])
        members = order[np.searchsorted(lane[order], ln):][: counts[ln]]
        st.slots[a:a + counts[ln]] = members
    st.lane_count[:] = counts
    st.ins_ptr[:] = st.ins_off[1:]  # nothing left to insert
    return st


@pytest.mark.benchmark(group="kernel")
@pytest.mark.parametrize("threads", ["serial", "parallel"])
@pytest.mark.parametrize("n_vehicles", [10_000, 100_000, 1_000_000],
                         ids=["10k", "100k", "1M"])
def test_step_kernel(benchmark, n_vehicles: int, threads: str) -> None:
    """``STEPS`` steps of 1 s of the compiled kernel on ``n_vehicles`` moving vehicles."""
    params = MicroParams(parallel_min_vehicles=0 if threads == "parallel" else 10**12)
    base = corridor_state(n_vehicles)
    state = base.copy()
    micro.advance(state, params, 0.0, 1.0, 2)  # compile / load the cache; setup reloads base

    def setup() -> tuple[tuple[MicroState], dict[str, object]]:
        state.load(base)
        return (state,), {}

    def run(st: MicroState) -> None:
        micro.advance(st, params, 0.0, 1.0, STEPS, check=False)

    rounds = 3 if n_vehicles >= 1_000_000 else 10
    benchmark.pedantic(run, setup=setup, rounds=rounds, iterations=1)
    assert int(state.lane_count.sum()) > 0.9 * n_vehicles  # still on the road, not emptied
    benchmark.extra_info["vehicles"] = n_vehicles
    benchmark.extra_info["bytes_per_vehicle"] = round(micro.state_bytes_per_vehicle(state), 1)
    benchmark.extra_info["peak_rss_mb"] = round(peak_rss_self_mb(), 1)
    if benchmark.stats is not None:
        benchmark.extra_info["vehicle_updates_per_s"] = round(
            n_vehicles * STEPS / benchmark.stats.stats.min)
