"""The link-model kernel against the pure-Python reference, and its rules on both backends.

The differential tests run the compiled kernel and :mod:`core_ext.reference`
on the same random scenarios and require equal arrays. The behaviour tests
take the ``backend`` fixture and run once per backend, so a rule that both
implementations break the same way still fails.
"""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

from core_ext import config, link_model
from core_ext.link_model import LinkModelParams, LinkModelState
from core_ext.reference import advance_reference

BACKENDS = {"numba": link_model.advance, "reference": advance_reference}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    """``advance(state, params, time_s, dt_s, n_steps)`` of one backend."""
    return BACKENDS[request.param]


def random_scenario(
    seed: int,
    n_nodes: int = 10,
    n_vehicles: int = 300,
    n_detectors: int = 8,
    horizon_s: float = 300.0,
    params: LinkModelParams | None = None,
) -> tuple[LinkModelState, LinkModelParams]:
    """A ring with chords; routes are random walks (1-8 links), a few routes empty."""
    rng = np.random.default_rng(seed)
    params = params or LinkModelParams()
    frm: list[int] = []
    to: list[int] = []
    for i in range(n_nodes):
        j = (i + 1) % n_nodes
        frm += [i, j]
        to += [j, i]
    for _ in range(n_nodes):
        a, b = (int(x) for x in rng.integers(0, n_nodes, 2))
        if a != b:
            frm.append(a)
            to.append(b)
    n_links = len(frm)
    out = [[lk for lk in range(n_links) if frm[lk] == u] for u in range(n_nodes)]
    routes = []
    for _ in range(n_vehicles):
        u = int(rng.integers(n_nodes))
        route = []
        for _ in range(int(rng.integers(1, 9))):
            lk = int(rng.choice(out[u]))
            route.append(lk)
            u = to[lk]
        routes.append(route if rng.random() > 0.02 else [])
    offsets = np.zeros(n_vehicles + 1, np.int64)
    np.cumsum([len(r) for r in routes], out=offsets[1:])
    depart = np.sort(rng.uniform(0, horizon_s, n_vehicles))
    depart[5:15] = depart[5]  # simultaneous departures: ties broken by index
    length = rng.uniform(15.0, 300.0, n_links)
    length[0] = 3.0  # shorter than one step of driving, storage floor of 1
    state = link_model.new_state(
        link_length_m=length,
        link_lanes=rng.integers(1, 4, n_links).astype(np.int32),
        link_speed_limit_mps=rng.uniform(5.0, 20.0, n_links),
        link_capacity_vph=rng.uniform(300.0, 3000.0, n_links),
        route_offsets=offsets,
        route_links=np.array([x for r in routes for x in r], np.int32),
        depart_s=depart,
        eff_length_m=rng.uniform(3.0, 14.0, n_vehicles),
        params=params,
    )
    for _ in range(n_detectors):
        lk = int(rng.integers(n_links))
        pos = float(state.link_length_m[lk]) if rng.random() < 0.3 else \
            float(rng.uniform(0.5, state.link_length_m[lk]))
        link_model.add_detector(state, lk, pos)
    return state, params


def assert_states_equal(a: LinkModelState, b: LinkModelState) -> None:
    """Every column equal (floats within the config tolerance, NaN == NaN)."""
    for name, x in a.arrays().items():
        y = getattr(b, name)
        if x.dtype.kind == "f":
            npt.assert_allclose(x, y, rtol=config.TEST_RTOL, atol=config.TEST_ATOL,
                                equal_nan=True, err_msg=name)
        else:
            npt.assert_array_equal(x, y, err_msg=name)


def chain(lengths, *, lanes=1, speed=10.0, capacity=1800.0, n_vehicles=1, depart=None,
          params=None):
    """A chain of links 0 -> 1 -> ...; every vehicle drives all of it."""
    n = len(lengths)
    params = params or LinkModelParams()
    depart = np.zeros(n_vehicles) if depart is None else np.asarray(depart, float)
    return link_model.new_state(
        link_length_m=np.asarray(lengths, float),
        link_lanes=np.full(n, lanes, np.int32),
        link_speed_limit_mps=np.full(n, speed),
        link_capacity_vph=np.broadcast_to(np.asarray(capacity, float), (n,)).copy(),
        route_offsets=np.arange(n_vehicles + 1, dtype=np.int64) * n,
        route_links=np.tile(np.arange(n, dtype=np.int32), n_vehicles),
        depart_s=depart,
        eff_length_m=np.full(n_vehicles, 6.5),
        params=params,
    ), params


# ------------------------------------------------------------ differential
@pytest.mark.parametrize("seed", range(6))
def test_kernel_equals_reference_on_random_scenarios(seed):
    """Same arrays after many steps, light and heavy demand, through gridlock."""
    n_vehicles = 200 if seed % 2 else 1200
    state, params = random_scenario(seed, n_vehicles=n_vehicles)
    a, b = state.copy(), state.copy()
    t_a = t_b = 0.0
    for _ in range(4):
        t_a = link_model.advance(a, params, t_a, 0.5, 150)
        t_b = advance_reference(b, params, t_b, 0.5, 150)
        assert_states_equal(a, b)
    assert t_a == t_b


def test_kernel_equals_reference_with_incidents_and_varying_steps():
    """Capacity/speed factors changed between calls and uneven steps give equal results."""
    params = LinkModelParams(k_jam_vpm_per_lane=0.12, min_speed_frac=0.2, outflow_burst_veh=2.0)
    state, params = random_scenario(42, n_vehicles=600, params=params)
    a, b = state.copy(), state.copy()
    t = 0.0
    rng = np.random.default_rng(1)
    for dt in (1.0, 0.25, 2.0, 0.7, 1.3, 3.0):
        links = rng.integers(0, state.n_links, 3)
        for s in (a, b):
            s.link_cap_factor[:] = 1.0
            s.link_cap_factor[links] = [0.0, 0.5, 1.0 / 3.0]
            s.link_speed_factor[links[1]] = 0.4
        link_model.advance(a, params, t, dt, 40)
        t = advance_reference(b, params, t, dt, 40)
        assert_states_equal(a, b)


def test_many_steps_in_one_call_equal_single_steps(backend):
    """``n_steps=k`` equals k calls of one step (dt exact in binary)."""
    state, params = random_scenario(3, n_vehicles=400)
    a, b = state.copy(), state.copy()
    backend(a, params, 0.0, 0.5, 400)
    t = 0.0
    for _ in range(400):
        t = backend(b, params, t, 0.5, 1)
    assert t == 200.0
    assert_states_equal(a, b)


# --------------------------------------------------------------- behaviour
def test_lone_vehicle_travel_time_is_exact(backend):
    """One vehicle, departing between steps, arrives at depart + sum(L / v) to rounding."""
    lengths = [120.0, 45.0, 300.0]
    state, params = chain(lengths, speed=12.0, depart=[0.3])
    backend(state, params, 0.0, 1.0, 80)
    k = params.k_jam_vpm_per_lane
    expected = 0.3 + sum(L / (12.0 * (1.0 - (1.0 / L) / k)) for L in lengths)
    assert state.veh_state[0] == config.VEH_ARRIVED
    npt.assert_allclose(state.veh_arrive_s[0], expected, rtol=1e-12)
    assert state.link_entered.tolist() == [1, 1, 1] == state.link_exited.tolist()


def test_counts_match_vehicles_and_storage_is_never_exceeded(backend):
    """After every step each link holds exactly its active vehicles, never more than storage."""
    state, params = random_scenario(5, n_vehicles=900)
    t = 0.0
    for _ in range(300):
        t = backend(state, params, t, 1.0, 1)
        active = state.veh_state == config.VEH_ACTIVE
        on_link = np.bincount(state.veh_link[active], minlength=state.n_links)
        npt.assert_array_equal(state.link_count, on_link)
        assert np.all(state.link_count <= state.link_storage)
        npt.assert_array_equal(state.link_count, state.link_entered - state.link_exited)
        assert np.all(state.veh_pos_m[active] <= state.link_length_m[state.veh_link[active]])


def test_exit_queue_is_fifo(backend):
    """Vehicles leave a bottleneck in the order they reached its end."""
    state, params = chain([200.0, 200.0], capacity=[360.0, 1800.0], n_vehicles=12,
                          depart=np.arange(12) * 0.7)
    reached: dict[int, float] = {}
    left: list[int] = []
    t = 0.0
    for _ in range(400):
        before = state.veh_link.copy()
        t = backend(state, params, t, 1.0, 1)
        for v in range(12):
            if state.veh_link[v] == 0 and state.veh_pos_m[v] >= 200.0 and v not in reached:
                reached[v] = float(state.veh_pos_time_s[v])
            if before[v] == 0 and state.veh_link[v] == 1:
                left.append(v)
    assert len(left) == 12
    assert left == sorted(left, key=lambda v: (reached[v], v))


def test_zero_capacity_holds_everyone_until_reopened(backend):
    """A link with capacity factor 0 lets nobody out; restoring it releases the queue."""
    state, params = chain([100.0, 100.0], n_vehicles=5)
    state.link_cap_factor[0] = 0.0
    t = backend(state, params, 0.0, 1.0, 120)
    assert state.link_exited[0] == 0 and state.link_count[0] == 5
    assert np.all(state.veh_pos_m == 100.0)
    state.link_cap_factor[0] = 1.0
    backend(state, params, t, 1.0, 200)
    assert np.all(state.veh_state == config.VEH_ARRIVED)


def test_insertion_waits_for_storage_in_departure_order(backend):
    """A full first link keeps later departures waiting, and they enter FIFO."""
    # storage of link 0: floor(20 * 1 * 0.15) = 3 vehicles
    state, params = chain([20.0, 500.0], n_vehicles=8, depart=np.zeros(8), capacity=3600.0)
    assert state.link_storage[0] == 3
    backend(state, params, 0.0, 1.0, 1)
    assert state.veh_state.tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    entered_at = np.full(8, -1)
    t = 1.0
    for step in range(1, 60):
        t = backend(state, params, t, 1.0, 1)
        entered_at[(entered_at < 0) & (state.veh_state != config.VEH_WAITING)] = step
    assert np.all(np.diff(entered_at[3:]) >= 0)
    assert state.counters[0] == 8  # the insertion cursor passed everyone


def test_detector_counts_each_passing_vehicle_once(backend):
    """Detectors mid-link and at the link end count every vehicle exactly once."""
    state, params = chain([150.0, 150.0], n_vehicles=20, depart=np.arange(20) * 2.0)
    mid = link_model.add_detector(state, 0, 75.0)
    end = link_model.add_detector(state, 1, 150.0)
    backend(state, params, 0.0, 1.0, 300)
    assert state.det_count[mid] == 20 and state.det_count[end] == 20
    speeds = state.det_speed_sum / state.det_count
    assert np.all((speeds > 0) & (speeds <= 10.0))
    # mid-link: (6.5 m / speed) per crossing, at most one step each; speed <= 10 m/s
    assert 20 * 6.5 / 10.0 <= state.det_occ_s[mid] <= 20 * 1.0
    # at the link end each vehicle stands on the loop until it leaves
    assert state.det_occ_s[end] >= 20 * 6.5 / 10.0


def test_unroutable_vehicles_are_never_inserted(backend):
    """A vehicle with an empty route keeps state UNROUTABLE."""
    state = link_model.new_state(
        link_length_m=np.array([50.0]), link_lanes=np.array([1], np.int32),
        link_speed_limit_mps=np.array([10.0]), link_capacity_vph=np.array([1800.0]),
        route_offsets=np.array([0, 0, 1], np.int64), route_links=np.array([0], np.int32),
        depart_s=np.array([0.0, 0.0]), eff_length_m=np.array([5.0, 5.0]),
        params=LinkModelParams())
    backend(state, LinkModelParams(), 0.0, 1.0, 30)
    assert state.veh_state.tolist() == [config.VEH_UNROUTABLE, config.VEH_ARRIVED]


def test_empty_scenario_runs(backend):
    """No vehicles and no detectors is a valid state."""
    state, params = chain([100.0], n_vehicles=0)
    assert backend(state, params, 0.0, 1.0, 10) == 10.0
    assert state.counters.tolist() == [0, 0]


def test_new_state_owns_its_columns():
    """``new_state`` copies its inputs: the caller's arrays and the state share no memory."""
    inputs = {
        "link_length_m": np.array([100.0]), "link_lanes": np.array([1], np.int32),
        "link_speed_limit_mps": np.array([10.0]), "link_capacity_vph": np.array([1800.0]),
        "route_offsets": np.array([0, 1], np.int64), "route_links": np.array([0], np.int32),
        "depart_s": np.array([0.0]), "eff_length_m": np.array([5.0]),
    }
    state = link_model.new_state(**inputs, params=LinkModelParams())
    for arr in inputs.values():
        for name, col in state.arrays().items():
            assert not np.shares_memory(arr, col), name


def test_load_overwrites_in_place_and_adopts_other_detectors():
    """``load`` keeps same-shaped columns (views stay live) and copies the detector set."""
    state, params = random_scenario(2, n_vehicles=100, n_detectors=0)
    before = state.copy()
    link_model.advance(state, params, 0.0, 1.0, 60)
    link_model.add_detector(state, 0, 1.0)
    count_col = state.link_count
    state.load(before)
    assert state.link_count is count_col
    assert_states_equal(state, before)
    assert state.n_detectors == 0
    for name, arr in state.arrays().items():
        assert not np.shares_memory(arr, getattr(before, name)), name


def test_copy_is_deep():
    """``copy`` shares no array with the original."""
    state, _ = random_scenario(1, n_vehicles=20)
    dup = state.copy()
    for name, arr in state.arrays().items():
        assert not np.shares_memory(arr, getattr(dup, name)), name


# -------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k_jam_vpm_per_lane": 0.0}, "k_jam_vpm_per_lane"),
        ({"k_jam_vpm_per_lane": float("nan")}, "k_jam_vpm_per_lane"),
        ({"min_speed_frac": 0.0}, "min_speed_frac"),
        ({"min_speed_frac": 1.5}, "min_speed_frac"),
        ({"outflow_burst_veh": 0.5}, "outflow_burst_veh"),
    ],
)
def test_bad_params_raise(kwargs, message):
    """Out-of-range parameters raise ValueError naming the field."""
    with pytest.raises(ValueError, match=message):
        LinkModelParams(**kwargs)


def test_bad_step_arguments_and_state_raise(backend):
    """dt <= 0, negative n_steps and a column of the wrong dtype are refused."""
    state, params = chain([100.0])
    with pytest.raises(ValueError, match="dt_s"):
        backend(state, params, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="n_steps"):
        backend(state, params, 0.0, 1.0, -1)
    state.link_count = state.link_count.astype(np.int64)
    with pytest.raises(ValueError, match="link_count"):
        backend(state, params, 0.0, 1.0, 1)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("link_length_m", [0.0], "link_length_m"),
        ("link_lanes", [0], "link_lanes"),
        ("link_speed_limit_mps", [np.nan], "link_speed_limit_mps"),
        ("route_links", [3], "not a link index"),
        ("depart_s", [np.inf], "depart_s"),
        ("eff_length_m", [-1.0], "eff_length_m"),
    ],
)
def test_new_state_checks_columns(column, value, message):
    """``new_state`` names the bad column."""
    kw = {
        "link_length_m": [100.0], "link_lanes": [1], "link_speed_limit_mps": [10.0],
        "link_capacity_vph": [1800.0], "route_offsets": [0, 1], "route_links": [0],
        "depart_s": [0.0], "eff_length_m": [5.0],
    }
    kw[column] = value
    with pytest.raises(ValueError, match=message):
        link_model.new_state(**{k: np.asarray(v) for k, v in kw.items()},
                             params=LinkModelParams())


def test_detector_position_must_lie_on_the_link():
    """Position 0, beyond the end or NaN is refused."""
    state, _ = chain([100.0])
    for pos in (0.0, 100.5, float("nan")):
        with pytest.raises(ValueError, match="detector position"):
            link_model.add_detector(state, 0, pos)
    with pytest.raises(ValueError, match="not a link index"):
        link_model.add_detector(state, 3, 10.0)
