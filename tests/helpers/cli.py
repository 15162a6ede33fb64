"""Call ``accord`` in-process (``main([...])``) and capture what it prints."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from accord.cli.main import main

__all__ = ["Result", "closed_port_url", "reap", "run_cli", "spawn_serve"]


@dataclass(frozen=True)
class Result:
    """Exit code and output of one ``accord`` run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout decoded as one JSON document."""
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        """stdout decoded as NDJSON (one document per line)."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """Run ``accord *argv`` and return its exit code and output."""
    capsys.readouterr()  # drop anything printed before
    code = main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def reap(process: subprocess.Popen[str]) -> None:
    """Kill ``process`` if it still runs (a test failed before stopping it), and read
    its pipes to the end: the ``finally`` of every test of a spawned server."""
    if process.poll() is None:
        process.kill()
        process.communicate()


def spawn_serve(*argv: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``accord serve *argv`` as a child process (text pipes, unbuffered).

    ``ACCORD_API_KEYS`` is dropped, so the demo Receptionist writes its own key.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ACCORD_API_KEYS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "serve", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
