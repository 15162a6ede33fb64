"""Accord on PostgreSQL vs a2a-sdk's cluster mode, one and two instances, side by side.

``bash bench/run --cluster [options]`` (installs what it needs), or
``python bench/cluster.py [options]`` once ``a2a-sdk[postgresql]`` and wrk are there.
Writes ``bench/RESULTS-cluster.md``.

The same echo agent (``bench/accord_server.py``, ``bench/sdk_server.py``) runs on
PostgreSQL at 127.0.0.1:5432: Accord with ``PostgresTaskStore`` (its Engine then uses
``PostgresTaskEvents``, LISTEN/NOTIFY), the SDK in its cluster mode
(``VersionedDatabaseTaskStore`` + ``DatabaseTaskEventStream`` over SQLAlchemy and
asyncpg). Every server set gets a database of its own, created before it starts and
dropped after it stops.

Two measures:

* **Blocking SendMessage** (task mode: the task, one artifact, complete) with one
  instance and with two (two server processes on two ports sharing one database; wrk
  sends its thread i to instance i, 16 connections each): requests/s, p50/p99 and CPU
  per request. Rounds alternate the sides, fresh servers and a fresh database every
  round, medians and the median of the per-round ratios.
* **Cross-instance event latency**: instance A runs a task whose agent writes
  timestamped artifacts (``time.time_ns()`` taken just before its write call); a client
  subscribed on instance B (``SubscribeToTask``, SSE) notes when each arrives. Both
  processes and the client are on one machine, so they share the clock. The agent waits
  for a gate file that the driver creates once B has answered the subscription with
  the task, so every measured event travels A -> database -> B.

Pinning (2 cores): one instance runs on core 0 with wrk on core 1; two instances run
on cores 0 and 1, wrk on core 1. PostgreSQL is a shared service of this machine and
is not pinned: its backends run wherever the kernel puts them, so the CPU columns say
where the time went (servers, this run's PostgreSQL backends, the rest of PostgreSQL,
everything else).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench as harness
import httpx
from _cluster_env import (
    SHORT,
    SIDES,
    CpuWindow,
    DbStats,
    Instance,
    Settings,
    cluster,
    make_settings,
    read_stats,
    wait_no_backends,
)
from _cluster_report import machine, render

BENCH = harness.BENCH
TASK_TEXT = "hello"
log = harness.log


# --- throughput -------------------------------------------------------------------------


@dataclass
class Round:
    """One wrk run against one side's instances."""

    wrk: harness.WrkResult
    cpu: CpuWindow
    loadavg: str
    db: DbStats = field(default_factory=DbStats)  # from creation to the servers' stop
    all_requests: int = 0  # warm-up + measured requests (what ``db`` counts)

    def per_request(self, counter: str) -> float:
        """A ``DbStats`` counter per request (warm-up included)."""
        value = getattr(self.db, counter)
        return value / self.all_requests if self.all_requests else float("nan")

    @property
    def rps(self) -> float:
        return self.wrk.rps

    @property
    def p50_ms(self) -> float:
        return self.wrk.p50_ms

    @property
    def p99_ms(self) -> float:
        return self.wrk.p99_ms

    @property
    def per_server_cpu(self) -> float:
        """Requests per CPU-second of the server processes."""
        return self.wrk.requests / self.cpu.server_s if self.cpu.server_s else 0.0

    def share(self, part: float) -> float:
        """``part`` CPU-seconds as a share of the machine (all cores) in the window."""
        total = self.cpu.seconds * self.cpu.cores
        return part / total if total else 0.0


@dataclass
class Scenario:
    """Rounds of one scenario (one or two instances) for both sides."""

    instances: int
    rounds: dict[str, list[Round]] = field(default_factory=dict)

    def median(self, side: str, attr: str) -> float:
        values = [getattr(r, attr) for r in self.rounds.get(side, [])]
        return statistics.median(values) if values else float("nan")

    def paired(self, attr: str) -> float:
        """Median over rounds of Accord/SDK within each round (run back to back)."""
        ratios = [
            getattr(a, attr) / getattr(b, attr)
            for a, b in zip(self.rounds["accord"], self.rounds["sdk"], strict=False)
            if getattr(b, attr)
        ]
        return statistics.median(ratios) if ratios else float("nan")

    def bad(self, side: str) -> int:
        return sum(r.wrk.bad + r.wrk.socket_errors for r in self.rounds.get(side, []))


@dataclass(frozen=True)
class WrkSettings:
    """What ``harness.run_wrk`` reads of its settings."""

    connections: int


def run_load(
    instances: list[Instance],
    settings: Settings,
    workdir: Path,
    duration: float,
    cpu: CpuWindow | None = None,
) -> harness.WrkResult:
    """wrk on core 1 against all ``instances`` (thread i -> instance i)."""
    if cpu is not None:
        cpu.start()
    result = harness.run_wrk(
        instances[0].port,
        TASK_TEXT,
        WrkSettings(settings.connections),  # type: ignore[arg-type]
        workdir,
        duration=duration,
        ports=tuple(i.port for i in instances),
    )
    if cpu is not None:
        cpu.stop()
    return result


def measure_round(
    side: str,
    count: int,
    settings: Settings,
    workdir: Path,
    *,
    query: str = "",
    extra: tuple[str, ...] = (),
) -> Round:
    """Fresh database and instances, 1 s of warm-up, one measured wrk run."""
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with cluster(side, count, settings, workdir, query=query, extra=extra) as (
        db_name,
        instances,
    ):
        base = read_stats(settings.admin_url, db_name)
        warm = run_load(instances, settings, workdir, settings.warmup)
        cpu = CpuWindow(db_name=db_name, servers=[x.pid for x in instances])
        wrk = run_load(instances, settings, workdir, settings.duration, cpu)
        for inst in instances:
            inst.stop()
        wait_no_backends(settings.admin_url, db_name)
        end = read_stats(settings.admin_url, db_name)
    stats = DbStats(
        xacts=end.xacts - base.xacts,
        rows=end.rows - base.rows,
        wal_syncs=end.wal_syncs - base.wal_syncs,
        sessions=end.sessions - base.sessions,
    )
    return Round(
        wrk=wrk,
        cpu=cpu,
        loadavg=loadavg,
        db=stats,
        all_requests=warm.requests + wrk.requests,
    )


def describe(r: Round) -> str:
    """One log line's worth of a round."""
    cpu = r.cpu
    return (
        f"{r.rps:,.0f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
        f"{r.per_server_cpu:,.0f} req/server-CPU-s; per request: "
        f"{r.per_request('xacts'):.1f} transactions, {r.per_request('rows'):.1f} "
        f"rows written, {r.per_request('wal_syncs'):.2f} WAL flushes; "
        f"{r.db.sessions} connections opened; CPU share: servers "
        f"{r.share(cpu.server_s):.0%}, its PG backends {r.share(cpu.pg_run_s):.0%}, "
        f"rest of PG {r.share(cpu.pg_rest_s):.0%}, other {r.share(cpu.other_s):.0%}, "
        f"idle {max(0.0, 1 - r.share(cpu.busy_s)):.0%}; loadavg {r.loadavg}; top other: "
        + ", ".join(f"{n} {c:.1f} s" for n, c in cpu.top_other)
        + (f"; {r.wrk.bad + r.wrk.socket_errors} bad" if r.wrk.bad else "")
    )


def measure_scenario(count: int, settings: Settings, workdir: Path) -> Scenario:
    """Blocking SendMessage against ``count`` instances per side, alternating rounds."""
    result = Scenario(instances=count)
    for i in range(settings.rounds):
        for side in harness.round_order(SIDES, i):
            r = measure_round(side, count, settings, workdir)
            result.rounds.setdefault(side, []).append(r)
            log(f"{count} instance(s), round {i + 1} {SHORT[side]}: {describe(r)}")
    return result


# --- cross-instance latency -------------------------------------------------------------


@dataclass
class LatencyRun:
    """One task on A, watched from B."""

    side: str
    expected: int
    latencies_ms: list[float]
    completed: bool
    loadavg: str

    @property
    def p50(self) -> float:
        return (
            statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")
        )


def _post(port: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    answer = harness.rpc(port, method, params)
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return dict(answer["result"])


def _start_tick_task(port: int, count: int, gate: Path) -> str:
    """SendMessage (returnImmediately) of a ``tick:`` task on ``port``; its task id."""
    result = _post(
        port,
        "SendMessage",
        {
            "message": {
                "messageId": uuid.uuid4().hex,
                "role": "ROLE_USER",
                "parts": [{"text": f"tick:{count}:{gate}"}],
            },
            "configuration": {"returnImmediately": True},
        },
    )
    return str(result["task"]["id"])


def _subscribe_and_time(
    port: int, task_id: str, gate: Path, count: int, timeout: float = 60.0
) -> tuple[list[float], bool]:
    """SubscribeToTask on ``port``; open the gate on the first answer; time each tick.

    Returns the latencies (ms, wall clock at arrival minus the agent's stamp) in tick
    order and whether the stream ended with the task COMPLETED.
    """
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SubscribeToTask",
        "params": {"id": task_id},
    }
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "A2A-Version": "1.0",
    }
    arrivals: dict[int, float] = {}
    completed = False
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=timeout) as client:
        while True:  # the task may not be visible on B yet: ask again until it is
            with client.stream(
                "POST", f"http://127.0.0.1:{port}/", json=body, headers=headers
            ) as response:
                first = True
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    now_ns = time.time_ns()
                    data = json.loads(line[5:])
                    if "error" in data:
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"SubscribeToTask: {data['error']}")
                        break
                    if first:
                        gate.touch()  # B is attached: let the agent on A start
                        first = False
                    result = data.get("result", {})
                    update = result.get("artifactUpdate")
                    if update is not None:
                        text = update["artifact"]["parts"][0]["text"]
                        _, index, stamp = text.split()
                        arrivals[int(index)] = (now_ns - int(stamp)) / 1e6
                        continue
                    status = (
                        result.get("statusUpdate") or result.get("task") or {}
                    ).get("status", {})
                    if status.get("state") == "TASK_STATE_COMPLETED":
                        completed = True
                        break
            if not first:
                break
            time.sleep(0.01)
    return [arrivals[i] for i in sorted(arrivals)], completed and len(arrivals) == count


def measure_latency(settings: Settings, workdir: Path) -> dict[str, list[LatencyRun]]:
    """A -> B event latency, alternating sides, fresh instances every round."""
    runs: dict[str, list[LatencyRun]] = {}
    for i in range(settings.latency_rounds):
        for side in harness.round_order(SIDES, i):
            loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            with cluster(side, 2, settings, workdir) as (_, (a, b)):
                for n, keep in (
                    (settings.warmup_events, False),
                    (settings.events, True),
                ):
                    gate = workdir / f"gate-{uuid.uuid4().hex}"
                    task_id = _start_tick_task(a.port, n, gate)
                    latencies, complete = _subscribe_and_time(b.port, task_id, gate, n)
                    if keep:
                        run = LatencyRun(side, n, latencies, complete, loadavg)
                        runs.setdefault(side, []).append(run)
                        log(
                            f"latency round {i + 1} {SHORT[side]}: {len(latencies)}/{n} "
                            f"events, p50 {run.p50:.2f} ms"
                            + ("" if complete else " (INCOMPLETE)")
                        )
    return runs


# --- main -------------------------------------------------------------------------------

MEASURES = ("one", "two", "latency")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~2 minute run")
    parser.add_argument(
        "--only",
        default=",".join(MEASURES),
        help="comma-separated subset of one (instance), two (instances), latency",
    )
    parser.add_argument("--rounds", type=int, default=0, help="throughput rounds (5)")
    parser.add_argument("--duration", type=int, default=0, help="seconds per round (5)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--latency-rounds", type=int, default=0, help="(4)")
    parser.add_argument("--events", type=int, default=0, help="events per latency task")
    parser.add_argument(
        "--url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL to create the scratch databases on (needs CREATEDB)",
    )
    parser.add_argument(
        "--stack",
        choices=("h11-asyncio", "httptools-uvloop"),
        default="httptools-uvloop",
    )
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS-cluster.md")
    return parser.parse_args(argv)


def _stop_on_signal(signum: int, _frame: object) -> None:
    """SIGTERM / SIGHUP / SIGINT end the run through the ``finally`` blocks that stop
    the servers and wrk and drop the databases (SIGINT is ignored by a shell's
    background jobs, so it is set here too)."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _stop_on_signal)
    args = parse_args(argv)
    settings = make_settings(args)
    only = {m.strip() for m in args.only.split(",") if m.strip()}
    if only - set(MEASURES):
        raise SystemExit(f"unknown measures: {', '.join(sorted(only - set(MEASURES)))}")
    if harness.shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (bench/run installs it)")
    if harness.PINNING:
        os.sched_setaffinity(0, {harness.LOAD_CORE})
    log(f"loadavg at start: {Path('/proc/loadavg').read_text().strip()}")
    info = machine(settings)
    started = time.perf_counter()
    cpu0 = harness.cpu_times()
    scenarios: dict[int, Scenario] = {}
    latency: dict[str, list[LatencyRun]] = {}
    with tempfile.TemporaryDirectory(prefix="accord-cluster-") as tmp:
        workdir = Path(tmp)
        for name, count in (("one", 1), ("two", 2)):
            if name in only:
                log(f"blocking SendMessage, {count} instance(s): starting")
                scenarios[count] = measure_scenario(count, settings, workdir)
        if "latency" in only:
            log("A -> B event latency: starting")
            latency = measure_latency(settings, workdir)
    delta = [b - a for a, b in zip(cpu0, harness.cpu_times(), strict=True)]
    steal = 100.0 * delta[7] / sum(delta) if len(delta) > 7 and sum(delta) else 0.0
    elapsed = time.perf_counter() - started
    text = render(
        settings,
        info,
        scenarios,
        latency,
        elapsed,
        steal,
        harness.previous_analysis(args.results),
    )
    args.results.write_text(text)
    print(text.split("## Blocking")[0].split("## Summary")[-1])
    print(f"Written: {args.results} ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
