"""Fairness under a flood: ``python bench/quota_fairness.py``.

Does one tenant flooding at 10x its quota raise another tenant's latency? One
``accord serve`` process (an echo agent, SQLite store, pinned to core 0) serves two
tenants over HTTP+JSON (``POST /{tenant}/message:send``, blocking SendMessage). The
load generator (one process, core 1: raw HTTP/1.1 on keep-alive connections, 16 for
the victim and 64 for the flood, on uvloop; httpx cost more CPU per request than the
server and became the bottleneck) paces requests open-loop: each is due at its planned
time whatever the answers do, and its latency counts from then:

* the agent spends ``--work-ms`` of CPU on each task (1.5 ms: the flood, served,
  would need 75 % of the server's core on top of the HTTP and store work, more than
  it has);
* the **victim** tenant ``b`` sends ``--victim-rate`` messages a second, within its
  quota; its latencies are what is measured;
* the **flood** tenant ``a`` sends ``--flood-factor`` x its quota (``--quota`` per
  second for each tenant as a whole: ``per = "tenant"``) at the same time.

Three setups, each a fresh server, rotated over ``--rounds`` rounds:

* ``alone``: quotas on, no flood: the victim's baseline;
* ``flood+quota``: quotas on, the flood refused beyond its quota (429);
* ``flood, no quota``: no quotas: the flood is served as far as the server can.

The report gives the victim's p50/p99 per setup (medians over rounds) and, per round,
the ratio of its p99 under the flood to its p99 alone; and how the flood was answered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

AGENT = """
import os, time
from accord.server import Agent

WORK = float(os.environ.get("WORK_MS", "0")) / 1000

async def echo(ctx):
    end = time.perf_counter() + WORK
    while time.perf_counter() < end:  # the agent's own CPU work
        pass
    await ctx.complete(ctx.text)

agent = Agent(echo, name="Echo", description="echoes")
"""

SETUPS = ("alone", "flood+quota", "flood, no quota")
errors: dict[str, int] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    folder: Path, limits: Path | None, work_ms: float
) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    argv = ["taskset", "-c", "0", sys.executable, "-m", "accord.cli", "serve"]
    argv += ["agent.py", "--db", str(folder / f"{port}.db"), "--port", str(port)]
    if limits is not None:
        argv += ["--limits", str(limits)]
    process = subprocess.Popen(
        argv,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "WORK_MS": str(work_ms)},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Agent card: "):
            # Keep reading (and dropping) its output: a full pipe would stall the
            # server on its next access-log line.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, f"http://127.0.0.1:{port}"
    raise SystemExit("accord serve did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def body(i: int, who: str) -> bytes:
    message_id = f"{who}-{i}-{time.time():f}"
    return (
        '{"message":{"messageId":"' + message_id + '","role":"ROLE_USER",'
        '"parts":[{"text":"hello"}]}}'
    ).encode()


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its answer, in turn."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def post(self, path: str, content: bytes) -> int:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\n"
            "Content-Type: application/json\r\nA2A-Version: 1.0\r\n"
            f"Content-Length: {len(content)}\r\n\r\n".encode()
            + content
        )
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status


class Pool:
    """``size`` connections to the server; a request waits for a free one."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.free: asyncio.Queue[Connection] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.free.put_nowait(Connection(reader, writer))

    async def close(self) -> None:
        while not self.free.empty():
            self.free.get_nowait().writer.close()


async def paced(
    pool: Pool,
    path: str,
    who: str,
    rate: float,
    duration: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    """Send ``rate`` requests a second for ``duration`` s, open-loop: each latency
    counts from the request's planned time, so waiting for a free connection (the
    server is slow to answer) is counted too."""
    count = int(rate * duration)
    start = time.monotonic()

    async def one(i: int, due: float) -> None:
        connection = await pool.free.get()
        try:
            status = await connection.post(path, body(i, who))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            status = 0
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            reader, writer = await asyncio.open_connection(pool.host, pool.port)
            connection = Connection(reader, writer)
        pool.free.put_nowait(connection)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            latencies.append(time.monotonic() - due)

    async with asyncio.TaskGroup() as tg:
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing: the plan, not an ordering
            tg.create_task(one(i, due))


async def measure(
    base: str, flood: float, args: argparse.Namespace
) -> dict[str, object]:
    victim: list[float] = []
    victim_status: dict[int, int] = {}
    flood_lat: list[float] = []
    flood_status: dict[int, int] = {}
    errors.clear()
    port = int(base.rsplit(":", 1)[1])
    victims, flooders = Pool("127.0.0.1", port, 16), Pool("127.0.0.1", port, 64)
    await victims.open()
    await flooders.open()
    try:
        # Warm-up: a second of the victim alone (connections, caches).
        await paced(victims, "/b/message:send", "w", args.victim_rate, 1.0, [], {})
        began = time.monotonic()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(
                paced(
                    victims,
                    "/b/message:send",
                    "b",
                    args.victim_rate,
                    args.duration,
                    victim,
                    victim_status,
                )
            )
            if flood:
                tg.create_task(
                    paced(
                        flooders,
                        "/a/message:send",
                        "a",
                        flood,
                        args.duration,
                        flood_lat,
                        flood_status,
                    )
                )
    finally:
        await victims.close()
        await flooders.close()
    return {
        "victim": victim,
        "victim_status": victim_status,
        "flood": flood_status,
        "seconds": time.monotonic() - began,
    }


def run(coroutine: Any) -> Any:
    """Run ``coroutine`` on uvloop when it is installed (a cheaper client)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quota", type=float, default=50.0, help="per tenant, /s")
    parser.add_argument(
        "--burst", type=int, default=10, help="the quota's burst (tokens at once)"
    )
    parser.add_argument("--victim-rate", type=float, default=20.0)
    parser.add_argument("--flood-factor", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--work-ms", type=float, default=1.5, help="CPU the agent spends per task"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    flood_rate = args.quota * args.flood_factor
    results: dict[str, list[dict[str, object]]] = {s: [] for s in SETUPS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "agent.py").write_text(AGENT)
        limits = folder / "limits.toml"
        limits.write_text(
            f'[[limit]]\nper = "tenant"\nrate = "{args.quota:g}/s:{args.burst}"\n'
        )
        for round_ in range(args.rounds):
            order = SETUPS[round_ % 3 :] + SETUPS[: round_ % 3]
            for setup in order:
                process, base = start_server(
                    folder, None if setup == "flood, no quota" else limits, args.work_ms
                )
                try:
                    flood = 0.0 if setup == "alone" else flood_rate
                    server_cpu, client_cpu = (
                        cpu_seconds(process.pid),
                        time.process_time(),
                    )
                    got = run(measure(base, flood, args))
                    got["server_cpu"] = cpu_seconds(process.pid) - server_cpu
                    got["client_cpu"] = time.process_time() - client_cpu
                finally:
                    stop(process)
                results[setup].append(got)
                victim = got["victim"]
                assert isinstance(victim, list)
                print(
                    f"round {round_ + 1} {setup:16} victim p50 {pct(victim, 0.5):7.2f} ms"
                    f"  p99 {pct(victim, 0.99):7.2f} ms  victim {got['victim_status']}"
                    f"  flood {got['flood']} errors {errors}"
                    f"  {got['seconds']:.1f} s, load {os.getloadavg()[0]:.2f}, CPU s "
                    f"server {got['server_cpu']:.1f} client {got['client_cpu']:.1f}",
                    flush=True,
                )
    print()
    print(
        f"quota {args.quota:g}/s per tenant, burst {args.burst}; victim {args.victim_rate:g}/s; "
        f"flood {flood_rate:g}/s ({args.flood_factor:g}x); {args.duration:g} s x "
        f"{args.rounds} rounds"
    )
    print(f"{'setup':18}{'victim p50 ms':>15}{'victim p99 ms':>15}{'p99 / alone':>13}")
    alone = [pct(r["victim"], 0.99) for r in results["alone"]]  # type: ignore[arg-type]
    for setup in SETUPS:
        p50 = statistics.median(pct(r["victim"], 0.5) for r in results[setup])  # type: ignore[arg-type]
        p99s = [pct(r["victim"], 0.99) for r in results[setup]]  # type: ignore[arg-type]
        ratio = statistics.median(p / a for p, a in zip(p99s, alone, strict=True))
        print(f"{setup:18}{p50:15.2f}{statistics.median(p99s):15.2f}{ratio:13.2f}")


if __name__ == "__main__":
    main()
