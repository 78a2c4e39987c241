"""ETLE throughput: plate reads per second through detection into persisted cases.

Each round ingests a fresh stream of 20,000 plate reads of two speed cameras in batches
of 1,000 (one transaction each: violations, cases with their three automatic
transitions, audit entries and the consumer checkpoint) into an empty store. About one
read in eight is speeding, so a round creates about 2,500 cases. Target on SQLite:
>= 5,000 reads/s. PostgreSQL is reported (it needs the test server: run with
``-m postgres`` or set ``$KOTA_TEST_PG_URL``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from tests.pg_server import postgres_server  # noqa: F401  (fixture)
from twin.clock import Clock
from twin.modules.enforcement import (
    CameraConfig,
    DetectionConfig,
    Enforcement,
    EnforcementSettings,
    synthetic_registry,
)
from twin.observations import Location, Observation, ObservationKind
from twin.store import open_store

N_READS = 20_000
BATCH = 1_000
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=timezone(timedelta(hours=7)))


def stream(seed: int, plates: list[str]) -> list[Observation]:
    rng = random.Random(seed)
    out = []
    for n in range(N_READS):
        cam = "cam-a" if n % 2 else "cam-b"
        speed_kmh = rng.gauss(43.0, 10.0)
        out.append(Observation(
            ObservationKind.PLATE_READ, cam, T0 + timedelta(milliseconds=200 * n),
            {"plate": rng.choice(plates), "confidence": round(rng.uniform(0.85, 0.99), 3),
             "speed_mps": round(speed_kmh / 3.6, 3), "vehicle_class": "car",
             "image_sha256": f"{n:064x}"},
            Location(106.9, -6.21, "L1"), event_id=f"{cam}:{seed}:{n}"))
    return out


def _bench(benchmark, url_factory) -> None:
    registry = synthetic_registry(5_000, seed=1)
    plates = sorted(registry.vehicles)
    det = DetectionConfig(cameras=[CameraConfig(id=c, kind="speed", speed_limit_kmh=50.0)
                                   for c in ("cam-a", "cam-b")])
    rounds: list[tuple[Enforcement, list[Observation]]] = []
    created: list[int] = []

    def setup():
        store = open_store(url_factory())
        enf = Enforcement(store, Clock(T0), registry, EnforcementSettings(detection=det),
                          pseudonym_key=b"bench-key-0123456789abcdef",
                          callback_secret=b"bench-secret-0123456789")
        rounds.append((enf, stream(len(rounds), plates)))
        return (rounds[-1],), {}

    def run(pair):
        enf, obs = pair
        n = 0
        for i in range(0, len(obs), BATCH):
            n += enf.ingest(obs[i:i + BATCH]).new_cases
        created.append(n)

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    benchmark.extra_info["plate_reads_per_round"] = N_READS
    benchmark.extra_info["cases_per_round"] = created[-1]
    if benchmark.stats is not None:
        benchmark.extra_info["plate_reads_per_s"] = round(N_READS / benchmark.stats.stats.mean)
        benchmark.extra_info["cases_per_s"] = round(created[-1] / benchmark.stats.stats.mean)


@pytest.mark.benchmark(group="enforcement")
def test_plate_reads_into_cases_sqlite(benchmark, tmp_path) -> None:
    """SQLite file (WAL): the embedded default."""
    counter = iter(range(1000))
    _bench(benchmark, lambda: f"sqlite:///{tmp_path / f'etle-{next(counter)}.db'}")


@pytest.mark.postgres
@pytest.mark.benchmark(group="enforcement")
def test_plate_reads_into_cases_postgres(benchmark, postgres_server) -> None:  # noqa: F811
    """PostgreSQL (the test server): reported, no target."""
    _bench(benchmark, postgres_server.create_database)
