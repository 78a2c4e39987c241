"""Read origin-destination tables from TNTP ``*_trips.tntp`` files.

The format (TransportationNetworks README): metadata lines ``<KEY> value``
ending with ``<END OF METADATA>``, ``~`` comments, then blocks::

    Origin 1
        2 :    100.0;     3 :    100.0; ...

Zone ids are node ids of the matching ``*_net.tntp`` network.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Literal

from twin.demand.trips import DemandError

_META = re.compile(r"^\s*<([^>]+)>\s*(.*?)\s*$")
_ENTRY = re.compile(r"\s*([^\s:;]+)\s*:\s*([^\s:;]+)\s*;")
_ORIGIN = re.compile(r"^\s*Origin\s+(\S+)\s*$", re.IGNORECASE)


def read_tntp_trips(
    path: str | Path,
    *,
    on_total_mismatch: Literal["raise", "warn", "ignore"] = "raise",
) -> dict[tuple[str, str], float]:
    """Read a TNTP trip table.

    Parameters
    ----------
    path : str or Path
        A ``*_trips.tntp`` file.
    on_total_mismatch : {"raise", "warn", "ignore"}
        What to do when the flows do not add up to the ``<TOTAL OD FLOW>``
        header beyond the rounding of the printed numbers.

    Returns
    -------
    dict
        ``(origin id, destination id) -> flow`` (trips over the table's period,
        usually a peak hour), in file order. Zero flows are left out.

    Raises
    ------
    DemandError
        Naming the file and line: malformed line, entry before any ``Origin``,
        duplicate pair, flow not a number >= 0; or a total mismatch.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise DemandError(f"{path}: cannot read trip table ({exc})") from exc
    meta: dict[str, str] = {}
    flows: dict[tuple[str, str], float] = {}
    seen: set[tuple[str, str]] = set()
    total = 0.0
    rounding = 0.0
    origin: str | None = None
    in_meta = True
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("~", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{lineno}"
        if in_meta:
            m = _META.match(line)
            if m:
                key = m.group(1).strip().upper()
                if key == "END OF METADATA":
                    in_meta = False
                else:
                    meta[key] = m.group(2)
                continue
            in_meta = False  # no END OF METADATA line: data starts here
        m = _ORIGIN.match(line)
        if m:
            origin = m.group(1)
            continue
        rest = _ENTRY.sub("", line).strip()
        if rest:
            raise DemandError(f"{where}: expected 'Origin <id>' or '<dest> : <flow>;' entries, "
                              f"cannot read {rest[:40]!r}")
        if origin is None:
            raise DemandError(f"{where}: destination entries before the first 'Origin' line")
        for dest, value in _ENTRY.findall(line):
            try:
                flow = float(value)
            except ValueError:
                raise DemandError(f"{where}: flow {value!r} to {dest!r} is not a number") from None
            if not flow >= 0 or flow == float("inf"):
                raise DemandError(f"{where}: flow to {dest!r} must be a number >= 0, got {value}")
            pair = (origin, dest)
            if pair in seen:
                raise DemandError(f"{where}: pair {origin} -> {dest} is given twice")
            seen.add(pair)
            total += flow
            rounding += 0.5 * 10.0 ** -_decimals(value)
            if flow > 0:
                flows[pair] = flow
    if "TOTAL OD FLOW" in meta and on_total_mismatch != "ignore":
        _check_total(path, meta["TOTAL OD FLOW"], total, rounding, on_total_mismatch)
    return flows


def _decimals(number: str) -> int:
    """Digits after the decimal point as printed (``"100.0"`` -> 1)."""
    mantissa = number.lower().split("e", 1)[0]
    return len(mantissa.split(".", 1)[1]) if "." in mantissa else 0


def _check_total(path: Path, header: str, total: float, rounding: float, action: str) -> None:
    try:
        expected = float(header)
    except ValueError:
        raise DemandError(f"{path}: <TOTAL OD FLOW> {header!r} is not a number") from None
    tol = rounding + 0.5 * 10.0 ** -_decimals(header) + 1e-9 * abs(expected)
    if abs(total - expected) > tol:
        msg = (f"{path}: flows add up to {total:.6f}, but <TOTAL OD FLOW> says {expected:.6f} "
               f"(difference {total - expected:+.6f}, rounding allows {tol:.2g})")
        if action == "raise":
            raise DemandError(msg + "; pass on_total_mismatch='warn' to accept the file")
        warnings.warn(msg, stacklevel=3)
