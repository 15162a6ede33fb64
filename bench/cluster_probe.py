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
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench as harness
import cluster

SYNC_OFF = "options=-csynchronous_commit%3Doff"
VARIANTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "accord": ("accord", "", ()),
    "accord pool_size=32": ("accord", "", ("--pg-pool", "32")),
    "accord synchronous_commit=off": ("accord", SYNC_OFF, ()),
    "sdk": ("sdk", "", ()),
    "sdk synchronous_commit=off": ("sdk", SYNC_OFF, ()),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--only", default=",".join(VARIANTS), help="variants, by name")
    parser.add_argument(
        "--url", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
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
    rounds: dict[str, list[cluster.Round]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="accord-probe-") as tmp:
        for i in range(args.rounds):
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                side, query, extra = VARIANTS[name]
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
