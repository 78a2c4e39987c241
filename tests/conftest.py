"""Shared test setup: the real services the tests start themselves."""

import os

os.environ.setdefault("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")

from tests.mqtt_broker import mosquitto, mqtt_ca  # noqa: E402, F401  (fixtures)
from tests.pg_server import postgres_server, postgres_url  # noqa: E402, F401  (fixtures)
from tests.store_fixtures import store, store_url  # noqa: E402, F401  (fixtures)
