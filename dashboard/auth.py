"""Login, roles and the server-side access checks of the dashboard.

:func:`install` puts the app behind login: a plain HTML login form at ``/login``,
``/logout``, a server-side :class:`~dashboard.sessions.SessionTable`, and a Flask
``before_request`` guard that refuses every request without a live session (pages are
redirected to the login form, ``/_dash-*`` requests get 401) and every page the role
may not see (403, also when Dash's page router is asked for it by a client-side link).
Five wrong passwords for a name block it for five minutes (:class:`~dashboard.sessions.LoginThrottle`).
Callbacks check their own permission with :func:`require`; views of personal data go
through :func:`view_personal_data`, which writes the access log.

Without :func:`install` the app runs in *demo mode* (``kota run --dashboard`` on
127.0.0.1): no login, a "demo mode: no login" banner, every page open, and no personal
data at all (:func:`view_personal_data` refuses).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import flask
from werkzeug.exceptions import Forbidden

from dashboard.sessions import LoginThrottle, Session, SessionTable
from twin.accounts import AccessEntry, AccountStore, allows, page_permission
from twin.accounts.roles import PERMISSIONS, PERSONAL_DATA

AUTH_CONFIG_KEY = "KOTA_AUTH"
COOKIE = "kota_session"
DEFAULT_IDLE_TIMEOUT_S = 15 * 60.0
_OPEN_PREFIXES = ("/assets/",)
_OPEN_PATHS = ("/login", "/_favicon.ico")
_KNOWN_PAGES = frozenset(p for perms in PERMISSIONS.values() for p in perms if p.startswith("page:"))


@dataclass
class Auth:
    """The login state of one app (kept in ``app.server.config[AUTH_CONFIG_KEY]``)."""

    accounts: AccountStore
    sessions: SessionTable
    secure_cookie: bool = False
    dash_app: Any = None
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def install(app: Any, accounts: AccountStore, *, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
            clock: Callable[[], float] = time.monotonic, secure_cookie: bool = False) -> Auth:
    """Put the Dash ``app`` behind login against ``accounts``.

    Parameters
    ----------
    app : dash.Dash
    accounts : AccountStore
        Users, roles and the access log.
    idle_timeout_s : float
        Sessions idle this long expire (default 15 minutes).
    clock : callable
        Monotonic seconds; tests pass a fake clock to expire sessions.
    secure_cookie : bool
        Mark the session cookie ``Secure`` (set it when served over HTTPS).
    """
    server: flask.Flask = app.server
    auth = Auth(accounts, SessionTable(idle_timeout_s, clock), secure_cookie, app,
                LoginThrottle(clock=clock))
    server.config[AUTH_CONFIG_KEY] = auth
    server.before_request(_guard)
    server.add_url_rule("/login", "kota_login", _login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "kota_logout", _logout, methods=["GET", "POST"])
    return auth


def current_auth() -> Auth | None:
    """The app's :class:`Auth`, or None in demo mode (and outside a request)."""
    if not flask.has_app_context():
        return None
    auth = flask.current_app.config.get(AUTH_CONFIG_KEY)
    return auth if isinstance(auth, Auth) else None


def current_session() -> Session | None:
    """The logged-in session of this request (set by the guard), or None."""
    if not flask.has_app_context():
        return None
    return flask.g.get("kota_session")


def visible(permission: str) -> bool:
    """True when this request may see ``permission`` (always, in demo mode)."""
    if current_auth() is None:
        return True
    session = current_session()
    return session is not None and allows(session.role, permission)


def require(permission: str) -> Session | None:
    """Abort the request with 403 unless the logged-in role holds ``permission``.

    Call it first in every callback. Returns the session (None in demo mode).
    """
    auth = current_auth()
    if auth is None:
        return None
    session = current_session()
    if session is None or not allows(session.role, permission):
        _deny(auth, session, permission)
    return session


def view_personal_data(subject: str, reason: str, details: Mapping[str, Any] | None = None) -> str:
    """Check that this user may see personal data about ``subject`` and log the view.

    Returns the actor's name. Raises 403 (``werkzeug.exceptions.Forbidden``) when the role
    may not, when ``reason`` is empty, and always in demo mode (which has no personal data).
    """
    auth = current_auth()
    if auth is None:
        raise Forbidden("personal data is not shown in demo mode")
    session = require(PERSONAL_DATA)
    assert session is not None
    if not reason.strip():
        raise Forbidden("say why you need to see personal data")
    auth.accounts.record(AccessEntry(session.user, session.role, "personal_data.view", subject,
                                     reason.strip(), dict(details or {})))
    return session.user


# -- the guard and the routes -------------------------------------------------------------


def _deny(auth: Auth, session: Session | None, what: str) -> None:
    auth.accounts.record(AccessEntry(session.user if session else "anonymous",
                                     session.role if session else "", "denied", what,
                                     f"{flask.request.method} {flask.request.path}"))
    role = session.role if session else "anonymous"
    raise Forbidden(f"the role {role!r} may not use {what}")


def _guard() -> Any:
    auth = current_auth()
    if auth is None:
        return None
    path = flask.request.path
    if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
        return None
    session, expired = auth.sessions.touch(flask.request.cookies.get(COOKIE))
    if session is not None:
        user = auth.accounts.user(session.user)
        if user is None or user.disabled or user.role != session.role:
            auth.sessions.close_user(session.user)
            session = None
    if session is None:
        if path.startswith("/_") or flask.request.method != "GET":
            return flask.Response("login required", status=401, mimetype="text/plain")
        query = "expired=1&" if expired else ""
        return flask.redirect(f"/login?{query}next={quote(path)}")
    flask.g.kota_session = session
    if path == "/logout":
        return None
    permission = _requested_page(auth, path)
    if permission is not None and permission in _KNOWN_PAGES and not allows(session.role, permission):
        _deny(auth, session, permission)
    return None


def _requested_page(auth: Auth, path: str) -> str | None:
    """The page permission a request needs: a page URL's; for a callback, that of the page
    module that registered it (a page's callbacks need the page's permission even if the
    callback forgets :func:`require`), or of the page Dash's page router is asked for."""
    if not path.startswith("/_"):
        return page_permission(path)
    if path == "/_dash-update-component":
        body = flask.request.get_json(silent=True) or {}
        owner = _callback_page(auth, str(body.get("output", "")))
        if owner is not None:
            return owner
        if "_pages_content" in str(body.get("output", "")):
            for item in body.get("inputs", []):
                if isinstance(item, dict) and item.get("id") == "_pages_location" \
                        and item.get("property") == "pathname":
                    return page_permission(str(item.get("value") or "/"))
    return None


def _callback_page(auth: Auth, output: str) -> str | None:
    """The permission of the page whose module registered the callback of ``output``."""
    import dash

    entry = getattr(auth.dash_app, "callback_map", {}).get(output) or {}
    module = getattr(entry.get("callback"), "__module__", None)
    for page in dash.page_registry.values():
        if page.get("module") == module:
            return page_permission(str(page["path"]))
    return None


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _login() -> Any:
    auth = current_auth()
    assert auth is not None
    request = flask.request
    if request.method == "GET":
        note = "Your session expired; log in again." if request.args.get("expired") else ""
        return _login_page(note, _safe_next(request.args.get("next")))
    name = request.form.get("username", "").strip()
    target = _safe_next(request.form.get("next"))
    if auth.throttle.blocked(name):
        auth.accounts.record(AccessEntry(name, "", "login.throttled", None,
                                         "too many wrong passwords"))
        return _login_page("Too many wrong passwords; try again in a few minutes.", target), 429
    user = auth.accounts.authenticate(name, request.form.get("password", ""))
    if user is None:
        auth.throttle.failed(name)
        return _login_page("Wrong name or password.", target), 401
    auth.throttle.succeeded(name)
    response = flask.redirect(target)
    response.set_cookie(COOKIE, auth.sessions.open(user.name, user.role), httponly=True,
                        samesite="Strict", secure=auth.secure_cookie, path="/")
    return response


def _logout() -> Any:
    auth = current_auth()
    assert auth is not None
    session = auth.sessions.close(flask.request.cookies.get(COOKIE))
    if session is not None:
        auth.accounts.record(AccessEntry(session.user, session.role, "logout", None, "logout"))
    response = flask.redirect("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


def _login_page(note: str, target: str) -> str:
    title = html.escape(flask.current_app.config.get("KOTA_TITLE", "Kota Twin"))
    message = f'<p class="login-note" id="login-note">{html.escape(note)}</p>' if note else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}: log in</title>
<link rel="stylesheet" href="/assets/kota.css"></head>
<body><main class="login-page"><form method="post" action="/login" class="login-form">
<h1>{title}</h1><p>K3I operation room</p>{message}
<label>Name <input id="login-username" name="username" autocomplete="username" required></label>
<label>Password <input id="login-password" name="password" type="password"
 autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{html.escape(target)}">
<button id="login-submit" type="submit">Log in</button></form></main></body></html>"""
