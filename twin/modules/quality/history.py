"""Published scores in the store (``quality_scores``): per area, period and service.

Publishing the same index version, area and period again replaces its rows in one
transaction, so a recomputation never doubles a point of the trend.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select

from twin.store import Store
from twin.store.schema import QualityScoreRow

from .config import IndexConfig
from .index import Window, compute_index
from .queries import measure_all

SCORES = cast(Table, QualityScoreRow.__table__)
AAI = "AAI"


def rolling_window(end: datetime, days: float) -> Window:
    """The rolling window of ``days`` ending at ``end``."""
    if end.tzinfo is None:
        raise ValueError("the window end needs a timezone")
    return Window(end - timedelta(days=days), end, "rolling")


def month_windows(first: datetime, last: datetime, tz: tzinfo = UTC) -> Iterator[Window]:
    """The calendar months in ``tz`` (e.g. WIB) from the one holding ``first`` to the one
    holding ``last``."""
    a, b = first.astimezone(tz), last.astimezone(tz)
    y, m = a.year, a.month
    while (y, m) <= (b.year, b.month):
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        yield Window(datetime(y, m, 1, tzinfo=tz), datetime(ny, nm, 1, tzinfo=tz), "month")
        y, m = ny, nm


def compute(store: Store, cfg: IndexConfig, window: Window, area: str = "all",
            ikm: dict[str, float] | None = None) -> dict[str, Any]:
    """Measure every KPI on ``store`` and compute the index of ``area`` over ``window``."""
    return compute_index(measure_all(store, area, window, cfg), cfg, window, area, ikm)


def publish(store: Store, result: dict[str, Any], *, computed_at: datetime | None = None) -> int:
    """Store one computed index (six services and the AAI); the rows written."""
    w = result["window"]
    start, end = datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"])
    now = computed_at or datetime.now(UTC)
    key = (SCORES.c.index_version == result["index_version"], SCORES.c.area == result["area"],
           SCORES.c.period_kind == w["kind"], SCORES.c.period_start == start,
           SCORES.c.period_end == end)
    rows = [{
        "index_version": result["index_version"], "area": result["area"], "period_kind": w["kind"],
        "period_start": start, "period_end": end, "service": s["service"], "status": s["status"],
        "score": s["final"], "grade": s["grade"], "coverage": s["coverage"],
        "objective": s["objective"], "ikm": s["ikm"],
        "explanation": {"explanations": s["explanations"], "psi": s["psi"], "alpha": s["alpha"]},
        "computed_at": now,
    } for s in result["services"]]
    a = result["aai"]
    rows.append({"index_version": result["index_version"], "area": result["area"],
                 "period_kind": w["kind"], "period_start": start, "period_end": end,
                 "service": AAI, "status": a["status"], "score": a["aai"], "grade": a["grade"],
                 "coverage": a["coverage"], "objective": None, "ikm": None,
                 "explanation": {"services": [s["service"] for s in result["services"]
                                              if s["final"] is not None]},
                 "computed_at": now})
    with store.engine.begin() as conn:
        conn.execute(delete(SCORES).where(*key))
        conn.execute(insert(SCORES), rows)
    return len(rows)


def publish_months(store: Store, cfg: IndexConfig, first: datetime, last: datetime,
                   area: str = "all", tz: tzinfo = UTC) -> list[dict[str, Any]]:
    """Compute and store the index of every calendar month from ``first`` to ``last``."""
    results = [compute(store, cfg, w, area) for w in month_windows(first, last, tz)]
    for r in results:
        publish(store, r)
    return results


def history(store: Store, *, area: str = "all", service: str | None = None,
            period_kind: str | None = None) -> list[dict[str, Any]]:
    """Published scores of ``area`` in period order (a trend per service)."""
    query = select(SCORES).where(SCORES.c.area == area)
    if service is not None:
        query = query.where(SCORES.c.service == service)
    if period_kind is not None:
        query = query.where(SCORES.c.period_kind == period_kind)
    query = query.order_by(SCORES.c.period_start, SCORES.c.service)
    return store.read(lambda conn: [dict(r) for r in conn.execute(query).mappings()])
