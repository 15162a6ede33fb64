"""What OpenTelemetry costs: Accord without tracing vs the baseline, and with it.

Run: ``python bench/otel_bench.py [--baseline COMMIT] [--rounds 7] [-n 20000]``;
writes ``bench/RESULTS-otel.md`` (``--out`` to change).

Three variants of the same in-process measure as ``bench/inproc.py`` (blocking
SendMessage, JSON-RPC, straight into the ASGI app with a memory store: no sockets and
no HTTP parser, so what is measured is Accord's own CPU per request, and any overhead
shows at its largest):

* ``baseline``: the ``--baseline`` commit's ``src/`` (default: where this branch left
  ``main``, ``git merge-base HEAD main``, so that only this change is measured),
  exported with ``git archive`` to a temporary folder and put first on ``PYTHONPATH``;
* ``off``: this tree, no tracing (nothing of OpenTelemetry is imported);
* ``on``: this tree with ``accord.otel.instrument(app)``: a real SDK TracerProvider
  whose BatchSpanProcessor hands every span to an exporter that drops it, and a
  MeterProvider with an in-memory reader (every measurement is aggregated). Spans are
  made and ended, attributes set, metrics recorded, the caller's ``traceparent``
  extracted: everything but the network of an exporter.

Every request carries a ``traceparent`` header in all three (a call from a traced
agent).

Two measures. CPU time per request (``time.process_time``), which other processes
disturb: on a shared machine its ratios spread by tens of percent from round to round.
And instructions per request, counted by callgrind (``--callgrind``, needs valgrind),
which they do not: each variant runs twice under ``valgrind --tool=callgrind`` with the
cyclic GC frozen and off and ``PYTHONHASHSEED=0``, with ``--small`` and ``--large``
measured requests after the same warm-up, and (I(large) - I(small)) / (large - small)
is the instructions one request costs, start-up and warm-up cancelled out. That is
what decides "off vs baseline"; the CPU time gives the order of magnitude in µs. Each variant runs in a process of its own (``taskset -c 0`` when available),
``--rounds`` times, the three back to back in a rotating order within a round; the
ratios are taken within each round and their median reported, because the machine is
shared and its speed drifts between rounds. CPU is ``time.process_time`` of the whole
process: the span processor's export thread counts too.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VARIANTS = ("baseline", "off", "on")
TRACEPARENT = (
    b"traceparent",
    b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
)


def parse_args() -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument(
        "--baseline",
        default="",
        help="git commit of the baseline (default: git merge-base HEAD main)",
    )
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("-n", type=int, default=20_000, help="measured requests per run")
    p.add_argument("--warmup", type=int, default=2_000)
    p.add_argument("--conc", type=int, default=32)
    p.add_argument("--modes", default="task,message", help="task, message or both")
    p.add_argument("--out", default=str(HERE / "RESULTS-otel.md"))
    p.add_argument(
        "--callgrind",
        action="store_true",
        help="also count instructions per request with callgrind (valgrind)",
    )
    p.add_argument("--small", type=int, default=320, help="callgrind: fewer requests")
    p.add_argument("--large", type=int, default=1920, help="callgrind: more requests")
    p.add_argument(
        "--gc", choices=("serve", "off"), default="serve", help=argparse.SUPPRESS
    )
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="callgrind: also count tracing alone and metrics alone",
    )
    p.add_argument("--only", default="", help=argparse.SUPPRESS)
    p.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    p.add_argument("--mode", default="task", help=argparse.SUPPRESS)
    return p.parse_args()


# --- the worker: one variant, one run ------------------------------------------------


def _instrument(app: object, only: str) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from accord.otel import instrument

    class Drop(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    instrument(
        app,  # type: ignore[arg-type]
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        tracing=only != "metrics",
        metrics=only != "tracing",
    )


async def _work(args: argparse.Namespace) -> dict[str, float]:
    import anyio
    import inproc
    from accord_server import agent

    from accord.server import A2AApp
    from accord.server.tuning import tune_gc
    from accord.stores import MemoryTaskStore

    inproc.HEADERS.append(TRACEPARENT)
    app = A2AApp(agent, store=MemoryTaskStore())
    if args.worker == "on":
        _instrument(app, args.only)
    driver = inproc.Driver(app, "reply:hello" if args.mode == "message" else "hello")
    async with app.running():
        for i in range(args.warmup):
            await driver.one(-i - 1)
        if args.gc == "off":  # callgrind: no collection at a varying moment
            gc.collect()
            gc.freeze()
            gc.disable()
        else:
            tune_gc()
        per = args.n // args.conc
        n = per * args.conc

        async def caller(k: int) -> None:
            for j in range(per):
                await driver.one(k * per + j)

        cpu, wall = time.process_time(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for k in range(args.conc):
                tg.start_soon(caller, k)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    lat = sorted(driver.latencies[-n:])
    import accord

    return {
        "cpu_us": 1e6 * cpu / n,
        "wall_us": 1e6 * wall / n,
        "p99_ms": 1e3 * lat[int(0.99 * (len(lat) - 1))],
        "otel_loaded": float("opentelemetry" in sys.modules),
        "accord": str(Path(accord.__file__).parent),  # type: ignore[dict-item]
    }


def worker(args: argparse.Namespace) -> None:
    """Measure one variant; print one JSON line."""
    sys.path.insert(0, str(HERE))
    import uvloop

    uvloop.install()
    print(json.dumps(asyncio.run(_work(args))))


# --- the driver: every variant, several rounds ---------------------------------------


def export_baseline(commit: str, into: Path) -> str:
    """``src/`` of ``commit`` under ``into``; the commit's short hash."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", commit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def run_one(
    variant: str,
    mode: str,
    args: argparse.Namespace,
    baseline_src: Path,
    *,
    n: int | None = None,
    callgrind: Path | None = None,
    only: str = "",
) -> dict[str, float]:
    """One worker process; its measures (with ``callgrind``: under valgrind, its
    instruction count under ``"instructions"``)."""
    env = dict(os.environ)
    if variant == "baseline":
        env["PYTHONPATH"] = str(baseline_src)
    else:
        env["PYTHONPATH"] = str(REPO / "src")
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        variant,
        "--mode",
        mode,
        "-n",
        str(n or args.n),
        "--warmup",
        str(args.warmup if callgrind is None else 300),
        "--conc",
        str(args.conc),
        "--only",
        only,
    ]
    if callgrind is not None:
        env["PYTHONHASHSEED"] = "0"
        argv = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={callgrind}",
            *argv,
            "--gc",
            "off",
        ]
    elif shutil.which("taskset"):
        argv = ["taskset", "-c", "0", *argv]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if callgrind is not None:
        result["instructions"] = _total(callgrind)
    expected = str(baseline_src) if variant == "baseline" else str(REPO / "src")
    assert str(result["accord"]).startswith(expected), (variant, result["accord"])
    assert bool(result["otel_loaded"]) == (variant == "on"), (variant, result)
    return result


def _total(path: Path) -> float:
    """The instruction count of a callgrind output file (its ``totals:`` or
    ``summary:`` line)."""
    for line in path.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return float(line.split()[1])
    raise AssertionError(f"no totals in {path}")


def count(
    variant: str,
    mode: str,
    args: argparse.Namespace,
    src: Path,
    tmp: Path,
    only: str = "",
) -> float:
    """Instructions per request of ``variant`` (callgrind, two sizes)."""
    totals = []
    for n in (args.small, args.large):
        out = tmp / f"callgrind-{variant}{only}-{mode}-{n}.out"
        result = run_one(variant, mode, args, src, n=n, callgrind=out, only=only)
        totals.append(result["instructions"])
    return (totals[1] - totals[0]) / (args.large - args.small)


def main(args: argparse.Namespace) -> None:
    """Run the rounds; write the report."""
    started = time.monotonic()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.baseline:
        args.baseline = subprocess.run(
            ["git", "-C", str(REPO), "merge-base", "HEAD", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="accord-otel-bench-") as tmp:
        commit = export_baseline(args.baseline, Path(tmp))
        src = Path(tmp) / "src"
        runs: dict[str, dict[str, list[dict[str, float]]]] = {
            m: {v: [] for v in VARIANTS} for m in modes
        }
        for r in range(args.rounds):
            for mode in modes:
                order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]
                for variant in order:
                    runs[mode][variant].append(run_one(variant, mode, args, src))
                got = {v: runs[mode][v][-1]["cpu_us"] for v in VARIANTS}
                print(
                    f"round {r + 1} {mode}: "
                    + ", ".join(f"{v} {got[v]:.1f} µs" for v in VARIANTS),
                    flush=True,
                )
        counts: dict[str, dict[str, float]] = {}
        if args.callgrind:
            for mode in modes:
                counts[mode] = {
                    v: count(v, mode, args, src, Path(tmp)) for v in VARIANTS
                }
                if args.breakdown:
                    for only in ("tracing", "metrics"):
                        counts[mode][only] = count(
                            "on", mode, args, src, Path(tmp), only
                        )
                print(
                    f"callgrind {mode}: "
                    + ", ".join(f"{v} {n:,.0f}" for v, n in counts[mode].items()),
                    flush=True,
                )
    report = render(args, commit, runs, counts, time.monotonic() - started)
    Path(args.out).write_text(report)
    print(report)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def render(
    args: argparse.Namespace,
    commit: str,
    runs: dict[str, dict[str, list[dict[str, float]]]],
    counts: dict[str, dict[str, float]],
    seconds: float,
) -> str:
    """The Markdown report."""
    counted = []
    for mode, by in counts.items():
        label = "task (echo)" if mode == "task" else "message (reply)"
        parts = (
            f" {by['tracing'] - by['off']:+,.0f} | {by['metrics'] - by['off']:+,.0f} |"
            if "tracing" in by
            else ""
        )
        counted.append(
            f"| {label} | {by['baseline']:,.0f} | {by['off']:,.0f} | {by['on']:,.0f} | "
            f"{100 * (by['off'] / by['baseline'] - 1):+.2f} % | "
            f"{100 * (by['on'] / by['off'] - 1):+.1f} % |{parts}"
        )
    split = " tracing alone | metrics alone |" if args.breakdown else ""
    split_rule = "---|---|" if args.breakdown else ""
    instructions = (
        f"""
## Instructions per request (callgrind)

| request | baseline | off | on | off vs baseline | on vs off |{split}
|---|---|---|---|---|---|{split_rule}
{chr(10).join(counted)}

(I({args.large}) - I({args.small})) / {args.large - args.small} for each variant: its
instructions per request, not disturbed by other processes (see the docstring).
"tracing alone" and "metrics alone" (with `--breakdown`): the instructions each adds
to "off" when it is the only one instrumented.
"""
        if counted
        else ""
    )
    rows = []
    for mode, by in runs.items():
        label = "task (echo)" if mode == "task" else "message (reply)"
        cpu = {v: [x["cpu_us"] for x in by[v]] for v in VARIANTS}
        p99 = {v: [x["p99_ms"] for x in by[v]] for v in VARIANTS}
        off_ratio = [o / b for o, b in zip(cpu["off"], cpu["baseline"], strict=True)]
        on_ratio = [o / f for o, f in zip(cpu["on"], cpu["off"], strict=True)]
        rows.append(
            f"| {label} | {_median(cpu['baseline']):.1f} | {_median(cpu['off']):.1f} | "
            f"{_median(cpu['on']):.1f} | {100 * (_median(off_ratio) - 1):+.1f} % "
            f"({100 * (min(off_ratio) - 1):+.1f} .. {100 * (max(off_ratio) - 1):+.1f}) | "
            f"{100 * (_median(on_ratio) - 1):+.1f} % "
            f"({100 * (min(on_ratio) - 1):+.1f} .. {100 * (max(on_ratio) - 1):+.1f}) | "
            f"{_median(p99['baseline']):.2f} / {_median(p99['off']):.2f} / "
            f"{_median(p99['on']):.2f} |"
        )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"""# What OpenTelemetry costs (accord[otel]): benchmark results

Generated by `python bench/otel_bench.py` ({args.rounds} rounds, {seconds / 60:.1f} min).
See the script's docstring for the method.

## Machine

| | |
|---|---|
| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC |
| nproc | {os.cpu_count()} |
| Python | {platform.python_version()} |
| baseline | {commit} (`git merge-base HEAD main` unless `--baseline` says otherwise) |
| load | {args.n:,} blocking SendMessage per run after {args.warmup:,} of warm-up, {args.conc} callers, in-process (ASGI, memory store, uvloop), one process per run pinned to core 0 |
| loadavg at the end | {load} |

{instructions}
## CPU time per request

| request | baseline µs CPU | off µs CPU | on µs CPU | off vs baseline | on vs off | p99 ms (baseline / off / on) |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

CPU columns are each variant's median over the rounds. The two ratio columns are
medians of the ratios taken *within* each round (the three variants ran back to back),
with the smallest and largest in brackets: with tracing off the code differs from the
baseline only by the hooks' checks (no interceptor: none is called), so its ratio
should be within the machine's noise; "on" is the price of a SERVER span, an execution
span, the `traceparent` extraction and two metric points per request, against Accord's
own CPU alone (no HTTP parsing or sockets: over uvicorn a blocking SendMessage costs
about 155 µs of server CPU, bench/RESULTS.md's 6,469 requests per CPU-second, so over
the wire the relative cost is smaller, the absolute one the same). Sampling
(`OTEL_TRACES_SAMPLER`) makes the requests it leaves out nearly free: their spans do
not record.
"""


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        worker(arguments)
    else:
        main(arguments)
