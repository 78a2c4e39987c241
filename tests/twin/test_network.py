"""The network arrays: validation with clear errors, CSR, default connections, projection."""

import numpy as np
import pytest

from twin.network import Network, NetworkError, SignalPrograms, project_lonlat, unproject_xy


def _args(**over):
    args = dict(
        name="n", node_ids=["a", "b", "c"], node_lon=[106.90, 106.91, 106.92],
        node_lat=[-6.2, -6.2, -6.2], link_ids=["ab", "bc", "cb", "ba"],
        link_from=[0, 1, 2, 1], link_to=[1, 2, 1, 0], link_length_m=[1000.0] * 4,
        link_lanes=[1, 2, 2, 1], link_speed_limit_mps=[10.0] * 4, link_capacity_vph=[1800.0] * 4,
    )
    args.update(over)
    return args


def test_csr_lists_each_nodes_outgoing_links():
    net = Network.from_arrays(**_args())
    for node in range(net.n_nodes):
        outs = net.out_links[net.out_offsets[node]:net.out_offsets[node + 1]]
        assert sorted(outs.tolist()) == sorted(np.flatnonzero(net.link_from == node).tolist())
    assert net.out_offsets[-1] == net.n_links
    assert net.link_index["cb"] == 2 and net.node_index["c"] == 2


def test_default_connections_join_links_and_skip_u_turns_unless_dead_end():
    net = Network.from_arrays(**_args())
    joined = zip(net.conn_from_link, net.conn_to_link, strict=True)
    pairs = {(net.link_ids[f], net.link_ids[t]) for f, t in joined}
    assert ("ab", "bc") in pairs and ("cb", "ba") in pairs
    assert ("ab", "ba") not in pairs  # a U-turn where the street goes on
    assert ("bc", "cb") in pairs      # c is a dead end: turning back is the only way on
    # every lane of a two-lane link is reached from the one-lane link feeding it
    to_lanes = {int(b) for f, t, b in zip(net.conn_from_link, net.conn_to_link, net.conn_to_lane, strict=True)
                if net.link_ids[f] == "ab" and net.link_ids[t] == "bc"}
    assert to_lanes == {0, 1}


def test_geometry_starts_and_ends_at_the_nodes():
    net = Network.from_arrays(**_args(link_geometry_lonlat=[([106.905], [-6.199]), None, None, None]))
    lon, lat = net.link_polyline_lonlat(0)
    assert lon.tolist() == [106.90, 106.905, 106.91]
    assert lat.tolist() == [-6.2, -6.199, -6.2]


@pytest.mark.parametrize(
    ("over", "fragment"),
    [
        ({"link_length_m": [1000.0, -1.0, 1000.0, 1000.0]}, "link 'bc': link_length_m must be > 0"),
        ({"link_speed_limit_mps": [10.0, float("nan"), 10.0, 10.0]}, "not a finite number"),
        ({"link_to": [1, 2, 1, 7]}, "link 'ba': link_to index 7 is not a node"),
        ({"link_lanes": [1, 0, 2, 1]}, "lanes must be >= 1"),
        ({"link_ids": ["ab", "ab", "cb", "ba"]}, "duplicate link id 'ab'"),
        ({"node_lat": [-6.2, -6.2]}, "node_lat has 2 values, expected 3"),
        ({"link_name": ["x"]}, "link_name has 1 values"),
        ({"connections": ([0], [0], [2], [0])}, "does not join the two links"),
        ({"connections": ([0], [3], [1], [0])}, "from lane 3 does not exist"),
    ],
)
def test_broken_columns_raise_network_error_naming_the_item(over, fragment):
    with pytest.raises(NetworkError, match=fragment):
        Network.from_arrays(**_args(**over))


def test_signal_program_checks():
    good = SignalPrograms(program_ids=("j",), program_node=np.array([1], np.int32),
                          offset_s=np.zeros(1), phase_offsets=np.array([0, 2], np.int64),
                          phase_duration_s=np.array([30.0, 30.0]), phase_state=("Gr", "rG"))
    conn = ([0, 2], [0, 0], [1, 3], [0, 0])
    net = Network.from_arrays(**_args(connections=conn, conn_program=np.array([0, 0]),
                                      conn_signal_index=np.array([0, 1]), signals=good))
    assert net.signals.state_at(0, 10.0) == "Gr" and net.signals.state_at(0, 40.0) == "rG"
    assert net.signals.state_at(0, 70.0) == "Gr"
    with pytest.raises(NetworkError, match="signal index 2 is outside program 'j'"):
        Network.from_arrays(**_args(connections=conn, conn_program=np.array([0, 0]),
                                    conn_signal_index=np.array([0, 2]), signals=good))
    bad_node = SignalPrograms(**{**good.__dict__, "program_node": np.array([9], np.int32)})
    with pytest.raises(NetworkError, match="node index 9"):
        Network.from_arrays(**_args(signals=bad_node))
    bad_len = SignalPrograms(**{**good.__dict__, "phase_state": ("Gr", "rGG")})
    with pytest.raises(NetworkError, match="different lengths"):
        Network.from_arrays(**_args(connections=conn, conn_program=np.array([0, 0]),
                                    conn_signal_index=np.array([0, 1]), signals=bad_len))


def test_projection_round_trip_and_scale():
    lon = np.array([106.90, 106.91, 106.92])
    lat = np.array([-6.21, -6.20, -6.19])
    x, y = project_lonlat(lon, lat, 106.91, -6.20)
    assert x[1] == pytest.approx(0.0) and y[1] == pytest.approx(0.0)
    assert y[2] - y[1] == pytest.approx(1111.95, rel=1e-3)  # 0.01 degree of latitude
    assert x[2] - x[1] == pytest.approx(1111.95 * np.cos(np.radians(6.2)), rel=1e-3)
    lon2, lat2 = unproject_xy(x, y, 106.91, -6.20)
    np.testing.assert_allclose(lon2, lon, atol=1e-12)
    np.testing.assert_allclose(lat2, lat, atol=1e-12)


def test_native_format_rejects_other_files(tmp_path):
    junk = tmp_path / "junk.npz"
    np.savez(junk, meta=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(NetworkError, match="not a Kota Twin network"):
        Network.load(junk)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(NetworkError, match="not a readable"):
        Network.load(text)
