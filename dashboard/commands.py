"""The dashboard's ``kota`` sub-commands, found by ``twin.cli`` through ``kota_twin.commands``."""

from __future__ import annotations

from twin.plugins import LazyCommand

__all__ = ["report"]

report = LazyCommand("dashboard.cli_report")
