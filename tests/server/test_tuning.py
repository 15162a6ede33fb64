"""tune_gc: what `accord serve` applies to its process."""

from __future__ import annotations

import subprocess
import sys


def test_tune_gc_freezes_and_raises_thresholds() -> None:
    # In a subprocess: the settings are process-wide and must not leak into this run.
    code = (
        "import gc; from accord.server.tuning import tune_gc, SERVING_GC_THRESHOLDS\n"
        "tune_gc()\n"
        "assert gc.get_threshold() == SERVING_GC_THRESHOLDS, gc.get_threshold()\n"
        "assert gc.get_freeze_count() > 0\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "ok"
