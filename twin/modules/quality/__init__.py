"""Transparent public-service quality index (DOMAIN.md 3.1 and 3.3, issue 7).

Six services (security, safety, law, administration, information, humanitarian) scored per
area and period from KPI queries on the twin's store, with versioned rules
(``data/index_v1.toml``), IKM survey blending, an explanation record per KPI, "insufficient
data" instead of a number when samples or coverage are too low, history in the store
(``quality_scores``) and an export anyone can recompute. Scores are per service and
area, never per officer.
"""

from .config import SERVICES, IndexConfig, KpiDef, config_from_dict, load_config
from .export import recompute, recompute_csv, write_export
from .extent import Area, areas, latest_data_time
from .history import compute, history, month_windows, publish, publish_months, rolling_window
from .ikm import ELEMENTS, element_means, grade, ikm_from_means, ikm_score
from .index import INSUFFICIENT, Measurement, Window, compute_index, normalise, score_service
from .queries import ALL_AREAS, measure, measure_all, register_query, unregister_query
from .risk import LinkHourRisk, RiskMap, risk_map

__all__ = [
    "ALL_AREAS", "ELEMENTS", "INSUFFICIENT", "SERVICES", "Area", "IndexConfig", "KpiDef",
    "LinkHourRisk", "Measurement", "RiskMap", "Window", "areas", "compute", "compute_index",
    "config_from_dict", "element_means", "grade", "history", "ikm_from_means", "ikm_score",
    "latest_data_time", "load_config", "measure", "measure_all", "month_windows", "normalise",
    "publish", "publish_months", "recompute", "recompute_csv", "register_query", "risk_map",
    "rolling_window", "score_service", "unregister_query", "write_export",
]
