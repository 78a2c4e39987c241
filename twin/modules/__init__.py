"""The service modules: Observations in, records out (DESIGN.md).

Each module reads Observations from the bus and the twin's read-only view and writes
its own records to the store. A module never imports the engine, an adapter of the
hardware bridge, or the dashboard.
"""
