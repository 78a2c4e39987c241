"""The grid generator and the default fixed-time signal programs."""

from __future__ import annotations

import numpy as np
import pytest

from twin.importers import default_signal_programs, grid_network
from twin.importers.signals import build_connections
from twin.network import Network, NetworkError, unproject_xy


def _green(state: str) -> set[int]:
    return {i for i, s in enumerate(state) if s in "Gg"}


@pytest.mark.parametrize(("rows", "cols"), [(1, 2), (2, 2), (3, 4), (5, 5)])
def test_grid_counts(rows: int, cols: int) -> None:
    """rows*cols nodes, 2*(rows*(cols-1) + cols*(rows-1)) links, signals at 4-way nodes."""
    net = grid_network(rows, cols)
    assert net.n_nodes == rows * cols
    assert net.n_links == 2 * (rows * (cols - 1) + cols * (rows - 1))
    interior = {f"r{i}c{j}" for i in range(1, rows - 1) for j in range(1, cols - 1)}
    assert {net.node_ids[n] for n in net.signals.program_node} == interior
    assert set(net.signals.program_ids) == interior


def test_grid_ids_geometry_and_attributes() -> None:
    net = grid_network(3, 3, block_m=150.0, lanes=2, speed_limit_mps=10.0,
                       capacity_per_lane_vph=1500.0, origin_lonlat=(107.0, -6.9), name="demo")
    assert net.name == "demo"
    assert "r0c0-r0c1" in net.link_index and "r0c1-r0c0" in net.link_index
    assert "r0c0-r1c0" in net.link_index and "r0c0-r1c1" not in net.link_index
    np.testing.assert_allclose(net.link_length_m, 150.0)
    np.testing.assert_allclose(net.link_capacity_vph, 3000.0)
    np.testing.assert_array_equal(net.link_lanes, 2)
    # r0 is south of r1; c0 is west of c1; the centre node sits on the origin.
    ix = net.node_index
    assert net.node_y_m[ix["r1c0"]] - net.node_y_m[ix["r0c0"]] == pytest.approx(150.0)
    assert net.node_x_m[ix["r0c1"]] - net.node_x_m[ix["r0c0"]] == pytest.approx(150.0)
    c = net.node_index["r1c1"]
    assert (net.node_lon[c], net.node_lat[c]) == pytest.approx((107.0, -6.9))


def test_grid_signal_states_are_valid_and_safe() -> None:
    """States use G/g/y/r; each controlled connection has its own index; crossing flows never
    share green."""
    net = grid_network(4, 4)
    sig = net.signals
    assert set("".join(sig.phase_state)) <= set("Ggyr")
    for p in range(sig.n_programs):
        a, b = sig.phase_offsets[p], sig.phase_offsets[p + 1]
        np.testing.assert_array_equal(sig.phase_duration_s[a:b], [30.0, 3.0, 30.0, 3.0])
        assert sig.cycle_s(p) == 66.0
        controlled = np.flatnonzero(net.conn_program == p)
        assert sorted(net.conn_signal_index[controlled]) == list(range(len(controlled)))
        assert all(len(s) == len(controlled) for s in sig.phase_state[a:b])
        green_a, amber_a, green_b, amber_b = sig.phase_state[a:b]
        assert _green(green_a) and _green(green_b)
        assert not _green(green_a) & _green(green_b)
        assert {i for i, s in enumerate(amber_a) if s == "y"} == _green(green_a)
        assert {i for i, s in enumerate(amber_b) if s == "y"} == _green(green_b)
        # Group A is north-south: its approaches come from the rows above/below.
        node = net.node_ids[sig.program_node[p]]
        for c in controlled:
            from_node = net.node_ids[net.link_from[net.conn_from_link[c]]]
            same_column = from_node.split("c")[1] == node.split("c")[1]
            assert (net.conn_signal_index[c] in _green(green_a)) == same_column
    assert sig.state_at(0, 0.0) == sig.phase_state[0]
    assert sig.state_at(0, 31.0) == sig.phase_state[1]
    assert sig.state_at(0, 66.0 + 40.0) == sig.phase_state[2]


def test_grid_without_signals_and_bad_sizes() -> None:
    assert grid_network(3, 3, signals=False).signals.n_programs == 0
    with pytest.raises(NetworkError, match="at least 2 nodes"):
        grid_network(1, 1)
    with pytest.raises(NetworkError, match="block_m=0"):
        grid_network(2, 2, block_m=0)


def _star(bearings_deg: list[float], two_way: bool = True, drive_on_left: bool = True):
    """A junction 0 with arms at the given bearings, 100 m long."""
    x = [0.0] + [100 * np.sin(np.radians(b)) for b in bearings_deg]
    y = [0.0] + [100 * np.cos(np.radians(b)) for b in bearings_deg]
    lon, lat = unproject_xy(np.array(x), np.array(y), 106.8, -6.2)
    link_from, link_to = [], []
    for arm in range(1, len(x)):
        link_from.append(arm)
        link_to.append(0)
        if two_way:
            link_from.append(0)
            link_to.append(arm)
    lanes = np.ones(len(link_from), np.int32)
    conn = build_connections(link_from, link_to, lanes, len(x))
    sig, prog, idx = default_signal_programs([0], link_from, link_to, lon, lat, conn,
                                             drive_on_left=drive_on_left)
    net = Network.from_arrays(
        name="star", node_ids=[str(i) for i in range(len(x))], node_lon=lon, node_lat=lat,
        link_ids=[f"{a}-{b}" for a, b in zip(link_from, link_to, strict=True)],
        link_from=link_from, link_to=link_to, link_length_m=np.full(len(link_from), 100.0),
        link_lanes=lanes, link_speed_limit_mps=np.full(len(link_from), 10.0),
        link_capacity_vph=np.full(len(link_from), 1800.0), connections=conn,
        conn_program=prog, conn_signal_index=idx, signals=sig)
    return net


def _groups(net: Network) -> list[set[str]]:
    """The approaching arms (as node ids) green in phase 1 and in phase 3."""
    state_a, state_b = net.signals.phase_state[0], net.signals.phase_state[2]
    out: list[set[str]] = [set(), set()]
    for c in np.flatnonzero(net.conn_program == 0):
        arm = net.node_ids[net.link_from[net.conn_from_link[c]]]
        for g, state in enumerate((state_a, state_b)):
            if state[net.conn_signal_index[c]] in "Gg":
                out[g].add(arm)
    return out


def test_skewed_crossroads_split_along_its_streets() -> None:
    """Arms at 30/120/210/300 degrees: the pairs 30-210 and 120-300 form the groups."""
    assert _groups(_star([30, 120, 210, 300])) == [{"1", "3"}, {"2", "4"}]
    assert _groups(_star([0, 90, 180, 270])) == [{"1", "3"}, {"2", "4"}]


def test_t_junction_and_mid_block_signal() -> None:
    """A T splits through road vs stem; two opposite approaches leave phase 3 all red."""
    assert _groups(_star([90, 180, 270])) == [{"2"}, {"1", "3"}]
    mid_block = _star([0, 180])
    assert _groups(mid_block) == [{"1", "2"}, set()]
    assert set(mid_block.signals.phase_state[2]) == {"r"}


def test_single_incoming_link_gets_no_signal() -> None:
    """A dead end (one arm in, one out) gets no program; nor does a sink with no way on."""
    assert _star([0, 90], two_way=False).signals.n_programs == 0
    one = _star([0], two_way=True)
    assert one.signals.n_programs == 0
    assert (one.conn_program == -1).all()
    # A diverge: one link in, two out.
    lon, lat = np.array([0.0, 0.0, 0.001, -0.001]), np.array([0.0, -0.001, 0.0, 0.0])
    link_from, link_to = [1, 0, 0], [0, 2, 3]
    conn = build_connections(link_from, link_to, [1, 1, 1], 4)
    sig, prog, idx = default_signal_programs([0], link_from, link_to, lon, lat, conn)
    assert sig.n_programs == 0 and (prog == -1).all() and (idx == -1).all()


def test_turn_across_oncoming_traffic_yields() -> None:
    """Driving on the left the right turn yields (g); driving on the right the left turn does."""
    for drive_on_left, yielding_to in ((True, "2"), (False, "4")):
        net = _star([0, 90, 180, 270], drive_on_left=drive_on_left)
        state = net.signals.phase_state[0]
        for c in np.flatnonzero(net.conn_program == 0):
            if net.link_ids[net.conn_from_link[c]] != "3-0":  # coming from the south
                continue
            to_arm = net.node_ids[net.link_to[net.conn_to_link[c]]]
            expected = "g" if to_arm == yielding_to else "G"
            assert state[net.conn_signal_index[c]] == expected, (drive_on_left, to_arm)


def test_bad_timing() -> None:
    with pytest.raises(NetworkError, match="must be > 0"):
        default_signal_programs([], [], [], [], [], build_connections([], [], [], 0), green_s=0)
