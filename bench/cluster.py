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
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench as harness
import httpx
import psycopg

if TYPE_CHECKING:
    from collections.abc import Iterator

BENCH = harness.BENCH
REPO = harness.REPO
SIDES = ("accord", "sdk")
LABELS = {"accord": "Accord (PostgresTaskStore)", "sdk": "a2a-sdk cluster mode"}
SHORT = {"accord": "Accord", "sdk": "a2a-sdk"}
TASK_TEXT = "hello"
RPS_TARGET = 10.0
LATENCY_TARGET_MS = 5.0
log = harness.log


# --- settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How long and how hard each measure runs."""

    quick: bool
    rounds: int
    duration: int
    warmup: int
    connections: int
    latency_rounds: int
    events: int
    warmup_events: int
    admin_url: str
    http: str
    loop: str

    @property
    def stack(self) -> str:
        return f"uvicorn {self.http} + {self.loop}"


def make_settings(args: argparse.Namespace) -> Settings:
    quick = bool(args.quick)
    fast = args.stack == "httptools-uvloop"
    return Settings(
        quick=quick,
        rounds=args.rounds or (3 if quick else 5),
        duration=args.duration or (3 if quick else 5),
        warmup=1,
        connections=args.connections,
        latency_rounds=args.latency_rounds or (2 if quick else 4),
        events=args.events or (50 if quick else 100),
        warmup_events=10,
        admin_url=args.url,
        http="httptools" if fast else "h11",
        loop="uvloop" if fast else "asyncio",
    )


# --- databases and processes ------------------------------------------------------------


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointing at database ``name`` instead."""
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """A new empty database (its name and URL), dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    try:
        yield name, database_url(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


@dataclass
class DbStats:
    """PostgreSQL counters of a run's database (and the WAL's, machine-wide)."""

    xacts: int = 0  # transactions committed in the database
    rows: int = 0  # rows inserted + updated + deleted in it
    wal_syncs: int = 0  # WAL flushes of the whole server (other databases too)
    sessions: int = 0  # connections opened to the database


def read_stats(admin_url: str, name: str) -> DbStats:
    """The counters now (``pg_stat_database`` of ``name``, ``pg_stat_wal``)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        db = conn.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted, sessions "
            "FROM pg_stat_database WHERE datname = %s",
            (name,),
        ).fetchone()
        wal = conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
    return DbStats(
        xacts=int(db[0]) if db else 0,
        rows=int(db[1]) if db else 0,
        wal_syncs=int(wal[0]) if wal else 0,
        sessions=int(db[2]) if db else 0,
    )


def wait_no_backends(admin_url: str, name: str, timeout: float = 15.0) -> None:
    """Poll until no backend serves ``name`` (they flush their counters on exit)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.05)


class Instance:
    """One server process on PostgreSQL, pinned to ``core``, always stopped."""

    def __init__(
        self,
        side: str,
        db_url: str,
        core: int,
        settings: Settings,
        workdir: Path,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.side = side
        self.port = harness.free_port()
        self.core = core
        self.log_path = workdir / f"{side}-pg-{self.port}.log"
        self.cmd = harness.pinned(
            core,
            [
                sys.executable,
                str(harness.SCRIPTS[side]),
                "--port",
                str(self.port),
                "--store",
                "postgres",
                "--db",
                db_url,
                "--http",
                settings.http,
                "--loop",
                settings.loop,
                *extra,
            ],
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=harness.pin_preexec(self.core),
            )
        self._wait_ready()

    def stop(self) -> None:
        if self.proc is not None:
            harness.kill_group(self.proc)

    def _wait_ready(self, timeout: float = 60.0) -> None:
        """Poll ListTasks until it answers (the schema exists, the pool connects)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.side} server exited ({self.proc.returncode}):\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            try:
                answer = harness.rpc(self.port, "ListTasks", {"pageSize": 1}, timeout=5)
            except (OSError, RuntimeError, http.client.HTTPException):
                time.sleep(0.1)
                continue
            if "result" in answer:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.side} server did not start within {timeout} s")


@contextlib.contextmanager
def cluster(
    side: str,
    count: int,
    settings: Settings,
    workdir: Path,
    *,
    query: str = "",
    extra: tuple[str, ...] = (),
) -> Iterator[tuple[str, list[Instance]]]:
    """``count`` instances of ``side`` on a fresh database (its name), stopped after.

    The instances start one after the other (each creates or checks its schema at
    start; two doing so at once on an empty database could race). ``query`` is added
    to the servers' database URL (``options=...``), ``extra`` to their command line
    (``bench/cluster_probe.py``).
    """
    cores = [harness.SERVER_CORE, harness.LOAD_CORE] if count > 1 else [0]
    with fresh_database(settings.admin_url) as (name, url):
        if query:
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        instances: list[Instance] = []
        try:
            for i in range(count):
                core = cores[i % len(cores)]
                inst = Instance(side, url, core, settings, workdir, extra)
                instances.append(inst)
                inst.start()
            yield name, instances
        finally:
            for inst in instances:
                inst.stop()


# --- CPU accounting ---------------------------------------------------------------------


def _proc_cpu_table(db_name: str) -> dict[int, tuple[str, float, str]]:
    """pid -> (class, CPU seconds, name) for every process: ``pg-run`` (a backend of
    this run's database), ``pg`` (the rest of PostgreSQL) or ``other``."""
    out: dict[int, tuple[str, float, str]] = {}
    marker = f" {db_name} "
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / harness.CLOCK_TICK
            kind = "other"
            if comm == "postgres":
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                kind = "pg-run" if marker in title.decode(errors="replace") else "pg"
        except (OSError, ValueError, IndexError):
            continue
        out[pid] = (kind, cpu, comm)
    return out


@dataclass
class CpuWindow:
    """Where the machine's CPU went between ``start`` and ``stop``."""

    db_name: str
    servers: list[int]
    seconds: float = 0.0
    server_s: float = 0.0
    pg_run_s: float = 0.0
    pg_rest_s: float = 0.0
    other_s: float = 0.0  # everything else: wrk, this driver, other people's work
    busy_s: float = 0.0  # all cores, by anyone (/proc/stat)
    steal_s: float = 0.0
    cores: int = 2
    _t0: float = 0.0
    top_other: list[tuple[str, float]] = field(default_factory=list)
    _procs0: dict[int, tuple[str, float, str]] = field(default_factory=dict)
    _stat0: list[int] = field(default_factory=list)

    def start(self) -> None:
        self._procs0 = _proc_cpu_table(self.db_name)
        self._stat0 = harness.cpu_times()
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self._t0
        stat1 = harness.cpu_times()
        procs1 = _proc_cpu_table(self.db_name)
        d = [
            (b - a) / harness.CLOCK_TICK
            for a, b in zip(self._stat0, stat1, strict=True)
        ]
        # user nice system idle iowait irq softirq steal
        self.busy_s = d[0] + d[1] + d[2] + d[5] + d[6] + d[7]
        self.steal_s = d[7] if len(d) > 7 else 0.0
        self.cores = os.cpu_count() or 2
        # The servers' process groups: each server is one process (uvicorn, no workers).
        others: dict[str, float] = {}
        for pid, (kind, cpu, comm) in procs1.items():
            before = self._procs0.get(pid, (kind, 0.0, comm))[1]
            delta = max(0.0, cpu - before)
            if pid in self.servers:
                self.server_s += delta
            elif kind == "pg-run":
                self.pg_run_s += delta
            elif kind == "pg":
                self.pg_rest_s += delta
            else:
                self.other_s += delta
                others[comm] = others.get(comm, 0.0) + delta
        self.top_other = sorted(others.items(), key=lambda kv: -kv[1])[:3]


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


# --- report -----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine(settings: Settings) -> dict[str, str]:
    info = {
        k: v
        for k, v in harness.machine(
            harness.make_settings(
                harness.parse_args(["--stack", _stack_name(settings)])
            )
        ).items()
        if k
        not in ("h11", "SQLAlchemy / aiosqlite", "load", "pinning", "Accord source")
    }
    with psycopg.connect(settings.admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('fsync'), "
            "current_setting('synchronous_commit'), current_setting('max_connections')"
        ).fetchone()
    assert row is not None
    info.update(
        {
            "PostgreSQL": f"{row[0]} at {urlsplit(settings.admin_url).netloc} "
            f"(same machine; fsync={row[1]}, synchronous_commit={row[2]}, "
            f"max_connections={row[3]})",
            "drivers": f"Accord: psycopg {harness.version_of('psycopg')} + psycopg_pool "
            f"{harness.version_of('psycopg-pool')}; a2a-sdk: SQLAlchemy "
            f"{harness.version_of('SQLAlchemy')} + asyncpg {harness.version_of('asyncpg')}",
            "pinning": "one instance: core 0, wrk core 1; two instances: cores 0 and 1, "
            "wrk core 1; latency: A core 0, B core 1, the subscribing client core 1; "
            "PostgreSQL not pinned (a shared service)",
            "load": f"{settings.connections} connections, wrk -t<instances> "
            "(thread i -> instance i)",
        }
    )
    return info


def _stack_name(settings: Settings) -> str:
    return "httptools-uvloop" if settings.http == "httptools" else "h11-asyncio"


def _x(ratio: float) -> str:
    return "n/a" if ratio != ratio else f"{ratio:.1f}x"


def render(
    settings: Settings,
    info: dict[str, str],
    scenarios: dict[int, Scenario],
    latency: dict[str, list[LatencyRun]],
    elapsed: float,
    steal_pct: float,
    previous: str,
) -> str:
    table = harness.table
    out = [
        "# Accord on PostgreSQL vs a2a-sdk's cluster mode",
        "",
        f"Generated by `bash bench/run --cluster{' --quick' if settings.quick else ''}` "
        f'({elapsed / 60:.1f} min). See `bench/README.md` (section "Cluster") and '
        "`bench/cluster.py` for what is measured and how.",
        "",
        "## Machine",
        "",
        table(["", ""], [[k, v] for k, v in info.items()]),
        "",
        f"CPU steal time during the run: {steal_pct:.1f} % of all CPU time.",
        "",
        "## Summary",
        "",
    ]
    rows: list[list[str]] = []
    for count, sc in sorted(scenarios.items()):
        title = f"{count} instance{'s' if count > 1 else ''}"
        rps = sc.paired("rps")
        rows.append(
            [
                f"SendMessage, {title}: req/s",
                f"{sc.median('accord', 'rps'):,.0f}",
                f"{sc.median('sdk', 'rps'):,.0f}",
                _x(rps),
                f">= {RPS_TARGET:.0f}x {'met' if rps >= RPS_TARGET else 'NOT met'}",
            ]
        )
        for attr, label in (("per_server_cpu", "req per server CPU-s"),):
            rows.append(
                [
                    f"SendMessage, {title}: {label}",
                    f"{sc.median('accord', attr):,.0f}",
                    f"{sc.median('sdk', attr):,.0f}",
                    _x(sc.paired(attr)),
                    "",
                ]
            )
        for attr in ("p50_ms", "p99_ms"):
            ratio = sc.paired(attr)
            rows.append(
                [
                    f"SendMessage, {title}: {attr[:3]} ms",
                    f"{sc.median('accord', attr):.1f}",
                    f"{sc.median('sdk', attr):.1f}",
                    "n/a" if ratio != ratio or not ratio else f"1/{1 / ratio:.1f}",
                    "",
                ]
            )
    if 1 in scenarios and 2 in scenarios:
        rows.append(
            [
                "two instances / one instance, req/s",
                f"{scenarios[2].median('accord', 'rps') / scenarios[1].median('accord', 'rps'):.2f}",
                f"{scenarios[2].median('sdk', 'rps') / scenarios[1].median('sdk', 'rps'):.2f}",
                "",
                "",
            ]
        )
    if latency:
        pooled = {
            s: [x for r in latency.get(s, []) for x in r.latencies_ms] for s in SIDES
        }
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            a, b = pct(pooled["accord"], q), pct(pooled["sdk"], q)
            target = ""
            if name == "p50":
                ok = a <= LATENCY_TARGET_MS
                target = (
                    f"Accord <= {LATENCY_TARGET_MS:.0f} ms {'met' if ok else 'NOT met'}"
                )
            rows.append(
                [
                    f"event written on A -> subscriber on B: {name} ms",
                    f"{a:.2f}",
                    f"{b:.1f}",
                    "n/a" if not a else f"1/{b / a:.0f}",
                    target,
                ]
            )
    out += [
        table(["measure", "Accord", "a2a-sdk", "Accord vs SDK", "target"], rows),
        "",
        "Ratios: the median over rounds of Accord/SDK within each round (the sides run "
        "back to back in a round). `req per server CPU-s` counts only the server "
        "processes, not PostgreSQL's work for them (see the per-round table).",
        "",
    ]
    if scenarios:
        prow = []
        for count, sc in sorted(scenarios.items()):
            for side in SIDES:
                rs = sc.rounds.get(side, [])
                prow.append(
                    [
                        str(count),
                        SHORT[side],
                        ", ".join(f"{r.rps:,.0f}" for r in rs),
                        ", ".join(f"{r.p50_ms:.1f}" for r in rs),
                        ", ".join(f"{r.p99_ms:.1f}" for r in rs),
                        ", ".join(f"{r.per_server_cpu:,.0f}" for r in rs),
                        ", ".join(
                            f"{r.share(r.cpu.server_s):.0%}/{r.share(r.cpu.pg_run_s):.0%}/"
                            f"{r.share(r.cpu.pg_rest_s):.0%}/{r.share(r.cpu.other_s):.0%}/"
                            f"{max(0.0, 1 - r.share(r.cpu.busy_s)):.0%}"
                            for r in rs
                        ),
                        ", ".join(f"{r.per_request('xacts'):.1f}" for r in rs),
                        ", ".join(f"{r.per_request('wal_syncs'):.2f}" for r in rs),
                        ", ".join(str(r.db.sessions) for r in rs),
                        ", ".join(r.loadavg.split()[0] for r in rs),
                        str(sc.bad(side)),
                    ]
                )
        out += [
            "## Blocking SendMessage, every round",
            "",
            f"{settings.rounds} rounds of {settings.duration} s per side and scenario "
            f"({settings.connections} connections in all, after a {settings.warmup} s "
            "warm-up; fresh servers on a fresh database every round), order swapped "
            "every round.",
            "",
            table(
                [
                    "instances",
                    "server",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "req/server-CPU-s",
                    "machine CPU: servers/their PG/rest of PG/other/idle",
                    "transactions per request",
                    "WAL flushes per request",
                    "connections opened",
                    "loadavg (1 min) before",
                    "bad",
                ],
                prow,
            ),
            "",
            "Machine CPU shares are of both cores over the round: the server processes; "
            "the PostgreSQL backends of the round's database; the rest of PostgreSQL "
            "(WAL writer, checkpointer, other databases: other people's tests); "
            "everything else (this driver, other people's processes; not wrk, which "
            "exits before the window's end); idle. Transactions per request: "
            "`xact_commit` of the round's database (read and write transactions) over "
            "all the requests it served, warm-up included; WAL flushes per request: "
            "`pg_stat_wal.wal_sync` of the whole PostgreSQL server (commits that share "
            "a flush count once; other databases' flushes count too). Connections "
            "opened: `pg_stat_database.sessions` of the round's database, warm-up "
            "included. The SDK's engine keeps 5 pooled connections and opens up to 10 "
            "more under load, closing each when it is returned: those backends exit "
            "during the round and their CPU is missing from `their PG` (it is "
            "not counted anywhere), so compare PostgreSQL CPU across sides only for "
            "Accord, which keeps its connections.",
            "",
        ]
    if latency:
        lrow = []
        for side in SIDES:
            rs = latency.get(side, [])
            pooled = [x for r in rs for x in r.latencies_ms]
            lrow.append(
                [
                    SHORT[side],
                    f"{len(pooled)}/{sum(r.expected for r in rs)}",
                    "yes" if all(r.completed for r in rs) else "NO",
                    f"{pct(pooled, 0.5):.2f}",
                    f"{pct(pooled, 0.9):.2f}",
                    f"{pct(pooled, 0.99):.2f}",
                    f"{max(pooled) if pooled else float('nan'):.2f}",
                    ", ".join(f"{r.p50:.2f}" for r in rs),
                    ", ".join(r.loadavg.split()[0] for r in rs),
                ]
            )
        out += [
            "## Event latency from instance A to a subscriber on instance B",
            "",
            f"{settings.latency_rounds} rounds per side, alternating, each on two fresh "
            f"instances and a fresh database: a task on A whose agent waits until B "
            f"has answered `SubscribeToTask`, then writes {settings.events} artifacts, "
            "10 to 40 ms apart, each stamped with the wall clock just before the "
            "agent's write call (Accord: `ctx.add_artifact`; SDK: "
            "`TaskUpdater.add_artifact`); the client on B notes the wall clock as each "
            f"arrives. A warm-up task of {settings.warmup_events} events on the same "
            "instances comes first and is not counted.",
            "",
            table(
                [
                    "server",
                    "events received",
                    "all + COMPLETED",
                    "p50 ms",
                    "p90 ms",
                    "p99 ms",
                    "max ms",
                    "p50 of each round",
                    "loadavg before",
                ],
                lrow,
            ),
            "",
        ]
    out += [
        "## Analysis (written by hand, kept across runs)",
        "",
        harness.ANALYSIS_BEGIN,
        previous.strip() or "(none yet)",
        harness.ANALYSIS_END,
        "",
    ]
    return "\n".join(out)


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
