"""Compile flags and numeric constants of the kernels, in one place.

Kernels take their Numba flags from here and never hard-code ``fastmath=`` or
``parallel=``; tests take their tolerances from here.
"""

from __future__ import annotations

NUMBA_FASTMATH: bool = False
"""Keep IEEE semantics: the kernels must match their references (:mod:`core_ext.micro_reference`)."""

NUMBA_CACHE: bool = True
"""Cache compiled kernels on disk (``__pycache__``) so a new process starts fast."""

TEST_RTOL: float = 1e-12
"""Relative tolerance for kernel-vs-reference comparisons of float arrays."""

TEST_ATOL: float = 1e-9
"""Absolute tolerance for kernel-vs-reference comparisons of float arrays."""

# vehicle states (int8), shared by kernels, reference and the twin
VEH_WAITING: int = 0
VEH_ACTIVE: int = 1
VEH_ARRIVED: int = 2
VEH_UNROUTABLE: int = 3
