"""Kota Twin side by side with SUMO and UXsim on the same grid and the same routes.

``python -m benchmarks.peers`` (see ``README.md`` here): builds the network with
SUMO's netgenerate (:mod:`benchmarks.peers.grid`), draws routed trips in Kota,
runs each engine in its own subprocess (:mod:`~benchmarks.peers.kota_run`,
:mod:`~benchmarks.peers.sumo_run`, :mod:`~benchmarks.peers.uxsim_run`) and prints
the comparison (:mod:`~benchmarks.peers.report`). SUMO and UXsim are the optional
extra ``[peers]``; a missing one is skipped with a message.
"""
