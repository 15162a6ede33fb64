"""How long one `accord` command takes, start to exit, against a loopback agent.

Runs ``python -m accord.cli card URL`` (and a few other commands) ``--runs`` times each
as fresh processes against an Accord agent served by uvicorn on 127.0.0.1 in this
process, and prints the median, minimum and maximum wall time and the median CPU time
(user + system) of each. Baselines show the floor: the interpreter alone, and the
import of httpx. ``--src DIR`` runs another checkout's ``src`` (e.g. a ``git worktree``
of an older commit) to compare before and after::

    .venv/bin/python bench/cli_startup.py
    git worktree add /tmp/before <commit>
    .venv/bin/python bench/cli_startup.py --src /tmp/before/src

A benchmark, not a test: nothing asserts on the numbers (the machine's load decides
them; compare runs made one after the other).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.uvicorn_thread import serve_in_thread  # noqa: E402


def _agent() -> object:
    from accord.server import A2AApp, Agent, TaskContext

    async def echo(ctx: TaskContext) -> None:
        await ctx.reply(ctx.text)

    return A2AApp(Agent(echo, name="Echo", description="Says it back"))


def _time(argv: list[str], env: dict[str, str], runs: int) -> tuple[list[float], float]:
    """Wall times of ``runs`` runs, and the median CPU seconds of one."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{done.stderr.decode()}")
    return walls, statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command")
    parser.add_argument(
        "--src", type=Path, default=ROOT / "src", help="the accord sources to run"
    )
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    py = sys.executable
    with serve_in_thread(_agent()) as url:
        cases = {
            "python -c pass": [py, "-c", "pass"],
            "python -c 'import httpx'": [py, "-c", "import httpx"],
            "accord --help": [py, "-m", "accord.cli", "--help"],
            "accord card URL": [py, "-m", "accord.cli", "card", url],
            "accord send URL hi": [py, "-m", "accord.cli", "send", url, "hi"],
            "accord task list URL": [py, "-m", "accord.cli", "task", "list", url],
        }
        print(f"accord from {args.src}; {args.runs} runs each; seconds")
        print(f"{'command':<28}{'median':>8}{'min':>8}{'max':>8}{'cpu':>8}")
        for label, argv in cases.items():
            walls, cpu = _time(argv, env, args.runs)
            print(
                f"{label:<28}{statistics.median(walls):>8.3f}{min(walls):>8.3f}"
                f"{max(walls):>8.3f}{cpu:>8.3f}"
            )


if __name__ == "__main__":
    main()
