"""The bridge's ``kota`` sub-commands, found by ``twin.cli`` through the ``kota_twin.commands`` entry points.

Each entry point names a :class:`LazyCommand`; its implementation module
(``hardware_bridge.cli_<name>``) defines ``add_parser(sub)`` and ``run(args) -> int``
and is imported only when the command line is built, so ``twin`` never imports
the bridge.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

__all__ = ["LazyCommand", "bridge", "broker", "emulate", "live", "replay"]


class LazyCommand:
    """A sub-command implemented in ``module``."""

    def __init__(self, module: str) -> None:
        self.module_name = module

    def _module(self) -> ModuleType:
        return importlib.import_module(self.module_name)

    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Register the command on the ``kota`` sub-command parser."""
        self._module().add_parser(sub)

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; its exit status."""
        return int(self._module().run(args))


bridge = LazyCommand("hardware_bridge.cli_bridge")
broker = LazyCommand("hardware_bridge.cli_broker")
emulate = LazyCommand("hardware_bridge.cli_emulate")
replay = LazyCommand("hardware_bridge.cli_replay")
live = LazyCommand("hardware_bridge.cli_live")
