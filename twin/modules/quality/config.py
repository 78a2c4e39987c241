"""The versioned index configuration: KPI targets, worst levels, weights and query ids.

The rules are data (``data/index_v1.toml``), not code, so a citizen can read and recompute
every published score; a rule change is a new file with a new ``index_version``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

SERVICES: tuple[str, ...] = ("security", "safety", "law", "administration", "information",
                             "humanitarian")
"""The six public services the index covers, in publication order."""


@dataclass(frozen=True)
class KpiDef:
    """One KPI: ``n = clip((x - worst) / (target - worst), 0, 1)``, weighted by ``weight``."""

    id: str
    service: str
    target: float
    """T, the value that scores 1 (below ``worst`` for lower-is-better KPIs)."""
    worst: float
    """W, the unacceptable value that scores 0."""
    weight: float
    query_id: str
    """Id of the query (:mod:`twin.modules.quality.queries`) that measures it."""
    source: str = ""
    """Where T and W come from."""


@dataclass(frozen=True)
class IndexConfig:
    """One version of the index rules."""

    index_version: str
    kpis: tuple[KpiDef, ...]
    service_weights: dict[str, float] = field(default_factory=dict)
    alpha: float = 0.7
    min_samples: int = 30
    min_coverage: float = 0.6
    window_days: float = 30.0
    winsor_pct: float = 99.0
    method: str = ""

    def kpi(self, kpi_id: str) -> KpiDef:
        """The KPI named ``kpi_id`` (``KeyError`` if there is none)."""
        for k in self.kpis:
            if k.id == kpi_id:
                return k
        raise KeyError(kpi_id)

    def of_service(self, service: str) -> list[KpiDef]:
        """The KPIs of ``service``, in config order."""
        return [k for k in self.kpis if k.service == service]

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (what an export carries)."""
        return {
            "index_version": self.index_version, "alpha": self.alpha,
            "min_samples": self.min_samples, "min_coverage": self.min_coverage,
            "window_days": self.window_days, "winsor_pct": self.winsor_pct,
            "method": self.method, "services": dict(self.service_weights),
            "kpi": [vars(k).copy() for k in self.kpis],
        }


def config_from_dict(data: dict[str, Any]) -> IndexConfig:
    """Validate ``data`` (the TOML layout) into an :class:`IndexConfig`.

    Raises
    ------
    ValueError
        A missing or unknown key, an unknown service, T equal to W, a weight <= 0,
        a duplicate KPI id, or alpha / coverage outside [0, 1].
    """
    try:
        services = {str(s): float(v) for s, v in data["services"].items()}
        kpis = []
        for raw in data["kpi"]:
            extra = set(raw) - {"id", "service", "target", "worst", "weight", "query_id", "source"}
            if extra:
                raise ValueError(f"KPI {raw.get('id')!r}: unknown keys {sorted(extra)}")
            kpis.append(KpiDef(str(raw["id"]), str(raw["service"]), float(raw["target"]),
                               float(raw["worst"]), float(raw["weight"]), str(raw["query_id"]),
                               str(raw.get("source", ""))))
        cfg = IndexConfig(
            index_version=str(data["index_version"]), kpis=tuple(kpis), service_weights=services,
            alpha=float(data.get("alpha", 0.7)), min_samples=int(data.get("min_samples", 30)),
            min_coverage=float(data.get("min_coverage", 0.6)),
            window_days=float(data.get("window_days", 30.0)),
            winsor_pct=float(data.get("winsor_pct", 99.0)), method=str(data.get("method", "")))
    except KeyError as exc:
        raise ValueError(f"index config: missing key {exc}") from None
    _check(cfg)
    return cfg


def _check(cfg: IndexConfig) -> None:
    if set(cfg.service_weights) != set(SERVICES):
        raise ValueError(f"index config: services must be exactly {list(SERVICES)}")
    if not 0.0 <= cfg.alpha <= 1.0 or not 0.0 <= cfg.min_coverage <= 1.0:
        raise ValueError("index config: alpha and min_coverage must lie in [0, 1]")
    seen: set[str] = set()
    for k in cfg.kpis:
        if k.id in seen:
            raise ValueError(f"index config: duplicate KPI id {k.id!r}")
        seen.add(k.id)
        if k.service not in SERVICES:
            raise ValueError(f"KPI {k.id!r}: unknown service {k.service!r}")
        if not (math.isfinite(k.target) and math.isfinite(k.worst)) or k.target == k.worst:
            raise ValueError(f"KPI {k.id!r}: target and worst must be finite and differ")
        if not k.weight > 0:
            raise ValueError(f"KPI {k.id!r}: weight must be > 0")


def load_config(path: str | Path | None = None) -> IndexConfig:
    """Load the index rules from ``path``, or the packaged current version."""
    if path is None:
        text = resources.files(__package__).joinpath("data/index_v1.toml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    return config_from_dict(tomllib.loads(text))
