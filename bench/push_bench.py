"""Push notification delivery, Accord vs the a2a-sdk: ``python bench/push_bench.py``.

The same agent on both sides: each task writes three events, WORKING (with a status
message), one text artifact, COMPLETED (with a status message), and each of the three
texts carries the agent's ``time.monotonic()`` taken just before its write call
(CLOCK_MONOTONIC is one clock for every process of the machine). With the task itself
(SUBMITTED, written when the request creates it) a task makes 4 notifications.

* **Accord** (``accord-memory``, ``accord-sqlite``): ``A2AApp(agent, store=
  MemoryTaskStore() | SQLiteTaskStore(file), push=PushSettings(egress=EgressPolicy(
  allow=("127.0.0.1",))))``, the agent declaring ``push_notifications=True``, with
  ``tune_gc()`` (as ``bench/accord_server.py``). Delivery is asynchronous from the
  durable outbox (:mod:`accord.server.push.delivery`): every event of the task's log is
  POSTed to the webhook, in order, the config's position advanced after each 2xx, with
  retries; ``PushSettings`` as shipped (16 webhooks delivered at once).
* **a2a-sdk** (``sdk-memory``): ``DefaultRequestHandler(executor, InMemoryTaskStore(),
  card, push_config_store=InMemoryPushNotificationConfigStore(), push_sender=
  BasePushNotificationSender(httpx.AsyncClient(), config_store))`` on the routes of
  ``bench/sdk_server.py`` (card: ``pushNotifications: true``). The SDK POSTs each
  event from the loop that consumes the agent's events, once, best effort (no retry, no
  outbox: nothing durable to put on SQLite).

Every server is uvicorn (``bench/_common.py``'s settings), pinned to core 0.

The **receiver** is the same for both: a raw asyncio HTTP/1.1 server (one process)
answering ``200`` with an empty body at once, noting for each POST the time its last
byte was read, the key of the task and the agent's timestamp (parsed out of the body),
the token header and ``Accord-Notification-Id`` (the SDK sends no id). When the
COMPLETED notification of a task arrives it sends the task's key in a datagram (Unix
socket) to the load generator.

The **load generator** (one process) keeps ``--concurrency`` tasks in the system: each
of its connections sends ``SendMessage`` (JSON-RPC, ``A2A-Version: 1.0``) with the
webhook inline (``configuration.taskPushNotificationConfig: {url, token}``) and
``returnImmediately: true``, reads the answer, then waits for that task's COMPLETED
notification to reach the receiver before it sends the next task. The slot is freed by
the delivery, not by the answer, so neither side can pile up an undelivered backlog and
both are measured on the same thing: tasks *delivered*. ``returnImmediately`` is what a
caller that asks for push does (it does not hold the request open); with it the SDK
answers after delivering the first notification and delivers the rest in the
background, Accord answers once the task is stored and delivers everything from the
outbox. ``--blocking`` sends blocking requests instead (the SDK then delivers all four
notifications before it answers).

Measures, per side, fresh servers and a fresh receiver every time:

* ``throughput``: ``--concurrency`` tasks in flight for ``--duration`` s after 1 s of
  warm-up: notifications that arrived in the window per second, the latency from the
  agent's write to the arrival (p50, p99, over the three timestamped events), the
  task's round trip (send -> COMPLETED arrived), the server's CPU seconds per 1,000
  notifications (``/proc/<pid>/stat``), and whether every event of every task sent in
  the whole run (warm-up included) arrived: missing and duplicate notifications;
* ``latency``: one task at a time (the next one 10 ms after the COMPLETED of the last
  arrived), so the numbers are not queueing: p50 and p99 of write -> arrival.

Rounds rotate the order of the three setups (Accord memory, Accord SQLite, SDK, then
the reverse, ...); the report gives medians and, as ratios, the medians of the
per-round ratios Accord / SDK. The receiver and the load generator share core 1 (the
machine has two): the report shows how busy that core was.

``--profile``: one more Accord (memory) and one more SDK server under the throughput
load, sampled by ``bench/sampler.py`` (CPU time of the event loop's thread) for the
window: self time by component and inclusive time of key functions, in µs per
notification, in the report; the stacks in ``bench/out/push-profile-SETUP.txt``.

Options: ``--quick`` (~1 min), ``--rounds``, ``--duration``, ``--concurrency``,
``--only throughput,latency``, ``--blocking``, ``--stack``, ``--profile``,
``--push-concurrency`` (Accord's ``PushSettings.concurrency``, a diagnostic),
``--results``. Writes ``bench/RESULTS-push.md`` (keeping its hand-written analysis
section) and prints the summary. Internal modes: ``_serve``, ``_receive``, ``_load``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import importlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench as harness
import grpc_bench as gb
import profile_report
from _common import serve
from _latency import percentile_line

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from a2a.server.events import EventQueue

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SETUPS = ("accord-memory", "accord-sqlite", "sdk-memory")
SDK = "sdk-memory"
LABELS = {
    "accord-memory": "Accord, memory",
    "accord-sqlite": "Accord, SQLite",
    "sdk-memory": "a2a-sdk, memory",
}
MEASURES = ("throughput", "latency")
SERVER_CORE = harness.SERVER_CORE
LOAD_CORE = harness.LOAD_CORE  # the receiver and the load generator
PINNING = harness.PINNING
TASKSET = harness.TASKSET
EVENTS_PER_TASK = 4  # the task (SUBMITTED), WORKING, the artifact, COMPLETED
COMPLETED_EVENT = 3
TOKEN = "bench-push-token"
KEY_PREFIX = "push:"
# "push:<key>" alone (the task's history) or "push:<key> e=<n> t=<monotonic>".
MARK = re.compile(rb"push:([0-9a-z]+)(?: e=(\d) t=(\d+\.\d+))?")
OK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
LATENCY_PAUSE = 0.01  # seconds between tasks of the latency measure
TASK_TIMEOUT = 20.0  # seconds a task may take from send to its COMPLETED arriving
ANALYSIS_BEGIN = gb.ANALYSIS_BEGIN
ANALYSIS_END = gb.ANALYSIS_END

log_prefix = "push-bench"


def log(text: str) -> None:
    """Progress line on stderr (the table goes to stdout)."""
    print(
        f"[{log_prefix} {time.strftime('%H:%M:%S')}] {text}",
        file=sys.stderr,
        flush=True,
    )


def stamp(text: str, event: int) -> str:
    """The text of the agent's event ``event``: the task's key and the time now."""
    return f"{text} e={event} t={time.monotonic():.6f}"


# --- the servers (``_serve SETUP``) -----------------------------------------------------


def accord_app(store_kind: str, db: str, concurrency: int) -> Any:
    from accord.egress import EgressPolicy
    from accord.server import A2AApp, Agent, PushSettings, TaskContext
    from accord.server.tuning import tune_gc
    from accord.stores import MemoryTaskStore, SQLiteTaskStore, TaskStore
    from accord.types import AgentSkill

    agent = Agent(
        name="Pusher",
        description="Works, writes an artifact, completes (push benchmark agent)",
        skills=[
            AgentSkill(
                id="push", name="Push", description="Three events", tags=("bench",)
            )
        ],
        push_notifications=True,
    )

    @agent.executor
    async def work(ctx: TaskContext) -> None:
        text = ctx.text
        await ctx.working(stamp(text, 1))
        await ctx.add_artifact(stamp(text, 2), name="result")
        await ctx.complete(stamp(text, 3))

    store: TaskStore = (
        SQLiteTaskStore(db) if store_kind == "sqlite" else MemoryTaskStore()
    )
    app = A2AApp(
        agent,
        store=store,
        push=PushSettings(
            egress=EgressPolicy(allow=("127.0.0.1",)),
            **({"concurrency": concurrency} if concurrency else {}),
        ),
    )
    tune_gc()  # what `accord serve` does once the app is built (bench/accord_server.py)
    return app


def sdk_app(port: int) -> Any:
    import httpx
    from a2a.helpers import new_task_from_user_message, new_text_part
    from a2a.server.agent_execution import AgentExecutor, RequestContext
    from a2a.server.request_handlers import DefaultRequestHandler
    from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
    from a2a.server.tasks import (
        BasePushNotificationSender,
        InMemoryPushNotificationConfigStore,
        InMemoryTaskStore,
        TaskUpdater,
    )
    from starlette.applications import Starlette

    # The HTTP benchmark's card, imported by name (as bench/grpc_bench.py does).
    sdk_server: Any = importlib.import_module("sdk_server")

    class PushExecutor(AgentExecutor):
        """The task, WORKING, one artifact, COMPLETED, each stamped."""

        async def execute(
            self, context: RequestContext, event_queue: EventQueue
        ) -> None:
            message = context.message
            assert message is not None
            text = context.get_user_input()
            task = context.current_task or new_task_from_user_message(message)
            await event_queue.enqueue_event(task)
            updater = TaskUpdater(event_queue, task.id, task.context_id)
            await updater.start_work(
                updater.new_agent_message([new_text_part(stamp(text, 1))])
            )
            await updater.add_artifact([new_text_part(stamp(text, 2))], name="result")
            await updater.complete(
                updater.new_agent_message([new_text_part(stamp(text, 3))])
            )

        async def cancel(
            self, context: RequestContext, event_queue: EventQueue
        ) -> None:
            # The benchmark never cancels; the SDK's interface asks for it anyway.
            task_id, context_id = context.task_id, context.context_id
            assert task_id is not None
            assert context_id is not None
            await TaskUpdater(event_queue, task_id, context_id).cancel()

    card = sdk_server.make_card(port)
    card.capabilities.push_notifications = True
    client = httpx.AsyncClient()
    configs = InMemoryPushNotificationConfigStore()
    handler = DefaultRequestHandler(
        agent_executor=PushExecutor(),
        task_store=InMemoryTaskStore(),
        agent_card=card,
        push_config_store=configs,
        push_sender=BasePushNotificationSender(client, configs),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await handler.aclose()
            await client.aclose()

    routes = [*create_jsonrpc_routes(handler, "/"), *create_agent_card_routes(card)]
    return Starlette(routes=routes, lifespan=lifespan)


def serve_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="push_bench.py _serve")
    parser.add_argument("setup", choices=SETUPS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", default="")
    parser.add_argument("--push-concurrency", type=int, default=0)
    parser.add_argument("--http", default="httptools")
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument(
        "--sample", default="", help="bench/sampler.py's profile file (SIGUSR1/2)"
    )
    args = parser.parse_args(argv)
    side, _, store = args.setup.partition("-")
    if side == "accord":
        app = accord_app(store, args.db, args.push_concurrency)
    else:
        app = sdk_app(args.port)
    serve(app, args)  # bench/_common.py: uvicorn as every bench server, --sample
    return 0


# --- the receiver (``_receive``) --------------------------------------------------------


class Receiver:
    """What the webhook saw: one record per POST, and the counters."""

    def __init__(self, notify: str) -> None:
        self.records: list[tuple[str, int, float, float, str]] = []
        self.connections = 0
        self.bad = 0
        self.bad_token = 0
        self.first_bad = ""
        self.notify_path = notify
        self.notify_errors = 0
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.setblocking(False)

    def note(self, head: bytes, body: bytes, arrived: float) -> None:
        match = MARK.search(body)
        if match is None:
            self.bad += 1
            self.first_bad = self.first_bad or body[:200].decode(errors="replace")
            return
        if f"\r\nx-a2a-notification-token: {TOKEN}\r\n".encode() not in head + b"\r\n":
            self.bad_token += 1
        key = match.group(1).decode()
        event = int(match.group(2)) if match.group(2) else 0
        written = float(match.group(3)) if match.group(3) else 0.0
        nid = ""
        start = head.find(b"\r\naccord-notification-id:")
        if start >= 0:
            end = head.find(b"\r\n", start + 2)
            nid = head[start + 25 : end if end >= 0 else None].strip().decode()
        self.records.append((key, event, written, arrived, nid))
        if event == COMPLETED_EVENT:
            try:
                self.notify.sendto(match.group(1), self.notify_path)
            except OSError:
                self.notify_errors += 1

    def dump(self) -> bytes:
        return json.dumps(
            {
                "records": self.records,
                "connections": self.connections,
                "bad": self.bad,
                "bad_token": self.bad_token,
                "first_bad": self.first_bad,
                "notify_errors": self.notify_errors,
            }
        ).encode()


class HookProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies: what both senders send."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's: duck-typed
        self.receiver.connections += 1

    def data_received(self, data: bytes) -> None:
        arrived = time.monotonic()
        buffer = self.buffer
        buffer += data
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(buffer[:end]).lower()
            length = 0
            start = head.find(b"\r\ncontent-length:")
            if start >= 0:
                stop = head.find(b"\r\n", start + 2)
                length = int(head[start + 17 : stop if stop >= 0 else None])
            elif b"\r\ntransfer-encoding:" in head:
                self.receiver.bad += 1
                self.receiver.first_bad = "a chunked request body"
                assert self.transport is not None
                self.transport.close()
                return
            if len(buffer) < end + 4 + length:
                return
            body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            assert self.transport is not None
            if head.startswith(b"get /records"):
                payload = self.receiver.dump()
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(payload) + payload
                )
                continue
            self.transport.write(OK_ANSWER)
            self.receiver.note(head, body, arrived)


async def receive(ready: str, notify: str) -> None:
    receiver = Receiver(notify)
    loop = asyncio.get_running_loop()
    stop = gb._stop_on_sigterm()
    server = await loop.create_server(
        lambda: HookProtocol(receiver), "127.0.0.1", 0, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    gb._write_ready(ready, port)
    async with server:
        await stop.wait()


def receive_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="push_bench.py _receive")
    parser.add_argument("--ready", required=True)
    parser.add_argument("--notify", required=True, help="the load generator's socket")
    args = parser.parse_args(argv)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(receive(args.ready, args.notify))
    return 0


# --- the load generator (``_load``) -----------------------------------------------------


@dataclass
class Load:
    """What one load-generator run measured (its JSON line)."""

    setup: str
    seconds: float = 0.0
    notifications: int = 0  # arrivals at the receiver in the window
    tasks_done: int = 0  # tasks whose COMPLETED arrived in the window
    latencies_ms: list[float] = field(default_factory=list)  # write -> arrival
    #: Per event: send -> the task's notification; write -> arrival of the others.
    by_event_ms: list[list[float]] = field(default_factory=lambda: [[], [], [], []])
    round_trips_ms: list[float] = field(default_factory=list)  # send -> COMPLETED
    answer_ms: list[float] = field(default_factory=list)  # send -> answer
    tasks_sent: int = 0  # whole run, warm-up included
    expected: int = 0  # notifications of those tasks
    missing: int = 0
    duplicates: int = 0
    duplicate_ids: int = 0  # Accord: records - distinct Accord-Notification-Id
    unknown: int = 0  # notifications of tasks this run did not send
    timeouts: int = 0  # tasks whose COMPLETED did not arrive in TASK_TIMEOUT
    bad: int = 0  # bad answers and unreadable notifications
    bad_token: int = 0
    first_error: str = ""
    connections: int = 0  # connections the receiver accepted (whole run)
    server_cpu_s: float = 0.0
    receiver_cpu_s: float = 0.0
    load_cpu_s: float = 0.0
    core0_busy_s: float = 0.0
    core1_busy_s: float = 0.0


class Completions:
    """The receiver's datagrams (a Unix socket bound at ``path``): the keys of tasks
    whose COMPLETED notification arrived."""

    def __init__(self, path: str) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)

    def _read(self) -> None:
        now = time.monotonic()
        while True:
            try:
                data = self.sock.recv(256)
            except BlockingIOError:
                return
            future = self.waiting.pop(data.decode(), None)
            if future is not None and not future.done():
                future.set_result(now)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of one HTTP/1.1 answer (Content-Length framed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    start = lower.find(b"\r\ncontent-length:")
    if start < 0:
        raise ValueError(f"an answer without Content-Length: {head[:200]!r}")
    stop = lower.find(b"\r\n", start + 2)
    body = await reader.readexactly(int(lower[start + 17 : stop]))
    return status, body


async def fetch_records(port: int) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /records HTTP/1.1\r\nHost: r\r\nContent-Length: 0\r\n\r\n")
        status, body = await read_answer(reader)
        if status != 200:
            raise gb.BenchError(f"the receiver answered {status}")
        result: dict[str, Any] = json.loads(body)
        return result
    finally:
        writer.close()


async def run_load(args: argparse.Namespace) -> Load:
    """``args.concurrency`` tasks in the system; see the module docstring."""
    loop = asyncio.get_running_loop()
    result = Load(setup=args.setup)
    run = uuid.uuid4().hex[:10]
    hook = f"http://127.0.0.1:{args.receiver_port}/hook"
    config = {"url": hook, "token": TOKEN}
    configuration: dict[str, Any] = {"taskPushNotificationConfig": config}
    if not args.blocking:
        configuration["returnImmediately"] = True
    completions = Completions(args.notify)
    sent: dict[str, float] = {}  # key -> when its SendMessage was sent
    counter = 0
    measuring = False
    done = False
    t0 = t1 = 0.0

    def fail(why: str) -> None:
        result.bad += 1
        result.first_error = result.first_error or why

    def request(key: str) -> bytes:
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {
                    "message": {
                        "messageId": f"m-{key}",
                        "role": "ROLE_USER",
                        "parts": [{"text": KEY_PREFIX + key}],
                    },
                    "configuration": configuration,
                },
            },
            separators=(",", ":"),
        ).encode()
        return (
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"A2A-Version: 1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )

    async def worker() -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
        try:
            while not done:
                counter += 1
                key = f"{run}x{counter:x}"
                completed: asyncio.Future[float] = loop.create_future()
                completions.waiting[key] = completed
                start = time.monotonic()
                writer.write(request(key))
                status, body = await read_answer(reader)
                answered = time.monotonic()
                if status != 200 or b'"result"' not in body or b'"error"' in body:
                    completions.waiting.pop(key, None)
                    fail(f"answer {status}: {body[:300]!r}")
                    continue
                sent[key] = start
                try:
                    finished = await asyncio.wait_for(completed, TASK_TIMEOUT)
                except TimeoutError:
                    completions.waiting.pop(key, None)
                    result.timeouts += 1
                    continue
                if measuring and t0 <= finished:
                    result.round_trips_ms.append((finished - start) * 1000)
                    result.answer_ms.append((answered - start) * 1000)
                if args.pause:
                    await asyncio.sleep(args.pause)
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
    try:
        await asyncio.sleep(args.warmup)
        if result.bad or result.timeouts:
            raise gb.BenchError(
                f"{args.setup}: {result.bad} bad answers, {result.timeouts} tasks "
                f"never completed during the warm-up; {result.first_error}"
            )
        cpu0 = gb.process_cpu(args.pid)
        rcpu0 = gb.process_cpu(args.receiver_pid)
        busy0, busy1 = gb.core_busy(SERVER_CORE), gb.core_busy(LOAD_CORE)
        own0 = time.process_time()
        t0 = time.monotonic()
        measuring = True
        await asyncio.sleep(args.duration)
        t1 = time.monotonic()
        measuring = False
        result.server_cpu_s = gb.process_cpu(args.pid) - cpu0
        result.receiver_cpu_s = gb.process_cpu(args.receiver_pid) - rcpu0
        result.core0_busy_s = gb.core_busy(SERVER_CORE) - busy0
        result.core1_busy_s = gb.core_busy(LOAD_CORE) - busy1
        result.load_cpu_s = time.process_time() - own0
        result.seconds = t1 - t0
        done = True
        # In-flight tasks finish (each waits for its COMPLETED); then a moment for
        # any late duplicate.
        await asyncio.wait_for(asyncio.gather(*workers), TASK_TIMEOUT + 30)
        await asyncio.sleep(0.3)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        completions.close()
    seen = await fetch_records(args.receiver_port)
    account(result, seen, sent, t0, t1)
    return result


def account(
    result: Load, seen: dict[str, Any], sent: dict[str, float], t0: float, t1: float
) -> None:
    """Fill ``result`` from the receiver's records."""
    result.connections = seen["connections"]
    result.bad += seen["bad"] + seen["notify_errors"]
    result.bad_token = seen["bad_token"]
    if seen["first_bad"]:
        result.first_error = result.first_error or seen["first_bad"]
    distinct: set[tuple[str, int]] = set()
    ids: set[str] = set()
    with_id = 0
    for key, event, written, arrived, nid in seen["records"]:
        if key not in sent:
            result.unknown += 1
            continue
        if (key, event) in distinct:
            result.duplicates += 1
        distinct.add((key, event))
        if nid:
            with_id += 1
            ids.add(nid)
        if t0 <= arrived < t1:
            result.notifications += 1
            since = written if event else sent[key]
            result.by_event_ms[event].append((arrived - since) * 1000)
            if event:
                result.latencies_ms.append((arrived - written) * 1000)
            if event == COMPLETED_EVENT:
                result.tasks_done += 1
    result.duplicate_ids = with_id - len(ids)
    result.tasks_sent = len(sent)
    result.expected = EVENTS_PER_TASK * len(sent)
    result.missing = result.expected - len(distinct)


def load_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="push_bench.py _load")
    parser.add_argument("--setup", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="the server's pid")
    parser.add_argument("--receiver-port", type=int, required=True)
    parser.add_argument("--receiver-pid", type=int, required=True)
    parser.add_argument("--notify", required=True, help="socket to bind")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--blocking", action="store_true")
    parser.add_argument("--profile-signals", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def main() -> Load:
        if not args.profile_signals:
            return await run_load(args)

        # The server's cProfile covers the window: SIGUSR1 after the warm-up, SIGUSR2
        # at its end (the window is timed the same way in run_load).
        async def signals() -> None:
            await asyncio.sleep(args.warmup)
            os.kill(args.pid, signal.SIGUSR1)
            await asyncio.sleep(args.duration)
            os.kill(args.pid, signal.SIGUSR2)

        profiling = asyncio.create_task(signals())
        try:
            return await run_load(args)
        finally:
            await profiling

    try:
        result = asyncio.run(main())
    except (gb.BenchError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
        print(f"load generator: {exc!r}", file=sys.stderr)
        return 1
    print("LOAD_JSON " + json.dumps(asdict(result)), flush=True)
    return 0


# --- the driver: processes --------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How long and how hard each measure runs."""

    quick: bool
    rounds: int
    duration: float
    latency_duration: float
    warmup: float
    concurrency: int
    only: tuple[str, ...]
    blocking: bool
    http: str
    loop: str
    profile: bool
    push_concurrency: int  # Accord's PushSettings.concurrency (0: as shipped, 16)


class Process:
    """A pinned child in a session of its own; always stopped (process group)."""

    def __init__(self, name: str, cmd: list[str], core: int, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                harness.pinned(core, cmd),
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=harness.pin_preexec(core),
            )

    @property
    def pid(self) -> int:
        """taskset execs the command, so this is the server's own pid."""
        return self.proc.pid

    def stop(self) -> None:
        gb.kill_group(self.proc)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise gb.BenchError(
                f"{self.name} exited with status {self.proc.returncode}; its output:\n"
                + self.tail()
            )

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def card_ready(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/.well-known/agent-card.json")
        answer = conn.getresponse()
        body = answer.read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    if answer.status != 200:
        return False
    return bool(json.loads(body).get("capabilities", {}).get("pushNotifications"))


@contextlib.contextmanager
def started(setup: str, settings: Settings, workdir: Path, *, sample: str = "") -> Any:
    """A receiver and a server of ``setup``, both ready; both stopped after."""
    tag = f"{setup}-{uuid.uuid4().hex[:8]}"
    notify = str(workdir / f"{tag}.sock")
    ready = workdir / f"{tag}.port"
    with contextlib.ExitStack() as stack:
        receiver = Process(
            "the receiver",
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "_receive",
                "--ready",
                str(ready),
                "--notify",
                notify,
            ],
            LOAD_CORE,
            workdir / f"{tag}-receiver.log",
        )
        stack.callback(receiver.stop)
        port = harness.free_port()
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "_serve",
            setup,
            "--port",
            str(port),
        ]
        cmd += ["--http", settings.http, "--loop", settings.loop]
        if settings.push_concurrency:
            cmd += ["--push-concurrency", str(settings.push_concurrency)]
        if setup == "accord-sqlite":
            cmd += ["--db", str(workdir / f"{tag}.db")]
        if sample:
            cmd += ["--sample", sample]
        server = Process(
            f"the {LABELS[setup]} server",
            cmd,
            SERVER_CORE,
            workdir / f"{tag}-server.log",
        )
        stack.callback(server.stop)
        deadline = time.monotonic() + 60
        while not (ready.exists() and card_ready(port)):
            receiver.check_alive()
            server.check_alive()
            if time.monotonic() > deadline:
                raise gb.BenchError(
                    f"{LABELS[setup]}: the server or the receiver did not start in "
                    f"60 s; server output:\n{server.tail()}"
                )
            time.sleep(0.05)
        yield {
            "port": port,
            "pid": server.pid,
            "receiver_port": int(ready.read_text()),
            "receiver_pid": receiver.pid,
            "notify": notify,
            "server": server,
        }


def drive(
    setup: str, settings: Settings, workdir: Path, measure: str, *, sample: str = ""
) -> Load:
    """Fresh receiver and server; one load-generator run; its measurement."""
    latency = measure == "latency"
    duration = settings.latency_duration if latency else settings.duration
    with started(setup, settings, workdir, sample=sample) as env:
        cmd = [sys.executable, str(Path(__file__).resolve()), "_load", "--setup", setup]
        for name in ("port", "pid", "receiver_port", "receiver_pid", "notify"):
            cmd += [f"--{name.replace('_', '-')}", str(env[name])]
        cmd += [
            "--concurrency",
            str(1 if latency else settings.concurrency),
            "--warmup",
            str(0.5 if latency else settings.warmup),
            "--duration",
            str(duration),
            "--pause",
            str(LATENCY_PAUSE if latency else 0.0),
        ]
        if settings.blocking:
            cmd.append("--blocking")
        if sample:
            cmd.append("--profile-signals")
        proc = subprocess.Popen(
            harness.pinned(LOAD_CORE, cmd),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=harness.pin_preexec(LOAD_CORE),
        )
        try:
            out, err = proc.communicate(timeout=settings.warmup + duration + 120)
        except subprocess.TimeoutExpired:
            raise gb.BenchError(
                f"the load generator ({setup}) did not finish"
            ) from None
        finally:
            gb.kill_group(proc, grace=2)
        for line in out.splitlines():
            if line.startswith("LOAD_JSON "):
                return Load(**json.loads(line[len("LOAD_JSON ") :]))
        raise gb.BenchError(
            f"the load generator failed against {LABELS[setup]} ({measure}, exit "
            f"{proc.returncode}):\n{err[-2000:]}\nserver output:\n{env['server'].tail()}"
        )


# --- the driver: measures ---------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


@dataclass
class Run:
    """One measured window of one setup (derived from a :class:`Load`)."""

    rate: float  # notifications arrived per second
    tasks_per_s: float
    p50_ms: float  # agent's write -> arrival
    p99_ms: float
    trip_p50_ms: float  # send -> COMPLETED arrived
    answer_p50_ms: float  # send -> the SendMessage answer
    cpu_per_1000: float  # server CPU-s per 1,000 notifications
    server_util: float
    others_util: float  # core 0 busy beyond the server
    core1_util: float  # receiver + load generator + anyone on core 1
    receiver_util: float
    load_util: float
    notifications: int
    tasks_sent: int
    expected: int
    missing: int
    duplicates: int
    duplicate_ids: int
    timeouts: int
    bad: int
    connections: int
    first_error: str
    latencies_ms: list[float]
    by_event_p50_ms: list[float]

    @classmethod
    def of(cls, load: Load) -> Run:
        s = load.seconds or float("nan")
        n = load.notifications
        return cls(
            rate=n / s,
            tasks_per_s=load.tasks_done / s,
            p50_ms=pct(load.latencies_ms, 0.50),
            p99_ms=pct(load.latencies_ms, 0.99),
            trip_p50_ms=pct(load.round_trips_ms, 0.50),
            answer_p50_ms=pct(load.answer_ms, 0.50),
            cpu_per_1000=1000 * load.server_cpu_s / n if n else float("nan"),
            server_util=load.server_cpu_s / s,
            others_util=max(0.0, load.core0_busy_s - load.server_cpu_s) / s,
            core1_util=load.core1_busy_s / s,
            receiver_util=load.receiver_cpu_s / s,
            load_util=load.load_cpu_s / s,
            notifications=n,
            tasks_sent=load.tasks_sent,
            expected=load.expected,
            missing=load.missing,
            duplicates=load.duplicates + load.unknown,
            duplicate_ids=load.duplicate_ids,
            timeouts=load.timeouts,
            bad=load.bad + load.bad_token,
            connections=load.connections,
            first_error=load.first_error,
            latencies_ms=load.latencies_ms,
            by_event_p50_ms=[pct(values, 0.5) for values in load.by_event_ms],
        )


@dataclass
class Measure:
    """The rounds of one measure, per setup."""

    name: str
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def median(self, setup: str, attr: str) -> float:
        values = [getattr(r, attr) for r in self.runs.get(setup, [])]
        values = [v for v in values if v == v]
        return statistics.median(values) if values else float("nan")

    def paired(self, setup: str, attr: str) -> float:
        """Median over rounds of ``setup`` / SDK within each round."""
        ratios = [
            getattr(a, attr) / getattr(b, attr)
            for a, b in zip(
                self.runs.get(setup, []), self.runs.get(SDK, []), strict=False
            )
            if getattr(b, attr) and getattr(a, attr) == getattr(a, attr)
        ]
        return statistics.median(ratios) if ratios else float("nan")

    def event_p50(self, setup: str, event: int) -> float:
        """Median over rounds of the p50 of one event's notification."""
        values = [r.by_event_p50_ms[event] for r in self.runs.get(setup, [])]
        values = [v for v in values if v == v]
        return statistics.median(values) if values else float("nan")

    def total(self, setup: str, attr: str) -> int:
        return sum(int(getattr(r, attr)) for r in self.runs.get(setup, []))


def round_order(i: int) -> tuple[str, ...]:
    """Rotate and reverse the order every round, so no setup always goes first."""
    turned = SETUPS[i % len(SETUPS) :] + SETUPS[: i % len(SETUPS)]
    return turned if i % 2 == 0 else tuple(reversed(turned))


def describe(name: str, setup: str, i: int, r: Run) -> str:
    text = (
        f"{name}: round {i + 1} {LABELS[setup]}: {r.rate:,.0f} notifications/s "
        f"({r.tasks_per_s:,.0f} tasks/s), write->arrival p50 {r.p50_ms:.2f} ms "
        f"p99 {r.p99_ms:.2f} ms, round trip p50 {r.trip_p50_ms:.2f} ms, "
        f"{r.cpu_per_1000:.3f} CPU-s/1000, server {r.server_util:.0%}, others on "
        f"core 0 {r.others_util:.0%}, core 1 {r.core1_util:.0%} (receiver "
        f"{r.receiver_util:.0%}, load {r.load_util:.0%}); {r.tasks_sent} tasks, "
        f"missing {r.missing}, duplicates {r.duplicates}, {r.connections} connections"
    )
    if r.bad or r.timeouts:
        text += f", {r.bad} bad, {r.timeouts} timeouts ({r.first_error})"
    return text


def measure(settings: Settings, workdir: Path) -> dict[str, Measure]:
    """Rounds; in each, every measure on every setup, fresh processes each time."""
    results = {name: Measure(name) for name in settings.only}
    for i in range(settings.rounds):
        for name in settings.only:
            for setup in round_order(i):
                run = Run.of(drive(setup, settings, workdir, name))
                results[name].runs.setdefault(setup, []).append(run)
                log(describe(name, setup, i, run))
    return results


# --- the driver: profile ----------------------------------------------------------------

#: Self time: (component, pattern on one frame), for the innermost frame matching one.
PROFILE_COMPONENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("HTTP client: httpcore + h11 (the POSTs)", re.compile(r"\((httpcore|h11)/")),
    ("HTTP client: httpx", re.compile(r"\(httpx/")),
    ("egress policy (accord.egress)", re.compile(r"\(accord/egress\.py")),
    ("push delivery (accord.server.push)", re.compile(r"\(accord/server/push/")),
    ("HTTP server (uvicorn + httptools)", re.compile(r"\((uvicorn|httptools)/")),
    ("a2a-sdk (a2a.*)", re.compile(r"\(a2a/")),
    ("protobuf (json_format, messages)", re.compile(r"\(google/protobuf/")),
    ("starlette", re.compile(r"\((starlette|sse_starlette)/")),
    (
        "ids + timestamps (uuid4, datetime)",
        re.compile(r"^(uuid4|now_timestamp) |\(uuid\.py:|datetime"),
    ),
    ("wire model encode/decode (accord.types)", re.compile(r"\(accord/types/")),
    ("JSON-RPC binding (accord.bindings)", re.compile(r"\(accord/bindings/")),
    ("runtime, handler, agent API (accord.server)", re.compile(r"\(accord/server/")),
    ("task store (accord.stores)", re.compile(r"\(accord/stores/")),
    ("accord (other)", re.compile(r"\(accord/")),
    ("anyio", re.compile(r"\(anyio/")),
    ("the agent (push_bench.py)", re.compile(r"\(push_bench\.py")),
    ("asyncio", re.compile(r"\(asyncio/")),
    (
        "json, re, email, urllib (stdlib)",
        re.compile(r"\((json|re|email|urllib|ipaddress\.py)"),
    ),
)
#: Inclusive time: (label, pattern on one frame).
PROFILE_KEYS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "uvicorn: the SendMessage requests",
        re.compile(r"^RequestResponseCycle\.run_asgi "),
    ),
    ("the agent's execution (Accord Runtime._run)", re.compile(r"^Runtime\._run ")),
    ("PushDeliverer.run (looking for work)", re.compile(r"^PushDeliverer\.run ")),
    ("  store.claim_push_deliveries", re.compile(r"^\S*claim_push_deliveries ")),
    (
        "PushDeliverer._deliver (one config's events)",
        re.compile(r"^PushDeliverer\._deliver "),
    ),
    (
        "  store.events, push_delivered, release_push",
        re.compile(r"^\S*(\.events|push_delivered|release_push) \(accord/stores"),
    ),
    ("  PushDeliverer._post (one POST)", re.compile(r"^PushDeliverer\._post ")),
    (
        "SDK: BasePushNotificationSender._dispatch_notification (one POST)",
        re.compile(r"^BasePushNotificationSender\._dispatch_notification "),
    ),
    (
        "  SDK: MessageToDict + to_stream_response",
        re.compile(r"^(MessageToDict|to_stream_response) "),
    ),
    (
        "SDK: EventConsumer (the agent's events, to the task store)",
        re.compile(r"^EventConsumer\."),
    ),
    (
        "httpx AsyncClient.send (a POST, client side)",
        re.compile(r"^AsyncClient\.send "),
    ),
    (
        "  EgressTransport.handle_async_request (Accord)",
        re.compile(r"^EgressTransport\.handle_async_request "),
    ),
    (
        "  httpcore AsyncConnectionPool.handle_async_request",
        re.compile(r"^AsyncConnectionPool\.handle_async_request "),
    ),
    (
        "    pool bookkeeping (_assign_requests_to_connections)",
        re.compile(r"^AsyncConnectionPool\._assign_requests_to_connections "),
    ),
    ("cyclic GC", re.compile(r"^<cyclic GC>")),
)


@dataclass
class ProfileResult:
    setup: str
    notifications: int
    seconds: float
    rate: float
    cpu_seconds: float  # the sampled (main) thread's process CPU in the window
    samples: int
    markdown: str


def analyse_profile(raw: str) -> profile_report.Profile:
    """The sampler's collapsed stacks by component and key function."""
    components: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    busy = 0
    for line in raw.splitlines():
        stack, _, count_text = line.strip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames, count = stack.split(";"), int(count_text)
        busy += count
        component = "other (stdlib, interpreter)"
        if frames[0].startswith("<cyclic GC>"):
            component = "cyclic GC"
        else:
            for frame in reversed(frames):
                found = next(
                    (n for n, pat in PROFILE_COMPONENTS if pat.search(frame)), ""
                )
                if found:
                    component = found
                    break
        components[component] += count
        for label, pattern in PROFILE_KEYS:
            if any(pattern.search(frame) for frame in frames):
                functions[label] += count
    return profile_report.Profile(
        busy=busy,
        by_component=components.most_common(),
        by_function=[
            (label, functions[label]) for label, _ in PROFILE_KEYS if functions[label]
        ],
    )


def measure_profile(
    setup: str, settings: Settings, workdir: Path, outdir: Path
) -> ProfileResult:
    """``setup`` under the throughput load, sampled in-process (bench/sampler.py)."""
    raw_path = outdir / f"push-profile-{setup}.txt"
    raw_path.unlink(missing_ok=True)
    meta_path = Path(f"{raw_path}.json")
    meta_path.unlink(missing_ok=True)
    load = drive(setup, settings, workdir, "throughput", sample=str(raw_path))
    if not meta_path.exists():
        raise gb.BenchError(f"the sampled {LABELS[setup]} server wrote no profile")
    meta = json.loads(meta_path.read_text())
    profile = analyse_profile(raw_path.read_text())
    per = 1e6 * meta["cpu_seconds"] / max(load.notifications, 1)
    return ProfileResult(
        setup=setup,
        notifications=load.notifications,
        seconds=load.seconds,
        rate=load.notifications / load.seconds if load.seconds else 0.0,
        cpu_seconds=meta["cpu_seconds"],
        samples=meta["samples"],
        markdown=profile_report.markdown(profile, per).replace(
            " µs/request", " µs/notification"
        ),
    )


# --- the report -------------------------------------------------------------------------


def machine(settings: Settings) -> dict[str, str]:
    import datetime as dt
    import platform

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "CPU": gb.cpu_model(),
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "accord": gb.version_of("accord"),
        "a2a-sdk": gb.version_of("a2a-sdk"),
        "httpx": gb.version_of("httpx"),
        "uvicorn": gb.version_of("uvicorn"),
        "stack": f"uvicorn {settings.http} + {settings.loop}, one worker",
        "Accord push concurrency": str(settings.push_concurrency or 16)
        + ("" if settings.push_concurrency else " (as shipped)"),
        "pinning": (
            f"servers on core {SERVER_CORE}; receiver and load generator on core "
            f"{LOAD_CORE}" + (" (taskset)" if TASKSET else " (sched_setaffinity)")
            if PINNING
            else "none (fewer than 2 usable cores)"
        ),
        "load, throughput": (
            f"{settings.concurrency} tasks in the system (a slot is freed when the "
            "task's COMPLETED notification arrives), "
            + ("blocking SendMessage" if settings.blocking else "returnImmediately")
            + f", {settings.rounds} rounds x {settings.duration:g} s per setup after "
            f"{settings.warmup:g} s of warm-up"
        ),
        "load, latency": (
            f"one task at a time ({LATENCY_PAUSE * 1000:g} ms after the last COMPLETED "
            f"arrived), {settings.rounds} rounds x {settings.latency_duration:g} s per "
            "setup after 0.5 s of warm-up"
        ),
        "SQLite file on": _filesystem(tempfile.gettempdir()),
        "loadavg at start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def _filesystem(path: str) -> str:
    """The mount (device, type) holding ``path``: tmpfs and disk differ for fsync."""
    best = ("", "?", "?")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            if path.startswith(mount) and len(mount) >= len(best[0]):
                best = (mount, device, kind)
    return f"{path} ({best[1]}, {best[2]})"


def _num(value: float, digits: int = 0) -> str:
    return gb._num(value, digits)


#: (measure, attribute, label, digits, better)
SUMMARY = (
    ("throughput", "rate", "notifications delivered / s", 0, "higher"),
    (
        "throughput",
        "tasks_per_s",
        "tasks delivered / s (4 notifications each)",
        0,
        "higher",
    ),
    ("throughput", "p50_ms", "under load: write -> arrival p50 (ms)", 1, "lower"),
    ("throughput", "p99_ms", "under load: write -> arrival p99 (ms)", 1, "lower"),
    (
        "throughput",
        "trip_p50_ms",
        "under load: send -> COMPLETED arrived p50 (ms)",
        1,
        "lower",
    ),
    (
        "throughput",
        "answer_p50_ms",
        "under load: send -> SendMessage answer p50 (ms)",
        1,
        "lower",
    ),
    ("throughput", "cpu_per_1000", "server CPU-s per 1,000 notifications", 3, "lower"),
    ("latency", "p50_ms", "one task at a time: write -> arrival p50 (ms)", 2, "lower"),
    ("latency", "p99_ms", "one task at a time: write -> arrival p99 (ms)", 2, "lower"),
    (
        "latency",
        "trip_p50_ms",
        "one task at a time: send -> COMPLETED arrived p50 (ms)",
        2,
        "lower",
    ),
    (
        "latency",
        "cpu_per_1000",
        "one task at a time: server CPU-s per 1,000 notifications",
        3,
        "lower",
    ),
)
SUMMARY_HEADERS = [
    "measure",
    *(LABELS[s] for s in SETUPS),
    "Accord memory / SDK",
    "Accord SQLite / SDK",
    "better",
]


def summary_rows(results: dict[str, Measure]) -> list[list[str]]:
    rows = []
    for name, attr, label, digits, better in SUMMARY:
        m = results.get(name)
        if m is None:
            continue
        rows.append(
            [
                label,
                *(_num(m.median(s, attr), digits) for s in SETUPS),
                gb._ratio(m.paired("accord-memory", attr)),
                gb._ratio(m.paired("accord-sqlite", attr)),
                better,
            ]
        )
    for name, m in results.items():
        rows.append(
            [
                f"{name}: notifications missing / duplicated (all rounds)",
                *(
                    f"{m.total(s, 'missing')} / {m.total(s, 'duplicates')} of "
                    f"{m.total(s, 'expected'):,}"
                    for s in SETUPS
                ),
                "",
                "",
                "",
            ]
        )
    return rows


def round_rows(results: dict[str, Measure]) -> list[list[str]]:
    rows = []
    for name, m in results.items():
        for setup in SETUPS:
            runs = m.runs.get(setup, [])
            if not runs:
                continue
            rows.append(
                [
                    name,
                    LABELS[setup],
                    ", ".join(_num(r.rate) for r in runs),
                    ", ".join(_num(r.p50_ms, 1) for r in runs),
                    ", ".join(_num(r.p99_ms, 1) for r in runs),
                    ", ".join(_num(r.cpu_per_1000, 3) for r in runs),
                    ", ".join(f"{r.server_util:.0%}" for r in runs),
                    ", ".join(f"{r.others_util:.0%}" for r in runs),
                    ", ".join(f"{r.core1_util:.0%}" for r in runs),
                    ", ".join(str(r.connections) for r in runs),
                    str(sum(r.bad + r.timeouts for r in runs)),
                ]
            )
    return rows


def render(
    settings: Settings,
    info: dict[str, str],
    results: dict[str, Measure],
    profiles: list[ProfileResult],
    elapsed: float,
    analysis: str,
) -> str:
    flags = " --quick" if settings.quick else ""
    flags += " --blocking" if settings.blocking else ""
    flags += " --profile" if profiles else ""
    if settings.push_concurrency:
        flags += f" --push-concurrency {settings.push_concurrency}"
    out = [
        "# Push notification delivery, Accord vs a2a-sdk: benchmark results",
        "",
        f"Generated by `python bench/push_bench.py{flags}` "
        f"({'quick' if settings.quick else 'full'} run, {elapsed / 60:.1f} min). See "
        "`bench/README.md` (section Push notifications) and the script's docstring for "
        "what each measure means.",
        "",
        "## Machine",
        "",
        gb.table(["", ""], [[k, v] for k, v in info.items()]),
        "",
        "## Summary",
        "",
        gb.table(SUMMARY_HEADERS, summary_rows(results)),
        "",
        "Each setup's column is its median over the rounds; the ratios are the medians "
        "of the ratios within each round (the setups ran back to back in a round, so a "
        "slow phase of the machine hits all of them). A ratio above 1 on a `higher` "
        "row, or below 1 on a `lower` row, is Accord ahead. `write -> arrival`: from "
        "the agent's `time.monotonic()` just before it writes an event (WORKING, the "
        "artifact, COMPLETED) to the receiver reading the last byte of its POST. "
        "`send -> COMPLETED arrived`: the load generator's send of `SendMessage` to the "
        "receiver getting the task's last notification. Missing and duplicated: over "
        "every task sent in every round, warm-up included (4 notifications each: the "
        "task, WORKING, the artifact, COMPLETED); the SDK sends at most once and "
        "Accord at least once, so a missing SDK notification is lost for good and an "
        "Accord duplicate carries the same `Accord-Notification-Id`.",
        "",
    ]
    lat = results.get("latency")
    if lat is not None:
        out += [
            "Latency, one task at a time, every round pooled (write -> arrival):",
            "",
            "```text",
            *(
                percentile_line(
                    LABELS[s], [v for r in lat.runs.get(s, []) for v in r.latencies_ms]
                )
                for s in SETUPS
                if lat.runs.get(s)
            ),
            "```",
            "",
            "p50 per notification, one task at a time (median over rounds, ms): the "
            "task's own notification (SUBMITTED) from the load generator's send, the "
            "others from the agent's write:",
            "",
            gb.table(
                ["setup", "task (send ->)", "WORKING", "artifact", "COMPLETED"],
                [
                    [LABELS[s], *(_num(lat.event_p50(s, e), 2) for e in range(4))]
                    for s in SETUPS
                    if lat.runs.get(s)
                ],
            ),
            "",
        ]
    out += [
        "## Every round",
        "",
        gb.table(
            [
                "measure",
                "setup",
                "notifications/s",
                "p50 ms",
                "p99 ms",
                "CPU-s per 1,000",
                "server on CPU",
                "others on core 0",
                "core 1 busy",
                "connections to the receiver",
                "bad",
            ],
            round_rows(results),
        ),
        "",
        "`others on core 0`: the share of the server's core taken by other processes. "
        "`core 1 busy`: the receiver, the load generator and anyone else on core 1 "
        "(near 100 %: the measuring side, not the server, may be the bound). "
        "`connections to the receiver`: TCP connections the sender opened in the whole "
        "run (keep-alive reuses them; a sender whose pool keeps fewer idle connections "
        "than it has POSTs in flight opens new ones).",
        "",
    ]
    for profile in profiles:
        out += [
            f"## Profile: {LABELS[profile.setup]} under the throughput load",
            "",
            f"In-process CPU-time sampler (`bench/sampler.py`, the event loop's thread), "
            f"{profile.seconds:.1f} s, {profile.notifications:,} notifications "
            f"({profile.rate:,.0f}/s while sampled), {profile.cpu_seconds:.2f} CPU-s: "
            f"{1e6 * profile.cpu_seconds / max(profile.notifications, 1):,.0f} µs per "
            "notification, which includes its share of the SendMessage request and of "
            f"the agent's execution (4 notifications per task). Raw stacks: "
            f"`bench/out/push-profile-{profile.setup}.txt`.",
            "",
            profile.markdown,
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


# --- main -------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="push_bench.py",
        description="Push notification delivery, Accord vs a2a-sdk (see the docstring).",
    )
    parser.add_argument("--quick", action="store_true", help="a ~1 minute run")
    parser.add_argument("--rounds", type=int, default=0, help="full 5, quick 2")
    parser.add_argument(
        "--duration", type=float, default=0, help="seconds measured per setup (4; 2)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="tasks in the system at once"
    )
    parser.add_argument(
        "--only", default=",".join(MEASURES), help=f"subset of {','.join(MEASURES)}"
    )
    parser.add_argument(
        "--blocking",
        action="store_true",
        help="blocking SendMessage instead of returnImmediately",
    )
    parser.add_argument(
        "--stack",
        choices=("h11-asyncio", "httptools-uvloop"),
        default="httptools-uvloop",
        help="uvicorn's HTTP parser + event loop for every server (as bench/bench.py)",
    )
    parser.add_argument(
        "--push-concurrency",
        type=int,
        default=0,
        help="Accord's PushSettings.concurrency, webhooks delivered at once (a "
        "diagnostic; default: as shipped, 16)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also sample Accord (memory) and the SDK under the load (bench/sampler.py)",
    )
    parser.add_argument(
        "--results", type=Path, default=BENCH / "RESULTS-push.md", help="report file"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    modes = {"_serve": serve_main, "_receive": receive_main, "_load": load_main}
    if argv[:1] and argv[0] in modes:
        return modes[argv[0]](argv[1:])
    args = parse_args(argv)
    wanted = {x.strip() for x in args.only.split(",") if x.strip()}
    only = tuple(m for m in MEASURES if m in wanted)
    if wanted - set(MEASURES) or not only:
        print(f"push_bench: --only takes {', '.join(MEASURES)}", file=sys.stderr)
        return 2
    fast = args.stack == "httptools-uvloop"
    settings = Settings(
        quick=args.quick,
        rounds=args.rounds or (2 if args.quick else 5),
        duration=args.duration or (2.0 if args.quick else 4.0),
        latency_duration=1.5 if args.quick else 3.0,
        warmup=args.warmup,
        concurrency=args.concurrency,
        only=only,
        blocking=args.blocking,
        http="httptools" if fast else "h11",
        loop="uvloop" if fast else "asyncio",
        profile=args.profile,
        push_concurrency=args.push_concurrency,
    )
    if PINNING:
        os.sched_setaffinity(0, {LOAD_CORE})
    else:
        log("fewer than 2 usable cores: servers, receiver and load share the CPU")
    outdir = BENCH / "out"
    outdir.mkdir(exist_ok=True)
    info = machine(settings)
    started_at = time.perf_counter()
    profiles: list[ProfileResult] = []
    try:
        with (
            gb.sigterm_as_exit(),
            tempfile.TemporaryDirectory(prefix="push-bench-") as tmp,
        ):
            results = measure(settings, Path(tmp))
            if settings.profile:
                for setup in ("accord-memory", SDK):
                    log(f"profile: {LABELS[setup]} under the sampler")
                    profiles.append(measure_profile(setup, settings, Path(tmp), outdir))
    except gb.BenchError as exc:
        print(f"push_bench: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started_at
    text = render(
        settings, info, results, profiles, elapsed, gb.previous_analysis(args.results)
    )
    args.results.write_text(text)
    print()
    print(gb.table(SUMMARY_HEADERS, summary_rows(results)))
    print()
    print(f"Written: {args.results} ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
