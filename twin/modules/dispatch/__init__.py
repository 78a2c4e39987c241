"""112 call centre, command and dispatch (issue 6).

Incidents (generated or scripted) block lanes in the traffic engine; their calls
queue for call takers on shifts; dispatch sends units (Mesa agents) of each agency
needed, chosen by a policy on the twin's current travel times; KPIs follow
DOMAIN.md section 2.4. This module uses the twin's public API only.
"""

from .config import DispatchConfig, DispatchConfigError, parse_config
from .incidents import Call, Incident
from .kpi import nearest_rank
from .model import DispatchModel
from .policies import CoverageAware, DispatchPolicy, NearestEta, OperatorOverride
from .run import run_dispatch
from .units import Unit

__all__ = [
    "Call", "CoverageAware", "DispatchConfig", "DispatchConfigError", "DispatchModel",
    "DispatchPolicy", "Incident", "NearestEta", "OperatorOverride", "Unit", "nearest_rank",
    "parse_config", "run_dispatch",
]
