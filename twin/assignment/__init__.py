"""Static user-equilibrium traffic assignment (see :mod:`twin.assignment.solver`)."""

from twin.assignment.solver import (
    AssignmentGraph,
    AssignmentResult,
    IterationInfo,
    aon_flows,
    beckmann_objective,
    bpr_cost,
    build_graph,
    solve_ue,
)
from twin.assignment.tntp import TntpAssignment, assign_tntp, read_tntp_flows

__all__ = [
    "AssignmentGraph",
    "AssignmentResult",
    "IterationInfo",
    "TntpAssignment",
    "aon_flows",
    "assign_tntp",
    "beckmann_objective",
    "bpr_cost",
    "build_graph",
    "read_tntp_flows",
    "solve_ue",
]
