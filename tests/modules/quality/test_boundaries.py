"""The quality module stays a module: no engine, no bridge, no dashboard."""

from __future__ import annotations

import subprocess
import sys


def test_quality_imports_neither_core_ext_nor_bridge_nor_dashboard() -> None:
    code = ("import sys, twin.modules.quality, twin.modules.quality.cli\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('core_ext', 'hardware_bridge', 'dashboard')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
