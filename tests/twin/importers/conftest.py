"""Fixtures for the importer tests: where the real data and the SUMO binaries are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[3] / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The repository's ``data/`` folder with the real network files."""
    return DATA_DIR


@pytest.fixture(scope="session")
def sumo_home() -> Path:
    """The eclipse-sumo wheel's SUMO_HOME; skips when the wheel is not installed."""
    sumo = pytest.importorskip("sumo", reason="the eclipse-sumo wheel is not installed")
    return Path(sumo.SUMO_HOME)


@pytest.fixture(scope="session")
def sumo_binary(sumo_home: Path):
    """Return a function name -> path of a SUMO binary, skipping when it is absent."""

    def find(name: str) -> Path:
        path = sumo_home / "bin" / name
        if not (path.exists() and os.access(path, os.X_OK)):
            pytest.skip(f"SUMO binary {name!r} not found at {path}")
        return path

    return find
