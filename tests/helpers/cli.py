"""Call ``accord`` in-process (``main([...])``) and capture what it prints."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

import pytest

from accord.cli.main import main

__all__ = ["Result", "closed_port_url", "run_cli"]


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
