"""HTTP ingest for devices that push: signed JSON envelopes, Hikvision ISAPI ANPR and NGSI-LD.

A stdlib ``ThreadingHTTPServer`` on its own thread (like :mod:`.bank_callback`). Every
request ends in the one gate (:class:`~hardware_bridge.ingest.Ingest`) or in its
quarantine; none crashes the server and none is answered with a 500 by design.

``POST /ingest/v1/events``
    The gate's JSON envelope, signed: ``X-Kota-Device: <device_id>`` and
    ``X-Kota-Signature: sha256=<hex HMAC of the body under the device's registry secret>``
    (:mod:`.signing`). A missing or wrong signature, or an unknown device, is
    quarantined and answered 401 (the same answer for both, so the endpoint does not
    tell which device ids exist). A signed envelope goes to
    :meth:`Ingest.submit_message` with ``transport="http"``.

``POST /ingest/v1/isapi/anpr``
    A camera's ANPR push (:mod:`.isapi`). Cameras cannot sign bodies, so they
    authenticate with HTTP Basic: user = device id, password = its registry secret.
    **Basic sends the secret in clear text: in production this endpoint must only be
    reachable over TLS** (a reverse proxy, or a camera VLAN that nothing else can
    read). Pictures go to the content-addressed :class:`~.evidence.EvidenceStore`, the
    read to :meth:`Ingest.submit`. A heartbeat (``eventState`` inactive) is answered
    200 and is not an observation.

``POST /ngsi-ld/v1/notify``
    An NGSI-LD Notification (``{"id", "type": "Notification", "subscriptionId",
    "notifiedAt", "data": [entities]}``) from a context broker, authenticated with HTTP
    Basic as a registry device (the broker's account, whose ``kinds`` say what it may
    relay). Configure the subscription's endpoint with
    ``"receiverInfo": [{"key": "Authorization", "value": "Basic <base64 id:secret>"}]``.
    Each entity is mapped (:mod:`.ngsi_ld`); the mapped ones go to the gate together,
    each unmappable one is quarantined on its own.

``GET /ngsi-ld/v1/entities?type=TrafficFlowObserved[,RoadSegment][&limit=&offset=]``
    The live twin's state as entities (:mod:`.ngsi_ld_export`), when a
    :class:`twin.live.LiveTwin` is attached; 404 otherwise.

Responses are JSON. A request the gate took answers 200 with its counts
``{"accepted", "duplicates", "quarantined", "reason"}``; a signed envelope the gate
refused as a whole answers 422 (do not retry: it will be refused again); an
unreadable push 400; bodies over the limit 413 (the connection is closed); no
``Content-Length`` 411. When the store (or the evidence store) cannot be written,
nothing is taken and the answer is 503 with ``Retry-After``: the device must send it
again, and the retry is taken once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from twin.live import LiveTwin
from twin.observations import Observation

from .devices import Device, DeviceRegistry
from .evidence import EvidenceError, EvidenceStore
from .http_background import BackgroundHttpServer
from .ingest import Ingest, IngestOutcome, IngestUnavailable, parse_envelope
from .isapi import IsapiError, IsapiSite, parse_push, plate_read
from .ngsi_ld import NgsiLdError, from_entity
from .ngsi_ld_export import twin_entities
from .signing import DEVICE_HEADER, SIGNATURE_HEADER, verify

__all__ = ["EVENTS_PATH", "ENTITIES_PATH", "ISAPI_PATH", "NOTIFY_PATH", "HttpIngestServer"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/ingest/v1/events"
ISAPI_PATH = "/ingest/v1/isapi/anpr"
NOTIFY_PATH = "/ngsi-ld/v1/notify"
ENTITIES_PATH = "/ngsi-ld/v1/entities"
_SAMPLE_BYTES = 64 * 1024
_DRAIN_FACTOR = 4
_MAX_ENTITIES = 10_000
_DUMMY_SECRET = "x" * 32
_NGSI_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class _Reply(Exception):
    """Answer the request with ``status`` and a JSON ``body`` (internal control flow)."""

    def __init__(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None,
                 close: bool = False) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.close = close


def _counts(outcome: IngestOutcome) -> dict[str, Any]:
    return {"accepted": outcome.accepted, "duplicates": outcome.duplicates,
            "quarantined": outcome.quarantined, "reason": outcome.reason}


def _status(outcome: IngestOutcome) -> int:
    """200 if anything was taken (or was a duplicate), 422 if the gate refused it all."""
    refused_all = outcome.quarantined and not (outcome.accepted or outcome.duplicates)
    return 422 if refused_all else 200


class HttpIngestServer(BackgroundHttpServer):
    """The HTTP ingest endpoints on ``host:port`` (port 0 picks a free one).

    Parameters
    ----------
    ingest : Ingest
        The gate every accepted observation and every quarantined input passes.
    registry : DeviceRegistry or None
        Devices and their secrets; defaults to the gate's registry (one is required).
    evidence : EvidenceStore or None
        Where ISAPI pictures go; default ``var/evidence``.
    live : LiveTwin or None
        Attach to serve ``GET /ngsi-ld/v1/entities``.
    sites : mapping of device id to IsapiSite, optional
        Camera positions, links and forward headings the pushes do not carry.
    max_event_bytes, max_isapi_bytes, max_notify_bytes : int
        Body limits per endpoint (envelope default: the gate's message limit).
    retry_after_s : int
        ``Retry-After`` of a 503.
    request_timeout_s : float
        A client that stops sending mid-request is dropped after this long.
    export_token : str or None
        If given, ``GET /ngsi-ld/v1/entities`` needs ``Authorization: Bearer <token>``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    thread_name = "http-ingest"

    def __init__(self, ingest: Ingest, *, registry: DeviceRegistry | None = None,
                 evidence: EvidenceStore | None = None, live: LiveTwin | None = None,
                 sites: Mapping[str, IsapiSite] | None = None, host: str = "127.0.0.1", port: int = 0,
                 max_event_bytes: int | None = None, max_isapi_bytes: int = 4 * 1024 * 1024,
                 max_notify_bytes: int = 1024 * 1024, retry_after_s: int = 5,
                 request_timeout_s: float = 30.0, export_token: str | None = None) -> None:
        registry = registry if registry is not None else ingest.registry
        if registry is None:
            raise ValueError("HTTP ingest authenticates devices: give a DeviceRegistry "
                             "(here or to the Ingest)")
        self.ingest = ingest
        self.registry = registry
        self.evidence = evidence if evidence is not None else EvidenceStore()
        self.live = live
        self.sites = dict(sites or {})
        self.max_event_bytes = max_event_bytes or ingest.max_message_bytes
        self.max_isapi_bytes = max_isapi_bytes
        self.max_notify_bytes = max_notify_bytes
        self.retry_after_s = retry_after_s
        self.export_token = export_token
        handler = _handler(self)
        handler.timeout = request_timeout_s
        super().__init__(handler, host, port)
        self._export_cache: tuple[object, dict[str, list[dict[str, Any]]]] | None = None
        self._cache_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:43121``."""
        return self.base_url

    # -- authentication ----------------------------------------------------------------

    def authenticate_basic(self, header: str | None) -> tuple[Device | None, str]:
        """``(device, "")`` for valid Basic credentials, else ``(None, why)``."""
        if not header or not header.startswith("Basic "):
            return None, "no HTTP Basic credentials"
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            user, sep, secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, "malformed HTTP Basic credentials"
        if not sep:
            return None, "malformed HTTP Basic credentials"
        dev = self.registry.get(user)
        ok = hmac.compare_digest((dev.secret if dev else _DUMMY_SECRET).encode(), secret.encode())
        if dev is None:
            return None, f"unknown device {user[:64]!r}"
        if not ok:
            return None, f"wrong secret for device {user[:64]!r}"
        return dev, ""

    # -- endpoints (each returns (status, body) or raises _Reply) -----------------------------

    def handle_events(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """``POST /ingest/v1/events`` (``headers`` with lowercase names, as for every handler)."""
        claimed = headers.get(DEVICE_HEADER.lower())
        signature = headers.get(SIGNATURE_HEADER.lower())
        dev = self.registry.get(claimed) if claimed else None
        if not claimed:
            reason = f"no {DEVICE_HEADER} header"
        elif signature is None:
            reason = f"no {SIGNATURE_HEADER} header (claimed device {claimed[:64]!r})"
        elif dev is None:
            verify(_DUMMY_SECRET, body, signature)  # same work either way
            reason = f"unknown device {claimed[:64]!r}"
        elif not verify(dev.secret, body, signature):
            reason = f"bad signature (claimed device {claimed[:64]!r})"
        else:
            outcome = self.ingest.submit_message(body, transport="http", device_id=dev.device_id)
            return _status(outcome), _counts(outcome)
        self.ingest.quarantine(body, transport="http", reason=f"{EVENTS_PATH}: {reason}")
        return 401, {"error": "unauthorized", "reason": "missing or invalid signature"}

    def handle_isapi(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """``POST /ingest/v1/isapi/anpr``."""
        dev, why = self.authenticate_basic(headers.get("authorization"))
        if dev is None:
            self.ingest.quarantine(body, transport="http", reason=f"{ISAPI_PATH}: {why}")
            raise _Reply(401, {"error": "unauthorized"}, {"WWW-Authenticate": 'Basic realm="kota-twin"'})
        try:
            push = parse_push(body, headers.get("content-type") or "")
            if not push.event.active:
                return 200, {"heartbeat": True}
            obs = plate_read(dev.device_id, push, self.evidence.put, self.sites.get(dev.device_id))
        except IsapiError as exc:
            outcome = self.ingest.quarantine(body, transport="http", device_id=dev.device_id,
                                             reason=f"{ISAPI_PATH}: {exc}")
            return 400, {"error": "bad request", **_counts(outcome)}
        outcome = self.ingest.submit([obs], transport="http", device_id=dev.device_id, raw=push.xml)
        return _status(outcome), {**_counts(outcome), "event_id": obs.event_id}

    def handle_notify(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """``POST /ngsi-ld/v1/notify``."""
        dev, why = self.authenticate_basic(headers.get("authorization"))
        if dev is None:
            self.ingest.quarantine(body, transport="ngsi-ld", reason=f"{NOTIFY_PATH}: {why}")
            raise _Reply(401, _problem("Unauthorized", "HTTP Basic credentials of a registered source "
                                       "are required"), {"WWW-Authenticate": 'Basic realm="kota-twin"'})
        try:
            note = parse_envelope(body, self.max_notify_bytes)
            entities = note.get("data")
            if note.get("type") != "Notification":
                raise ValueError(f"type must be 'Notification', got {str(note.get('type'))[:40]!r}")
            if not isinstance(entities, list):
                raise ValueError("a Notification must carry a 'data' list of entities")
            if len(entities) > _MAX_ENTITIES:
                raise ValueError(f"{len(entities):,} entities is over the limit of {_MAX_ENTITIES:,}")
        except ValueError as exc:
            outcome = self.ingest.quarantine(body, transport="ngsi-ld", device_id=dev.device_id,
                                             reason=f"{NOTIFY_PATH}: {exc}")
            return 400, {**_problem("BadRequestData", str(exc)), **_counts(outcome)}
        mapped: list[Observation] = []
        unmapped: list[tuple[str, bytes]] = []
        for i, entity in enumerate(entities):
            label = entity.get("id") if isinstance(entity, dict) else None
            label = f"entity {i} ({str(label)[:100]})" if label else f"entity {i}"
            try:
                obs = from_entity(entity)
                if obs.kind not in dev.kinds:
                    raise NgsiLdError(f"source {dev.device_id!r} is not registered to relay {obs.kind.value}")
                mapped.append(obs)
            except NgsiLdError as exc:
                unmapped.append((f"{NOTIFY_PATH}: {label}: {exc}",
                                 json.dumps(entity, ensure_ascii=False, default=repr).encode("utf-8")))
        outcome = IngestOutcome()
        if mapped:
            outcome = self.ingest.submit(mapped, transport="ngsi-ld", relayed_by=dev.device_id, raw=body)
        for reason, raw in unmapped:  # after the submit: a 503 retry then finds duplicates only
            self.ingest.quarantine(raw, transport="ngsi-ld", device_id=dev.device_id, reason=reason)
        counts = _counts(outcome)
        counts["quarantined"] += len(unmapped)
        counts["reason"] = counts["reason"] or (unmapped[0][0] if unmapped else None)
        return 200, counts

    def handle_entities(self, query: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        """``GET /ngsi-ld/v1/entities``."""
        if self.export_token is not None:
            given = headers.get("authorization") or ""
            if not hmac.compare_digest(given.encode(), f"Bearer {self.export_token}".encode()):
                raise _Reply(401, _problem("Unauthorized", "a bearer token is required"))
        live = self.live
        if live is None:
            raise _Reply(404, _problem("ResourceNotFound", "no live twin is attached to this bridge"))
        params = parse_qs(query)
        types = [t for v in params.get("type", []) for t in v.split(",") if t]
        if not types:
            raise _Reply(400, _problem("BadRequestData", "give ?type=TrafficFlowObserved (or RoadSegment)"))
        try:
            limit = int(params.get("limit", ["1000"])[0])
            offset = int(params.get("offset", ["0"])[0])
        except ValueError:
            raise _Reply(400, _problem("BadRequestData", "limit and offset must be integers")) from None
        if not (0 < limit <= 10_000 and offset >= 0):
            raise _Reply(400, _problem("BadRequestData", "limit must be 1-10000 and offset >= 0"))
        ids = {i for v in params.get("id", []) for i in v.split(",") if i}
        by_type = self._entities_of(live)
        found = [e for t in types for e in by_type.get(t, []) if not ids or e["id"] in ids]
        return 200, found[offset:offset + limit]

    def _entities_of(self, live: LiveTwin) -> dict[str, list[dict[str, Any]]]:
        view = live.latest()
        with self._cache_lock:
            if self._export_cache is not None and self._export_cache[0] is view:
                return self._export_cache[1]
        by_type: dict[str, list[dict[str, Any]]] = {}
        for ent in twin_entities(view, live.network):
            by_type.setdefault(ent["type"], []).append(ent)
        with self._cache_lock:
            self._export_cache = (view, by_type)
        return by_type


def _problem(kind: str, detail: str) -> dict[str, str]:
    """An NGSI-LD ProblemDetails body."""
    return {"type": _NGSI_ERRORS + kind, "title": kind, "detail": detail}


def _handler(server: HttpIngestServer) -> type[BaseHTTPRequestHandler]:
    routes = {
        EVENTS_PATH: (server.handle_events, lambda: server.max_event_bytes, "http"),
        ISAPI_PATH: (server.handle_isapi, lambda: server.max_isapi_bytes, "http"),
        NOTIFY_PATH: (server.handle_notify, lambda: server.max_notify_bytes, "ngsi-ld"),
    }

    class Handler(BaseHTTPRequestHandler):
        server_version = "KotaTwin-Ingest/1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None,
                  close: bool = False, content_type: str = "application/json") -> None:
            data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def _read_body(self, path: str, limit: int, transport: str) -> bytes:
            """The request body, or a _Reply after quarantining what made it unreadable."""
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._refuse(transport, f"{path}: chunked bodies are not accepted; send Content-Length",
                             b"", 411)
            raw_len = self.headers.get("Content-Length")
            if raw_len is None:
                self._refuse(transport, f"{path}: no Content-Length", b"", 411)
            try:
                length = int(raw_len or "")
            except ValueError:
                length = -1
            if length < 0:
                self._refuse(transport, f"{path}: Content-Length {str(raw_len)[:40]!r} is not a size",
                             b"", 400)
            if length > limit:
                sample = self.rfile.read(min(length, _SAMPLE_BYTES))
                if length <= _DRAIN_FACTOR * limit:  # read the rest so the client sees the 413
                    left = length - len(sample)
                    while left > 0 and (chunk := self.rfile.read(min(left, 1 << 20))):
                        left -= len(chunk)
                self._refuse(transport, f"{path}: body of {length:,} bytes is over the limit of {limit:,}",
                             sample, 413)
            try:
                body = self.rfile.read(length)
            except TimeoutError:
                self._refuse(transport, f"{path}: the client stopped sending the body", b"", 408)
            if len(body) < length:
                self._refuse(transport, f"{path}: truncated body ({len(body):,} of {length:,} bytes)",
                             body, 400)
            return body

        def _refuse(self, transport: str, reason: str, raw: bytes, status: int) -> NoReturn:
            outcome = server.ingest.quarantine(raw, transport=transport, reason=reason)
            raise _Reply(status, {"error": reason, **_counts(outcome)}, close=True)

        def _dispatch(self, work: Callable[[], tuple[int, Any]], content_type: str = "application/json"
                      ) -> None:
            try:
                status, body = work()
                self._send(status, body, content_type=content_type)
            except _Reply as reply:
                self._send(reply.status, reply.body, reply.headers, reply.close)
            except (IngestUnavailable, EvidenceError) as exc:
                log.warning("HTTP ingest: %s; answering 503", exc)
                self._send(503, {"error": "store unavailable, nothing was taken; retry later"},
                           {"Retry-After": str(server.retry_after_s)}, close=True)
            except (ConnectionError, TimeoutError):
                self.close_connection = True
            except Exception:  # a bug: say so rather than drop the connection
                log.exception("HTTP ingest: unexpected error on %s", self.path[:200])
                self._send(500, {"error": "internal error"}, close=True)

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            path = urlsplit(self.path).path
            route = routes.get(path)
            if route is None:
                self._send(404, {"error": f"no endpoint {path[:100]!r}"}, close=True)
                return
            handle, limit, transport = route
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._dispatch(lambda: handle(self._read_body(path, limit(), transport), headers))

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path in routes:
                self._send(405, {"error": "use POST"}, {"Allow": "POST"})
                return
            if parts.path != ENTITIES_PATH:
                self._send(404, {"error": f"no endpoint {parts.path[:100]!r}"})
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._dispatch(lambda: server.handle_entities(parts.query, headers), "application/ld+json")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the gate records every outcome; no stderr line per request

    return Handler
