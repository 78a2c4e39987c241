"""What the store holds for the index: its areas and its newest time, on a store filled by
the ETLE module (SQLite and PostgreSQL); the dispatch areas are checked with the dashboard's
Service index page (tests/dashboard/test_index_page.py), whose store the dispatch run fills."""

from __future__ import annotations

from datetime import timedelta

from tests.modules.quality.test_store_kpis import fill_etle
from twin.modules.quality import ALL_AREAS, Area, areas, latest_data_time


def test_an_empty_store_has_only_the_whole_area_and_no_time(store) -> None:
    assert areas(store) == [Area(ALL_AREAS, "all")]
    assert latest_data_time(store) is None


def test_etle_cases_give_their_polda_and_the_newest_change(store, make_enforcement,
                                                           registry) -> None:
    enf = make_enforcement()
    ids = fill_etle(enf, registry)
    poldas = {enf.cases.case(cid).polda for cid in ids}
    assert areas(store) == [Area(ALL_AREAS, "all")] + [Area(p, "polda") for p in sorted(poldas)]
    # the last payments were made at the enforcement clock's time, after every capture
    newest = enf.clock.now.replace(microsecond=0) + timedelta(seconds=1)
    assert latest_data_time(store) == newest
