"""Enforcement (ETLE back office): the verification queue, case status, payments, TAR.

An officer picks a case from the queue (oldest first), sees its evidence (the images
when the app holds them, else the plate as read; speed, limit, place, time, rule,
article, fine) and verifies it or rejects it with a reason. Every act runs through the
ETLE module on the dashboard's store (:mod:`dashboard.enforcement_desk`) as the
logged-in user, after a server-side check of ``action:violation.verify``. The TAR lookup
by plate or driver is only drawn for roles allowed personal data, and every lookup is
written to the access log. Builders are in :mod:`dashboard.enforcement_view` and
:mod:`dashboard.enforcement_tar`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import auth, ids
from dashboard.enforcement_desk import (
    PAGE,
    VERIFY,
    NoDesk,
    can_see_personal_data,
    claim,
    current_desk,
    current_officer,
    officer,
    pending,
    reject,
    tar_lookup,
    verify,
)
from dashboard.enforcement_tar import tar_panel
from dashboard.enforcement_view import (
    STATE_LABELS,
    evidence_panel,
    format_time,
    payment_items,
    queue_options,
    status_items,
)
from dashboard.state import current_store
from twin.modules.enforcement.repository import CaseNotFound, CaseStore
from twin.modules.enforcement.states import TransitionError
from twin.modules.enforcement.tariff import load_tariff

dash.register_page(__name__, path="/enforcement", name="Enforcement", order=2)

PERMISSION = PAGE
"""Who may see this page (:data:`twin.accounts.roles.PAGE_ENFORCEMENT`); its acts need
``action:violation.verify`` as well."""
REFRESH_MS = 5000
QUEUE_SHOWN = 50
PAYMENTS_SHOWN = 10
NO_STORE = "No store attached: start the dashboard with a store."
NO_CASE = "Select a case in the queue to see its evidence."
TAR_TITLE = "Traffic Attitude Record lookup (personal data: every lookup is logged)"
READ_ONLY = ("Read-only: no registration data (ERI) is attached to this dashboard, so cases "
             "cannot be verified here.")


def layout(**_kwargs: Any) -> html.Div:
    """The page, drawn from the store as it is now."""
    options, counts, payments = _content()
    desk = current_desk()
    note = NO_STORE if current_store() is None else (READ_ONLY if desk is None else "")
    panels: list[Any] = [
        html.Div(counts, id=ids.ENF_COUNTS, className="kpi-row enf-counts"),
        html.Div(note, className="ops-status enf-note"),
        html.Div(className="enf-main", children=[
            html.Div(className="sensors-card enf-queue-card", children=[
                html.Div("Awaiting verification (oldest first)", className="kpi-label"),
                dcc.RadioItems(id=ids.ENF_QUEUE, options=options, value=None,
                               className="enf-queue", labelClassName="enf-queue-item"),
            ]),
            html.Div(className="sensors-card enf-case-card", children=[
                html.Div(NO_CASE, id=ids.ENF_EVIDENCE),
                dcc.Textarea(id=ids.ENF_REASON, className="enf-reason",
                             placeholder="Reason (required to reject)"),
                html.Div(className="enf-actions", children=[
                    html.Button("Verify", id=ids.ENF_VERIFY, className="enf-verify",
                                disabled=desk is None),
                    html.Button("Reject", id=ids.ENF_REJECT, className="enf-reject",
                                disabled=desk is None),
                ]),
                html.Div(id=ids.ENF_MESSAGE, className="enf-message"),
            ]),
        ]),
        html.Div(className="sensors-card", children=[
            html.Div("Recent payments", className="kpi-label"),
            html.Ul(payments, id=ids.ENF_PAYMENTS, className="rejected-list"),
        ]),
    ]
    panels.append(_tar_card() if can_see_personal_data() else _no_tar())
    panels += [dcc.Store(id=ids.ENF_LAST_ACTION), dcc.Interval(id=ids.ENF_INTERVAL,
                                                               interval=REFRESH_MS)]
    return html.Div(panels, className="enf-page")


def _tar_card() -> html.Div:
    return html.Div(className="sensors-card enf-tar", children=[
        html.Div(TAR_TITLE, className="kpi-label"),
        html.Div(className="enf-tar-form", children=[
            dcc.Input(id=ids.ENF_TAR_QUERY, placeholder="Plate or driver id"),
            dcc.Input(id=ids.ENF_TAR_REASON, placeholder="Reason for the lookup"),
            html.Button("Look up", id=ids.ENF_TAR_GO),
        ]),
        html.Div(id=ids.ENF_TAR_RESULT),
    ])


def _no_tar() -> html.Div:
    """Empty, hidden stand-ins for the lookup's ids, so the browser finds every id its
    callback names (Dash reports a missing one as an error) and nothing is offered."""
    return html.Div(hidden=True, className="enf-no-tar", children=[
        dcc.Input(id=ids.ENF_TAR_QUERY, type="hidden"),
        dcc.Input(id=ids.ENF_TAR_REASON, type="hidden"),
        html.Button(id=ids.ENF_TAR_GO, disabled=True),
        html.Div(id=ids.ENF_TAR_RESULT),
    ])


def _content() -> tuple[list[dict[str, str]], list[Any], list[html.Li]]:
    store = current_store()
    if store is None:
        return [], [], []
    cases = CaseStore.of(store)
    return (queue_options(pending(store, current_desk(), current_officer(), QUEUE_SHOWN)),
            status_items(cases.count_by_state()),
            payment_items(cases.recent_payments(PAYMENTS_SHOWN)))


@callback(
    Output(ids.ENF_QUEUE, "options"),
    Output(ids.ENF_COUNTS, "children"),
    Output(ids.ENF_PAYMENTS, "children"),
    Input(ids.ENF_INTERVAL, "n_intervals"),
    Input(ids.ENF_LAST_ACTION, "data"),
    prevent_initial_call=True,
)
def refresh(_n_intervals: int | None, _last: Any) -> tuple[Any, ...]:
    """Redraw the queue, the status counts and the payments."""
    officer(PERMISSION)
    return _content()


@callback(Output(ids.ENF_EVIDENCE, "children"), Input(ids.ENF_QUEUE, "value"),
          prevent_initial_call=True)
def show_case(case_id: str | None) -> Any:
    """Show the selected case's evidence and reserve it for this officer."""
    officer(PERMISSION)
    store, desk = current_store(), current_desk()
    if store is None or not case_id:
        return NO_CASE
    case = CaseStore.of(store).case(case_id)
    if case is None:
        return f"No case {case_id}."
    note = ""
    if desk is not None and auth.visible(VERIFY):  # a viewer without the act claims nothing
        try:
            case = claim(store, desk, case_id)
            note = f"Reserved for you until {format_time(case.claim_expires_at)}."
        except TransitionError as exc:
            note = str(exc)
    tariff = desk.tariff if desk is not None else load_tariff()
    return [evidence_panel(case, tariff, desk.images if desk is not None else None),
            html.Div(note, className="enf-claim")]


@callback(
    Output(ids.ENF_MESSAGE, "children"),
    Output(ids.ENF_LAST_ACTION, "data"),
    Output(ids.ENF_QUEUE, "value"),
    Output(ids.ENF_REASON, "value"),
    Input(ids.ENF_VERIFY, "n_clicks"),
    Input(ids.ENF_REJECT, "n_clicks"),
    State(ids.ENF_QUEUE, "value"),
    State(ids.ENF_REASON, "value"),
    prevent_initial_call=True,
)
def decide(_verify: int | None, _reject: int | None, case_id: str | None,
           reason: str | None) -> tuple[Any, ...]:
    """Verify or reject the selected case; say what became of it."""
    who = officer()
    store = current_store()
    if store is None or not case_id:
        return "Select a case first.", no_update, no_update, no_update
    try:
        if ctx.triggered_id == ids.ENF_REJECT:
            case = reject(store, current_desk(), case_id, reason)
            verb = "rejected"
        else:
            case = verify(store, current_desk(), case_id)
            verb = "verified"
    except (TransitionError, CaseNotFound, ValueError, NoDesk) as exc:
        return f"Not done: {exc}", no_update, no_update, no_update
    message = f"{case.case_id} {verb} by {who}: now {STATE_LABELS[case.state]}."
    return message, {"case_id": case.case_id, "state": case.state.value}, None, ""


@callback(
    Output(ids.ENF_TAR_RESULT, "children"),
    Input(ids.ENF_TAR_GO, "n_clicks"),
    State(ids.ENF_TAR_QUERY, "value"),
    State(ids.ENF_TAR_REASON, "value"),
    prevent_initial_call=True,
)
def lookup(_n_clicks: int | None, query: str | None, reason: str | None) -> Any:
    """Look up a plate or a driver; refused (403) without personal-data permission."""
    officer(PERMISSION)
    store = current_store()
    if store is None:
        return NO_STORE
    if not (query or "").strip():
        return "Give a plate or a driver id."
    if not (reason or "").strip():
        return "Say why you look this up: the reason goes to the access log."
    return tar_panel(tar_lookup(store, current_desk(), query or "", reason or ""))
