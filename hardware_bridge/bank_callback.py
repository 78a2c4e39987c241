"""The bank's payment-callback endpoint over HTTP (stdlib ``http.server``).

An inbound adapter: it turns the bank's HTTP POST into a call of the ETLE payment
gateway (:mod:`twin.modules.enforcement.payments`, which holds every rule) and its
result into the HTTP response. ``twin`` reaches it by name through the
``kota_twin.adapters`` entry point ``bank_callback``, never by import.

``POST /etle/payments/callback`` with the JSON body and the ``X-Kota-Signature`` header
described in :mod:`twin.modules.enforcement.payments`; the response is JSON
``{"outcome", "reason", "case_id"}`` with the status of
:class:`~twin.modules.enforcement.payments.CallbackResult`. Any other path is 404, any
other method 405. The server runs on its own thread; bodies over 64 KiB are refused (413).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

from twin.modules.enforcement.payments import (
    SIGNATURE_HEADER,
    CallbackResult,
    PaymentGatewayInterface,
)

from .http_background import BackgroundHttpServer

CALLBACK_PATH = "/etle/payments/callback"
MAX_BODY_BYTES = 64 * 1024


def _handler(gateway: PaymentGatewayInterface) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "KotaTwin-ETLE/1"

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != CALLBACK_PATH:
                self._send(404, CallbackResult(404, "refused", "unknown path").to_json())
                return
            try:
                length = int(self.headers.get("Content-Length", "-1"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY_BYTES:
                self._send(413 if length > MAX_BODY_BYTES else 411,
                           CallbackResult(413, "refused", "body missing or too large").to_json())
                return
            body = self.rfile.read(length)
            result = gateway.handle(body, self.headers.get(SIGNATURE_HEADER))
            self._send(result.status, result.to_json())

        def do_GET(self) -> None:  # noqa: N802
            self._send(405, CallbackResult(405, "refused", "use POST").to_json())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the gateway records every outcome; no stderr noise per request

    return Handler


class CallbackServer(BackgroundHttpServer):
    """An HTTP server for payment callbacks, on ``host:port`` (port 0 picks a free one).

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    thread_name = "etle-callbacks"

    def __init__(self, gateway: PaymentGatewayInterface, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_handler(gateway), host, port)

    @property
    def url(self) -> str:
        """The callback URL, e.g. ``http://127.0.0.1:43121/etle/payments/callback``."""
        return f"{self.base_url}{CALLBACK_PATH}"
