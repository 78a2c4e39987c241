"""Access to the live twin from inside a Dash request.

:func:`dashboard.app.create_app` stores the :class:`~twin.live.LiveTwin` in the
Flask config; callbacks and layouts fetch it here, so pages keep no
module-level state and several apps (one per twin) can live in one process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask

if TYPE_CHECKING:
    from twin.live import LiveTwin
    from twin.sensor_health import Clock
    from twin.store import Store

LIVE_CONFIG_KEY = "KOTA_LIVE"


def current_live() -> LiveTwin:
    """The :class:`~twin.live.LiveTwin` of the app serving the current request.

    Raises
    ------
    RuntimeError
        Outside a request of an app made by :func:`dashboard.app.create_app`.
    """
    try:
        live = flask.current_app.config.get(LIVE_CONFIG_KEY)
    except RuntimeError as exc:  # working outside of application context
        raise RuntimeError(
            "current_live() needs a Flask application context; call it from a Dash "
            "callback or layout of an app made by dashboard.app.create_app()"
        ) from exc
    if live is None:
        raise RuntimeError(
            f"no live twin in app.server.config[{LIVE_CONFIG_KEY!r}]; "
            "build the app with dashboard.app.create_app(live)"
        )
    return live


STORE_CONFIG_KEY = "KOTA_STORE"
SENSORS_CLOCK_CONFIG_KEY = "KOTA_SENSORS_CLOCK"


def current_store() -> Store | None:
    """The :class:`~twin.store.Store` the app was given (None: pages show they have none).

    Pages only read it; it is the store of the run the dashboard serves (or any
    store the bridge, a replay or a simulated run writes to).
    """
    return flask.current_app.config.get(STORE_CONFIG_KEY)


def sensors_clock() -> Clock:
    """Which clock the Sensors page judges by (:mod:`twin.sensor_health`); default ``wall``."""
    return flask.current_app.config.get(SENSORS_CLOCK_CONFIG_KEY, "wall")
