"""Compile flags and numeric constants of the kernels, in one place.

Kernels take their Numba flags from here and never hard-code ``fastmath=`` or
``parallel=``; tests take their tolerances from here. Physical defaults of the
link model live here too so that the kernels, the pure-Python reference and
:class:`twin.simulation.EngineConfig` agree on them.
"""

from __future__ import annotations

NUMBA_FASTMATH: bool = False
"""Keep IEEE semantics: the kernels must match :mod:`core_ext.reference` bit for bit."""

NUMBA_CACHE: bool = True
"""Cache compiled kernels on disk (``__pycache__``) so a new process starts fast."""

TEST_RTOL: float = 1e-12
"""Relative tolerance for kernel-vs-reference comparisons of float arrays."""

TEST_ATOL: float = 1e-9
"""Absolute tolerance for kernel-vs-reference comparisons of float arrays."""

STORAGE_EPS: float = 1e-9
"""Added before flooring ``length * lanes * k_jam`` so 30.000000000000004 and
29.999999999999996 both give 30 vehicles of storage."""

# ---------------------------------------------------------------- link model
DEFAULT_K_JAM_VPM_PER_LANE: float = 0.15
"""Jam density in vehicles per metre per lane.

The textbook value is 1/7.5 m = 0.133 for cars. Jakarta traffic is
motorcycle-heavy (most vehicles are two-wheelers that queue two or three
abreast in a lane), so a queue packs tighter: 0.15 veh/m/lane, i.e. one
vehicle per 6.7 m of lane. Change it through ``EngineConfig``.
"""

DEFAULT_MIN_SPEED_FRAC: float = 0.5
"""Greenshields speed floor of the moving vehicles, as a fraction of the limit.

0.5 is Greenshields' critical speed: below the queue tail a link's moving
traffic then never slides onto the congested branch (where more vehicles
carry less flow) and congestion shows as the standing queue at the link end,
which discharges at capacity. See :mod:`core_ext._link_model_nb`, phase 5.
"""

DEFAULT_OUTFLOW_BURST_VEH: float = 1.0
"""Outflow budget a link may carry into a step beyond that step's own
``capacity * dt``: an idle link releases at most this many extra vehicles at
once when a platoon arrives."""

# vehicle states (int8), shared by kernels, reference and the twin
VEH_WAITING: int = 0
VEH_ACTIVE: int = 1
VEH_ARRIVED: int = 2
VEH_UNROUTABLE: int = 3
