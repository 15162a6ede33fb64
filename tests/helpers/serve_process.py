"""``accord serve`` as a process of its own, for tests of several instances and kill -9."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def accord_serve(
    folder: Path, *args: str, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Start ``accord serve ARGS --port 0`` in ``folder``; return the process and its
    base URL, read from the card URL it prints once listening."""
    argv = [sys.executable, "-m", "accord.cli", "serve", *args, "--port", "0"]
    process = subprocess.Popen(
        argv,
        cwd=folder,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Agent card: "):
            card = line.removeprefix("Agent card: ").strip()
            return process, card.removesuffix("/.well-known/agent-card.json")
    stop(process)
    raise AssertionError("accord serve printed no card URL")


def stop(process: subprocess.Popen[str]) -> None:
    """Kill ``process`` if it still runs, and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait(10)
    if process.stdout:
        process.stdout.close()
