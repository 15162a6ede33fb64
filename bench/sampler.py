"""An in-process statistical profiler for the benchmark servers (opt-in: ``--sample``).

Why not only py-spy: on this kind of VM py-spy's default (blocking) sampler is biased.
It pauses the target with ptrace and the thread stops at its next syscall, so code
that makes many syscalls (``asyncio.get_running_loop()`` calls ``getpid()`` on 3.11)
collects several times the samples its CPU time deserves; ``--nonblocking`` avoids
that but reads torn stacks. This sampler runs inside the server:

* ``setitimer(ITIMER_PROF)`` fires every ``interval`` seconds of *CPU time* of the
  process (user + system), so samples are proportional to CPU spent, never to idle time;
* the handler records the whole Python stack of the main thread (where the event loop
  runs). Python runs signal handlers between bytecodes, so time inside a C call (a
  syscall, msgspec, ``uuid4``) is charged to the Python line that made the call;
* the cyclic GC is timed with ``gc.callbacks``. A sample that falls due while the GC
  runs is handled in the GC's ``stop`` callback, but the kernel delivers one signal
  for a whole long collection (pending signals coalesce), so GC samples undercount a
  50 ms gen-2 pass. They are dropped and replaced by one ``<cyclic GC>`` entry sized by
  the measured GC time: its share of the samples equals the GC's share of CPU time.

Control: ``SIGUSR1`` starts sampling, ``SIGUSR2`` stops it and writes the profile, as
collapsed stacks (``frame;frame;... count``, the format of ``py-spy --format raw``)
to ``PATH`` and the counters (CPU seconds, requests, GC) to ``PATH.json``.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping
    from types import CodeType, FrameType

    Message = MutableMapping[str, Any]
    ASGIApp = Callable[
        [
            MutableMapping[str, Any],
            Callable[[], Awaitable[Message]],
            Callable[[Message], Awaitable[None]],
        ],
        Awaitable[None],
    ]

_PREFIXES = sorted(
    {
        p + os.sep
        for p in (
            sysconfig.get_paths()["purelib"],
            sysconfig.get_paths()["platlib"],
            sysconfig.get_paths()["stdlib"],
            str(Path(__file__).resolve().parent.parent / "src"),
            str(Path(__file__).resolve().parent),
        )
    },
    key=len,
    reverse=True,
)


def _short(filename: str) -> str:
    """A path as py-spy shows it: relative to site-packages, the stdlib or ``src/``."""
    for prefix in _PREFIXES:
        if filename.startswith(prefix):
            return filename[len(prefix) :]
    marker = f"{os.sep}src{os.sep}accord{os.sep}"  # another checkout (--accord-src)
    if marker in filename:
        return filename[filename.index(marker) + len(os.sep) + 4 :]
    return filename


class Sampler:
    """Collects CPU-time samples of the main thread's Python stack."""

    def __init__(self, path: str, interval: float = 0.002) -> None:
        self.path = path
        self.interval = interval
        self.counts: Counter[tuple[tuple[CodeType, int], ...]] = Counter()
        self.requests = 0
        self.running = False
        self._gc_start: float | None = None
        self.gc_samples = 0
        self.gc_runs = [0, 0, 0]
        self.gc_seconds = [0.0, 0.0, 0.0]
        self._cpu0 = 0.0
        self._wall0 = 0.0
        self._requests0 = 0
        self._gc_code = Sampler._gc_callback.__code__

    def install(self) -> None:
        signal.signal(signal.SIGUSR1, lambda *_: self.start())
        signal.signal(signal.SIGUSR2, lambda *_: self.stop())
        signal.signal(signal.SIGPROF, self._on_sample)

    def start(self) -> None:
        if self.running:
            return
        self.running = True
        self.counts.clear()
        self.gc_samples = 0
        self.gc_runs = [0, 0, 0]
        self.gc_seconds = [0.0, 0.0, 0.0]
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        self._requests0 = self.requests
        gc.callbacks.append(self._gc_callback)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self) -> None:
        if not self.running:
            return
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        gc.callbacks.remove(self._gc_callback)
        self.running = False
        cpu = time.process_time() - self._cpu0
        wall = time.perf_counter() - self._wall0
        samples = sum(self.counts.values())
        gc_time = sum(self.gc_seconds)
        gc_count = round(samples * gc_time / (cpu - gc_time)) if cpu > gc_time else 0
        lines = [f"<cyclic GC> (gc:0) {gc_count}"] if gc_count else []
        for stack, count in self.counts.items():
            frames = ";".join(
                f"{code.co_qualname} ({_short(code.co_filename)}:{line})"
                for code, line in reversed(stack)
            )
            lines.append(f"{frames} {count}")
        Path(self.path).write_text("\n".join(lines) + "\n")
        meta = {
            "cpu_seconds": cpu,
            "wall_seconds": wall,
            "requests": self.requests - self._requests0,
            "samples": samples,
            "gc_samples_seen": self.gc_samples,
            "gc_samples_written": gc_count,
            "interval": self.interval,
            "gc_runs": self.gc_runs,
            "gc_seconds": self.gc_seconds,
            "gc_tracked_objects": len(gc.get_objects()),
        }
        Path(self.path + ".json").write_text(json.dumps(meta, indent=2))

    def _on_sample(self, _signum: int, frame: FrameType | None) -> None:
        if frame is not None and frame.f_code is self._gc_code:
            if frame.f_locals.get("phase") == "stop":
                self.gc_samples += 1  # fell due during the collection
                return
            frame = frame.f_back  # fell due before it: charge the allocating frame
        stack = []
        while frame is not None:
            stack.append((frame.f_code, frame.f_lineno or 0))
            frame = frame.f_back
        self.counts[tuple(stack)] += 1

    def _gc_callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self._gc_start is not None:  # None: sampling began during this collection
            generation = info["generation"]
            self.gc_runs[generation] += 1
            self.gc_seconds[generation] += time.perf_counter() - self._gc_start
            self._gc_start = None

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` with a request counter in front."""

        async def counted(
            scope: MutableMapping[str, Any],
            receive: Callable[[], Awaitable[Message]],
            send: Callable[[Message], Awaitable[None]],
        ) -> None:
            if scope["type"] == "http":
                self.requests += 1
            await app(scope, receive, send)

        return counted


def instrument(app: ASGIApp, path: str) -> ASGIApp:
    """Install a :class:`Sampler` writing to ``path``; returns the wrapped app."""
    sampler = Sampler(path)
    sampler.install()
    print(f"sampler ready (pid {os.getpid()})", file=sys.stderr)
    return sampler.wrap(app)
