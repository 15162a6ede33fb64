"""Blocking SendMessage straight into the ASGI app, no HTTP: CPU per request, the tail.

Run: ``python bench/inproc.py [--mode task|message] [-n 40000] [--conc 32]``.

The benchmark's echo agent (``accord_server.py``) on ``A2AApp`` with a
``MemoryTaskStore``, driven by ``--conc`` concurrent callers that each send one
JSON-RPC ``SendMessage`` after another through the app's ASGI interface (no sockets,
no HTTP parser: what is left is Accord's own cost, plus the event loop). Prints CPU µs
per request (``time.process_time``), the latency percentiles of the calls, and what the
cyclic GC did in the measured window (``gc.callbacks``).

``--gc`` sets the collector: ``serve`` (default; what ``accord serve`` applies,
``tune_gc()``), ``off`` (frozen then disabled; also reports how many objects per
request were left in reference cycles), or ``T0,T1,T2`` thresholds after a freeze.
``--profile FILE`` writes a cProfile of the measured window.

Instruction counts, which other processes on the machine do not disturb, come from
callgrind: run two sizes and divide the difference by the difference in requests, e.g.
``valgrind --tool=callgrind python bench/inproc.py --gc off -n 320 --warmup 300`` and
the same with ``-n 1920``: (I(1920) - I(320)) / 1600 instructions per request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio
from accord_server import agent

from accord.server import A2AApp
from accord.server.tuning import tune_gc
from accord.stores import MemoryTaskStore

HEADERS = [
    (b"host", b"127.0.0.1:8101"),
    (b"content-type", b"application/json"),
    (b"a2a-version", b"1.0"),
]


def parse_args() -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--mode", choices=("task", "message"), default="task")
    p.add_argument("-n", type=int, default=40_000, help="measured requests")
    p.add_argument("--conc", type=int, default=32, help="concurrent callers")
    p.add_argument("--warmup", type=int, default=2_000)
    p.add_argument("--gc", default="serve", help="serve | off | T0,T1,T2")
    p.add_argument("--profile", default="", help="write a cProfile here")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    return p.parse_args()


class Driver:
    """Sends the requests and keeps their latencies."""

    def __init__(self, app: A2AApp, text: str) -> None:
        self.app = app
        self.text = text
        self.latencies: list[float] = []

    async def one(self, i: int) -> None:
        """One SendMessage through the ASGI interface; checks the answer."""
        started = time.perf_counter()
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "SendMessage",
                "params": {
                    "message": {
                        "messageId": f"m-{i}",
                        "role": "ROLE_USER",
                        "parts": [{"text": self.text}],
                    }
                },
            }
        ).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": [*HEADERS, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8101),
        }
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        out: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await anyio.sleep_forever()
            raise AssertionError  # pragma: no cover

        async def send(message: Any) -> None:
            out.append(message)

        await self.app(scope, receive, send)
        assert out[0]["status"] == 200, out
        assert b'"result"' in out[1]["body"], out
        self.latencies.append(time.perf_counter() - started)


def set_gc(how: str) -> None:
    """Apply ``--gc``."""
    if how == "serve":
        tune_gc()
    elif how == "off":
        gc.collect()
        gc.freeze()
        gc.disable()
    else:
        t0, t1, t2 = (int(x) for x in how.split(","))
        tune_gc((t0, t1, t2))


async def main(args: argparse.Namespace) -> None:
    """Warm up, measure, report."""
    app = A2AApp(agent, store=MemoryTaskStore())
    driver = Driver(app, "reply:hello" if args.mode == "message" else "hello")
    passes = {g: [0, 0.0] for g in range(3)}
    began: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            entry = passes[info["generation"]]
            entry[0] += 1
            entry[1] += time.perf_counter() - began[0]

    async with app.running():
        for i in range(args.warmup):
            await driver.one(-i - 1)
        set_gc(args.gc)
        gc.callbacks.append(on_gc)
        driver.latencies.clear()
        per = args.n // args.conc
        n = per * args.conc

        async def caller(k: int) -> None:
            for j in range(per):
                await driver.one(k * per + j)

        profile = cProfile.Profile() if args.profile else None
        if profile is not None:
            profile.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for k in range(args.conc):
                tg.start_soon(caller, k)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        gc.callbacks.remove(on_gc)
        left = 0
        if args.gc == "off":
            gc.set_debug(gc.DEBUG_SAVEALL)
            left = gc.collect()
            kinds = Counter(type(o).__qualname__ for o in gc.garbage)
            gc.garbage.clear()
            gc.set_debug(0)
    lat = sorted(driver.latencies)

    def q(f: float) -> float:
        return 1e3 * lat[int(f * (len(lat) - 1))]

    print(
        f"{args.mode}, {n} requests, {args.conc} callers: "
        f"{1e6 * cpu / n:.1f} µs CPU/request, {1e6 * wall / n:.1f} µs wall/request"
    )
    print(
        f"  latency ms: p50 {q(0.5):.2f}  p90 {q(0.9):.2f}  p99 {q(0.99):.2f}  "
        f"p99.9 {q(0.999):.2f}  max {q(1):.2f}"
    )
    print(
        "  GC: "
        + ", ".join(
            f"gen{g} {c} passes {1e3 * t:.0f} ms (avg {1e3 * t / max(c, 1):.2f})"
            for g, (c, t) in passes.items()
        )
        + f"; thresholds {gc.get_threshold()}"
    )
    if args.gc == "off":
        total = args.warmup + n
        top = ", ".join(f"{k} {v / total:.1f}" for k, v in kinds.most_common(8))
        print(f"  in reference cycles: {left / total:.1f} objects/request ({top})")


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main(arguments))
