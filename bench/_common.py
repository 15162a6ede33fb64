"""What the three benchmark servers share: the behaviours and how they are served.

Every server answers the same JSON-RPC request; the text of the message selects the
behaviour, with the same (cheap) test on both sides:

* ``stream:<n>``: publish the task, one artifact in ``n`` chunks (the first one adds the
  artifact, the other ``n - 1`` append to it, the last has ``lastChunk``), complete;
* ``reply:<text>``: answer with a Message only, no task;
* anything else: echo: publish the task, one text artifact with the text, complete.

Servers are uvicorn, one worker, h11 and the asyncio loop (uvicorn's defaults when
uvloop and httptools are not installed, forced here so both sides always match), no
access log, listening on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
from typing import Any

STREAM_PREFIX = "stream:"
REPLY_PREFIX = "reply:"


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
        choices=("memory", "sqlite", "retention"),
        default="memory",
        help="task store: in memory, SQLite file, or in memory with short retention",
    )
    parser.add_argument("--db", default="", help="SQLite file (with --store sqlite)")
    parser.add_argument(
        "--retention",
        type=float,
        default=1.0,
        help="seconds a finished task is kept (with --store retention)",
    )
    parser.add_argument("--http", choices=("h11", "httptools"), default="h11")
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
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http=args.http,
        loop=args.loop,
        lifespan="on",
        access_log=False,
        log_level="warning",
        workers=None,
    )
