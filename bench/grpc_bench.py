"""Accord's gRPC server vs the a2a-sdk's, side by side: ``python bench/grpc_bench.py``.

Both servers serve the echo agent of the HTTP benchmark (``bench/accord_server.py``'s
``agent``, ``bench/sdk_server.py``'s ``EchoExecutor``), in memory, each in a process
of its own pinned to core 0:

* Accord: ``GrpcServer(Engine(agent, store=MemoryTaskStore()), port=0)``, with
  ``tune_gc()`` once listening (what ``accord serve --grpc-port`` does);
* a2a-sdk: ``GrpcHandler(DefaultRequestHandler(EchoExecutor(), InMemoryTaskStore(),
  card))`` on ``grpc.aio.server()`` through ``a2a_pb2_grpc.add_A2AServiceServicer_to_
  server``, the way the SDK's samples serve gRPC.

The load generator is one more process, pinned to core 1, and the same for both: raw
``grpc.aio`` calls on one channel with pre-serialized ``SendMessageRequest`` bytes (the
SDK's ``a2a_pb2``; the wire format is the spec's, so Accord reads the same bytes), a
unique ``messageId`` spliced into each, metadata ``a2a-version: 1.0``. Every answer is
parsed and checked (a COMPLETED task with the echoed artifact). Measures:

* ``unary``: blocking ``SendMessage``, ``--concurrency`` calls always in flight:
  requests/s, p50/p99 latency;
* ``stream``: ``SendStreamingMessage`` of the echo agent (the task, its artifact,
  COMPLETED), ``--concurrency`` streams in flight: streams/s, events/s, p50/p99;
* ``long``: one ``SendStreamingMessage`` at a time whose agent sends one artifact in
  ``--chunks`` chunks: events/s (the cost of one more event on an open stream);
* the ceiling (with ``unary``, unless ``--no-ceiling``): a bare ``grpc.aio`` server in
  its own process on the same core, whose ``SendMessage`` returns the same
  pre-serialized echo task every time: what grpc.aio itself costs per call.

For each, the server's CPU time over the measured window (``/proc/<pid>/stat``, all
its threads) gives CPU seconds per 1,000 requests (streams, events), and the share of
it spent in the main thread (the event loop: the Python side; the rest is gRPC's C
core threads). Rounds alternate the sides (Accord, SDK, then SDK, Accord...), fresh
servers every round, each measure warmed up first; the report gives each side's
median and, as the ratio, the median of the per-round ratios Accord / SDK.

``--profile``: one more Accord server under the unary load with ``cProfile`` on for
the measured window (the event loop's thread: all of Accord's and grpc.aio's Python
code); the report gets the top functions per request. cProfile slows Python calls
down, so read its shares, not its absolute times.

Options: ``--quick`` (~1 min), ``--rounds``, ``--duration``, ``--concurrency``,
``--chunks``, ``--only unary,stream,long``, ``--no-ceiling``, ``--results FILE``. Writes
``bench/RESULTS-grpc.md`` (keeping its hand-written analysis section) and prints the
summary. Internal modes: ``_serve accord|sdk|bare`` and ``_load`` (the processes above).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib
import importlib.metadata
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench as harness

if TYPE_CHECKING:
    from collections.abc import Iterator

    from grpc import aio

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SIDES = ("accord", "sdk")
BARE = "bare"  # the ceiling: a grpc.aio server answering fixed bytes
LABELS = {"accord": "Accord", "sdk": "a2a-sdk", BARE: "bare grpc.aio"}
# The cores and the pinning of bench/bench.py, which this shares.
SERVER_CORE = harness.SERVER_CORE
LOAD_CORE = harness.LOAD_CORE
PINNING = harness.PINNING
TASKSET = harness.TASKSET
pinned = harness.pinned
pin_preexec = harness.pin_preexec
SERVICE_PATH = "/lf.a2a.v1.A2AService"
METADATA = (("a2a-version", "1.0"),)
ECHO_TEXT = "hello"
MEASURES = ("unary", "stream", "long")
ANALYSIS_BEGIN = "<!-- analysis:begin -->"
ANALYSIS_END = "<!-- analysis:end -->"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A failure that ends the run with a message (a server that did not start...)."""


def log(text: str) -> None:
    """Progress line on stderr (the table goes to stdout)."""
    print(
        f"[grpc-bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True
    )


# --- /proc ------------------------------------------------------------------------------


def _stat_cpu(path: Path) -> float:
    """user + system CPU seconds of a ``/proc/.../stat`` file."""
    stat = path.read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by process ``pid``."""
    return _stat_cpu(Path(f"/proc/{pid}/stat"))


def main_thread_cpu(pid: int) -> float:
    """CPU seconds used so far by the main thread of ``pid`` (the event loop)."""
    return _stat_cpu(Path(f"/proc/{pid}/task/{pid}/stat"))


def core_busy(core: int) -> float:
    """CPU seconds core ``core`` has spent not idle, by anyone."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            v = [int(x) for x in line.split()[1:]]
            # user nice system idle iowait irq softirq steal
            return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLOCK_TICK
    return 0.0


# --- the servers (``_serve accord|sdk``) ------------------------------------------------


def _write_ready(path: str, port: int) -> None:
    """Tell the driver the port, atomically (it polls for the file)."""
    tmp = Path(path + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.rename(path)


def _stop_on_sigterm() -> asyncio.Event:
    """An event set by SIGTERM / SIGINT: the server stops cleanly when it is."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _install_cprofile(path: str) -> None:
    """SIGUSR1 starts ``cProfile`` (this thread: the event loop's); SIGUSR2 stops it
    and writes the stats to ``path``. It times with this thread's CPU clock, not the
    wall clock, so other processes on the core do not inflate the times."""
    import cProfile

    profiler = cProfile.Profile(time.thread_time)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        profiler.disable()
        profiler.dump_stats(path + ".tmp")
        Path(path + ".tmp").rename(path)

    loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
    loop.add_signal_handler(signal.SIGUSR2, stop)


async def serve_accord(ready: str, cprofile: str) -> None:
    from accord_server import agent  # the HTTP benchmark's echo agent

    from accord.grpc import GrpcServer
    from accord.server import Engine
    from accord.server.tuning import tune_gc
    from accord.stores import MemoryTaskStore

    stop = _stop_on_sigterm()
    if cprofile:
        _install_cprofile(cprofile)
    engine = Engine(agent, store=MemoryTaskStore())
    async with engine.running(), GrpcServer(engine, port=0).serving() as server:
        tune_gc()  # what `accord serve` does once it listens
        _write_ready(ready, server.port)
        await stop.wait()


async def serve_sdk(ready: str, cprofile: str) -> None:
    from a2a.server.request_handlers import DefaultRequestHandler, GrpcHandler
    from a2a.server.tasks import InMemoryTaskStore
    from a2a.types import a2a_pb2_grpc

    import grpc

    # The HTTP benchmark's SDK agent and card, imported by name: mypy would otherwise
    # check sdk_server.py, whose optional backends (SQLAlchemy) have no stubs here.
    sdk_server: Any = importlib.import_module("sdk_server")

    stop = _stop_on_sigterm()
    if cprofile:
        _install_cprofile(cprofile)
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    if not port:
        raise BenchError("the SDK server could not bind a port")
    card = sdk_server.make_card(port)
    del card.supported_interfaces[:]
    card.supported_interfaces.add(
        url=f"127.0.0.1:{port}", protocol_binding="GRPC", protocol_version="1.0"
    )
    handler = DefaultRequestHandler(
        agent_executor=sdk_server.EchoExecutor(),
        task_store=InMemoryTaskStore(),
        agent_card=card,
    )
    add_servicer: Any = a2a_pb2_grpc.add_A2AServiceServicer_to_server  # untyped
    add_servicer(GrpcHandler(handler), server)
    await server.start()
    try:
        _write_ready(ready, port)
        await stop.wait()
    finally:
        await server.stop(1.0)
        await handler.aclose()


async def serve_bare(ready: str, cprofile: str) -> None:
    """The ceiling: ``SendMessage`` answers the same pre-serialized echo task every
    time (read the metadata, return bytes): what grpc.aio alone costs per call."""
    from a2a.types import a2a_pb2

    import grpc

    stop = _stop_on_sigterm()
    if cprofile:
        _install_cprofile(cprofile)
    answer: bytes = a2a_pb2.SendMessageResponse(
        task=a2a_pb2.Task(
            id=str(uuid.uuid4()),
            context_id=str(uuid.uuid4()),
            status=a2a_pb2.TaskStatus(state=a2a_pb2.TASK_STATE_COMPLETED),
            artifacts=[
                a2a_pb2.Artifact(
                    artifact_id=str(uuid.uuid4()),
                    name="echo",
                    parts=[a2a_pb2.Part(text=ECHO_TEXT)],
                )
            ],
        )
    ).SerializeToString()

    async def send_message(
        _request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> bytes:
        context.invocation_metadata()
        return answer

    server = grpc.aio.server()
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(
        send_message
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE_PATH.lstrip("/"), {"SendMessage": handler}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        _write_ready(ready, port)
        await stop.wait()
    finally:
        await server.stop(1.0)


def serve_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grpc_bench.py _serve")
    parser.add_argument("side", choices=(*SIDES, BARE))
    parser.add_argument("--ready", required=True, help="file to write the port to")
    parser.add_argument("--cprofile", default="", help="cProfile stats file")
    args = parser.parse_args(argv)
    serve = {"accord": serve_accord, "sdk": serve_sdk, BARE: serve_bare}[args.side]
    asyncio.run(serve(args.ready, args.cprofile))
    return 0


# --- the load generator (``_load``) -----------------------------------------------------


@dataclass
class Load:
    """What one load-generator run measured (its JSON line)."""

    mode: str
    seconds: float = 0.0
    calls: int = 0  # requests or streams completed in the window
    events: int = 0  # responses / stream messages received in the window
    bad: int = 0
    first_error: str = ""
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0
    server_main_cpu_s: float = 0.0
    core_busy_s: float = 0.0
    client_cpu_s: float = 0.0


class Template:
    """Pre-serialized ``SendMessageRequest`` bytes; each call gets a unique messageId,
    spliced into the bytes (same length, so the protobuf stays valid)."""

    WIDTH = 16

    def __init__(self, text: str) -> None:
        from a2a.types import a2a_pb2

        self.run = uuid.uuid4().hex[:12]
        placeholder = "#" * self.WIDTH
        request = a2a_pb2.SendMessageRequest(
            message=a2a_pb2.Message(
                role=a2a_pb2.ROLE_USER,
                message_id=f"m-{self.run}-{placeholder}",
                parts=[a2a_pb2.Part(text=text)],
            )
        )
        data: bytes = request.SerializeToString()
        head, sep, tail = data.partition(placeholder.encode())
        assert sep, "placeholder not found in the serialized request"
        self.head, self.tail = head, tail
        self.count = 0

    def next(self) -> bytes:
        self.count += 1
        return self.head + b"%016x" % self.count + self.tail


def check_unary(data: bytes, text: str) -> str:
    """'' if ``data`` is a SendMessageResponse with the completed echo task, else why."""
    from a2a.types import a2a_pb2

    response = a2a_pb2.SendMessageResponse.FromString(data)
    if response.WhichOneof("payload") != "task":
        return f"not a task: {response.WhichOneof('payload')}"
    task = response.task
    if task.status.state != a2a_pb2.TASK_STATE_COMPLETED:
        return f"state {task.status.state}"
    if not task.artifacts or task.artifacts[0].parts[0].text != text:
        return "no echoed artifact"
    return ""


def check_stream(kinds: list[str], last: Any, chunks: int) -> str:
    """'' if a stream was the task, its artifact update(s), then COMPLETED."""
    from a2a.types import a2a_pb2

    if not kinds or kinds[0] != "task":
        return f"first event {kinds[:1]}"
    if kinds.count("artifact_update") != chunks:
        return f"{kinds.count('artifact_update')} artifact updates, not {chunks}"
    if (
        kinds[-1] != "status_update"
        or last.status_update.status.state != a2a_pb2.TASK_STATE_COMPLETED
    ):
        return f"last event {kinds[-1]} is not COMPLETED"
    return ""


async def run_load(
    target: str,
    mode: str,
    concurrency: int,
    warmup: float,
    duration: float,
    pid: int,
    chunks: int,
    profile_signals: bool,
) -> Load:
    """Closed loop on one channel: warm up, then measure ``duration`` seconds."""
    from a2a.types import a2a_pb2

    from grpc import aio

    text = ECHO_TEXT if mode != "long" else f"stream:{chunks}"
    expected_chunks = 1 if mode != "long" else chunks
    template = Template(text)
    result = Load(mode=mode)
    measuring = False
    done = False
    t0 = t1 = 0.0

    def fail(why: str) -> None:
        result.bad += 1
        if not result.first_error:
            result.first_error = why

    async with aio.insecure_channel(target) as channel:
        try:
            await asyncio.wait_for(channel.channel_ready(), 15)
        except TimeoutError:
            raise BenchError(f"cannot connect to {target}") from None
        unary: aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            f"{SERVICE_PATH}/SendMessage"
        )
        streaming: aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(
            f"{SERVICE_PATH}/SendStreamingMessage"
        )

        async def unary_worker() -> None:
            while not done:
                start = time.perf_counter()
                try:
                    data = await unary(template.next(), metadata=METADATA)
                except aio.AioRpcError as exc:
                    fail(f"{exc.code().name}: {exc.details()}")
                    continue
                end = time.perf_counter()
                why = check_unary(data, text)
                if why:
                    fail(why)
                elif measuring:
                    result.calls += 1
                    result.events += 1
                    if start >= t0:
                        result.latencies_ms.append((end - start) * 1000)

        async def stream_worker() -> None:
            while not done:
                start = time.perf_counter()
                kinds: list[str] = []
                last: Any = None
                try:
                    call = streaming(template.next(), metadata=METADATA)
                    async for data in call:
                        last = a2a_pb2.StreamResponse.FromString(data)
                        kinds.append(last.WhichOneof("payload") or "")
                        if measuring:
                            result.events += 1
                except aio.AioRpcError as exc:
                    fail(f"{exc.code().name}: {exc.details()}")
                    continue
                end = time.perf_counter()
                why = check_stream(kinds, last, expected_chunks)
                if why:
                    fail(why)
                elif measuring:
                    result.calls += 1
                    if start >= t0:
                        result.latencies_ms.append((end - start) * 1000)

        worker = unary_worker if mode == "unary" else stream_worker
        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        try:
            await asyncio.sleep(warmup)
            if result.bad:
                raise BenchError(f"{target} {mode}: {result.first_error}")
            if profile_signals:
                os.kill(pid, signal.SIGUSR1)
            cpu0, main0 = process_cpu(pid), main_thread_cpu(pid)
            busy0, client0 = core_busy(SERVER_CORE), time.process_time()
            t0 = time.perf_counter()
            measuring = True
            await asyncio.sleep(duration)
            measuring = False
            t1 = time.perf_counter()
            result.server_cpu_s = process_cpu(pid) - cpu0
            result.server_main_cpu_s = main_thread_cpu(pid) - main0
            result.core_busy_s = core_busy(SERVER_CORE) - busy0
            result.client_cpu_s = time.process_time() - client0
            if profile_signals:
                os.kill(pid, signal.SIGUSR2)
            result.seconds = t1 - t0
            done = True
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    # Calls started in the window but ended after it are not counted; calls that
    # ended in it are, whenever they started (steady state: the window is a slice).
    return result


def load_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grpc_bench.py _load")
    parser.add_argument("--target", required=True)
    parser.add_argument("--mode", choices=MEASURES, required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--pid", type=int, required=True, help="the server's pid")
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--profile-signals", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(
            run_load(
                args.target,
                args.mode,
                args.concurrency,
                args.warmup,
                args.duration,
                args.pid,
                args.chunks,
                args.profile_signals,
            )
        )
    except BenchError as exc:
        print(f"load generator: {exc}", file=sys.stderr)
        return 1
    print("LOAD_JSON " + json.dumps(asdict(result)), flush=True)
    return 0


# --- the driver: processes --------------------------------------------------------------


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


class Server:
    """One gRPC server process on the server core, on a port it picked; always stopped."""

    def __init__(self, side: str, workdir: Path, *, cprofile: str = "") -> None:
        self.side = side
        tag = uuid.uuid4().hex[:8]
        self.ready = workdir / f"{side}-{tag}.port"
        self.log_path = workdir / f"{side}-{tag}.log"
        cmd = [sys.executable, str(Path(__file__).resolve()), "_serve", side]
        cmd += ["--ready", str(self.ready)]
        if cprofile:
            cmd += ["--cprofile", cprofile]
        self.cmd = pinned(SERVER_CORE, cmd)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        """The server's pid (taskset execs it, so it is the child's)."""
        assert self.proc is not None
        return self.proc.pid

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=pin_preexec(SERVER_CORE),
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
                raise BenchError(
                    f"the {LABELS[self.side]} gRPC server exited with status "
                    f"{self.proc.returncode} before it listened; its output:\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            if self.ready.exists():
                self.port = int(self.ready.read_text())
                return
            time.sleep(0.05)
        raise BenchError(
            f"the {LABELS[self.side]} gRPC server did not listen within {timeout:.0f} s; "
            "its output:\n" + self.log_path.read_text(errors="replace")[-3000:]
        )

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]


@dataclass(frozen=True)
class Settings:
    """How long and how hard each measure runs."""

    quick: bool
    rounds: int
    duration: float
    warmup: float
    concurrency: int
    chunks: int
    only: tuple[str, ...]
    ceiling: bool
    profile: bool
    profile_seconds: float


def drive(
    server: Server, settings: Settings, mode: str, *, profile: bool = False
) -> Load:
    """One load-generator process against ``server``; its measurement."""
    duration = settings.profile_seconds if profile else settings.duration
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_load",
        "--target",
        server.target,
        "--mode",
        mode,
        "--concurrency",
        str(1 if mode == "long" else settings.concurrency),
        "--warmup",
        str(settings.warmup),
        "--duration",
        str(duration),
        "--pid",
        str(server.pid),
        "--chunks",
        str(settings.chunks),
    ]
    if profile:
        cmd.append("--profile-signals")
    proc = subprocess.Popen(
        pinned(LOAD_CORE, cmd),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=pin_preexec(LOAD_CORE),
    )
    try:
        out, err = proc.communicate(timeout=settings.warmup + duration + 120)
    except subprocess.TimeoutExpired:
        raise BenchError(f"the load generator ({mode}) did not finish") from None
    finally:
        kill_group(proc, grace=2)
    for line in out.splitlines():
        if line.startswith("LOAD_JSON "):
            return Load(**json.loads(line[len("LOAD_JSON ") :]))
    raise BenchError(
        f"the load generator failed against the {LABELS[server.side]} server "
        f"({mode}, exit {proc.returncode}):\n{err[-2000:]}\n"
        f"server output:\n{server.log_tail()}"
    )


# --- the driver: measures ---------------------------------------------------------------


@dataclass
class Run:
    """One measured window of one side (derived from a :class:`Load`)."""

    rate: float  # calls/s (requests or streams; for long: events/s)
    events_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_per_1000: float  # server CPU seconds per 1,000 calls (long: events)
    per_cpu: float  # calls (long: events) per server CPU-second
    main_share: float  # share of the server's CPU in its main thread
    server_util: float
    others_util: float
    client_util: float
    calls: int
    events: int
    bad: int
    first_error: str

    @classmethod
    def of(cls, load: Load) -> Run:
        s = load.seconds or float("nan")
        units = load.events if load.mode == "long" else load.calls
        lat = sorted(load.latencies_ms)

        def pct(p: float) -> float:
            if not lat:
                return float("nan")
            return lat[min(len(lat) - 1, round(p * (len(lat) - 1)))]

        return cls(
            rate=units / s,
            events_per_s=load.events / s,
            p50_ms=pct(0.50),
            p99_ms=pct(0.99),
            cpu_per_1000=1000 * load.server_cpu_s / units if units else float("nan"),
            per_cpu=units / load.server_cpu_s if load.server_cpu_s else float("nan"),
            main_share=load.server_main_cpu_s / load.server_cpu_s
            if load.server_cpu_s
            else float("nan"),
            server_util=load.server_cpu_s / s,
            others_util=max(0.0, load.core_busy_s - load.server_cpu_s) / s,
            client_util=load.client_cpu_s / s,
            calls=load.calls,
            events=load.events,
            bad=load.bad,
            first_error=load.first_error,
        )


@dataclass
class Measure:
    """The rounds of one measure, per side."""

    name: str
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def median(self, side: str, attr: str) -> float:
        values = [getattr(r, attr) for r in self.runs.get(side, [])]
        values = [v for v in values if v == v]
        return statistics.median(values) if values else float("nan")

    def paired(self, attr: str) -> float:
        """Median over rounds of Accord / SDK within each round (the two ran back to
        back, so a slow phase of the machine hits both sides of a pair alike)."""
        ratios = [
            getattr(a, attr) / getattr(b, attr)
            for a, b in zip(
                self.runs.get("accord", []), self.runs.get("sdk", []), strict=False
            )
            if getattr(b, attr) and getattr(a, attr) == getattr(a, attr)
        ]
        return statistics.median(ratios) if ratios else float("nan")

    def bad(self, side: str) -> int:
        return sum(r.bad for r in self.runs.get(side, []))


def round_order(i: int) -> tuple[str, ...]:
    """Alternate the order every round so neither side always goes first."""
    return SIDES if i % 2 == 0 else tuple(reversed(SIDES))


def describe(name: str, side: str, i: int, r: Run) -> str:
    unit = {"unary": "req/s", "stream": "streams/s", "long": "events/s"}[name]
    text = (
        f"{name}: round {i + 1} {LABELS[side]}: {r.rate:,.0f} {unit}"
        + (f" ({r.events_per_s:,.0f} events/s)" if name == "stream" else "")
        + (f", p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms" if name != "long" else "")
        + f", {r.cpu_per_1000:.3f} CPU-s/1000, main thread {r.main_share:.0%}, "
        f"server on CPU {r.server_util:.0%}, others on its core {r.others_util:.0%}, "
        f"load generator {r.client_util:.0%}"
    )
    if r.bad:
        text += f", {r.bad} bad ({r.first_error})"
    return text


def measure(settings: Settings, workdir: Path) -> dict[str, Measure]:
    """Alternating rounds, fresh servers per round, every measure in each round."""
    results = {name: Measure(name) for name in settings.only}
    ceiling = settings.ceiling and "unary" in settings.only
    for i in range(settings.rounds):
        with contextlib.ExitStack() as stack:
            sides = (*SIDES, BARE) if ceiling else SIDES
            servers = {
                side: stack.enter_context(Server(side, workdir)) for side in sides
            }
            for name in settings.only:
                order = round_order(i)
                if ceiling and name == "unary":
                    order = (*order, BARE)
                for side in order:
                    run = Run.of(drive(servers[side], settings, name))
                    results[name].runs.setdefault(side, []).append(run)
                    log(describe(name, side, i, run))
                    if run.bad:
                        raise BenchError(
                            f"{LABELS[side]} answered {run.bad} {name} calls wrongly: "
                            f"{run.first_error}"
                        )
    return results


# --- the driver: profile ----------------------------------------------------------------


@dataclass
class ProfileResult:
    requests: int
    seconds: float
    rps: float
    server_cpu_s: float
    main_share: float
    top: list[list[str]]
    key: list[list[str]]
    stats_path: str


#: Functions whose inclusive time the report gives: (label, file suffix, function).
KEY_FUNCTIONS = (
    ("GrpcServer handle (the whole unary call)", "accord/grpc/server.py", "handle"),
    ("  GrpcServer._dispatch", "accord/grpc/server.py", "_dispatch"),
    (
        "    _request_info (metadata, peer, TLS)",
        "accord/grpc/server.py",
        "_request_info",
    ),
    ("    Engine.authenticate", "accord/server/engine.py", "authenticate"),
    (
        "    decode_request (bytes -> Accord)",
        "accord/grpc/messages.py",
        "decode_request",
    ),
    (
        "      json_format.MessageToDict",
        "google/protobuf/json_format.py",
        "MessageToDict",
    ),
    ("    Engine.dispatch", "accord/server/engine.py", "dispatch"),
    ("  to_proto (Accord -> proto)", "accord/grpc/messages.py", "to_proto"),
    ("    types.to_builtins", "accord/types", "to_builtins"),
    ("    json_format.ParseDict", "google/protobuf/json_format.py", "ParseDict"),
    ("Runtime._run (the execution, incl. agent)", "accord/server/runtime.py", "_run"),
    ("the echo agent", "bench/accord_server.py", "echo"),
)


def measure_profile(settings: Settings, workdir: Path, outdir: Path) -> ProfileResult:
    """Accord under the unary load with cProfile on for the window."""
    import pstats

    stats_path = outdir / "grpc-profile.pstats"
    stats_path.unlink(missing_ok=True)
    with Server("accord", workdir, cprofile=str(stats_path)) as server:
        load = drive(server, settings, "unary", profile=True)
        deadline = time.monotonic() + 30
        while not stats_path.exists():
            if time.monotonic() > deadline:
                raise BenchError("the profiled server wrote no stats")
            time.sleep(0.05)
    stats = pstats.Stats(str(stats_path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in raw.values()) or 1.0
    requests = max(load.calls, 1)

    def where(key: tuple[str, int, str]) -> str:
        file, line, func = key
        for marker in ("site-packages/", "/src/", "/bench/", "/lib/python"):
            if marker in file:
                file = file.split(marker, 1)[1]
                break
        return f"{func} ({file}:{line})" if line else func

    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:20]
    top_rows = [
        [
            where(key),
            f"{nc / requests:.1f}",
            f"{tt / requests * 1e6:.1f}",
            f"{100 * tt / total:.1f} %",
        ]
        for key, (_cc, nc, tt, _ct, _callers) in top
    ]
    key_rows = []
    for label, suffix, func in KEY_FUNCTIONS:
        calls, cum = 0, 0.0
        for (file, _line, name), (_cc, nc, _tt, ct, _callers) in raw.items():
            if name == func and suffix in file.replace(os.sep, "/"):
                calls += nc
                cum = max(cum, ct) if func == "handle" else cum + ct
        if calls:
            key_rows.append(
                [
                    label,
                    f"{calls / requests:.1f}",
                    f"{cum / requests * 1e6:.0f}",
                    f"{100 * cum / total:.0f} %",
                ]
            )
    log(
        f"profile: {load.calls:,} requests in {load.seconds:.1f} s under cProfile, "
        f"{load.server_cpu_s:.2f} CPU-s"
    )
    return ProfileResult(
        requests=load.calls,
        seconds=load.seconds,
        rps=load.calls / load.seconds if load.seconds else 0.0,
        server_cpu_s=load.server_cpu_s,
        main_share=load.server_main_cpu_s / load.server_cpu_s
        if load.server_cpu_s
        else 0.0,
        top=top_rows,
        key=key_rows,
        stats_path=str(stats_path.relative_to(REPO)),
    )


# --- the report -------------------------------------------------------------------------


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine(settings: Settings) -> dict[str, str]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "CPU": cpu_model(),
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "accord": version_of("accord"),
        "a2a-sdk": version_of("a2a-sdk"),
        "grpcio": version_of("grpcio"),
        "protobuf": version_of("protobuf"),
        "pinning": (
            f"servers on core {SERVER_CORE}, load generator on core {LOAD_CORE}"
            + (" (taskset)" if TASKSET else " (sched_setaffinity)")
            if PINNING
            else "none (fewer than 2 usable cores)"
        ),
        "load": (
            f"grpc.aio, one channel, {settings.concurrency} calls in flight "
            f"(long streams: 1), {settings.rounds} rounds x {settings.duration:g} s "
            f"per side after {settings.warmup:g} s of warm-up"
        ),
        "loadavg at start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (also readable as plain text)."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        padded = (c.ljust(w) for c, w in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def _num(value: float, digits: int = 0) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def _ratio(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}"


#: (measure, attribute, label, digits, "higher" or "lower" is better)
SUMMARY = (
    ("unary", "rate", "SendMessage: requests/s", 0, "higher"),
    ("unary", "p50_ms", "SendMessage: p50 latency (ms)", 1, "lower"),
    ("unary", "p99_ms", "SendMessage: p99 latency (ms)", 1, "lower"),
    (
        "unary",
        "cpu_per_1000",
        "SendMessage: server CPU-s per 1,000 requests",
        3,
        "lower",
    ),
    ("stream", "rate", "SendStreamingMessage (echo): streams/s", 0, "higher"),
    ("stream", "events_per_s", "SendStreamingMessage (echo): events/s", 0, "higher"),
    ("stream", "p50_ms", "SendStreamingMessage (echo): p50 stream (ms)", 1, "lower"),
    ("stream", "p99_ms", "SendStreamingMessage (echo): p99 stream (ms)", 1, "lower"),
    (
        "stream",
        "cpu_per_1000",
        "SendStreamingMessage (echo): server CPU-s per 1,000 streams",
        3,
        "lower",
    ),
    ("long", "rate", "long stream: events/s", 0, "higher"),
    ("long", "cpu_per_1000", "long stream: server CPU-s per 1,000 events", 3, "lower"),
)


def summary_rows(results: dict[str, Measure]) -> list[list[str]]:
    rows = []
    for name, attr, label, digits, better in SUMMARY:
        m = results.get(name)
        if m is None:
            continue
        rows.append(
            [
                label,
                _num(m.median("accord", attr), digits),
                _num(m.median("sdk", attr), digits),
                _ratio(m.paired(attr)),
                better,
            ]
        )
    unary = results.get("unary")
    if unary is not None and unary.runs.get(BARE):
        rows.append(
            [
                "ceiling, bare grpc.aio (fixed answer): requests/s",
                _num(unary.median(BARE, "rate")),
                "",
                "",
                "",
            ]
        )
        rows.append(
            [
                "ceiling, bare grpc.aio: server CPU-s per 1,000 requests",
                _num(unary.median(BARE, "cpu_per_1000"), 3),
                "",
                "",
                "",
            ]
        )
    return rows


SUMMARY_HEADERS = ["measure", "Accord", "a2a-sdk", "Accord / SDK", "better"]


def round_rows(results: dict[str, Measure]) -> list[list[str]]:
    rows = []
    for name, m in results.items():
        for side, runs in m.runs.items():
            rows.append(
                [
                    name,
                    LABELS[side],
                    ", ".join(_num(r.rate) for r in runs),
                    ", ".join(_num(r.p99_ms, 1) for r in runs)
                    if name != "long"
                    else "",
                    ", ".join(_num(r.cpu_per_1000, 3) for r in runs),
                    ", ".join(f"{r.main_share:.0%}" for r in runs),
                    ", ".join(f"{r.server_util:.0%}" for r in runs),
                    ", ".join(f"{r.others_util:.0%}" for r in runs),
                    ", ".join(f"{r.client_util:.0%}" for r in runs),
                    str(m.bad(side)),
                ]
            )
    return rows


def render(
    settings: Settings,
    info: dict[str, str],
    results: dict[str, Measure],
    profile: ProfileResult | None,
    elapsed: float,
    analysis: str,
) -> str:
    out = [
        "# Accord vs a2a-sdk over gRPC: benchmark results",
        "",
        f"Generated by `python bench/grpc_bench.py{' --quick' if settings.quick else ''}"
        f"{' --profile' if settings.profile else ''}` "
        f"({'quick' if settings.quick else 'full'} run, {elapsed / 60:.1f} min). "
        "See `bench/README.md` (section gRPC) and the script's docstring for what each "
        "measure means.",
        "",
        "## Machine",
        "",
        table(["", ""], [[k, v] for k, v in info.items()]),
        "",
        "## Summary",
        "",
        table(SUMMARY_HEADERS, summary_rows(results)),
        "",
        "`Accord` and `a2a-sdk` are each side's median over the rounds; `Accord / SDK` "
        "is the median of the ratios within each round (the two sides ran back to back "
        "in a round, so a slow phase of the machine hits both). `better` says which "
        "direction is good: a ratio above 1 on a `higher` row, or below 1 on a `lower` "
        "row, is Accord ahead. Events of an echo stream: the task, the artifact update "
        "and the COMPLETED status update (3). The long stream: the task, "
        f"{settings.chunks:,} artifact chunks, COMPLETED. The ceiling rows: a bare "
        "grpc.aio server (same core, same load) that returns a fixed pre-serialized "
        "echo task: the cost of gRPC in Python alone, which neither side can go below.",
        "",
        "## Every round",
        "",
        table(
            [
                "measure",
                "server",
                "rate (req/s, streams/s, events/s)",
                "p99 ms",
                "CPU-s per 1,000",
                "main thread share",
                "server on CPU",
                "others on core 0",
                "load generator on CPU",
                "bad",
            ],
            round_rows(results),
        ),
        "",
        "`main thread share`: the share of the server's CPU time spent in its main "
        "thread, where the event loop runs all the Python code (grpc.aio, the A2A "
        "layers, the agent); the rest is gRPC's C-core threads (HTTP/2, polling). "
        "`others on core 0`: the share of the server's core taken by other processes. "
        "`load generator on CPU`: when it nears 100 %, the client, not the server, "
        "bounds the rate.",
        "",
    ]
    if profile is not None:
        out += [
            "## Profile: Accord, blocking SendMessage (cProfile on the main thread's CPU clock)",
            "",
            f"{profile.requests:,} requests in {profile.seconds:.1f} s under cProfile "
            f"({profile.rps:,.0f} req/s: cProfile slows every Python call), "
            f"{profile.server_cpu_s:.2f} CPU-s of the server, "
            f"{profile.main_share:.0%} of it in the main thread. Stats: "
            f"`{profile.stats_path}` (`python -m pstats`).",
            "",
            "Inclusive time of key functions (µs per request, under cProfile):",
            "",
            table(
                ["function", "calls per request", "µs per request", "share"],
                profile.key,
            ),
            "",
            "Top 20 functions by self time:",
            "",
            table(
                ["function", "calls per request", "µs per request", "share"],
                profile.top,
            ),
            "",
        ]
    out += [
        "## Analysis (written by hand, kept across runs)",
        "",
        ANALYSIS_BEGIN,
        analysis.strip() or "(none yet)",
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


# --- main -------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="grpc_bench.py",
        description="Accord's gRPC server vs the a2a-sdk's (see the module docstring).",
    )
    parser.add_argument("--quick", action="store_true", help="a ~1 minute run")
    parser.add_argument("--rounds", type=int, default=0, help="full 5, quick 3")
    parser.add_argument(
        "--duration", type=float, default=0, help="seconds measured per side (4; 2)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    parser.add_argument(
        "--chunks", type=int, default=2000, help="artifact chunks of the long stream"
    )
    parser.add_argument(
        "--only", default=",".join(MEASURES), help=f"subset of {','.join(MEASURES)}"
    )
    parser.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip the bare grpc.aio server of the unary measure",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile Accord under the unary load (cProfile)",
    )
    parser.add_argument(
        "--results", type=Path, default=BENCH / "RESULTS-grpc.md", help="report file"
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the servers are stopped."""

    def handler(_signum: int, _frame: object) -> None:
        raise SystemExit(143)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_serve"]:
        return serve_main(argv[1:])
    if argv[:1] == ["_load"]:
        return load_main(argv[1:])
    args = parse_args(argv)
    only = tuple(m for m in MEASURES if m in {x.strip() for x in args.only.split(",")})
    unknown = {x.strip() for x in args.only.split(",") if x.strip()} - set(MEASURES)
    if unknown or not only:
        print(f"grpc_bench: --only takes {', '.join(MEASURES)}", file=sys.stderr)
        return 2
    settings = Settings(
        quick=args.quick,
        rounds=args.rounds or (3 if args.quick else 5),
        duration=args.duration or (2.0 if args.quick else 4.0),
        warmup=args.warmup,
        concurrency=args.concurrency,
        chunks=args.chunks,
        only=only,
        ceiling=not args.no_ceiling,
        profile=args.profile,
        profile_seconds=3.0 if args.quick else 8.0,
    )
    if PINNING:
        os.sched_setaffinity(0, {LOAD_CORE})
    else:
        log("fewer than 2 usable cores: servers and load share the CPU")
    outdir = BENCH / "out"
    outdir.mkdir(exist_ok=True)
    info = machine(settings)
    started = time.perf_counter()
    profile = None
    try:
        with (
            sigterm_as_exit(),
            tempfile.TemporaryDirectory(prefix="grpc-bench-") as tmp,
        ):
            results = measure(settings, Path(tmp))
            if settings.profile:
                log("profile: starting")
                profile = measure_profile(settings, Path(tmp), outdir)
    except BenchError as exc:
        print(f"grpc_bench: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    text = render(
        settings, info, results, profile, elapsed, previous_analysis(args.results)
    )
    args.results.write_text(text)
    print()
    print(table(SUMMARY_HEADERS, summary_rows(results)))
    print()
    print(f"Written: {args.results} ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
