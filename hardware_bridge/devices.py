"""The device registry: which devices may speak to the twin, what they may say, and their secrets.

A device is known by its id. It belongs to a place in the MQTT topic tree
``city/{kab_kota}/{domain}/{site}/{device_id}/{event|telemetry|status}`` and may
report only the observation kinds listed for it. Its secret is both its MQTT
password and the key of the HMAC-SHA256 signature on its HTTP pushes.

The registry is a TOML file::

    [[device]]
    id = "cam-jtn-01"
    kab_kota = "jakarta-timur"
    domain = "etle"            # traffic, etle, wim, cctv, emergency, env
    site = "jatinegara-barat"
    kinds = ["plate_read", "point_speed"]
    secret_env = "KOTA_SECRET_CAM_JTN_01"   # or: secret = "..." (keep the file private)

:meth:`DeviceRegistry.write_mosquitto_files` turns it into Mosquitto's
``password_file`` (hashed with ``mosquitto_passwd``) and an ``acl_file`` in which
each device may write only below its own topic and the bridge may read them all.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.observations import ObservationKind

__all__ = [
    "BRIDGE_STATUS_TOPIC",
    "BRIDGE_USER",
    "DOMAINS",
    "Device",
    "DeviceRegistry",
    "DeviceRegistryError",
    "TOPIC_CHANNELS",
    "parse_topic",
]

DOMAINS = ("traffic", "etle", "wim", "cctv", "emergency", "env")
"""The ``{domain}`` level of the topic tree."""
TOPIC_CHANNELS = ("event", "telemetry", "status")
"""The last level: events (QoS 1), telemetry (QoS 0, high rate), status (retained, last will)."""
BRIDGE_USER = "kota-bridge"
"""The broker account of the bridge itself: it reads every device topic and writes only its own status."""
BRIDGE_STATUS_TOPIC = "kota/bridge/status"
"""Where the bridge says whether it is online (retained; its last will says ``{"online": false}``)."""

_LEVEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class DeviceRegistryError(ValueError):
    """The registry file is malformed; the message names the device and the field."""


@dataclass(frozen=True, slots=True)
class Device:
    """One registered device.

    Attributes
    ----------
    device_id : str, lowercase topic-safe id (also its MQTT username)
    kab_kota, domain, site : str, its place in the topic tree
    kinds : frozenset of ObservationKind, what it may report
    secret : str, MQTT password and HTTP signing key (never logged)
    """

    device_id: str
    kab_kota: str
    domain: str
    site: str
    kinds: frozenset[ObservationKind]
    secret: str = field(repr=False)

    def topic(self, channel: str) -> str:
        """The device's topic for ``channel`` (``event``, ``telemetry`` or ``status``)."""
        if channel not in TOPIC_CHANNELS:
            raise ValueError(f"channel must be one of {TOPIC_CHANNELS}, got {channel!r}")
        return f"city/{self.kab_kota}/{self.domain}/{self.site}/{self.device_id}/{channel}"

    @property
    def topic_root(self) -> str:
        """Everything the device may write: ``city/.../{device_id}/#``."""
        return f"city/{self.kab_kota}/{self.domain}/{self.site}/{self.device_id}/#"


def parse_topic(topic: str) -> tuple[str, str, str, str, str] | None:
    """``(kab_kota, domain, site, device_id, channel)`` of a device topic, or None if it is not one."""
    parts = topic.split("/")
    if len(parts) != 6 or parts[0] != "city" or parts[5] not in TOPIC_CHANNELS:
        return None
    return parts[1], parts[2], parts[3], parts[4], parts[5]


def _check_level(value: Any, what: str, device: str) -> str:
    if not isinstance(value, str) or not _LEVEL.match(value):
        raise DeviceRegistryError(
            f"device {device!r}: {what} must be lowercase letters, digits, '_', '.' or '-' "
            f"(1-64 characters), got {value!r}"
        )
    return value


class DeviceRegistry:
    """The known devices, by id."""

    def __init__(self, devices: Iterable[Device] = ()) -> None:
        self._devices: dict[str, Device] = {}
        for d in devices:
            self.add(d)

    def add(self, device: Device) -> None:
        """Register ``device``; a second device with the same id is an error."""
        if device.device_id in self._devices:
            raise DeviceRegistryError(f"device {device.device_id!r} is registered twice")
        if device.device_id == BRIDGE_USER:
            raise DeviceRegistryError(f"{BRIDGE_USER!r} is the bridge's own account, not a device id")
        self._devices[device.device_id] = device

    def get(self, device_id: str) -> Device | None:
        """The device with ``device_id``, or None."""
        return self._devices.get(device_id)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    def __iter__(self) -> Iterator[Device]:
        return iter(self._devices.values())

    def __len__(self) -> int:
        return len(self._devices)

    # -- building -----------------------------------------------------------------------

    @staticmethod
    def device_from_mapping(entry: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Device:
        """One ``[[device]]`` table as a :class:`Device` (secrets from ``secret`` or ``secret_env``)."""
        env = os.environ if env is None else env
        raw_id = entry.get("id")
        dev = _check_level(raw_id, "id", str(raw_id))
        unknown = set(entry) - {"id", "kab_kota", "domain", "site", "kinds", "secret", "secret_env"}
        if unknown:
            raise DeviceRegistryError(f"device {dev!r}: unknown field(s) {sorted(unknown)}")
        domain = _check_level(entry.get("domain"), "domain", dev)
        if domain not in DOMAINS:
            raise DeviceRegistryError(f"device {dev!r}: domain must be one of {DOMAINS}, got {domain!r}")
        kinds_raw = entry.get("kinds")
        if not isinstance(kinds_raw, list) or not kinds_raw:
            raise DeviceRegistryError(f"device {dev!r}: kinds must be a non-empty list")
        try:
            kinds = frozenset(ObservationKind(k) for k in kinds_raw)
        except ValueError:
            raise DeviceRegistryError(
                f"device {dev!r}: kinds must be among {[k.value for k in ObservationKind]}, "
                f"got {kinds_raw!r}"
            ) from None
        secret = entry.get("secret")
        if secret is None and "secret_env" in entry:
            secret = env.get(str(entry["secret_env"]))
            if secret is None:
                raise DeviceRegistryError(
                    f"device {dev!r}: environment variable {entry['secret_env']!r} is not set"
                )
        if not isinstance(secret, str) or len(secret) < 16:
            raise DeviceRegistryError(f"device {dev!r}: secret must be a string of at least 16 characters")
        return Device(dev, _check_level(entry.get("kab_kota"), "kab_kota", dev), domain,
                      _check_level(entry.get("site"), "site", dev), kinds, secret)

    @classmethod
    def load(cls, path: str | Path, env: Mapping[str, str] | None = None) -> DeviceRegistry:
        """Read a registry TOML file (see the module docstring)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DeviceRegistryError(f"{path}: cannot read the device registry: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise DeviceRegistryError(f"{path}: not valid TOML: {exc}") from None
        entries = data.get("device", [])
        if not isinstance(entries, list):
            raise DeviceRegistryError(f"{path}: 'device' must be an array of tables ([[device]])")
        try:
            return cls(cls.device_from_mapping(e, env) for e in entries)
        except DeviceRegistryError as exc:
            raise DeviceRegistryError(f"{path}: {exc}") from None

    @classmethod
    def generate(cls, device_ids: Iterable[str], *, kab_kota: str = "jakarta-timur",
                 domain: str = "traffic", site: str = "sim",
                 kinds: Iterable[ObservationKind] = tuple(ObservationKind)) -> DeviceRegistry:
        """Devices with fresh random secrets, e.g. one per virtual sensor of a scenario."""
        kind_set = frozenset(kinds)
        out = cls()
        for dev in device_ids:
            out.add(Device(_check_level(dev, "id", dev), kab_kota, domain, site, kind_set,
                           secrets.token_urlsafe(24)))
        return out

    def to_toml(self) -> str:
        """The registry as TOML, secrets included (write it to a private file)."""
        lines = []
        for d in self:
            kinds = ", ".join(f'"{k.value}"' for k in sorted(d.kinds))
            lines += ["[[device]]", f'id = "{d.device_id}"', f'kab_kota = "{d.kab_kota}"',
                      f'domain = "{d.domain}"', f'site = "{d.site}"', f"kinds = [{kinds}]",
                      f'secret = "{d.secret}"', ""]
        return "\n".join(lines)

    # -- broker configuration ---------------------------------------------------------------

    def acl_text(self) -> str:
        """A Mosquitto ``acl_file``: each device writes only its own topics and reads only its
        ``cmd`` topic; the bridge reads every device topic and writes only its own status and
        the public ``info/#`` messages, which every account may read."""
        lines = ["# public information (alerts): every account may read it", "pattern read info/#", "",
                 f"user {BRIDGE_USER}", "topic read city/#", f"topic write {BRIDGE_STATUS_TOPIC}",
                 "topic write info/#", ""]
        for d in self:
            lines += [f"user {d.device_id}", f"topic write {d.topic_root}",
                      f"topic read {d.topic_root[:-1]}cmd", ""]
        return "\n".join(lines)

    def write_mosquitto_files(self, directory: str | Path, bridge_password: str,
                              tool: str | None = None) -> tuple[Path, Path]:
        """Write ``passwd`` (hashed by ``mosquitto_passwd -U``) and ``acl`` into ``directory``.

        Returns ``(password_file, acl_file)``. Needs the ``mosquitto_passwd`` tool
        (Debian package ``mosquitto``): ``tool``, as
        :func:`hardware_bridge.mosquitto.find_mosquitto` finds it, or else on ``$PATH``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tool = tool or shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        if not Path(tool).exists():
            raise FileNotFoundError("mosquitto_passwd not found; install the Debian package 'mosquitto'")
        passwd = directory / "passwd"
        entries = [(BRIDGE_USER, bridge_password)] + [(d.device_id, d.secret) for d in self]
        fd = os.open(passwd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(f"{user}:{password}\n" for user, password in entries))
        subprocess.run([tool, "-U", str(passwd)], check=True, capture_output=True)
        acl = directory / "acl"
        acl.write_text(self.acl_text(), encoding="utf-8")
        return passwd, acl
