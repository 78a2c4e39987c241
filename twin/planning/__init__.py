"""Planning at scale: parameter sweeps with seed replications, fanned out on Dask.

- :mod:`twin.planning.params`: dotted scenario parameters (``demand.scale``) applied to a scenario;
- :mod:`twin.planning.sweep_spec`: a sweep (scenario, parameter grid, seeds) and its points;
- :mod:`twin.planning.run_kpis`: one point run to the end, its KPIs (runs on a Dask worker);
- :mod:`twin.planning.ci`: means with confidence intervals across seeds;
- :mod:`twin.planning.sweep`: the sweep on a Dask cluster, finished runs kept and skipped;
- :mod:`twin.planning.mesa_city`: the city as a ``mesa.Model`` for ``mesa.batch_run``.
"""
