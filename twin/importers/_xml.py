"""Private helpers shared by the XML importers: gz-aware reading and error wording.

Every failure becomes a :class:`~twin.network.NetworkError` whose message
starts with the file name, so a user can tell which file, where, and what.
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

from twin.network import NetworkError

#: Default origin (lon, lat in degrees) for networks without a geo-reference:
#: Monas, central Jakarta.
DEFAULT_ORIGIN_LONLAT: tuple[float, float] = (106.8456, -6.2088)


def read_bytes(path: Path) -> bytes:
    """Read a file, decompressing it when it is gzip (by magic number, not suffix).

    Raises
    ------
    NetworkError
        When the file is missing, unreadable, or a truncated/corrupt gzip stream.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise NetworkError(f"{path}: no such file") from exc
    except OSError as exc:
        raise NetworkError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise NetworkError(f"{path}: the gzip stream is truncated or corrupt ({exc})") from exc
    return raw


def parse_xml(path: Path) -> ET.Element:
    """Parse an (optionally gzip-compressed) XML file and return its root element.

    Raises
    ------
    NetworkError
        When the file cannot be read or the XML is malformed or truncated; the
        message gives the line and column where the parser stopped.
    """
    data = read_bytes(path)
    if not data.strip():
        raise NetworkError(f"{path}: the file is empty")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        raise NetworkError(
            f"{path}: broken XML at line {line}, column {column}: {reason} "
            f"(is the file truncated?)"
        ) from exc


def local_name(tag: str) -> str:
    """``'{namespace}edge'`` -> ``'edge'``."""
    return tag.rsplit("}", 1)[-1]


def parse_float(text: str | None, path: Path, where: str, what: str) -> float:
    """Parse a finite float or raise a NetworkError naming file, element and attribute."""
    if text is None:
        raise NetworkError(f"{path}: {where}: {what} is missing")
    try:
        value = float(text)
    except ValueError:
        raise NetworkError(f"{path}: {where}: {what} {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise NetworkError(f"{path}: {where}: {what} {text!r} is not a finite number")
    return value


def parse_point_list(text: str, path: Path, where: str) -> tuple[list[float], list[float]]:
    """Parse a SUMO-style shape ``"x1,y1 x2,y2 ..."`` into x and y lists."""
    xs: list[float] = []
    ys: list[float] = []
    for token in text.split():
        parts = token.split(",")
        if len(parts) < 2:
            raise NetworkError(f"{path}: {where}: shape point {token!r} is not 'x,y'")
        xs.append(parse_float(parts[0], path, where, "shape x"))
        ys.append(parse_float(parts[1], path, where, "shape y"))
    return xs, ys
