"""The dashboard shell: header, page navigation and the page container.

Pages live in ``dashboard/pages`` and register themselves with
``dash.register_page``; this module only builds the app around them and serves
it. The :class:`~twin.live.LiveTwin` to show is kept in the Flask config (see
:mod:`dashboard.state`), never in a module global.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import dash
from dash import dcc, html

from dashboard import ids
from dashboard.state import LIVE_CONFIG_KEY

if TYPE_CHECKING:
    from twin.live import LiveTwin

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
PAGES_DIR = PACKAGE_DIR / "pages"
ASSETS_DIR = PACKAGE_DIR / "assets"


def create_app(live: LiveTwin, *, title: str = "Kota Twin") -> dash.Dash:
    """Build the dashboard for one live twin.

    Parameters
    ----------
    live : LiveTwin
        The twin to show; pages read it with :func:`dashboard.state.current_live`.
    title : str
        Browser title and header brand.

    Returns
    -------
    dash.Dash
        Serve ``app.server`` (a Flask WSGI app) or call :func:`serve`.

    Notes
    -----
    Dash's page registry and ``dash.callback`` list are process-wide, so build
    one app per process (and let it serve a request before building another).
    Everything is served locally: no CDN, no map tiles.
    """
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
    app.layout = _shell(title)
    return app


def serve(live: LiveTwin, host: str = "127.0.0.1", port: int = 8050, *, threads: int = 8) -> None:
    """Serve the dashboard until interrupted (blocking).

    Uses waitress (a production WSGI server) when it is installed and falls
    back to Dash's development server otherwise.
    """
    app = create_app(live)
    try:
        from waitress import serve as waitress_serve
    except ImportError:
        log.warning("waitress is not installed; serving with Dash's development server")
        app.run(host=host, port=port, debug=False)
        return
    log.info("dashboard on http://%s:%d/", host, port)
    waitress_serve(app.server, host=host, port=port, threads=threads)


def _shell(title: str) -> html.Div:
    links = [
        dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
        for page in dash.page_registry.values()
    ]
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
