"""How the bridge and the emulated devices reach the broker: URL, TLS, account, reconnects.

Both sides use paho-mqtt 2 (``CallbackAPIVersion.VERSION2``) over MQTT 3.1.1 with a
persistent session (a fixed client id and ``clean_session=False``), so the broker
keeps their subscriptions and queued QoS 1 messages while they are away, and
paho's own network thread reconnects with exponential backoff
(``reconnect_delay_set``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

__all__ = ["BrokerConfig", "new_client"]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerConfig:
    """Where the broker is and how to log in.

    Attributes
    ----------
    host, port : the broker's address
    tls : bool, MQTT over TLS (``mqtts://``); plaintext only for a lab
    ca_file : Path or None, the CA that signed the broker's certificate (None: the system's)
    username, password : the account (a device id and its secret, or the bridge's)
    keepalive_s : int, MQTT keep-alive interval
    reconnect_min_s, reconnect_max_s : int, the reconnect backoff (doubling from min to max)
    """

    host: str = "localhost"
    port: int = 8883
    tls: bool = True
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30

    @classmethod
    def from_url(cls, url: str, *, ca_file: str | Path | None = None, username: str | None = None,
                 password: str | None = None, **kwargs: int) -> BrokerConfig:
        """Settings from ``mqtts://host:port`` (or ``mqtt://``; user and password may be in the URL)."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"broker URL must start with mqtts:// (or mqtt:// in a lab), got {url!r}")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} names no host")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise ValueError(f"broker URL {url!r} has an invalid port") from None
        if username is None and parts.username:
            username = unquote(parts.username)
        if password is None and parts.password:
            password = unquote(parts.password)
        return cls(host=parts.hostname, port=port, tls=parts.scheme == "mqtts",
                   ca_file=None if ca_file is None else Path(ca_file),
                   username=username, password=password, **kwargs)

    def with_account(self, username: str, password: str) -> BrokerConfig:
        """The same broker with another account."""
        return replace(self, username=username, password=password)

    @property
    def url(self) -> str:
        """The broker URL without credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def new_client(config: BrokerConfig, client_id: str, *, persistent: bool = True) -> mqtt.Client:
    """A paho client for ``config``: TLS, account, backoff set; not yet connected.

    Parameters
    ----------
    config : BrokerConfig
    client_id : str, fixed, so the broker finds the session again after a reconnect
    persistent : bool, ``clean_session=False`` (keep subscriptions and queued QoS 1 messages)
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=not persistent, protocol=mqtt.MQTTv311)
    if config.tls:
        ctx = ssl.create_default_context(cafile=None if config.ca_file is None else str(config.ca_file))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        client.tls_set_context(ctx)
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)
    client.max_queued_messages_set(0)
    return client
