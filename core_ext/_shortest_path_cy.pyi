"""Types of the compiled Dijkstra kernel, :file:`_shortest_path_cy.pyx` (private).

The arguments are C-contiguous typed memoryviews; the checked wrappers are in
:mod:`core_ext.shortest_path`.
"""

import numpy as np
from numpy.typing import NDArray

def dijkstra_csr(
    out_offsets: NDArray[np.int64],
    out_links: NDArray[np.int32],
    link_to: NDArray[np.int32],
    link_cost: NDArray[np.float64],
    source: int,
    target: int,
) -> tuple[NDArray[np.float64], NDArray[np.int32], int]: ...
def paths_from_tree_csr(
    pred_link: NDArray[np.int32],
    link_from: NDArray[np.int32],
    targets: NDArray[np.int32],
    source: int,
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int8]]: ...
