"""Login and roles through Flask's test client: the guard, sessions, 403s and the access log."""

from __future__ import annotations

import sys

import pytest
from werkzeug.exceptions import Forbidden

from dashboard import auth, ids
from dashboard.app import create_app, serve
from tests.dashboard.logins import PASSWORD
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.store import open_store


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def secured(tmp_path, tiny_network, view_factory):
    """An app behind login with one user per role of interest, and its fake clock."""
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    accounts = AccountStore.of(store)
    for name, role in (("ana", "admin"), ("pia", "planner"), ("vic", "verifier"),
                       ("dan", "dispatcher")):
        accounts.add_user(name, role, PASSWORD)
    clock = FakeClock()
    live = LiveTwin(tiny_network, view_factory(tiny_network))
    app = create_app(live, accounts=accounts, idle_timeout_s=60.0, clock=clock, secure_cookie=True)
    client = app.server.test_client()
    assert client.get("/").status_code == 302  # first request sets Dash up; not logged in
    yield app, accounts, clock
    store.close()


def _login(app, name: str, password: str = PASSWORD):
    """The client and the answer to its ``POST /login`` (the tests check refusals too)."""
    client = app.server.test_client()
    response = client.post("/login", data={"username": name, "password": password, "next": "/"})
    return client, response


def _refresh_body(client) -> dict:
    """The body Dash's renderer POSTs for the Operations page's 1 Hz refresh callback."""
    deps = client.get("/_dash-dependencies").get_json()
    (dep,) = [d for d in deps if f"{ids.OPS_TICK}.data" in d["output"]]
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
               for o in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs,
            "inputs": [{"id": ids.OPS_INTERVAL, "property": "n_intervals", "value": 1}],
            "state": [{"id": ids.OPS_LAST_TIME, "property": "data", "value": [-1, False]},
                      {"id": ids.OPS_LAYER_KEYS, "property": "data", "value": {}}],
            "changedPropIds": [f"{ids.OPS_INTERVAL}.n_intervals"]}


def _page_router_body(pathname: str) -> dict:
    """The body of Dash's own page-router callback when a link goes to ``pathname``."""
    return {"output": "..._pages_content.children..._pages_store.data...",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"]}


def test_without_login_pages_redirect_and_dash_requests_get_401(secured):
    app, _, _ = secured
    client = app.server.test_client()
    response = client.get("/")
    assert response.status_code == 302 and response.location.startswith("/login?next=/")
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert client.get(path).status_code == 401
    assert client.post("/_dash-update-component", json={}).status_code == 401
    login = client.get("/login")
    assert login.status_code == 200 and b'name="password"' in login.data
    assert client.get("/assets/kota.css").status_code == 200  # the login page's style


def test_wrong_password_is_refused_and_logged(secured):
    app, accounts, _ = secured
    client, response = _login(app, "ana", "not the password")
    assert response.status_code == 401 and b"Wrong name or password" in response.data
    assert auth.COOKIE not in response.headers.get("Set-Cookie", "")
    assert client.get("/").status_code == 302
    assert accounts.access_entries("ana")[-1].action == "login.refused"


def test_repeated_wrong_passwords_are_throttled(secured):
    """After five wrong passwords even the right one is refused for five minutes."""
    app, accounts, clock = secured
    for _ in range(5):
        assert _login(app, "dan", "guess number n")[1].status_code == 401
    assert _login(app, "dan")[1].status_code == 429
    assert _login(app, "ana")[1].status_code == 302  # other names are not affected
    clock.now_s += 301.0
    assert _login(app, "dan")[1].status_code == 302
    assert "login.throttled" in [e.action for e in accounts.access_entries("dan")]


def test_login_opens_the_operations_page_and_logout_ends_the_session(secured):
    app, accounts, _ = secured
    client, response = _login(app, "dan")
    assert response.status_code == 302 and response.location == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "Operations" in layout and "dan (dispatcher)" in layout and ids.DEMO_BANNER not in layout
    assert client.post("/_dash-update-component", json=_refresh_body(client)).status_code == 200
    assert client.get("/logout").status_code == 302
    assert client.get("/").status_code == 302
    assert [e.action for e in accounts.access_entries("dan")] == ["login", "logout"]


def test_idle_session_expires_and_redirects_to_login(secured):
    app, _, clock = secured
    client, _ = _login(app, "dan")
    clock.now_s += 59.0
    assert client.get("/").status_code == 200  # activity restarts the idle timer
    clock.now_s += 59.0
    assert client.get("/").status_code == 200
    clock.now_s += 61.0
    response = client.get("/")
    assert response.status_code == 302 and "expired=1" in response.location
    assert b"expired" in client.get(response.location).data
    assert client.post("/_dash-update-component", json={}).status_code == 401


def test_role_without_permission_gets_403_on_page_and_callbacks(secured):
    """The planner may not see Operations: the page, its callback and the page router refuse."""
    app, accounts, _ = secured
    admin, _ = _login(app, "ana")
    body = _refresh_body(admin)
    client, _ = _login(app, "pia")
    assert client.get("/").status_code == 403
    assert client.post("/_dash-update-component", json=body).status_code == 403
    router = client.post("/_dash-update-component", json=_page_router_body("/"))
    assert router.status_code == 403
    assert "Operations" not in client.get("/_dash-layout").get_data(as_text=True)
    denied = [e for e in accounts.access_entries("pia") if e.action == "denied"]
    assert len(denied) == 3 and {e.subject for e in denied} == {"page:/"}


def test_page_callbacks_are_guarded_even_without_their_own_check(secured, monkeypatch):
    """The guard maps a callback to the page module that registered it: a page callback that
    forgot ``auth.require`` is still refused to a role without the page."""
    app, _, _ = secured
    monkeypatch.setattr(auth, "require", lambda permission: None)  # a forgetful callback
    admin, _ = _login(app, "ana")
    body = _refresh_body(admin)
    client, _ = _login(app, "pia")
    assert client.post("/_dash-update-component", json=body).status_code == 403
    assert admin.post("/_dash-update-component", json=body).status_code == 200


def test_disabled_account_loses_its_session(secured):
    app, accounts, _ = secured
    client, _ = _login(app, "dan")
    assert client.get("/").status_code == 200
    accounts.disable("dan")
    assert client.get("/").status_code == 302


def test_personal_data_views_are_written_to_the_access_log(secured):
    """A verifier's view is logged with the reason; a dispatcher is refused and that is logged."""
    app, accounts, _ = secured
    for name, allowed in (("vic", True), ("dan", False)):
        client, response = _login(app, name)
        sid = client.get_cookie(auth.COOKIE).value
        with app.server.test_request_context("/", headers={"Cookie": f"{auth.COOKIE}={sid}"}):
            assert app.server.preprocess_request() is None  # runs the guard
            if allowed:
                assert auth.view_personal_data("driver:3174", "appeal of case C-12",
                                               {"case_id": "C-12"}) == "vic"
            else:
                with pytest.raises(Forbidden):
                    auth.view_personal_data("driver:3174", "curious")
    (view,) = [e for e in accounts.access_entries() if e.action == "personal_data.view"]
    assert (view.actor, view.role, view.subject, view.reason, view.details) == (
        "vic", "verifier", "driver:3174", "appeal of case C-12", {"case_id": "C-12"})
    assert [e.subject for e in accounts.access_entries("dan") if e.action == "denied"] == [
        "data:personal"]
    assert accounts.verify_access_log()[0]


def test_demo_mode_has_no_login_a_banner_and_no_personal_data(tiny_network, view_factory):
    live = LiveTwin(tiny_network, view_factory(tiny_network))
    app = create_app(live)
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    assert "demo mode: no login" in client.get("/_dash-layout").get_data(as_text=True)
    assert b'name="password"' not in client.get("/login").data  # Dash's index: no login form
    page = sys.modules["dashboard.pages.operations"]
    with app.server.test_request_context():
        with pytest.raises(Forbidden):
            auth.view_personal_data("driver:1", "demo")
        assert auth.require(page.PERMISSION) is None


def test_demo_mode_is_refused_beyond_loopback(tiny_network, view_factory):
    live = LiveTwin(tiny_network, view_factory(tiny_network))
    with pytest.raises(ValueError, match="kota serve"):
        serve(live, host="0.0.0.0", port=8124)


def test_login_and_refusal_over_real_http_under_waitress(secured):
    """The same guard behind a real WSGI server: cookies, redirects and 403 over HTTP."""
    import contextlib
    import http.client
    import threading
    from urllib.parse import urlencode

    waitress = pytest.importorskip("waitress")
    app, _, _ = secured
    server = waitress.create_server(app.server, host="127.0.0.1", port=0, threads=2)

    def run() -> None:
        with contextlib.suppress(OSError):  # close() from this thread ends its select loop: EBADF
            server.run()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    port = server.effective_port

    def request(method: str, path: str, body: str | None = None, cookie: str = ""):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Cookie": cookie} if cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    try:
        assert request("GET", "/").status == 302
        cookies = {}
        for name in ("dan", "pia"):
            response = request("POST", "/login", urlencode(
                {"username": name, "password": PASSWORD, "next": "/"}))
            assert response.status == 302
            cookies[name] = response.getheader("Set-Cookie").split(";")[0]
        assert request("GET", "/", cookie=cookies["dan"]).status == 200
        assert request("GET", "/", cookie=cookies["pia"]).status == 403
        assert request("GET", "/_dash-layout", cookie="kota_session=forged").status == 401
    finally:
        server.close()
        worker.join(timeout=5)
