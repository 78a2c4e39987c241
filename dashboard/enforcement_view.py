"""Pure builders for the Enforcement page: queue labels, evidence, status counts, payments.

They take the module's own records (:class:`~twin.modules.enforcement.states.Case`,
:class:`~twin.modules.enforcement.repository.PaymentRecord`, the counts of
:meth:`~twin.modules.enforcement.repository.CaseStore.count_by_state`) and return plain
strings and dicts, so they are tested without a browser; the ``*_items`` and
:func:`evidence_panel` functions wrap them in Dash components for
:mod:`dashboard.pages.enforcement`. Nothing here shows an owner's name or address: that
is the TAR lookup's job (:mod:`dashboard.enforcement_desk`), behind the personal-data
permission and the access log.

Times are shown in Jakarta time (WIB, UTC+7), where the Polda Metro Jaya works.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from dash import html

from twin.modules.enforcement.codes import ViolationCode
from twin.modules.enforcement.repository import PaymentRecord
from twin.modules.enforcement.states import Case, CaseState
from twin.modules.enforcement.tariff import Tariff

WIB = timezone(timedelta(hours=7), "WIB")
"""Western Indonesian Time, the operation room's clock."""

STATE_LABELS: Mapping[CaseState, str] = {
    CaseState.CAPTURED: "Captured",
    CaseState.AUTO_CHECKED: "Auto-checked",
    CaseState.PENDING_VERIFICATION: "Pending verification",
    CaseState.VERIFIED: "Verified",
    CaseState.REJECTED: "Rejected",
    CaseState.OWNER_RESOLVED: "Owner resolved",
    CaseState.OWNER_UNKNOWN: "Owner unknown",
    CaseState.NOTICE_SENT: "Notice sent",
    CaseState.CONFIRMED: "Confirmed",
    CaseState.DISPUTED: "Disputed",
    CaseState.NO_RESPONSE: "No response",
    CaseState.DISMISSED: "Dismissed",
    CaseState.TICKET_ISSUED: "Ticket issued",
    CaseState.STNK_BLOCKED: "STNK blocked",
    CaseState.PAID: "Paid",
    CaseState.CLOSED: "Closed",
}
"""Every case state's label, in workflow order."""

EVIDENCE_FIELDS: tuple[tuple[str, str], ...] = (
    ("case_id", "Case"),
    ("violation", "Violation"),
    ("rule", "Rule"),
    ("article", "Article (UU 22/2009)"),
    ("time", "Time"),
    ("place", "Place"),
    ("speed", "Measured speed"),
    ("limit", "Speed limit"),
    ("plate", "Plate as read"),
    ("vehicle", "Vehicle class"),
    ("fine", "Fine"),
    ("points", "SIM points"),
    ("images", "Evidence images"),
)
"""Rows of the evidence panel: key and label."""

DASH = "–"


def format_time(value: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM:SS WIB``, or an en dash."""
    return DASH if value is None else value.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S WIB")


def format_idr(amount: int) -> str:
    """Rupiah with dots between thousands: ``Rp500.000``."""
    return "Rp" + f"{amount:,}".replace(",", ".")


def _kmh(value: Any) -> str:
    return f"{float(value):.0f} km/h" if isinstance(value, (int, float)) else DASH


def queue_label(case: Case) -> str:
    """One line of the verification queue: time, violation, camera, case id."""
    return f"{format_time(case.observed_at)} · {case.code} · {case.camera_id} · {case.case_id}"


def queue_options(cases: Sequence[Case]) -> list[dict[str, str]]:
    """``dcc.RadioItems`` options of the queue, in the order given (oldest first)."""
    return [{"label": queue_label(c), "value": c.case_id} for c in cases]


def place_text(case: Case) -> str:
    """Camera, link and coordinates of the read that completed the violation."""
    observations = case.evidence.get("observations") or []
    location = observations[-1].get("location") if observations else None
    if not isinstance(location, Mapping):
        return case.camera_id
    parts = [case.camera_id]
    if location.get("link_id"):
        parts.append(f"link {location['link_id']}")
    if isinstance(location.get("lat"), (int, float)) and isinstance(location.get("lon"), (int, float)):
        parts.append(f"{location['lat']:.5f}, {location['lon']:.5f}")
    return " · ".join(parts)


def article_of(case: Case, tariff: Tariff) -> str:
    """The article the case's fine comes from, when the loaded fine table is the one the
    case was priced with (otherwise the table version, so nothing is misattributed)."""
    if tariff.fines_version != case.fines_version:
        return f"see fine table {case.fines_version}"
    try:
        return f"Pasal {tariff.fines[ViolationCode(case.code)].article}"
    except (ValueError, KeyError):
        return DASH


def evidence_fields(case: Case, tariff: Tariff) -> dict[str, str]:
    """The texts of the evidence panel, keyed by the :data:`EVIDENCE_FIELDS` keys."""
    measured = case.evidence.get("measured") or {}
    plate = case.plate or "no plate read"
    images = case.evidence.get("image_sha256") or []
    return {
        "case_id": case.case_id,
        "violation": case.code,
        "rule": f"{case.evidence.get('rule', DASH)} ({case.evidence.get('rule_version', DASH)})",
        "article": article_of(case, tariff),
        "time": format_time(case.observed_at),
        "place": place_text(case),
        "speed": _kmh(measured.get("speed_kmh", measured.get("avg_speed_kmh"))),
        "limit": _kmh(measured.get("limit_kmh")),
        "plate": f"{plate} (OCR confidence {case.plate_confidence:.0%})",
        "vehicle": case.vehicle_class or DASH,
        "fine": f"{format_idr(case.fine_idr)} ({case.fines_version})",
        "points": f"{case.points} ({case.points_version})",
        "images": ", ".join(f"sha256 {h[:12]}…" for h in images) if images else "none",
    }


ImageSource = Callable[[str], bytes | None]
"""Gives the bytes of an evidence image by its SHA-256, or None when it is not held."""


def evidence_images(case: Case, images: ImageSource | None) -> list[str]:
    """``data:`` URIs of the case's evidence images that ``images`` holds (JPEG)."""
    if images is None:
        return []
    uris = []
    for digest in case.evidence.get("image_sha256") or []:
        data = images(str(digest))
        if data:
            uris.append("data:image/jpeg;base64," + base64.b64encode(data).decode("ascii"))
    return uris


def evidence_panel(case: Case, tariff: Tariff, images: ImageSource | None = None) -> html.Div:
    """The evidence of one case: its images (or, without any, the plate as read in large
    type) and a definition list of the facts."""
    fields = evidence_fields(case, tariff)
    uris = evidence_images(case, images)
    picture: Any = ([html.Img(src=uri, className="enf-evidence-image", alt=f"evidence {i + 1}")
                     for i, uri in enumerate(uris)] if uris else
                    html.Div(case.plate or "no plate read", className="enf-plate-text"))
    return html.Div(className="enf-evidence", children=[
        html.Div(picture, className="enf-evidence-picture"),
        html.Dl(className="enf-facts", children=[
            item for key, label in EVIDENCE_FIELDS
            for item in (html.Dt(label), html.Dd(fields[key], className=f"enf-fact-{key}"))
        ]),
    ])


def status_rows(counts: Mapping[str, int]) -> list[tuple[str, str, int]]:
    """``(state, label, count)`` in workflow order: every state that has cases, and
    always the verification queue."""
    return [(s.value, label, int(counts.get(s.value, 0))) for s, label in STATE_LABELS.items()
            if counts.get(s.value) or s is CaseState.PENDING_VERIFICATION]


def status_items(counts: Mapping[str, int]) -> list[html.Div]:
    """One ``div.enf-count`` tile per :func:`status_rows` row."""
    return [html.Div(className=f"kpi-tile enf-count enf-count-{state.lower()}", children=[
        html.Div(label, className="kpi-label"),
        html.Div(str(n), className="kpi-value", id=f"enf-count-{state.lower()}"),
    ]) for state, label, n in status_rows(counts)]


def payment_rows(payments: Sequence[PaymentRecord]) -> list[dict[str, str]]:
    """Texts of the recent payments, in the order given: time, case, amount, bank, ref."""
    return [{"time": format_time(p.paid_at), "case_id": p.case_id,
             "amount": format_idr(p.amount_idr), "bank": p.bank, "ref": p.payment_ref}
            for p in payments]


def payment_items(payments: Sequence[PaymentRecord]) -> list[html.Li]:
    """One ``li.payment-row`` per payment (a placeholder when there is none)."""
    rows = payment_rows(payments)
    if not rows:
        return [html.Li("No payments yet", className="payment-empty")]
    return [html.Li(className="payment-row", children=[
        html.Span(r["time"], className="alert-time"),
        html.Span(r["case_id"], className="payment-case"),
        html.Span(r["amount"], className="payment-amount"),
        html.Span(f"{r['bank']} {r['ref']}", className="payment-ref"),
    ]) for r in rows]
