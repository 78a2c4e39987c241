"""A store for the Service index tests: filled by the real dispatch module, scores published
by the real quality module."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.modules.quality.test_queries_dispatch import SCENARIO
from twin.modules.dispatch.scenario_run import run_scenario
from twin.modules.quality import compute, load_config, publish, rolling_window
from twin.scenario import load_scenario
from twin.store import Store, open_store

RUN_S = 3600.0
PUBLISHED_AFTER_MIN = (30, 60)


@pytest.fixture(scope="module")
def dispatch_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store holding one hour of the quality tests' dispatch scenario, run by the
    dispatch module's scenario runner, and 7-day index points published 30 and 60 minutes in."""
    tmp = tmp_path_factory.mktemp("index")
    path = tmp / "grid_dispatch.toml"
    path.write_text(SCENARIO.format(duration=RUN_S))
    scenario = load_scenario(path)
    url = f"sqlite:///{tmp / 'kota.db'}"
    run_scenario(scenario, store_url=url)
    with open_store(url) as store:
        for minutes in PUBLISHED_AFTER_MIN:
            end = scenario.scenario.start + timedelta(minutes=minutes)
            publish(store, compute(store, load_config(), rolling_window(end, 7), "all"))
    return url


@pytest.fixture
def dispatch_store(dispatch_db: str) -> Iterator[Store]:
    """The store of :func:`dispatch_db`, open."""
    with open_store(dispatch_db) as store:
        yield store
