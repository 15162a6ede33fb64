"""Accord vs a2a-sdk, measured side by side on this machine. Run it through ``bench/run``.

Each measure starts a fresh server per side (uvicorn, one worker, pinned to core 0) and
drives it from core 1 (wrk, or the SSE reader below, which runs in this process, itself
pinned to core 1). The sides take turns within the same run: several short rounds,
the order swapped every round, medians reported; the machine is noisy, so single runs
mean little. See ``bench/README.md`` for what each measure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import profile_report

if TYPE_CHECKING:
    from collections.abc import Callable

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LUA = BENCH / "send.lua"
SCRIPTS = {
    "accord": BENCH / "accord_server.py",
    "sdk": BENCH / "sdk_server.py",
    "bare": BENCH / "bare_server.py",
    "proto": BENCH / "accord_server.py",
}
LABELS = {
    "accord": "Accord",
    "sdk": "a2a-sdk",
    "bare": "bare ASGI",
    "proto": "Accord (--ab copy)",
}
SIDES = ("accord", "sdk")
SERVER_CORE = 0
LOAD_CORE = 1
TASK_TEXT = "hello"
MESSAGE_TEXT = "reply:hello"
ANALYSIS_BEGIN = "<!-- analysis:begin -->"
ANALYSIS_END = "<!-- analysis:end -->"


def log(text: str) -> None:
    """Progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How long and how hard each measure runs."""

    quick: bool
    rounds: int
    duration: int  # seconds of each wrk round
    warmup: int  # seconds of wrk warm-up per server
    connections: int
    stream_chunks: int
    streams_per_round: int
    memory_tasks: int
    memory_checkpoints: int
    retention: float
    profile_seconds: int
    http: str
    loop: str
    accord_src: str
    ab_src: str
    ab_stack: str

    @property
    def stack(self) -> str:
        return f"uvicorn {self.http} + {self.loop}"


def make_settings(args: argparse.Namespace) -> Settings:
    quick = bool(args.quick)
    fast = args.stack == "httptools-uvloop"
    return Settings(
        quick=quick,
        rounds=args.rounds or (3 if quick else 5),
        duration=args.duration or (2 if quick else 4),
        warmup=1,
        connections=args.connections,
        stream_chunks=args.chunks,
        streams_per_round=1 if quick else 3,
        memory_tasks=args.memory_tasks or (10_000 if quick else 50_000),
        memory_checkpoints=5,
        retention=1.0,
        profile_seconds=5 if quick else 15,
        http="httptools" if fast else "h11",
        loop="uvloop" if fast else "asyncio",
        accord_src=args.accord_src or "",
        ab_src=args.ab or "",
        ab_stack=args.ab_stack or args.stack,
    )


# --- processes --------------------------------------------------------------------------


def can_pin() -> bool:
    """Two cores to put the server and the load generator on different ones."""
    try:
        return {SERVER_CORE, LOAD_CORE} <= os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return False


PINNING = can_pin()
TASKSET = shutil.which("taskset") if PINNING else None


def pinned(core: int, cmd: list[str]) -> list[str]:
    """``cmd`` run on ``core`` (via taskset when available)."""
    return ["taskset", "-c", str(core), *cmd] if TASKSET else cmd


def pin_preexec(core: int) -> Callable[[], None] | None:
    """Fallback pinning when taskset is missing: set the child's affinity itself."""
    if not PINNING or TASKSET:
        return None
    return lambda: os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by process ``pid``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def core_busy(core: int) -> float:
    """CPU seconds core ``core`` has spent not idle, by anyone."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            v = [int(x) for x in line.split()[1:]]
            # user nice system idle iowait irq softirq steal
            return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLOCK_TICK
    return 0.0


def kill_group(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Stop ``proc``'s process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def rpc(port: int, method: str, params: dict[str, Any], timeout: float = 30.0) -> Any:
    """One JSON-RPC call; returns the decoded response object."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            "/",
            body=body,
            headers={"Content-Type": "application/json", "A2A-Version": "1.0"},
        )
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{method}: HTTP {response.status}: {data[:200]!r}")
    return json.loads(data)


def count_tasks(port: int) -> int | None:
    """``totalSize`` of ListTasks: how many tasks the server holds."""
    answer = rpc(port, "ListTasks", {"pageSize": 1})
    result = answer.get("result") or {}
    total = result.get("totalSize")
    return None if total is None else int(total)


class Server:
    """One benchmark server process, pinned to the server core, always stopped."""

    def __init__(
        self,
        side: str,
        settings: Settings,
        workdir: Path,
        *,
        store: str = "memory",
        retention: float = 1.0,
    ) -> None:
        self.side = side
        self.store = store
        self.port = free_port()
        self.log_path = workdir / f"{side}-{store}-{self.port}.log"
        http, loop = settings.http, settings.loop
        if side == "proto" and settings.ab_stack == "httptools-uvloop":
            http, loop = "httptools", "uvloop"
        elif side == "proto" and settings.ab_stack == "h11-asyncio":
            http, loop = "h11", "asyncio"
        elif side == "proto" and settings.ab_stack == "accord-uvloop":
            http, loop = "accord", "uvloop"  # accord serve's protocol (serving.py)
        cmd = [
            sys.executable,
            str(SCRIPTS[side]),
            "--port",
            str(self.port),
            "--store",
            store,
            "--retention",
            str(retention),
            "--http",
            http,
            "--loop",
            loop,
        ]
        if store == "sqlite":
            cmd += ["--db", str(workdir / f"{side}-{self.port}.db")]
        self.cmd = pinned(SERVER_CORE, cmd)
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = dict(os.environ)
        other = {"accord": settings.accord_src, "proto": settings.ab_src}.get(side)
        if other and other != ".":
            # A scratch copy of Accord (e.g. a prototype): its src/ goes first on the path.
            src = str(Path(other).resolve() / "src")
            self.env["PYTHONPATH"] = os.pathsep.join(
                p for p in (src, os.environ.get("PYTHONPATH", "")) if p
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Server:
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=pin_preexec(SERVER_CORE),
                env=self.env,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)

    def _wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.side} server exited ({self.proc.returncode}):\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            try:
                rpc(self.port, "ListTasks", {"pageSize": 1}, timeout=5)
            except (OSError, RuntimeError, http.client.HTTPException):
                time.sleep(0.1)
                continue
            return
        raise RuntimeError(f"{self.side} server did not start within {timeout} s")

    def rss_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the server process, in kB."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out


# --- wrk --------------------------------------------------------------------------------


@dataclass
class WrkResult:
    """One wrk run against one server."""

    requests: int
    responses: int
    bad: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    server_cpu_s: float = 0.0  # CPU the server process used during the run
    core_busy_s: float = 0.0  # CPU the server's core used, by any process

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def per_cpu(self) -> float:
        """Requests per CPU-second of the server: robust to other load on its core."""
        return self.requests / self.server_cpu_s if self.server_cpu_s else 0.0

    @property
    def server_util(self) -> float:
        """Share of the wall time the server was on a CPU."""
        return self.server_cpu_s / self.seconds if self.seconds else 0.0

    @property
    def others_util(self) -> float:
        """Share of the server core's time taken by other processes."""
        if not self.seconds:
            return 0.0
        return max(0.0, self.core_busy_s - self.server_cpu_s) / self.seconds


def run_wrk(
    port: int,
    text: str,
    settings: Settings,
    workdir: Path,
    *,
    duration: float,
    limit: int = 0,
    pid: int | None = None,
    ports: tuple[int, ...] = (),
) -> WrkResult:
    """Run wrk against ``port`` for ``duration`` s, or until ``limit`` responses.

    With ``pid``, also measures the CPU the server used and how busy its core was.
    With ``ports`` (several servers, ``bench/cluster.py``), wrk runs one thread per
    port and ``send.lua`` sends thread i to the i-th of them.
    """
    marker = workdir / f"wrk-{uuid.uuid4().hex}.done"
    prefix = uuid.uuid4().hex[:12]
    seconds = 3600 if limit else max(1, round(duration))
    cmd = pinned(
        LOAD_CORE,
        [
            "wrk",
            f"-t{max(1, len(ports))}",
            f"-c{settings.connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}/",
            "--",
            text,
            str(limit),
            prefix,
            str(marker),
        ],
    )
    cpu0 = process_cpu(pid) if pid else 0.0
    busy0 = core_busy(SERVER_CORE) if pid else 0.0
    env = dict(os.environ)
    if ports:
        env["BENCH_PORTS"] = " ".join(str(p) for p in ports)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=pin_preexec(LOAD_CORE),
        env=env,
    )
    try:
        if limit:
            while proc.poll() is None and not marker.exists():
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=seconds + 60)
    finally:
        kill_group(proc, grace=2)
        marker.unlink(missing_ok=True)
    server_cpu = process_cpu(pid) - cpu0 if pid else 0.0
    busy = core_busy(SERVER_CORE) - busy0 if pid else 0.0
    match = re.search(r"^BENCH_JSON (.*)$", out, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}\n{err}")
    data = json.loads(match.group(1))
    return WrkResult(
        requests=data["requests"],
        responses=data["responses"],
        bad=data["bad"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors=sum(
            data[k]
            for k in (
                "connect_errors",
                "read_errors",
                "write_errors",
                "status_errors",
                "timeouts",
            )
        ),
        server_cpu_s=server_cpu,
        core_busy_s=busy,
    )


# --- measures ---------------------------------------------------------------------------


@dataclass
class Throughput:
    """Rounds of one blocking-send scenario for each side, with medians."""

    name: str
    rounds: dict[str, list[WrkResult]] = field(default_factory=dict)

    def median(self, side: str, attr: str) -> float:
        values = [getattr(r, attr) for r in self.rounds.get(side, [])]
        return statistics.median(values) if values else float("nan")

    def bad(self, side: str) -> int:
        return sum(r.bad + r.socket_errors for r in self.rounds.get(side, []))

    def paired(self, a: str, b: str, attr: str) -> float:
        """Median over rounds of ``a/b`` within each round (the two ran back to back,
        so a slow phase of the machine affects both sides of a pair alike)."""
        ratios = [
            getattr(x, attr) / getattr(y, attr)
            for x, y in zip(
                self.rounds.get(a, []), self.rounds.get(b, []), strict=False
            )
            if getattr(y, attr)
        ]
        return statistics.median(ratios) if ratios else float("nan")


def round_order(sides: tuple[str, ...], i: int) -> tuple[str, ...]:
    """Alternate the order every round so neither side always goes first."""
    return sides if i % 2 == 0 else tuple(reversed(sides))


def measure_throughput(
    name: str,
    sides: tuple[str, ...],
    text: str,
    settings: Settings,
    workdir: Path,
    *,
    store: str = "memory",
) -> Throughput:
    """Blocking SendMessage, alternating rounds.

    Every round starts fresh servers (one per side) and warms them up: two processes
    of the same code differ by up to ~15 % (memory layout, hash seeds), so a process
    is a sample too, and the medians are taken over processes as well as over time.
    """
    result = Throughput(name=name)
    for i in range(settings.rounds):
        with contextlib.ExitStack() as stack:
            servers = {
                side: stack.enter_context(Server(side, settings, workdir, store=store))
                for side in sides
            }
            for server in servers.values():
                run_wrk(server.port, text, settings, workdir, duration=settings.warmup)
            for side in round_order(sides, i):
                r = run_wrk(
                    servers[side].port,
                    text,
                    settings,
                    workdir,
                    duration=settings.duration,
                    pid=servers[side].pid,
                )
                result.rounds.setdefault(side, []).append(r)
                log(
                    f"{name}: round {i + 1} {LABELS[side]}: {r.rps:,.0f} req/s, "
                    f"p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
                    f"{r.per_cpu:,.0f} req/CPU-s, server on CPU {r.server_util:.0%}, "
                    f"others on its core {r.others_util:.0%}"
                    + (
                        f", {r.bad + r.socket_errors} bad"
                        if r.bad or r.socket_errors
                        else ""
                    )
                )
    return result


@dataclass
class StreamRun:
    """One SendStreamingMessage read to the end by the raw SSE reader."""

    events: int
    artifact_updates: int
    seconds: float
    first_byte_s: float
    completed: bool
    server_cpu_s: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def events_per_cpu(self) -> float:
        return self.events / self.server_cpu_s if self.server_cpu_s else 0.0


def _dechunk(body: bytes) -> bytes:
    """Decode an HTTP/1.1 chunked body."""
    out: list[bytes] = []
    pos = 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        start = end + 2
        out.append(body[start : start + size])
        pos = start + size + 2


def stream_once(port: int, chunks: int) -> StreamRun:
    """POST a SendStreamingMessage and read the SSE answer to the end (raw socket).

    The same reader for both servers: one blocking socket, ``Connection: close``, the
    clock runs from sending the request to the server closing the connection.
    """
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendStreamingMessage",
            "params": {
                "message": {
                    "messageId": uuid.uuid4().hex,
                    "role": "ROLE_USER",
                    "parts": [{"text": f"stream:{chunks}"}],
                }
            },
        }
    ).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
        f"A2A-Version: 1.0\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    parts: list[bytes] = []
    first = 0.0
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        start = time.perf_counter()
        sock.sendall(head + body)
        while True:
            data = sock.recv(1 << 18)
            if not data:
                break
            if not parts:
                first = time.perf_counter()
            parts.append(data)
        end = time.perf_counter()
    raw = b"".join(parts)
    header, _, payload = raw.partition(b"\r\n\r\n")
    if not header.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream answered {header[:200]!r}")
    if b"transfer-encoding: chunked" in header.lower():
        payload = _dechunk(payload)
    events = [
        e
        for e in payload.replace(b"\r\n", b"\n").split(b"\n\n")
        if b"\ndata:" in b"\n" + e
    ]
    return StreamRun(
        events=len(events),
        artifact_updates=sum(b'"artifactUpdate"' in e for e in events),
        seconds=end - start,
        first_byte_s=first - start,
        completed=bool(events) and b"TASK_STATE_COMPLETED" in events[-1],
    )


@dataclass
class Streaming:
    """Streams per side over the rounds."""

    chunks: int
    per_round: int = 1
    runs: dict[str, list[StreamRun]] = field(default_factory=dict)

    def median(self, side: str, attr: str = "events_per_s") -> float:
        values = [getattr(r, attr) for r in self.runs.get(side, [])]
        return statistics.median(values) if values else float("nan")

    def paired(self, a: str, b: str, attr: str = "events_per_s") -> float:
        """Median over rounds of ``a/b`` of the rounds' medians (see Throughput)."""
        per = max(1, self.per_round)
        ra, rb = self.runs.get(a, []), self.runs.get(b, [])
        ratios = []
        for i in range(0, min(len(ra), len(rb)), per):
            x = statistics.median(getattr(r, attr) for r in ra[i : i + per])
            y = statistics.median(getattr(r, attr) for r in rb[i : i + per])
            if y:
                ratios.append(x / y)
        return statistics.median(ratios) if ratios else float("nan")

    def events(self, side: str) -> int:
        runs = self.runs.get(side, [])
        return runs[0].events if runs else 0

    def all_complete(self, side: str) -> bool:
        return all(
            r.completed and r.artifact_updates == self.chunks
            for r in self.runs.get(side, [])
        )


def measure_streaming(
    settings: Settings, workdir: Path, sides: tuple[str, ...] = SIDES
) -> Streaming:
    """Streams read to the end, alternating sides, fresh servers every round."""
    result = Streaming(
        chunks=settings.stream_chunks, per_round=settings.streams_per_round
    )
    for i in range(settings.rounds):
        with contextlib.ExitStack() as stack:
            servers = {
                side: stack.enter_context(Server(side, settings, workdir))
                for side in sides
            }
            for server in servers.values():
                stream_once(server.port, settings.stream_chunks)  # warm-up
            for side in round_order(sides, i):
                for _ in range(settings.streams_per_round):
                    cpu0 = process_cpu(servers[side].pid)
                    run = stream_once(servers[side].port, settings.stream_chunks)
                    run.server_cpu_s = process_cpu(servers[side].pid) - cpu0
                    result.runs.setdefault(side, []).append(run)
                    log(
                        f"stream: round {i + 1} {LABELS[side]}: {run.events} events "
                        f"in {run.seconds * 1000:.0f} ms = {run.events_per_s:,.0f} events/s"
                    )
    return result


@dataclass
class MemoryRun:
    """RSS of one server over a run of blocking sends."""

    label: str
    side: str
    store: str
    baseline_kb: int
    points: list[tuple[int, int]]  # (tasks completed, VmRSS kB)
    p99_ms: list[float]  # p99 latency of each segment between checkpoints
    peak_kb: int
    after_retention_kb: int | None
    tasks_held: int | None
    rate: float
    bad: int


def measure_memory(
    label: str, side: str, store: str, settings: Settings, workdir: Path
) -> MemoryRun:
    total = settings.memory_tasks
    step = total // settings.memory_checkpoints
    with Server(
        side, settings, workdir, store=store, retention=settings.retention
    ) as srv:
        baseline = srv.rss_kb()["VmRSS"]
        points: list[tuple[int, int]] = []
        p99: list[float] = []
        done = bad = 0
        started = time.perf_counter()
        for _ in range(settings.memory_checkpoints):
            r = run_wrk(srv.port, TASK_TEXT, settings, workdir, duration=0, limit=step)
            done += r.responses
            bad += r.bad + r.socket_errors
            points.append((done, srv.rss_kb()["VmRSS"]))
            p99.append(r.p99_ms)
            log(
                f"memory {label}: {done:,} tasks, RSS {points[-1][1] / 1024:.1f} MiB, "
                f"p99 {r.p99_ms:.0f} ms"
            )
        rate = done / (time.perf_counter() - started)
        after = None
        if store == "retention":
            time.sleep(settings.retention + 1.0)
            count_tasks(srv.port)  # any call runs the expiry sweep
            after = srv.rss_kb()["VmRSS"]
        held = count_tasks(srv.port)
        peak = srv.rss_kb()["VmHWM"]
    return MemoryRun(
        label=label,
        side=side,
        store=store,
        baseline_kb=baseline,
        points=points,
        p99_ms=p99,
        peak_kb=peak,
        after_retention_kb=after,
        tasks_held=held,
        rate=rate,
        bad=bad,
    )


@dataclass
class ProfileResult:
    """Profile of Accord under the task-mode load (in-process sampler + py-spy SVG)."""

    markdown: str
    raw_path: str
    svg_path: str | None
    meta: dict[str, Any]
    rps_while_sampled: float
    seconds: int
    warmup_tasks: int

    @property
    def us_per_request(self) -> float:
        requests = self.meta.get("requests") or 0
        return 1e6 * self.meta["cpu_seconds"] / requests if requests else 0.0

    @property
    def gc_share(self) -> float:
        cpu = self.meta["cpu_seconds"]
        return sum(self.meta["gc_seconds"]) / cpu if cpu else 0.0


def _wait_for(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


def measure_profile(
    settings: Settings, workdir: Path, outdir: Path
) -> ProfileResult | None:
    """Sample Accord's CPU under the blocking task-mode load (memory store).

    The numbers come from bench/sampler.py inside the server (see its docstring for
    why not py-spy's default mode on this kind of VM); py-spy --nonblocking records a
    flame graph of the same window for people to look at, when it is installed.
    """
    raw_path = outdir / "profile-accord-task-memory.txt"
    meta_path = Path(f"{raw_path}.json")
    svg_path = outdir / "profile-accord-task-memory.svg"
    for stale in (raw_path, meta_path, svg_path):
        stale.unlink(missing_ok=True)
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    seconds = settings.profile_seconds
    server = Server("accord", settings, workdir)
    server.cmd += ["--sample", str(raw_path)]
    with server as srv:
        warm = run_wrk(srv.port, TASK_TEXT, settings, workdir, duration=3)
        load_result: dict[str, WrkResult] = {}

        def load() -> None:
            load_result["wrk"] = run_wrk(
                srv.port, TASK_TEXT, settings, workdir, duration=seconds + 2
            )

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        spy: subprocess.Popen[bytes] | None = None
        try:
            time.sleep(1.0)
            os.kill(srv.pid, signal.SIGUSR1)
            if Path(pyspy).exists():
                spy = subprocess.Popen(
                    pinned(
                        LOAD_CORE,
                        [
                            pyspy,
                            "record",
                            "--nonblocking",
                            "--pid",
                            str(srv.pid),
                            "--duration",
                            str(seconds),
                            "--rate",
                            "100",
                            "--output",
                            str(svg_path),
                        ],
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            time.sleep(seconds)
            os.kill(srv.pid, signal.SIGUSR2)
            written = _wait_for(meta_path, 30)
            if spy is not None:
                spy.wait(timeout=60)
        finally:
            if spy is not None:
                kill_group(spy, grace=2)
            loader.join(timeout=seconds + 90)
    if not written:
        log("profile: the sampler wrote no profile; skipped")
        return None
    meta = json.loads(meta_path.read_text())
    result = ProfileResult(
        markdown="",
        raw_path=str(raw_path.relative_to(REPO)),
        svg_path=str(svg_path.relative_to(REPO)) if svg_path.exists() else None,
        meta=meta,
        rps_while_sampled=meta["requests"] / meta["wall_seconds"],
        seconds=seconds,
        warmup_tasks=warm.responses,
    )
    profile = profile_report.analyse(raw_path.read_text())
    result.markdown = profile_report.markdown(profile, result.us_per_request)
    return result


# --- machine ----------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def wrk_version() -> str:
    proc = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (proc.stdout or proc.stderr).splitlines()[0].strip()


def cpu_times() -> list[int]:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return [int(x) for x in fields]


def machine(settings: Settings) -> dict[str, str]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "CPU": cpu_model(),
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "accord": version_of("accord"),
        "a2a-sdk": version_of("a2a-sdk"),
        "uvicorn": version_of("uvicorn"),
        "msgspec": version_of("msgspec"),
        "h11": version_of("h11"),
        "anyio": version_of("anyio"),
        "starlette / sse-starlette": f"{version_of('starlette')} / {version_of('sse-starlette')}",
        "SQLAlchemy / aiosqlite": f"{version_of('SQLAlchemy')} / {version_of('aiosqlite')}",
        "server stack": settings.stack,
        "Accord source": settings.accord_src or "this checkout",
        "wrk": wrk_version(),
        "pinning": (
            f"servers on core {SERVER_CORE}, load generator on core {LOAD_CORE}"
            + (" (taskset)" if TASKSET else " (sched_setaffinity)")
            if PINNING
            else "none (fewer than 2 usable cores)"
        ),
        "load": f"{settings.connections} connections, wrk -t1",
        "loadavg at start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


# --- report -----------------------------------------------------------------------------


def _x(ratio: float) -> str:
    return "n/a" if ratio != ratio else f"{ratio:.1f}x"


def _inv(ratio: float) -> str:
    """A latency ratio Accord/SDK shown as 1/N (Accord N times lower)."""
    return "n/a" if ratio != ratio or not ratio else f"1/{1 / ratio:.1f}"


def _target(ok: bool | None, text: str) -> str:
    if ok is None:
        return text
    return f"{text} {'met' if ok else 'NOT met'}"


@dataclass
class Results:
    settings: Settings
    machine: dict[str, str]
    throughput: dict[str, Throughput] = field(default_factory=dict)
    streaming: Streaming | None = None
    memory: list[MemoryRun] = field(default_factory=list)
    profile: ProfileResult | None = None
    steal_pct: float = 0.0
    elapsed_s: float = 0.0


def summary_rows(res: Results) -> list[list[str]]:
    """The ratio table: measure, Accord, a2a-sdk, Accord vs SDK, target."""
    rows: list[list[str]] = []
    names = {
        "task-memory": ("1a. SendMessage, task, memory store", 20.0),
        "task-sqlite": ("1b. SendMessage, task, SQLite store", 10.0),
        "message": ("2. SendMessage, message reply", None),
    }
    for key, (title, target) in names.items():
        t = res.throughput.get(key)
        if t is None:
            continue
        rps = t.paired("accord", "sdk", "rps")
        rows.append(
            [
                f"{title}: req/s",
                f"{t.median('accord', 'rps'):,.0f}",
                f"{t.median('sdk', 'rps'):,.0f}",
                _x(rps),
                _target(rps >= target, f">= {target:.0f}x") if target else "",
            ]
        )
        rows.append(
            [
                f"{title}: req per server CPU-second",
                f"{t.median('accord', 'per_cpu'):,.0f}",
                f"{t.median('sdk', 'per_cpu'):,.0f}",
                _x(t.paired("accord", "sdk", "per_cpu")),
                "(SDK on SQLite waits on fsync)" if key == "task-sqlite" else "",
            ]
        )
        for pct in ("p50", "p99"):
            ratio = t.paired("accord", "sdk", f"{pct}_ms")
            tgt = ""
            if pct == "p99" and key == "task-memory":
                tgt = _target(ratio <= 0.1, "<= 1/10")
            rows.append(
                [
                    f"{title}: {pct} latency (ms)",
                    f"{t.median('accord', f'{pct}_ms'):.1f}",
                    f"{t.median('sdk', f'{pct}_ms'):.1f}",
                    _inv(ratio),
                    tgt,
                ]
            )
    if res.streaming is not None:
        st = res.streaming
        eps = st.paired("accord", "sdk")
        rows.append(
            [
                f"3. SendStreamingMessage, {st.chunks:,} chunks: events/s",
                f"{st.median('accord'):,.0f}",
                f"{st.median('sdk'):,.0f}",
                _x(eps),
                _target(eps >= 10, ">= 10x"),
            ]
        )
        rows.append(
            [
                "3. SendStreamingMessage: events per server CPU-second",
                f"{st.median('accord', 'events_per_cpu'):,.0f}",
                f"{st.median('sdk', 'events_per_cpu'):,.0f}",
                _x(st.paired("accord", "sdk", "events_per_cpu")),
                "",
            ]
        )
    for run in res.memory:
        last = run.points[-1] if run.points else (0, 0)
        rows.append(
            [
                f"4. RSS after {last[0]:,} tasks ({run.label}) MiB",
                f"{last[1] / 1024:.0f}" if run.side == "accord" else "",
                f"{last[1] / 1024:.0f}" if run.side == "sdk" else "",
                "",
                f"holds {run.tasks_held:,} tasks" if run.tasks_held is not None else "",
            ]
        )
    bare = res.throughput.get("bare")
    if bare is not None:
        ceiling = bare.median("bare", "rps")
        rows.append(["5. bare ASGI ceiling: req/s", f"{ceiling:,.0f}", "", "", ""])
        rows.append(
            [
                "5. bare ASGI ceiling: req per CPU-second",
                f"{bare.median('bare', 'per_cpu'):,.0f}",
                "",
                "",
                "",
            ]
        )
        ceiling_cpu = bare.median("bare", "per_cpu")
        for key, title in (("task-memory", "task, memory"), ("message", "message")):
            t = res.throughput.get(key)
            if t is None:
                continue
            rows.append(
                [
                    f"5. fraction of the ceiling ({title}), req/s",
                    f"{t.median('accord', 'rps') / ceiling:.1%}",
                    f"{t.median('sdk', 'rps') / ceiling:.1%}",
                    "",
                    "",
                ]
            )
            rows.append(
                [
                    f"5. fraction of the ceiling ({title}), per CPU-second",
                    f"{t.median('accord', 'per_cpu') / ceiling_cpu:.1%}",
                    f"{t.median('sdk', 'per_cpu') / ceiling_cpu:.1%}",
                    "",
                    "",
                ]
            )
    return rows


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (also readable as plain text)."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]
    line = (
        "| "
        + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        + " |"
    )
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in rows
    ]
    return "\n".join([line, sep, *body])


SUMMARY_HEADERS = ["measure", "Accord", "a2a-sdk", "Accord vs SDK", "target"]


def render(res: Results, previous_analysis: str) -> str:
    s = res.settings
    out: list[str] = [
        "# Accord vs a2a-sdk: benchmark results",
        "",
        f"Generated by `bash bench/run{' --quick' if s.quick else ''}` "
        f"({'quick' if s.quick else 'full'} run, {res.elapsed_s / 60:.1f} min). "
        "Medians over alternating rounds; see `bench/README.md` for what each measure means.",
        "",
        "## Machine",
        "",
        table(["", ""], [[k, v] for k, v in res.machine.items()]),
        "",
        f"CPU steal time during the run: {res.steal_pct:.1f} % of all CPU time "
        "(time the hypervisor gave to others; high values make every number noisier).",
        "",
        "## Summary",
        "",
        table(SUMMARY_HEADERS, summary_rows(res)),
        "",
        "`Accord vs SDK` is the median over rounds of the ratio within each round (the "
        "two sides run back to back in a round, so a slow phase of the machine hits "
        "both); the Accord and a2a-sdk columns are the medians of each side. Latency "
        "`1/N`: Accord's latency is N times lower than the SDK's.",
        "",
    ]
    if res.throughput:
        out += [
            "## Blocking SendMessage, every round",
            "",
            f"{s.rounds} rounds of {s.duration} s per side ({s.connections} connections, "
            f"fresh servers every round, each warmed up for {s.warmup} s), order "
            "swapped every round.",
            "",
        ]
        rows = []
        for key, t in res.throughput.items():
            for side, runs in t.rounds.items():
                rows.append(
                    [
                        key,
                        LABELS[side],
                        ", ".join(f"{r.rps:,.0f}" for r in runs),
                        ", ".join(f"{r.p50_ms:.1f}" for r in runs),
                        ", ".join(f"{r.p99_ms:.1f}" for r in runs),
                        ", ".join(f"{r.per_cpu:,.0f}" for r in runs),
                        ", ".join(f"{r.server_util:.0%}" for r in runs),
                        ", ".join(f"{r.others_util:.0%}" for r in runs),
                        str(t.bad(side)),
                    ]
                )
        out += [
            table(
                [
                    "scenario",
                    "server",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "req/CPU-s",
                    "server on CPU",
                    "others on core 0",
                    "bad",
                ],
                rows,
            ),
            "",
            "`server on CPU`: share of the round the server process ran (all its threads); "
            "`others on core 0`: share of core 0 taken by other processes (other people's "
            "test runs on a shared machine). `req/CPU-s` = requests / server CPU seconds, "
            "the number least disturbed by them.",
            "",
        ]
    if res.streaming is not None:
        st = res.streaming
        rows = [
            [
                LABELS[side],
                str(st.events(side)),
                ", ".join(f"{r.events_per_s:,.0f}" for r in runs),
                ", ".join(f"{r.events_per_cpu:,.0f}" for r in runs),
                f"{statistics.median(r.first_byte_s for r in runs) * 1000:.1f}",
                "yes" if st.all_complete(side) else "NO",
            ]
            for side, runs in st.runs.items()
        ]
        out += [
            "## Streaming",
            "",
            f"One SendStreamingMessage whose agent publishes the task, one artifact in "
            f"{st.chunks:,} chunks (append) and completes; read to the end by the same raw "
            "socket SSE reader for both servers.",
            "",
            table(
                [
                    "server",
                    "events per stream",
                    "events/s (each stream)",
                    "events/CPU-s",
                    "first byte ms (median)",
                    f"all {st.chunks:,} chunks + COMPLETED",
                ],
                rows,
            ),
            "",
        ]
    if res.memory:
        rows = []
        for run in res.memory:
            rows.append(
                [
                    run.label,
                    f"{run.baseline_kb / 1024:.0f}",
                    ", ".join(f"{kb / 1024:.0f}" for _, kb in run.points),
                    ", ".join(f"{ms:.0f}" for ms in run.p99_ms),
                    f"{run.peak_kb / 1024:.0f}",
                    ""
                    if run.after_retention_kb is None
                    else f"{run.after_retention_kb / 1024:.0f}",
                    "?" if run.tasks_held is None else f"{run.tasks_held:,}",
                    f"{run.rate:,.0f}",
                    str(run.bad),
                ]
            )
        checkpoints = ", ".join(f"{n:,}" for n, _ in res.memory[0].points)
        out += [
            "## Memory",
            "",
            f"RSS (MiB) of the server process at start and after {checkpoints} completed "
            "tasks (blocking sends); tasks held = ListTasks totalSize at the end. The p99 "
            "latency of each segment shows the cost of a growing heap: Python's full "
            "(generation 2) GC pass takes time proportional to the tracked objects kept.",
            "",
            table(
                [
                    "server",
                    "start",
                    "after each checkpoint",
                    "p99 ms of each segment",
                    "peak",
                    "after retention",
                    "tasks held",
                    "tasks/s",
                    "bad",
                ],
                rows,
            ),
            "",
        ]
    if res.profile is not None:
        p = res.profile
        m = p.meta
        gc_runs = m["gc_runs"]
        gc_ms = [1000 * x for x in m["gc_seconds"]]
        out += [
            "## Profile: Accord, blocking SendMessage, task mode, memory store",
            "",
            f"In-process CPU-time sampler (`bench/sampler.py`), {p.seconds} s under the "
            f"same {s.connections}-connection load after {p.warmup_tasks:,} warm-up tasks: "
            f"{m['samples']:,} samples, {m['requests']:,} requests, {m['cpu_seconds']:.2f} "
            f"CPU-s of the server in {m['wall_seconds']:.2f} s "
            f"({p.rps_while_sampled:,.0f} req/s while sampled), so "
            f"**{p.us_per_request:.0f} µs of CPU per request**. "
            f"Raw collapsed stacks: `{p.raw_path}`"
            + (
                f"; py-spy --nonblocking flame graph: `{p.svg_path}`."
                if p.svg_path
                else "."
            ),
            "",
            f"Cyclic GC (measured with gc.callbacks): {p.gc_share:.1%} of the CPU; "
            f"{gc_runs[0]} / {gc_runs[1]} / {gc_runs[2]} collections of generation 0 / 1 / 2 "
            f"taking {gc_ms[0]:.0f} / {gc_ms[1]:.0f} / {gc_ms[2]:.0f} ms in total "
            f"(a gen-2 pass: {gc_ms[2] / max(gc_runs[2], 1):.0f} ms on average, with "
            f"{m['gc_tracked_objects']:,} GC-tracked objects at the end).",
            "",
            p.markdown,
            "",
        ]
    out += [
        "## Analysis (written by hand, kept across runs)",
        "",
        ANALYSIS_BEGIN,
        previous_analysis.strip() or "(none yet)",
        ANALYSIS_END,
        "",
    ]
    return "\n".join(out)


def previous_analysis(path: Path) -> str:
    if not path.exists():
        return ""
    text = path.read_text()
    start, end = text.find(ANALYSIS_BEGIN), text.find(ANALYSIS_END)
    if start < 0 or end < start:
        return ""
    return text[start + len(ANALYSIS_BEGIN) : end]


def run_ab(settings: Settings, only: set[str], workdir: Path) -> str:
    """This checkout's Accord against a copy (``--ab DIR``), alternating rounds."""
    sides = ("accord", "proto")
    rows: list[list[str]] = []
    for name, text in (("task-memory", TASK_TEXT), ("message", MESSAGE_TEXT)):
        if name not in only:
            continue
        log(f"ab {name}: starting")
        t = measure_throughput(name, sides, text, settings, workdir)
        for attr, label in (
            ("rps", "req/s"),
            ("per_cpu", "req per server CPU-second"),
            ("p50_ms", "p50 ms"),
            ("p99_ms", "p99 ms"),
        ):
            a, b = t.median("accord", attr), t.median("proto", attr)
            ratio = t.paired("proto", "accord", attr)
            rows.append([f"{name}: {label}", f"{a:,.1f}", f"{b:,.1f}", f"{ratio:.2f}x"])
    if "stream" in only:
        log("ab stream: starting")
        st = measure_streaming(settings, workdir, sides)
        for attr, label in (
            ("events_per_s", "events/s"),
            ("events_per_cpu", "events per server CPU-second"),
        ):
            a, b = st.median("accord", attr), st.median("proto", attr)
            ratio = st.paired("proto", "accord", attr)
            rows.append([f"stream: {label}", f"{a:,.0f}", f"{b:,.0f}", f"{ratio:.2f}x"])
    copy = f"{settings.ab_src} ({settings.ab_stack})"
    this = f"this checkout ({settings.stack})"
    return table(["measure", this, copy, "copy / this (paired median)"], rows)


# --- main -------------------------------------------------------------------------------

MEASURES = (
    "task-memory",
    "task-sqlite",
    "message",
    "bare",
    "stream",
    "memory",
    "profile",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a ~2 minute run")
    parser.add_argument(
        "--only",
        default=",".join(MEASURES),
        help=f"comma-separated subset of {', '.join(MEASURES)}",
    )
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--duration", type=int, default=0, help="seconds per round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--memory-tasks", type=int, default=0)
    parser.add_argument(
        "--stack",
        choices=("h11-asyncio", "httptools-uvloop"),
        # What `pip install 'accord[serve]'` gives uvicorn (it picks them up itself).
        default="httptools-uvloop",
        help="uvicorn's HTTP parser + event loop, the same for every server",
    )
    parser.add_argument(
        "--accord-src",
        default="",
        help="run the Accord server from this checkout instead (its src/ first on "
        "PYTHONPATH): to measure a prototype in a scratch copy",
    )
    parser.add_argument(
        "--ab",
        default="",
        metavar="DIR",
        help="instead of the SDK comparison, compare this checkout's Accord with the "
        "copy in DIR (task-memory, message, stream; alternating rounds): to measure "
        "an optimisation prototyped in a scratch copy (DIR '.': this checkout, with "
        "--ab-stack); writes bench/out/AB.md",
    )
    parser.add_argument(
        "--ab-stack",
        choices=("h11-asyncio", "httptools-uvloop", "accord-uvloop"),
        default="",
        help="with --ab: the server stack of the copy's side (default: --stack); "
        "accord-uvloop: the HTTP protocol `accord serve` runs (accord.server.serving: "
        "connection limits, one write per answer) on uvloop",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="Markdown file to write (default bench/RESULTS.md, or "
        "bench/RESULTS-<stack>.md for a non-default stack)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = make_settings(args)
    only = {m.strip() for m in args.only.split(",") if m.strip()}
    unknown = only - set(MEASURES)
    if unknown:
        raise SystemExit(f"unknown measures: {', '.join(sorted(unknown))}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (bench/run installs it)")
    if PINNING:
        os.sched_setaffinity(0, {LOAD_CORE})
    else:
        log("fewer than 2 usable cores: servers and load share the CPU")
    outdir = BENCH / "out"
    outdir.mkdir(exist_ok=True)
    if args.results:
        results_path = args.results
    elif args.accord_src:
        results_path = outdir / "RESULTS-accord-src.md"  # a prototype: not the record
    elif args.stack != "httptools-uvloop":  # the serve extra's stack is the record
        results_path = BENCH / f"RESULTS-{args.stack}.md"
    else:
        results_path = BENCH / "RESULTS.md"
    if args.ab:
        with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
            text = run_ab(settings, only, Path(tmp))
        (outdir / "AB.md").write_text(text + "\n")
        print()
        print(text)
        print(f"\nWritten: {outdir / 'AB.md'}")
        return 0
    started = time.perf_counter()
    cpu_before = cpu_times()
    res = Results(settings=settings, machine=machine(settings))
    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        workdir = Path(tmp)
        scenarios = (
            ("task-memory", SIDES, TASK_TEXT, "memory"),
            ("task-sqlite", SIDES, TASK_TEXT, "sqlite"),
            ("message", SIDES, MESSAGE_TEXT, "memory"),
            ("bare", ("bare",), TASK_TEXT, "memory"),
        )
        for name, sides, text, store in scenarios:
            if name in only:
                log(f"{name}: starting")
                res.throughput[name] = measure_throughput(
                    name, sides, text, settings, workdir, store=store
                )
        if "stream" in only:
            log("stream: starting")
            res.streaming = measure_streaming(settings, workdir)
        if "memory" in only:
            for label, side, store in (
                ("a2a-sdk, InMemoryTaskStore", "sdk", "memory"),
                ("Accord, MemoryTaskStore() defaults", "accord", "memory"),
                (
                    f"Accord, MemoryTaskStore(retention={settings.retention:g})",
                    "accord",
                    "retention",
                ),
            ):
                log(f"memory: {label}")
                res.memory.append(measure_memory(label, side, store, settings, workdir))
        if "profile" in only:
            log("profile: starting")
            res.profile = measure_profile(settings, workdir, outdir)
    cpu_after = cpu_times()
    delta = [b - a for a, b in zip(cpu_before, cpu_after, strict=True)]
    res.steal_pct = (
        100.0 * delta[7] / sum(delta) if len(delta) > 7 and sum(delta) else 0.0
    )
    res.elapsed_s = time.perf_counter() - started
    text = render(res, previous_analysis(results_path))
    results_path.write_text(text)
    (outdir / "results.json").write_text(
        json.dumps(
            {
                "settings": asdict(settings),
                "machine": res.machine,
                "summary": summary_rows(res),
            },
            indent=2,
        )
    )
    print()
    print(table(SUMMARY_HEADERS, summary_rows(res)))
    print()
    print(f"Written: {results_path} ({res.elapsed_s / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
