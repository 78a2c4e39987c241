"""Plug-ins found through package entry points, so ``twin`` never imports its callers.

The dashboard and the hardware bridge sit above ``twin`` in the
architecture: they import ``twin``, never the other way. Where ``twin`` must
start one of them — ``kota run --dashboard`` — it looks it up by name in an
entry-point group declared in ``pyproject.toml``::

    [project.entry-points."kota_twin.frontends"]
    dashboard = "dashboard.app:serve"

    [project.entry-points."kota_twin.adapters"]
    bank_callback = "hardware_bridge.bank_callback:CallbackServer"
"""

from __future__ import annotations

import argparse
import importlib
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

FRONTENDS = "kota_twin.frontends"
ADAPTERS = "kota_twin.adapters"
"""Inbound adapters of ``hardware_bridge`` that ``twin`` starts by name (the bank's callback
endpoint for the ETLE scenario)."""


class PluginError(RuntimeError):
    """A plug-in is not installed or does not load."""


def load_plugin(group: str, name: str) -> Any:
    """The object registered as ``name`` in the entry-point ``group``.

    Raises
    ------
    PluginError
        When nothing is registered under that name (the message lists what is)
        or the registered object fails to import.
    """
    found = entry_points(group=group)
    matches = [ep for ep in found if ep.name == name]
    if not matches:
        known = ", ".join(sorted(ep.name for ep in found)) or "none"
        raise PluginError(
            f"no {group!r} plug-in named {name!r} is installed (installed: {known}); "
            f"reinstall Kota Twin with `pip install -e .`"
        )
    try:
        return matches[0].load()
    except ImportError as exc:
        raise PluginError(f"the {group!r} plug-in {name!r} failed to import: {exc}") from exc


class LazyCommand:
    """A ``kota`` sub-command implemented in ``module``, registered under ``kota_twin.commands``.

    ``module`` defines ``add_parser(sub)`` and ``run(args) -> int`` and is imported only
    when the command line is built, so ``twin`` never imports the layer that provides it.
    """

    def __init__(self, module: str) -> None:
        self.module_name = module

    def _module(self) -> ModuleType:
        """The implementation module.

        Raises
        ------
        ImportError : it does not import, or lacks ``add_parser`` or ``run``.
        """
        module = importlib.import_module(self.module_name)
        missing = [name for name in ("add_parser", "run") if not hasattr(module, name)]
        if missing:
            raise ImportError(f"{self.module_name} defines no {' or '.join(missing)}")
        return module

    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Register the command on the ``kota`` sub-command parser."""
        self._module().add_parser(sub)

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; its exit status."""
        return int(self._module().run(args))
