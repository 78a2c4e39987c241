"""The bridge's ``kota`` sub-commands, found by ``twin.cli`` through the ``kota_twin.commands`` entry points.

Each entry point names a :class:`LazyCommand`; its implementation module
(``hardware_bridge.cli_<name>``) defines ``add_parser(sub)`` and ``run(args) -> int``
and is imported only when the command line is built, so ``twin`` never imports
the bridge.
"""

from __future__ import annotations

from twin.plugins import LazyCommand

__all__ = ["LazyCommand", "bridge", "broker", "emulate", "live", "replay"]

bridge = LazyCommand("hardware_bridge.cli_bridge")
broker = LazyCommand("hardware_bridge.cli_broker")
emulate = LazyCommand("hardware_bridge.cli_emulate")
replay = LazyCommand("hardware_bridge.cli_replay")
live = LazyCommand("hardware_bridge.cli_live")
