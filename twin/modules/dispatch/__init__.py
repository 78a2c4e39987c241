"""112 call centre, command and dispatch (issue 6).

Incidents (generated or scripted) block lanes in the traffic engine; their calls queue
for call takers on shifts; dispatch sends units (Mesa agents) of each agency needed,
chosen by a policy on the twin's current travel times; KPIs follow DOMAIN.md section
2.4. This module uses the twin's public API only. Each stored run also keeps its board
(unit statuses, candidate units for open incidents) and the operators' overrides
(:mod:`.board`, migration 0007), which the dashboard's dispatch page reads. ``kota
dispatch`` runs it as a batch (:mod:`.scenario_run`); inside a twin run (``kota run``)
the same model runs live on the run's clock and bus (:mod:`.live`), which saves its
incidents and calls as it goes, so a restart after the process died resumes the open
ones (:mod:`.resume`).

Simplifications of this first version (documented, not hidden):

- Units are not driven as vehicles in the engine. A trip's duration is the shortest
  path time over :meth:`twin.simulation.Simulation.link_travel_time_s` at the moment
  the unit sets off (``t_enroute``), divided by ``emergency_speedup`` (default 1).
- A unit is available only at its home station; returning units are not re-tasked.
- Units are on duty all day (call takers have shifts); utilisation is busy time over
  the simulated time.
- The call queue is ordered by the caller's stated urgency (the incident's priority,
  P3 for nuisance calls), as with an IVR choice, then first come first served.
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
