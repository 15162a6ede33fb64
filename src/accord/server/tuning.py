"""Process-level tuning for a server process: what ``accord serve`` applies.

Python's cyclic garbage collector was measured as 17% of a serving process's CPU, with
full (generation 2) passes of ~100 ms that set the p99 latency (bench/RESULTS.md).
Two standard remedies, both process-wide and therefore opt-in (a library must not
change them behind its host's back):

* ``gc.freeze()`` once everything is imported and the app built: the objects that live
  for the whole process (modules, classes, the app) leave the collector's view, so full
  passes scan only what requests create;
* larger thresholds: a request allocates hundreds of short-lived container objects, so
  the default generation-0 threshold (700) runs a collection every couple of requests.
  Reference counting frees almost all of them anyway; only cycles need the collector.
  Not too large, though: a generation-0 pass costs ~0.25 µs per object it scans (the
  tuples a stored task is made of, scanned once and then untracked), so 20,000 made a
  ~5 ms pause every few thousand requests, which every request in flight waited out:
  the p99. 2,000 gives pauses of ~0.5 ms for the same total (bench/README.md).
"""

from __future__ import annotations

import gc

__all__ = ["SERVING_GC_THRESHOLDS", "tune_gc"]

#: Generation thresholds for serving: generation 0 every 2,000 net allocations (short
#: pauses), then fewer older-generation passes than the defaults.
SERVING_GC_THRESHOLDS = (2_000, 20, 100)


def tune_gc(thresholds: tuple[int, int, int] = SERVING_GC_THRESHOLDS) -> None:
    """Freeze what exists now and raise the collection thresholds. Call once, after the
    app is built and before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
