"""Network importers: files in, :class:`~twin.network.Network` out.

:func:`load_network` picks the reader from the file name:

==============  ==============================  ===========================================
format          suffixes                        reader
==============  ==============================  ===========================================
``graphml``     ``.graphml``, ``.graphml.gz``   :func:`twin.importers.graphml.read_graphml`
``sumo``        ``.net.xml``, ``.net.xml.gz``   :func:`twin.importers.sumo.read_sumo_net`
``tntp``        ``_net.tntp``                   :func:`twin.importers.tntp.read_tntp`
``npz``         ``.npz``                        :meth:`twin.network.Network.load`
==============  ==============================  ===========================================

:func:`grid_network` builds a synthetic grid and
:func:`default_signal_programs` the default fixed-time signals.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twin.importers.graphml import read_graphml
from twin.importers.grid import grid_network
from twin.importers.signals import default_signal_programs
from twin.importers.sumo import read_sumo_net
from twin.importers.tntp import read_tntp, read_tntp_bpr
from twin.network import Network, NetworkError

#: Format name -> the file-name suffixes it is recognised by.
SUPPORTED_FORMATS: dict[str, tuple[str, ...]] = {
    "graphml": (".graphml", ".graphml.gz"),
    "sumo": (".net.xml", ".net.xml.gz"),
    "tntp": ("_net.tntp",),
    "npz": (".npz",),
}

_READERS: dict[str, Callable[..., Network]] = {
    "graphml": read_graphml,
    "sumo": read_sumo_net,
    "tntp": read_tntp,
    "npz": Network.load,
}

__all__ = [
    "SUPPORTED_FORMATS",
    "default_signal_programs",
    "detect_format",
    "grid_network",
    "load_network",
    "read_graphml",
    "read_sumo_net",
    "read_tntp",
    "read_tntp_bpr",
]


def detect_format(path: str | Path) -> str:
    """The format name for ``path`` from its suffix (case-insensitive).

    Raises
    ------
    NetworkError
        When no supported suffix matches; the message lists the supported ones.
    """
    lower = Path(path).name.lower()
    for fmt, suffixes in SUPPORTED_FORMATS.items():
        if lower.endswith(suffixes):
            return fmt
    raise NetworkError(f"{path}: unknown network file type; supported: {_supported_text()} "
                       f"(or pass format=...)")


def load_network(path: str | Path, format: str = "auto", **options: Any) -> Network:
    """Load a road network file of any supported format.

    Parameters
    ----------
    path : the file; see :data:`SUPPORTED_FORMATS` for the suffixes.
    format : ``"auto"`` (from the suffix) or a key of :data:`SUPPORTED_FORMATS`.
    **options : passed to the reader (e.g. ``origin_lonlat`` for SUMO,
        ``length_unit_m`` for TNTP, ``signals`` for GraphML).

    Returns
    -------
    Network

    Raises
    ------
    NetworkError
        When the file does not exist, the format is unknown, an option is not
        accepted by the reader, or the reader finds the file broken.

    Examples
    --------
    >>> net = load_network("data/tntp/SiouxFalls/SiouxFalls_net.tntp")  # doctest: +SKIP
    >>> net.n_nodes, net.n_links  # doctest: +SKIP
    (24, 76)
    """
    path = Path(path)
    if format == "auto":
        fmt = detect_format(path)
    elif format in SUPPORTED_FORMATS:
        fmt = format
    else:
        raise NetworkError(f"{path}: unknown format {format!r}; supported: "
                           f"{', '.join(SUPPORTED_FORMATS)} or 'auto'")
    if not path.exists():
        raise NetworkError(f"{path}: no such file")
    if path.is_dir():
        raise NetworkError(f"{path}: is a directory, expected a network file")
    reader = _READERS[fmt]
    accepted = [p.name for p in inspect.signature(reader).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise NetworkError(f"{path}: option(s) {', '.join(unknown)} not accepted by the {fmt} "
                           f"reader (accepted: {', '.join(accepted) or 'none'})")
    return reader(path, **options)


def _supported_text() -> str:
    return "; ".join(f"{fmt}: {', '.join(s)}" for fmt, s in SUPPORTED_FORMATS.items())
