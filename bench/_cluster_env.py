"""The PostgreSQL side of ``bench/cluster.py``: settings, scratch databases, server
instances, and where the machine's CPU went during a round."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench as harness
import psycopg

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

REPO = harness.REPO
SIDES = ("accord", "sdk")
SHORT = {"accord": "Accord", "sdk": "a2a-sdk"}


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
