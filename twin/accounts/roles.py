"""Roles and what each may see and do, as data.

A permission is a string: ``page:<path>`` for a dashboard page, ``action:<name>`` for
an act (verify a violation, override a unit), ``data:personal`` for personal data (every
such view is written to the access log). ``admin`` manages accounts and sees everything.
"""

from __future__ import annotations

from collections.abc import Mapping

ROLES: tuple[str, ...] = ("call-taker", "dispatcher", "verifier", "supervisor", "analyst",
                          "auditor", "planner", "admin")

PAGE_OPERATIONS = "page:/"
PAGE_ENFORCEMENT = "page:/enforcement"
PAGE_DISPATCH = "page:/dispatch"
PAGE_INDEX = "page:/index"
PAGE_PLANNER = "page:/planner"
PAGE_SENSORS = "page:/sensors"
PAGE_MAP = "page:/map"
PAGE_AUDIT = "page:/audit"
PERSONAL_DATA = "data:personal"

PERMISSIONS: Mapping[str, frozenset[str]] = {
    "call-taker": frozenset({PAGE_OPERATIONS, PAGE_MAP, PAGE_DISPATCH, "action:call.take"}),
    "dispatcher": frozenset({PAGE_OPERATIONS, PAGE_MAP, PAGE_DISPATCH, "action:unit.override"}),
    "verifier": frozenset({PAGE_OPERATIONS, PAGE_MAP, PAGE_ENFORCEMENT, "action:violation.verify",
                           PERSONAL_DATA}),
    "supervisor": frozenset({PAGE_OPERATIONS, PAGE_MAP, PAGE_ENFORCEMENT, PAGE_DISPATCH, PAGE_INDEX,
                             PAGE_SENSORS, "action:violation.verify", "action:unit.override",
                             PERSONAL_DATA}),
    "analyst": frozenset({PAGE_OPERATIONS, PAGE_MAP, PAGE_INDEX, PAGE_SENSORS}),
    "auditor": frozenset({PAGE_INDEX, PAGE_AUDIT, PERSONAL_DATA}),
    "planner": frozenset({PAGE_PLANNER, PAGE_INDEX}),
    "admin": frozenset({PAGE_OPERATIONS, PAGE_MAP, PAGE_ENFORCEMENT, PAGE_DISPATCH, PAGE_INDEX,
                        PAGE_PLANNER, PAGE_SENSORS, PAGE_AUDIT, PERSONAL_DATA,
                        "action:violation.verify", "action:unit.override", "action:users.manage"}),
}
"""Which role holds which permission. The auditor and the planner do not see Operations;
every role that sees Operations sees the Map page too."""


def check_role(role: str) -> str:
    """``role`` if it is known; raises ValueError naming the known roles otherwise."""
    if role not in PERMISSIONS:
        raise ValueError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    return role


def allows(role: str, permission: str) -> bool:
    """True when ``role`` holds ``permission`` (an unknown role holds nothing)."""
    return permission in PERMISSIONS.get(role, frozenset())


def page_permission(path: str) -> str:
    """The permission guarding the page at ``path`` (``/enforcement/x`` -> ``page:/enforcement``)."""
    head = "/" + path.strip("/").split("/", 1)[0] if path.strip("/") else "/"
    return f"page:{head}"
