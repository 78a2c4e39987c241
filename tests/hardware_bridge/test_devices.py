"""The device registry: loading, refusing bad entries, and the broker's passwd and ACL files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware_bridge.devices import (
    BRIDGE_STATUS_TOPIC,
    BRIDGE_USER,
    DeviceRegistry,
    DeviceRegistryError,
    parse_topic,
)
from twin.observations import ObservationKind

GOOD = """
[[device]]
id = "cam-jtn-01"
kab_kota = "jakarta-timur"
domain = "etle"
site = "jatinegara-barat"
kinds = ["plate_read", "point_speed"]
secret_env = "KOTA_TEST_SECRET"

[[device]]
id = "det-07"
kab_kota = "jakarta-timur"
domain = "traffic"
site = "jl-basuki-rahmat"
kinds = ["detector_interval"]
secret = "0123456789abcdef0123"
"""


def test_load_reads_devices_and_secrets_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(GOOD)
    reg = DeviceRegistry.load(path, env={"KOTA_TEST_SECRET": "x" * 20})
    cam = reg.get("cam-jtn-01")
    assert cam is not None and cam.secret == "x" * 20
    assert cam.kinds == {ObservationKind.PLATE_READ, ObservationKind.POINT_SPEED}
    assert cam.topic("event") == "city/jakarta-timur/etle/jatinegara-barat/cam-jtn-01/event"
    assert parse_topic(cam.topic("status")) == ("jakarta-timur", "etle", "jatinegara-barat",
                                                "cam-jtn-01", "status")
    assert "x" * 20 not in repr(cam)  # secrets stay out of logs
    again = DeviceRegistry.load(_write(tmp_path, reg.to_toml()))
    def rows(r: DeviceRegistry) -> list[tuple[str, str, frozenset[ObservationKind]]]:
        return [(d.device_id, d.secret, d.kinds) for d in r]

    assert rows(again) == rows(reg)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "out.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("change,message", [
    (("secret_env = \"KOTA_TEST_SECRET\"", "secret_env = \"NOT_SET_ANYWHERE\""), "is not set"),
    (("domain = \"etle\"", "domain = \"weather\""), "domain must be one of"),
    (("kinds = [\"plate_read\", \"point_speed\"]", "kinds = [\"mind_read\"]"), "kinds must be among"),
    (("id = \"det-07\"", "id = \"cam-jtn-01\""), "registered twice"),
    (("id = \"det-07\"", "id = \"Det 07\""), "id must be lowercase"),
    (("secret = \"0123456789abcdef0123\"", "secret = \"short\""), "at least 16"),
    (("site = \"jl-basuki-rahmat\"", "site = \"jl/basuki\""), "site must be"),
    (("site = \"jl-basuki-rahmat\"", "site = \"x\"\ncolour = \"red\""), "unknown field"),
    (("[[device]]\nid = \"det-07\"", "[[device]]\nid = \"kota-bridge\""), "bridge's own account"),
    (("kinds = [\"detector_interval\"]", "kinds = ["), "not valid TOML"),
])
def test_bad_entries_are_refused_naming_the_file_and_device(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(DeviceRegistryError, match=message) as err:
        DeviceRegistry.load(path, env={"KOTA_TEST_SECRET": "x" * 20})
    assert str(path) in str(err.value)


def test_acl_lets_each_device_write_only_its_own_topics() -> None:
    reg = DeviceRegistry.generate(["det-1", "det-2"], site="grid")
    acl = reg.acl_text().strip().split("\n\n")
    root = "city/jakarta-timur/traffic/grid"
    assert acl == ["# public information (alerts): every account may read it\npattern read info/#",
                   f"user {BRIDGE_USER}\ntopic read city/#\ntopic write {BRIDGE_STATUS_TOPIC}"
                   "\ntopic write info/#",
                   f"user det-1\ntopic write {root}/det-1/#\ntopic read {root}/det-1/cmd",
                   f"user det-2\ntopic write {root}/det-2/#\ntopic read {root}/det-2/cmd"]
    assert len({d.secret for d in reg}) == 2


def test_mosquitto_files_hold_hashes_not_passwords(tmp_path: Path) -> None:
    reg = DeviceRegistry.generate(["det-1"])
    passwd, acl = reg.write_mosquitto_files(tmp_path, bridge_password="b" * 20)
    text = passwd.read_text()
    users = [line.split(":", 1)[0] for line in text.splitlines()]
    assert users == [BRIDGE_USER, "det-1"]
    assert reg.get("det-1").secret not in text and "b" * 20 not in text  # type: ignore[union-attr]
    assert all(line.split(":", 1)[1].startswith("$") for line in text.splitlines())
    assert passwd.stat().st_mode & 0o077 == 0
    assert acl.read_text() == reg.acl_text()


def test_parse_topic_refuses_what_is_not_a_device_topic() -> None:
    assert parse_topic("city/a/traffic/s/d/event") == ("a", "traffic", "s", "d", "event")
    for bad in ("city/a/traffic/s/d", "town/a/traffic/s/d/event", "city/a/traffic/s/d/cmd",
                "city/a/traffic/s/d/event/extra"):
        assert parse_topic(bad) is None
