"""Where the blocking SendMessage of ``bench/cluster.py`` spends its time, by variation.

``python bench/cluster_probe.py [--rounds 4] [--duration 5]``: one instance, the same
load and accounting as ``bench/cluster.py``, rounds rotating through variants of the
setup so each is compared with the default under the same machine conditions:

* ``accord``: Accord as shipped (``PostgresTaskStore(url)``, pool of 10);
* ``accord pool_size=32``: ``pool_size=32`` (as many connections as wrk's requests in
  flight): is the pool what limits the concurrency of commits?
* ``accord synchronous_commit=off``: the server's sessions do not wait for the WAL
  flush (``options=-csynchronous_commit=off`` in the URL). A diagnostic only, not a
  setting to ship (a crash could lose acknowledged tasks): the difference is what the
  WAL flushes of the request's commits cost;
* ``sdk`` and ``sdk synchronous_commit=off``: the same for the SDK's cluster mode.

Prints one table (medians) and writes it to ``bench/out/cluster-probe.md``.

``--profile SECONDS`` instead samples Accord's server (as shipped, one instance) under
the same load with py-spy ``--nonblocking --gil --threads`` (only the thread holding the
GIL is recorded, so waiting on PostgreSQL is not counted), writes the raw stacks to
``bench/out/profile-accord-pg.txt`` and prints where the GIL time goes: psycopg in the
worker threads, the hand-offs to and from them, the event loop's parts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench as harness
import cluster

if TYPE_CHECKING:
    from collections.abc import Iterator

SYNC_OFF = "options=-csynchronous_commit%3Doff"
VARIANTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "accord": ("accord", "", ()),
    "accord pool_size=32": ("accord", "", ("--pg-pool", "32")),
    "accord synchronous_commit=off": ("accord", SYNC_OFF, ()),
    "sdk": ("sdk", "", ()),
    "sdk synchronous_commit=off": ("sdk", SYNC_OFF, ()),
}


@contextmanager
def _pythonpath(src: str) -> Iterator[None]:
    """Run the servers started within with ``src`` first on their import path."""
    if not src:
        yield
        return
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = src
    try:
        yield
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def _where(frames: list[str]) -> str:
    """The part of the server a GIL-holding sample belongs to."""
    stack, leaf = ";".join(frames), frames[-1]
    if "MainThread" not in frames[0]:
        if "Transaction.__enter__" in stack or "Transaction.__exit__" in stack:
            return "worker threads: BEGIN / COMMIT (psycopg)"
        if "ConnectionPool" in stack:
            return "worker threads: pool checkout / return"
        if re.search(
            r"\(psycopg/|BaseCursor|BaseConnection|BasePipeline|Prepare", stack
        ):
            if "accord/" in leaf:
                return "worker threads: Accord's rows and JSON"
            return "worker threads: statements (psycopg)"
        if "accord/" in leaf:
            return "worker threads: Accord's rows and JSON"
        return "worker threads: the worker's own loop (queue, threading)"
    if "to_thread" in stack or re.search(r"\((threading|queue)\.py", leaf):
        return "event loop: hand-off to / from worker threads"
    if re.search(r"\((uvicorn|httptools)/", leaf):
        return "event loop: HTTP (uvicorn)"
    match = re.search(r"\(accord/(\w+)", leaf)
    if match:
        return f"event loop: accord.{match.group(1).removesuffix('.py')}"
    if re.search(r"\((asyncio/|selectors|uvloop)", leaf):
        return "event loop: asyncio"
    if "(anyio/" in leaf:
        return "event loop: anyio"
    return "event loop: other"


def profile(settings: cluster.Settings, seconds: int) -> str:
    """py-spy (GIL holder only) on Accord's server under load; the share table."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out_dir = harness.BENCH / "out"
    out_dir.mkdir(exist_ok=True)
    raw = out_dir / "profile-accord-pg.txt"
    raw.unlink(missing_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="accord-probe-") as tmp,
        cluster.cluster("accord", 1, settings, Path(tmp)) as (_, instances),
    ):
        cluster.run_load(instances, settings, Path(tmp), 2)
        result: dict[str, harness.WrkResult] = {}

        def load() -> None:
            result["wrk"] = cluster.run_load(
                instances, settings, Path(tmp), seconds + 3
            )

        loader = threading.Thread(target=load)
        loader.start()
        try:
            time.sleep(1)  # let the load reach its steady state
            cpu0 = harness.process_cpu(instances[0].pid)
            spy = subprocess.run(
                harness.pinned(
                    harness.LOAD_CORE,
                    [
                        *(pyspy, "record", "--nonblocking", "--gil", "--threads"),
                        *("--format", "raw", "--rate", "250"),
                        *("--duration", str(seconds), "--pid", str(instances[0].pid)),
                        *("--output", str(raw)),
                    ],
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            cpu = harness.process_cpu(instances[0].pid) - cpu0
        finally:
            loader.join()
    if spy.returncode != 0 or not raw.exists():
        raise SystemExit(f"py-spy failed:\n{spy.stderr[-2000:]}")
    shares: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        shares[_where(stack.split(";"))] += int(count)
    total = sum(shares.values())
    rps = result["wrk"].rps
    rows = [[k, f"{v / total:.0%}"] for k, v in shares.most_common()]
    return (
        f"Accord on PostgreSQL, {rps:,.0f} req/s, {1e6 * cpu / (rps * seconds):,.0f} µs "
        f"of server CPU per request; {total:,} samples of the GIL holder in {seconds} s "
        f"at 250 Hz (GIL held {total / (250 * seconds):.0%} of the time, the process "
        f"used {cpu / seconds:.0%} of a core). Raw stacks: {raw.relative_to(harness.REPO)}"
        "\n\n" + harness.table(["where (GIL-holding samples)", "share"], rows)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--only", default=",".join(VARIANTS), help="variants, by name")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="SECONDS", help="profile instead"
    )
    parser.add_argument(
        "--url", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--baseline",
        default="",
        metavar="SRC",
        help="also run variant 'accord baseline': Accord imported from SRC (a src/ "
        "directory, e.g. from `git archive COMMIT src`), to compare two versions",
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if args.baseline:
        names.append("accord baseline")
    settings = cluster.make_settings(
        cluster.parse_args(
            [
                *("--rounds", str(args.rounds)),
                *("--duration", str(args.duration)),
                *("--url", args.url),
            ]
        )
    )
    if harness.PINNING:
        os.sched_setaffinity(0, {harness.LOAD_CORE})
    if args.profile:
        print(profile(settings, args.profile))
        return 0
    rounds: dict[str, list[cluster.Round]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="accord-probe-") as tmp:
        for i in range(args.rounds):
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                side, query, extra = VARIANTS.get(name, VARIANTS["accord"])
                with _pythonpath(args.baseline if name == "accord baseline" else ""):
                    r = cluster.measure_round(
                        side, 1, settings, Path(tmp), query=query, extra=extra
                    )
                rounds[name].append(r)
                cluster.log(f"round {i + 1} {name}: {cluster.describe(r)}")

    def med(name: str, fn: object) -> float:
        return statistics.median(fn(r) for r in rounds[name])  # type: ignore[operator]

    rows = [
        [
            name,
            f"{med(name, lambda r: r.rps):,.0f}",
            f"{med(name, lambda r: r.p50_ms):.1f}",
            f"{med(name, lambda r: r.p99_ms):.1f}",
            f"{med(name, lambda r: r.per_server_cpu):,.0f}",
            f"{med(name, lambda r: r.per_request('xacts')):.1f}",
            f"{med(name, lambda r: r.per_request('wal_syncs')):.2f}",
            f"{med(name, lambda r: r.share(r.cpu.server_s)):.0%}",
            f"{med(name, lambda r: r.share(r.cpu.pg_run_s)):.0%}",
            f"{med(name, lambda r: r.share(r.cpu.other_s)):.0%}",
            f"{med(name, lambda r: max(0.0, 1 - r.share(r.cpu.busy_s))):.0%}",
        ]
        for name in names
    ]
    text = harness.table(
        [
            "variant (1 instance)",
            "req/s",
            "p50 ms",
            "p99 ms",
            "req/server-CPU-s",
            "transactions/req",
            "WAL flushes/req",
            "servers",
            "their PG",
            "other",
            "idle",
        ],
        rows,
    )
    out = harness.BENCH / "out"
    out.mkdir(exist_ok=True)
    (out / "cluster-probe.md").write_text(
        f"Medians of {args.rounds} rounds of {args.duration} s "
        "(bench/cluster_probe.py); CPU columns are shares of the machine.\n\n"
        + text
        + "\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
