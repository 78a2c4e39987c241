"""HTTP camera pushes per second into the gate (group ``http``).

The server (:class:`hardware_bridge.http_ingest.HttpIngestServer`) runs with the gate on a
SQLite store, as ``kota bridge`` does by default. Each round sends ``N_PUSHES`` new events,
each its own HTTP request, from clients that keep their connections open (as cameras do):

* ``json_signed``: one signed JSON envelope with one plate read per request;
* ``isapi_multipart``: one Hikvision-style multipart push (XML + a 632-byte JPEG) per
  request, the picture and the XML written to the evidence store;
* ``json_signed_4_clients``: the signed pushes from four client threads at once.

``pushes_per_s`` in the figures is ``N_PUSHES`` over the mean round time. Every event is
new (no duplicates), so each push is one store transaction. Run with
``pytest benchmarks/bench_http_ingest.py -o python_files='bench_*.py' --benchmark-enable``.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from hardware_bridge.http_ingest import EVENTS_PATH, ISAPI_PATH
from hardware_bridge.isapi import build_multipart
from tests.hardware_bridge.http_helpers import JPEG, HttpEnv, basic, envelope, signed_headers, start_env
from tests.hardware_bridge.test_http_isapi import anpr_xml
from twin.observations import Observation, ObservationKind
from twin.store import open_store

N_PUSHES = 200
ROUNDS = 5
_ids = itertools.count()

Request = tuple[str, bytes, dict[str, str]]


@pytest.fixture
def server(tmp_path) -> Iterator[HttpEnv]:
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    env = start_env(tmp_path, store)
    yield env
    env.server.stop()
    store.close()


def json_pushes(n: int) -> list[Request]:
    now = datetime.now(UTC)
    out = []
    for _ in range(n):
        i = next(_ids)
        obs = Observation(ObservationKind.PLATE_READ, "dev-1", now,
                          {"plate": f"B {1000 + i % 9000} XYZ", "confidence": 0.93, "speed_mps": 12.5,
                           "vehicle_class": "car", "image_sha256": f"{i:064x}"}, event_id=f"dev-1:{i}")
        body = envelope([obs], seq=i + 1, sent_at=now)
        out.append((EVENTS_PATH, body, signed_headers(body)))
    return out


def isapi_pushes(n: int) -> list[Request]:
    out = []
    for _ in range(n):
        i = next(_ids)
        body, ctype = build_multipart(anpr_xml(f"B {1000 + i % 9000} XYZ", uuid=f"bench-{i}"),
                                      {"licensePlatePicture.jpg": JPEG})
        out.append((ISAPI_PATH, body, {"Content-Type": ctype, "Authorization": basic("cam-1")}))
    return out


def send_all(env: HttpEnv, requests: list[Request]) -> None:
    host, port = env.server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for path, body, headers in requests:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise AssertionError(f"push answered {resp.status}")
    finally:
        conn.close()


def _run(benchmark, env: HttpEnv, make: Callable[[int], list[Request]], clients: int = 1) -> None:
    send_all(env, make(10))  # warm-up: connections, SQLite pages, imports

    def setup():
        reqs = make(N_PUSHES)
        return ([reqs[k::clients] for k in range(clients)],), {}

    runs = []

    def run(parts: list[list[Request]]) -> None:
        runs.append(1)
        if clients == 1:
            send_all(env, parts[0])
            return
        threads = [threading.Thread(target=send_all, args=(env, p)) for p in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    before = env.ingest.totals()["accepted"]
    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    assert env.ingest.totals()["accepted"] - before == N_PUSHES * len(runs)  # every push was new and taken
    if benchmark.stats is not None:
        benchmark.extra_info["pushes_per_s"] = round(N_PUSHES / benchmark.stats.stats.mean)


@pytest.mark.benchmark(group="http")
def test_json_signed(benchmark, server):
    _run(benchmark, server, json_pushes)


@pytest.mark.benchmark(group="http")
def test_isapi_multipart(benchmark, server):
    _run(benchmark, server, isapi_pushes)


@pytest.mark.benchmark(group="http")
def test_json_signed_4_clients(benchmark, server):
    _run(benchmark, server, json_pushes, clients=4)
