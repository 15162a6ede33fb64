"""``accord serve`` as a process of its own, for tests of several instances and kill -9."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

#: The thread reading each running server's output, by process id.
_readers: dict[int, threading.Thread] = {}


def accord_serve(
    folder: Path, *args: str, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Start ``accord serve ARGS --port 0`` in ``folder``; return the process and its
    base URL, read from the card URL it prints once listening.

    The rest of its output (an access line per request) is read on, by a thread that
    :func:`stop` joins: a pipe nobody reads fills after some 64 KiB, and a server
    writing to it would then stop answering.
    """
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
            _read_on(process, process.stdout)
            return process, card.removesuffix("/.well-known/agent-card.json")
    stop(process)
    raise AssertionError("accord serve printed no card URL")


def _read_on(process: subprocess.Popen[str], out: IO[str]) -> None:
    def drain() -> None:
        for _ in out:
            pass

    reader = threading.Thread(target=drain, name=f"accord serve {process.pid} output")
    reader.start()
    _readers[process.pid] = reader


def stop(process: subprocess.Popen[str]) -> None:
    """Kill ``process`` if it still runs, and reap it (and the reader of its output)."""
    if process.poll() is None:
        process.kill()
    process.wait(10)
    reader = _readers.pop(process.pid, None)
    if reader is not None:
        reader.join(10)  # the pipe ends with the process
    if process.stdout:
        process.stdout.close()
