"""The dashboard shell: header, page navigation and the page container.

Pages live in ``dashboard/pages`` and register themselves with
``dash.register_page``; this module only builds the app around them and serves
it. The :class:`~twin.live.LiveTwin` to show is kept in the Flask config (see
:mod:`dashboard.state`), never in a module global.

Two modes: with ``accounts`` the app is behind login (:mod:`dashboard.auth`; what
``kota serve`` runs); without, it is the local demo (``kota run --dashboard``): no login,
a "demo mode: no login" banner, and :func:`serve` refuses to expose it beyond loopback.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dash
from dash import dcc, html

from dashboard import auth, ids
from dashboard.enforcement_desk import ENFORCEMENT_CONFIG_KEY, as_desk
from dashboard.state import LIVE_CONFIG_KEY, SENSORS_CLOCK_CONFIG_KEY, STORE_CONFIG_KEY

if TYPE_CHECKING:
    from dashboard.enforcement_desk import EnforcementDesk
    from twin.accounts import AccountStore
    from twin.live import LiveTwin
    from twin.modules.enforcement.live import EnforcementLive
    from twin.sensor_health import Clock
    from twin.store import Store

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
PAGES_DIR = PACKAGE_DIR / "pages"
ASSETS_DIR = PACKAGE_DIR / "assets"


def create_app(live: LiveTwin, *, title: str = "Kota Twin", accounts: AccountStore | None = None,
               idle_timeout_s: float = auth.DEFAULT_IDLE_TIMEOUT_S, secure_cookie: bool = False,
               store: Store | None = None, sensors_clock: Clock = "wall",
               enforcement: EnforcementDesk | EnforcementLive | None = None,
               **auth_options: Any) -> dash.Dash:
    """Build the dashboard for one live twin.

    Parameters
    ----------
    live : LiveTwin
        The twin to show; pages read it with :func:`dashboard.state.current_live`.
    title : str
        Browser title and header brand.
    accounts : AccountStore, optional
        Put the app behind login against these accounts; without, demo mode (no login).
    idle_timeout_s : float
        With ``accounts``: sessions idle this long expire.
    secure_cookie : bool
        With ``accounts``: mark the session cookie ``Secure`` (served over HTTPS).
    store : Store, optional
        The store the Sensors page reads (:func:`dashboard.state.current_store`).
    sensors_clock : ``"wall"`` or ``"data"``
        The Sensors page's clock (:mod:`twin.sensor_health`): ``data`` for a
        simulated run, whose observations carry simulated time.
    enforcement : EnforcementDesk, optional
        Registration data and clock the Enforcement page verifies with
        (:mod:`dashboard.enforcement_desk`), or the ETLE module running in the shown run,
        whose desk is built from it (:func:`~dashboard.enforcement_desk.desk_from_live`);
        without, its queue is read-only.
    **auth_options
        Passed to :func:`dashboard.auth.install` (``clock``).

    Returns
    -------
    dash.Dash
        Serve ``app.server`` (a Flask WSGI app) or call :func:`serve`.

    Notes
    -----
    Dash's page registry and ``dash.callback`` list are process-wide: the app built
    last in a process is the one whose callbacks work (building one forgets the
    callbacks an earlier, unserved app had not claimed yet).
    Everything is served locally: no CDN, no map tiles.
    """
    _forget_earlier_callbacks()
    app = dash.Dash(
        __package__ or "dashboard",
        use_pages=True,
        pages_folder=str(PAGES_DIR),
        assets_folder=str(ASSETS_DIR),
        title=title,
        update_title=None,  # type: ignore[arg-type]  # Dash documents None; its annotation says str
        serve_locally=True,
    )
    app.server.config[LIVE_CONFIG_KEY] = live
    app.server.config["KOTA_TITLE"] = title
    app.server.config[STORE_CONFIG_KEY] = store
    app.server.config[SENSORS_CLOCK_CONFIG_KEY] = sensors_clock
    app.server.config[ENFORCEMENT_CONFIG_KEY] = as_desk(enforcement)
    if accounts is not None:
        auth.install(app, accounts, idle_timeout_s=idle_timeout_s, secure_cookie=secure_cookie,
                     **auth_options)
    app.layout = lambda: _shell(title)
    return app


def _forget_earlier_callbacks() -> None:
    """Empty Dash's process-wide list of callbacks still to be claimed by an app.

    Dash runs the page modules again for every app built with ``use_pages``, and each run
    registers the pages' callbacks again; the first app to serve a request claims all that
    are listed. Without this, a second app in one process would serve every callback twice.
    """
    from dash import _callback

    _callback.GLOBAL_CALLBACK_LIST.clear()
    _callback.GLOBAL_CALLBACK_MAP.clear()
    _callback.GLOBAL_INLINE_SCRIPTS.clear()


def serve(live: LiveTwin, host: str = "127.0.0.1", port: int = 8050, *, threads: int = 8,
          accounts: AccountStore | None = None,
          idle_timeout_s: float = auth.DEFAULT_IDLE_TIMEOUT_S, secure_cookie: bool = False,
          store: Store | None = None, sensors_clock: Clock = "wall",
          enforcement: EnforcementDesk | EnforcementLive | None = None) -> None:
    """Serve the dashboard until interrupted (blocking).

    Uses waitress (a production WSGI server) when it is installed and falls
    back to Dash's development server otherwise. Without ``accounts`` this is the
    demo mode, allowed on a loopback address only. ``store`` and ``sensors_clock``
    go to :func:`create_app` (the Sensors page), as does ``enforcement`` (the
    Enforcement page's desk).

    Raises
    ------
    ValueError
        Demo mode (no ``accounts``) asked for on a non-loopback ``host``.
    """
    if accounts is None and not _is_loopback(host):
        raise ValueError(f"the demo dashboard has no login and serves 127.0.0.1 only, not {host}; "
                         "use 'kota serve' (login required) to serve it on the network")
    app = create_app(live, accounts=accounts, idle_timeout_s=idle_timeout_s,
                     secure_cookie=secure_cookie, store=store, sensors_clock=sensors_clock,
                     enforcement=enforcement)
    try:
        from waitress import serve as waitress_serve
    except ImportError:
        log.warning("waitress is not installed; serving with Dash's development server")
        app.run(host=host, port=port, debug=False)
        return
    log.info("dashboard on http://%s:%d/", host, port)
    waitress_serve(app.server, host=host, port=port, threads=threads)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shell(title: str) -> html.Div:
    """The shell, with only the pages this request's role may see."""
    links: list[Any] = [
        dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
        for page in dash.page_registry.values()
        if auth.visible(auth.page_permission(page["path"]))
    ]
    session = auth.current_session()
    if auth.current_auth() is None:
        links.append(html.Span("demo mode: no login", id=ids.DEMO_BANNER, className="demo-banner"))
    elif session is not None:
        links += [html.Span(f"{session.user} ({session.role})", id=ids.USER_BADGE,
                            className="user-badge"),
                  html.A("Log out", href="/logout", id=ids.LOGOUT, className="nav-link")]
    return html.Div(className="shell", children=[
        html.Header(id=ids.NAVBAR, className="navbar", children=[
            html.Div(className="brand", children=[
                html.Span(title, className="brand-name"),
                html.Span("K3I operation room", className="brand-sub"),
            ]),
            html.Nav(links, id=ids.NAV_LINKS, className="nav-links"),
        ]),
        html.Main(dash.page_container, className="content"),
    ])
