"""Fines, demerit points and case timers, read from the versioned data files.

The amounts and points are data, not code: ``data/fines.toml`` (UU 22/2009 maxima),
``data/points.toml`` (Perpol 5/2021) and ``data/timers.toml`` (per-Polda deadlines) each
carry a ``version`` and cite their legal source. A deployment may point at its own files;
every case records the fine and points versions it was priced with.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from .codes import ViolationCode


class TariffError(ValueError):
    """A fines, points or timers file is missing a value or has a wrong one."""


def _read_toml(path: str | Path | None, default_name: str) -> tuple[dict[str, Any], str]:
    """The parsed file and where it came from (for messages); the shipped file when
    ``path`` is None, read once per process."""
    if path is None:
        return _shipped(default_name), f"data/{default_name}"
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TariffError(f"{where}: cannot read ({exc.strerror})") from None
    return _parse(text, where), where


@functools.cache
def _shipped(name: str) -> dict[str, Any]:
    """A data file shipped in ``data/``, parsed (callers must not modify it)."""
    text = resources.files("twin.modules.enforcement").joinpath("data", name).read_text(
        encoding="utf-8")
    return _parse(text, f"data/{name}")


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TariffError(f"{where}: not valid TOML: {exc}") from None
    if not isinstance(data.get("version"), str) or not data["version"]:
        raise TariffError(f"{where}: needs a non-empty 'version'")
    return data


@dataclass(frozen=True, slots=True)
class Fine:
    """The statutory maximum for one violation code.

    Attributes
    ----------
    article : str, the UU 22/2009 article, e.g. ``"287(5)"``
    max_fine_idr : int, rupiah
    max_detention_days : int
    source : str, the research source tag (DOMAIN.md section 7)
    """

    article: str
    max_fine_idr: int
    max_detention_days: int
    source: str


@dataclass(frozen=True, slots=True)
class Tariff:
    """Fine table and demerit-point table, each with its version.

    Load it with :func:`load_tariff`.
    """

    fines_version: str
    points_version: str
    fines: MappingProxyType[ViolationCode, Fine]
    violation_points: MappingProxyType[ViolationCode, int]
    accident_points: MappingProxyType[str, int]
    penalty_1_points: int
    penalty_2_points: int
    points_window_days: int
    tar_start_balance: int

    def fine_idr(self, code: ViolationCode) -> int:
        """The ticket amount for ``code`` in rupiah (the statutory maximum)."""
        return self.fines[code].max_fine_idr

    def points(self, code: ViolationCode) -> int:
        """Demerit points of a violation ``code``."""
        return self.violation_points[code]


def load_tariff(fines_path: str | Path | None = None, points_path: str | Path | None = None) -> Tariff:
    """Read the fines and points tables (default: the files shipped in ``data/``).

    Raises
    ------
    TariffError
        If a violation code has no fine or no points, or a value is not a positive integer.
    """
    fines_doc, fines_where = _read_toml(fines_path, "fines.toml")
    points_doc, where = _read_toml(points_path, "points.toml")
    fines: dict[ViolationCode, Fine] = {}
    table = fines_doc.get("violations", {})
    for code in ViolationCode:
        entry = table.get(code.value)
        if not isinstance(entry, dict):
            raise TariffError(f"{fines_where}: no [violations.{code.value}] entry")
        amount = entry.get("max_fine_idr")
        if not isinstance(amount, int) or amount <= 0:
            raise TariffError(f"{fines_where}: violations.{code.value}.max_fine_idr must be "
                              f"a positive whole number of rupiah, got {amount!r}")
        fines[code] = Fine(str(entry.get("article", "")), amount,
                           int(entry.get("max_detention_days", 0)), str(entry.get("source", "")))
    classes = points_doc.get("classes", {})
    points: dict[ViolationCode, int] = {}
    for code in ViolationCode:
        cls = points_doc.get("violations", {}).get(code.value)
        if cls not in classes:
            raise TariffError(f"{where}: violations.{code.value} must name one of the classes "
                              f"{sorted(classes)}, got {cls!r}")
        points[code] = int(classes[cls])
    accidents = {str(k): int(v) for k, v in points_doc.get("accidents", {}).items()}
    thresholds = points_doc.get("thresholds", {})
    policy = points_doc.get("policy", {})
    try:
        p1, p2 = int(thresholds["penalty_1"]), int(thresholds["penalty_2"])
        window = int(policy["points_window_days"])
        start = int(policy.get("tar_start_balance", p1))
    except (KeyError, TypeError, ValueError) as exc:
        raise TariffError(f"{where}: thresholds.penalty_1/penalty_2 and policy.points_window_days "
                          f"are required integers ({exc!r})") from None
    if not 0 < p1 < p2 or window < 1:
        raise TariffError(f"{where}: need 0 < penalty_1 < penalty_2 and points_window_days >= 1")
    return Tariff(
        fines_version=fines_doc["version"], points_version=points_doc["version"],
        fines=MappingProxyType(fines), violation_points=MappingProxyType(points),
        accident_points=MappingProxyType(accidents), penalty_1_points=p1, penalty_2_points=p2,
        points_window_days=window, tar_start_balance=start,
    )


@dataclass(frozen=True, slots=True)
class Timers:
    """The deadlines of one Polda.

    Attributes
    ----------
    polda : str, key in ``timers.toml``
    version : str, the timers file version
    verification_days : float, officer verification target (reported, not enforced)
    notice_days : float, the letter is posted within this many days of verification
    confirmation_days : float, no confirmation by then blocks the STNK
    confirmation_from : ``"violation"`` or ``"notice"``, what the days count from
    payment_days : float, an unpaid ticket by then blocks the STNK
    payment_from : ``"violation"`` or ``"ticket"``
    """

    polda: str
    version: str
    verification_days: float
    notice_days: float
    confirmation_days: float
    confirmation_from: Literal["violation", "notice"]
    payment_days: float
    payment_from: Literal["violation", "ticket"]

    def confirmation_due(self, violation_at: datetime, notice_at: datetime) -> datetime:
        """When the confirmation window closes."""
        base = violation_at if self.confirmation_from == "violation" else notice_at
        return base + timedelta(days=self.confirmation_days)

    def payment_due(self, violation_at: datetime, ticket_at: datetime) -> datetime:
        """When the payment window closes (never before ``ticket_at`` + one day)."""
        base = violation_at if self.payment_from == "violation" else ticket_at
        return max(base + timedelta(days=self.payment_days), ticket_at + timedelta(days=1))


def load_timers(polda: str = "metro_jaya", path: str | Path | None = None) -> Timers:
    """The timers of ``polda`` from ``timers.toml`` (default: the shipped file).

    Raises
    ------
    TariffError
        For an unknown Polda (naming the known ones) or a malformed entry.
    """
    doc, where = _read_toml(path, "timers.toml")
    table = doc.get("polda", {})
    entry = table.get(polda)
    if not isinstance(entry, dict):
        raise TariffError(f"{where}: no Polda {polda!r}; known: {', '.join(sorted(table))}")
    try:
        timers = Timers(
            polda=polda, version=doc["version"],
            verification_days=float(entry["verification_days"]),
            notice_days=float(entry["notice_days"]),
            confirmation_days=float(entry["confirmation_days"]),
            confirmation_from=entry.get("confirmation_from", "violation"),
            payment_days=float(entry["payment_days"]),
            payment_from=entry.get("payment_from", "violation"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TariffError(f"{where}: polda.{polda} is incomplete ({exc!r})") from None
    if timers.confirmation_from not in ("violation", "notice") or timers.payment_from not in (
            "violation", "ticket"):
        raise TariffError(f"{where}: polda.{polda}: confirmation_from must be violation|notice"
                          f" and payment_from violation|ticket")
    return timers
