"""Shared test setup: the real services the tests start themselves."""

import os

os.environ.setdefault("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
