"""MCP fixtures: the secured Receptionist on loopback, and ``accord mcp serve`` runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread

#: Seconds to wait for ``accord mcp serve --http`` to print its endpoint.
START_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def agent_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Receptionist, requiring :data:`RECEPTIONIST_KEY` in ``X-API-Key``."""
    db = tmp_path_factory.mktemp("receptionist") / "accord.db"
    with serve_in_thread(receptionist_app(db, api_key=RECEPTIONIST_KEY)) as base:
        yield base


def bridge_env() -> dict[str, str]:
    """The environment of a bridge process: the agent's key configured, not passed."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "ACCORD_API_KEY": RECEPTIONIST_KEY,
    }


def bridge_argv(agent_url: str, *extra: str) -> list[str]:
    """The command line of ``accord mcp serve URL EXTRA...``."""
    return [sys.executable, "-m", "accord.cli", "mcp", "serve", agent_url, *extra]


@contextmanager
def http_bridge(
    agent_url: str, *extra: str, lines: list[str] | None = None
) -> Iterator[str]:
    """``accord mcp serve URL --http`` as a process; yields its endpoint URL.

    ``lines`` receives what the process printed on stderr before the endpoint.
    """
    process = subprocess.Popen(
        bridge_argv(agent_url, "--http", *extra),
        env=bridge_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        endpoint = None
        for line in process.stderr:  # ends when the process exits
            if line.startswith("MCP endpoint: "):
                endpoint = line.removeprefix("MCP endpoint: ").strip()
                break
            if lines is not None:
                lines.append(line.rstrip("\n"))
        assert endpoint is not None, "accord mcp serve --http printed no endpoint"
        yield endpoint
        # Ctrl-C stops it cleanly.
        process.send_signal(signal.SIGINT)
        assert process.wait(START_TIMEOUT) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
