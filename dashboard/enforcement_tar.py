"""How a TAR lookup (:func:`dashboard.enforcement_desk.tar_lookup`) is shown.

Only ever called with a lookup that the access check let through, so these builders
may show the owner's name and address and the driver's name and SIM number.
"""

from __future__ import annotations

from dash import html

from dashboard.enforcement_desk import DriverView, TarLookup
from dashboard.enforcement_view import STATE_LABELS, format_idr, format_time

PENALTY_LABELS = {"none": "no penalty", "penalty_1": "Penalti 1 (SIM held)",
                  "penalty_2": "Penalti 2 (SIM revoked)"}


def owner_text(lookup: TarLookup) -> str:
    """The registered owner on the plate's newest case that has one resolved, or a dash."""
    for case in lookup.cases:
        if case.owner_name:
            return f"{case.owner_name}, {case.owner_address or 'no address'}"
    return "–"


def driver_lines(view: DriverView) -> list[str]:
    """Text lines of one driver's record: who, points, balance, penalty, renewal."""
    who = view.driver_id
    if view.driver is not None:
        who += (f": {view.driver.name}, SIM {view.driver.sim_class} {view.driver.sim_number} "
                f"valid until {view.driver.sim_valid_until.isoformat()}")
    rec = view.record
    lines = [who, f"{rec.accumulated_points} points in the window, TAR balance {rec.balance} "
                  f"of 12, {PENALTY_LABELS.get(rec.penalty, rec.penalty)}"]
    lines += [f"{format_time(e.awarded_at)} {e.kind} {e.code}: {e.points} point(s)"
              + ("" if e.counts else " (outside the window)") for e in rec.entries]
    if view.renewal is not None:
        lines.append("SIM renewal: allowed" if view.renewal.eligible else
                     "SIM renewal: refused: " + "; ".join(view.renewal.reasons))
    return lines


def case_lines(lookup: TarLookup) -> list[str]:
    """One line per case: time, case id, violation, state, fine."""
    return [f"{format_time(c.observed_at)} {c.case_id} {c.code}: {STATE_LABELS[c.state]}, "
            f"{format_idr(c.fine_idr)}" for c in lookup.cases]


def tar_panel(lookup: TarLookup) -> html.Div:
    """The lookup's answer: owner (for a plate), cases, and each driver's record."""
    children: list[html.Div | html.Ul] = [
        html.Div(f"{lookup.kind.capitalize()} {lookup.query}", className="kpi-label")]
    if lookup.kind == "plate":
        children.append(html.Div(f"Registered owner: {owner_text(lookup)}", className="tar-owner"))
    children.append(html.Ul([html.Li(line, className="tar-case") for line in case_lines(lookup)]
                            or [html.Li("No cases", className="tar-empty")]))
    for view in lookup.drivers:
        lines = driver_lines(view)
        children.append(html.Div(className="tar-driver", children=[
            html.Div(lines[0], className="tar-driver-name"),
            html.Ul([html.Li(line) for line in lines[1:]]),
        ]))
    if not lookup.drivers:
        children.append(html.Div("No confirmed driver on record", className="tar-empty"))
    return html.Div(children, className="tar-result")
