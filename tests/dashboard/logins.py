"""Logging in to the dashboard in tests: over Flask's test client, and in the browser.

The login form is plain HTML served by :mod:`dashboard.auth`, not a Dash page, so a
browser test serves the app with ``dash_duo.server(app)`` (``start_server`` would wait
for Dash's renderer) and then logs in here.
"""

from __future__ import annotations

from typing import Any

PASSWORD = "correct horse battery staple"
"""The password the dashboard tests give their users (12+ characters, as required)."""


def client_login(app: Any, name: str, password: str = PASSWORD) -> Any:
    """A Flask test client with ``name``'s session cookie (``POST /login``)."""
    client = app.server.test_client()
    client.post("/login", data={"username": name, "password": password, "next": "/"})
    return client


def browser_login(dash_duo: Any, path: str, name: str, password: str = PASSWORD) -> None:
    """Open ``path`` in the browser, get sent to the login form, and log in as ``name``."""
    dash_duo.driver.get(f"{dash_duo.server.url}{path}")
    dash_duo.wait_for_element("#login-username", timeout=10)
    assert "/login" in dash_duo.driver.current_url
    dash_duo.find_element("#login-username").send_keys(name)
    dash_duo.find_element("#login-password").send_keys(password)
    dash_duo.find_element("#login-submit").click()
