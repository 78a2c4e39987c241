"""Export published scores (JSON and CSV) and recompute them from the export alone.

The JSON export carries the index config (T, W, w, alpha, thresholds, ``index_version``)
and, per area and window, every service's score with its KPI explanation records. The CSV
export has one row per KPI explanation (and the config as ``index_config.json`` next to
it). :func:`recompute` rebuilds every score from an export's ``x`` and ``samples`` and the
config it names, with the same arithmetic, so anyone can check a published number.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from .config import SERVICES, IndexConfig, config_from_dict
from .index import Measurement, Window, accountability, explain, score_service

CSV_COLUMNS = ("index_version", "area", "window_start", "window_end", "window_kind", "service",
               "kpi", "x", "T", "W", "n_k", "w_k", "samples", "query_id", "data_sources",
               "available", "note", "ikm", "service_final", "service_grade", "service_status")


def export_document(results: Iterable[dict[str, Any]], cfg: IndexConfig) -> dict[str, Any]:
    """The export as one JSON-ready document: ``{config, results}``."""
    return {"config": cfg.to_dict(), "results": list(results)}


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def csv_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
    """One CSV row per KPI explanation of an export document (floats written exactly)."""
    rows = []
    version = doc["config"]["index_version"]
    for result in doc["results"]:
        w = result["window"]
        for svc in result["services"]:
            for e in svc["explanations"]:
                rows.append({
                    "index_version": version, "area": result["area"], "window_start": w["start"],
                    "window_end": w["end"], "window_kind": w["kind"], "service": svc["service"],
                    "kpi": e["kpi"], "x": _num(e["x"]), "T": _num(e["T"]), "W": _num(e["W"]),
                    "n_k": _num(e["n_k"]), "w_k": _num(e["w_k"]), "samples": str(e["samples"]),
                    "query_id": e["query_id"], "data_sources": ";".join(e["data_sources"]),
                    "available": "1" if e["available"] else "0", "note": e["note"],
                    "ikm": _num(svc["ikm"]), "service_final": _num(svc["final"]),
                    "service_grade": svc["grade"] or "", "service_status": svc["status"],
                })
    return rows


def write_export(directory: str | Path, results: Iterable[dict[str, Any]],
                 cfg: IndexConfig) -> dict[str, Path]:
    """Write ``quality_scores.json``, ``quality_kpis.csv`` and ``index_config.json``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    doc = export_document(results, cfg)
    paths = {"json": out / "quality_scores.json", "csv": out / "quality_kpis.csv",
             "config": out / "index_config.json"}
    paths["json"].write_text(json.dumps(doc, indent=1, allow_nan=False), "utf-8")
    paths["config"].write_text(json.dumps(cfg.to_dict(), indent=1), "utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(doc))
    return paths


def _recompute_one(cfg: IndexConfig, area: str, window: Window,
                   inputs: dict[str, tuple[float | None, int]],
                   ikm: dict[str, float | None]) -> dict[str, Any]:
    services = []
    for service in SERVICES:
        exps = []
        for k in cfg.of_service(service):
            x, samples = inputs.get(k.id, (None, 0))
            exps.append(explain(k, Measurement(x, samples), window, cfg))
        services.append(score_service(service, exps, cfg, ikm.get(service)))
    return {"index_version": cfg.index_version, "area": area, "window": window.to_dict(),
            "services": services, "aai": accountability(services, cfg)}


def _window(start: str, end: str, kind: str) -> Window:
    return Window(datetime.fromisoformat(start), datetime.fromisoformat(end), kind)


def recompute(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every result of a JSON export recomputed from its ``x``/``samples`` and its config.

    Raises
    ------
    ValueError
        An explanation's T, W or w differs from the exported config (a tampered export).
    """
    cfg = config_from_dict(doc["config"])
    out = []
    for result in doc["results"]:
        inputs: dict[str, tuple[float | None, int]] = {}
        ikm: dict[str, float | None] = {}
        for svc in result["services"]:
            ikm[svc["service"]] = svc["ikm"]
            for e in svc["explanations"]:
                k = cfg.kpi(e["kpi"])
                if (e["T"], e["W"], e["w_k"]) != (k.target, k.worst, k.weight):
                    raise ValueError(f"{e['kpi']}: T/W/w in the export differ from the config")
                inputs[e["kpi"]] = (e["x"], int(e["samples"]))
        w = result["window"]
        out.append(_recompute_one(cfg, result["area"], _window(w["start"], w["end"], w["kind"]),
                                  inputs, ikm))
    return out


def recompute_csv(csv_path: str | Path, config_path: str | Path) -> list[dict[str, Any]]:
    """Every result of a CSV export recomputed from its rows and ``index_config.json``."""
    cfg = config_from_dict(json.loads(Path(config_path).read_text("utf-8")))
    groups: dict[tuple[str, str, str, str], tuple[dict[str, tuple[float | None, int]],
                                                   dict[str, float | None]]] = {}
    with Path(csv_path).open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["index_version"] != cfg.index_version:
                raise ValueError(f"row of index {row['index_version']}, config {cfg.index_version}")
            key = (row["area"], row["window_start"], row["window_end"], row["window_kind"])
            inputs, ikm = groups.setdefault(key, ({}, {}))
            inputs[row["kpi"]] = (float(row["x"]) if row["x"] else None, int(row["samples"]))
            ikm[row["service"]] = float(row["ikm"]) if row["ikm"] else None
    return [_recompute_one(cfg, area, _window(s, e, kind), inputs, ikm)
            for (area, s, e, kind), (inputs, ikm) in groups.items()]
