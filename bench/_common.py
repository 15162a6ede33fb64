"""What the three benchmark servers share: the behaviours and how they are served.

Every server answers the same JSON-RPC request; the text of the message selects the
behaviour, with the same (cheap) test on both sides:

* ``stream:<n>``: publish the task, one artifact in ``n`` chunks (the first one adds the
  artifact, the other ``n - 1`` append to it, the last has ``lastChunk``), complete;
* ``reply:<text>``: answer with a Message only, no task;
* ``tick:<n>:<gate file>``: the cross-instance latency agent (``bench/cluster.py``):
  publish the task and WORKING, wait until the gate file exists (the driver creates it
  once its subscriber on another instance is attached), then ``n`` artifacts, each
  carrying the wall-clock time (``time.time_ns()``) taken just before the agent's write
  call, spaced by ``tick_gap`` seconds, then complete;
* anything else: echo: publish the task, one text artifact with the text, complete.

Servers are uvicorn, one worker, h11 and the asyncio loop (uvicorn's defaults when
uvloop and httptools are not installed, forced here so both sides always match), no
access log, listening on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

STREAM_PREFIX = "stream:"
REPLY_PREFIX = "reply:"
TICK_PREFIX = "tick:"
GATE_TIMEOUT = 60.0  # seconds a tick agent waits for its gate file


def tick_plan(text: str) -> tuple[int, str] | None:
    """``(events, gate file)`` of a ``tick:<n>:<gate file>`` message, else None."""
    if not text.startswith(TICK_PREFIX):
        return None
    count, _, gate = text[len(TICK_PREFIX) :].partition(":")
    return int(count), gate


def tick_gap(i: int) -> float:
    """Seconds between tick ``i`` and the next: 10 to 40 ms, varied so that the
    events fall on every phase of a poller's period (the SDK polls every 0.5 s)."""
    return (10 + (i * 37) % 31) / 1000


def tick_text(i: int) -> str:
    """The text of tick ``i``: its index and the wall clock just before the write."""
    return f"tick {i} {time.time_ns()}"


async def wait_gate(path: str) -> None:
    """Poll for the gate file (every 2 ms, at most ``GATE_TIMEOUT`` s)."""
    deadline = time.monotonic() + GATE_TIMEOUT
    while not os.path.exists(path):  # noqa: ASYNC240 (a local stat, a few µs)
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {path} never opened")
        await asyncio.sleep(0.002)


def stream_chunks(text: str) -> int | None:
    """Number of chunks a ``stream:<n>`` message asks for, or None for another text."""
    if text.startswith(STREAM_PREFIX):
        return int(text[len(STREAM_PREFIX) :])
    return None


def server_args(description: str) -> argparse.Namespace:
    """Parse the arguments every benchmark server takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--store",
        choices=("memory", "sqlite", "retention", "postgres"),
        default="memory",
        help="task store: in memory, SQLite file, in memory with short retention, or "
        "PostgreSQL (the cluster setup: Accord's PostgresTaskStore; the SDK's "
        "VersionedDatabaseTaskStore + DatabaseTaskEventStream)",
    )
    parser.add_argument(
        "--db",
        default="",
        help="SQLite file (with --store sqlite) or postgresql:// URL (--store postgres)",
    )
    parser.add_argument(
        "--retention",
        type=float,
        default=1.0,
        help="seconds a finished task is kept (with --store retention)",
    )
    parser.add_argument(
        "--pg-pool",
        type=int,
        default=0,
        help="Accord's PostgresTaskStore pool_size (0: its default; bench/cluster_probe.py)",
    )
    parser.add_argument(
        "--http",
        choices=("h11", "httptools", "accord"),
        default="h11",
        help="uvicorn's HTTP protocol; accord: the one `accord serve` runs "
        "(accord.server.serving: connection limits, one write per answer; httptools)",
    )
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument(
        "--sample",
        default="",
        help="install the in-process profiler (bench/sampler.py) writing to this file",
    )
    return parser.parse_args()


def serve(app: Any, args: argparse.Namespace) -> None:
    """Run ``app`` under uvicorn with the settings every side shares."""
    import uvicorn

    if args.sample:
        from sampler import instrument

        app = instrument(app, args.sample)
    http: Any = args.http
    if http == "accord":
        from accord.server.serving import http_protocol

        http = http_protocol(parser="httptools")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http=http,
        loop=args.loop,
        lifespan="on",
        access_log=False,
        log_level="warning",
        workers=None,
    )
