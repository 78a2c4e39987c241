"""Kota Twin: the stateful model of the city that users program against.

The network and its importers, demand, scenarios, the simulation façade over
the ``core_ext`` kernels, virtual sensors, the Observation record and bus, the
clock and the store. The service modules live under ``twin.modules``.
"""

__version__ = "0.1.0"
