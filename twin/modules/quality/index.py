"""The index arithmetic of DOMAIN.md section 3.3, with an explanation record per KPI.

::

    n_k   = clip((x_k - W_k) / (T_k - W_k), 0, 1)
    S_s   = 100 * sum_avail(w_k n_k) / sum_avail(w_k)
    cov_s = sum_avail(w_k) / sum_all(w_k)         # "insufficient data" below min_coverage
    PSI_s = 25 + 0.75 S_s
    Final = alpha PSI_s + (1 - alpha) IKM_s        # alpha = 1 without a survey
    AAI   = sum_s v_s Final_s / sum_s v_s          # over services with a score

A KPI is available when its query returned a value from at least ``min_samples`` events.
The AAI applies the same coverage rule over the service weights ``v_s``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .config import SERVICES, IndexConfig, KpiDef
from .ikm import grade

INSUFFICIENT = "insufficient data"


@dataclass(frozen=True)
class Measurement:
    """What a KPI query found: the value ``x`` (None: nothing to measure) and its evidence."""

    x: float | None
    samples: int
    data_sources: tuple[str, ...] = ()
    note: str = ""
    """Why there is no value, or how it was measured."""
    excluded: Mapping[str, int] = field(default_factory=dict)
    """Events left out of the KPI and why (e.g. ``{"ghost_or_prank": 12}``); reported, not hidden."""

    @classmethod
    def share(cls, hits: int, total: int, sources: tuple[str, ...], note: str,
              excluded: Mapping[str, int] | None = None) -> Measurement:
        """``hits / total`` over ``total`` samples; with none, no value and "no events in
        the window"."""
        if not total:
            return cls(None, 0, sources, "no events in the window", dict(excluded or {}))
        return cls(hits / total, total, sources, note, dict(excluded or {}))


@dataclass(frozen=True)
class Window:
    """The period a score covers: ``[start, end)``; ``kind`` is ``rolling`` or ``month``."""

    start: datetime
    end: datetime
    kind: str = "rolling"

    def to_dict(self) -> dict[str, str]:
        """ISO 8601 start and end, and the kind."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "kind": self.kind}


def normalise(x: float, target: float, worst: float) -> float:
    """``clip((x - worst) / (target - worst), 0, 1)``: 1 at the target, 0 at the worst level."""
    return min(1.0, max(0.0, (x - worst) / (target - worst)))


def explain(kpi: KpiDef, m: Measurement, window: Window, cfg: IndexConfig) -> dict[str, Any]:
    """The explanation record of one KPI: ``{kpi, x, T, W, n_k, w_k, samples, window,
    query_id, data_sources}`` plus ``service``, ``available``, ``note``, ``excluded`` (events
    left out by reason, e.g. ghost/prank calls) and ``excluded_share`` (of all events)."""
    x = m.x if m.x is not None and math.isfinite(m.x) else None
    if x is None:
        note = m.note or "no value"
    elif m.samples < cfg.min_samples:
        note = f"{m.samples} samples < {cfg.min_samples}"
    else:
        note = m.note
    available = x is not None and m.samples >= cfg.min_samples
    left_out = sum(m.excluded.values())
    return {
        "kpi": kpi.id, "service": kpi.service, "x": x, "T": kpi.target, "W": kpi.worst,
        "n_k": normalise(x, kpi.target, kpi.worst) if available and x is not None else None,
        "w_k": kpi.weight, "samples": int(m.samples), "window": window.to_dict(),
        "query_id": kpi.query_id, "data_sources": list(m.data_sources),
        "available": available, "note": note, "excluded": dict(m.excluded),
        "excluded_share": left_out / (left_out + m.samples) if left_out else 0.0,
    }


def score_service(service: str, explanations: list[dict[str, Any]], cfg: IndexConfig,
                  ikm: float | None = None) -> dict[str, Any]:
    """The published score of one service from its KPI explanation records.

    Returns a record with ``objective`` (S_s), ``coverage``, ``psi``, ``ikm``, ``alpha``,
    ``final``, ``grade`` and ``status`` (``ok`` or ``insufficient data``, in which case
    ``objective``/``psi``/``final``/``grade`` are None).
    """
    total_w = sum(e["w_k"] for e in explanations)
    avail = [e for e in explanations if e["available"]]
    avail_w = sum(e["w_k"] for e in avail)
    coverage = avail_w / total_w if total_w > 0 else 0.0
    record: dict[str, Any] = {
        "service": service, "coverage": coverage, "ikm": ikm, "objective": None, "psi": None,
        "alpha": None, "final": None, "grade": None, "status": INSUFFICIENT,
        "explanations": explanations,
    }
    if not avail or coverage < cfg.min_coverage:
        return record
    objective = 100.0 * sum(e["w_k"] * e["n_k"] for e in avail) / avail_w
    psi = 25.0 + 0.75 * objective
    alpha = cfg.alpha if ikm is not None else 1.0
    final = alpha * psi + (1.0 - alpha) * ikm if ikm is not None else psi
    record.update(objective=objective, psi=psi, alpha=alpha, final=final, grade=grade(final),
                  status="ok")
    return record


def accountability(services: list[dict[str, Any]], cfg: IndexConfig) -> dict[str, Any]:
    """The AAI over the services that have a score, with its coverage of the weights ``v_s``."""
    total_v = sum(cfg.service_weights[s["service"]] for s in services)
    scored = [s for s in services if s["final"] is not None]
    v = sum(cfg.service_weights[s["service"]] for s in scored)
    coverage = v / total_v if total_v > 0 else 0.0
    if not scored or coverage < cfg.min_coverage:
        return {"aai": None, "grade": None, "coverage": coverage, "status": INSUFFICIENT}
    aai = sum(cfg.service_weights[s["service"]] * s["final"] for s in scored) / v
    return {"aai": aai, "grade": grade(aai), "coverage": coverage, "status": "ok"}


def compute_index(measurements: Mapping[str, Measurement], cfg: IndexConfig, window: Window,
                  area: str = "all", ikm: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The index of one area and window from each KPI's measurement (missing: no source).

    Returns ``{index_version, area, window, services: [...], aai: {...}}``.
    """
    services = []
    for service in SERVICES:
        exps = [explain(k, measurements.get(k.id, Measurement(None, 0, note="no source yet")),
                        window, cfg) for k in cfg.of_service(service)]
        services.append(score_service(service, exps, cfg, (ikm or {}).get(service)))
    return {"index_version": cfg.index_version, "area": area, "window": window.to_dict(),
            "services": services, "aai": accountability(services, cfg)}
