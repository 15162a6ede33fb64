"""The official SDK's hello-world agent: interfaces without ``protocolVersion``.

The CLI takes such an interface as A2A 1.0 with a warning (see
``accord.client.card``), and ``--binding`` picks among them.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.uvicorn_thread import serve_in_thread

from .sdk_hello import JSONRPC_PATH, HelloWorld

WARNING = (
    "agent 'Hello World Agent' gives no protocolVersion (required by A2A spec "
    "§8.3.1) for JSONRPC at {base}/jsonrpc, HTTP+JSON at {base}; assuming 1.0"
)


@dataclass
class PathRecorder:
    """An ASGI wrapper that records the method and path of each HTTP request."""

    app: Any
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, PathRecorder]]:
    hello = HelloWorld()
    recorder = PathRecorder(hello.app)
    with serve_in_thread(recorder) as base:
        hello.set_base_url(base)
        yield base, recorder


@pytest.fixture
def sdk(served: tuple[str, PathRecorder]) -> tuple[str, PathRecorder]:
    served[1].seen.clear()
    return served


def test_card_is_shown_and_usable(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    sdk: tuple[str, PathRecorder],
) -> None:
    base, _ = sdk
    with caplog.at_level(logging.WARNING, logger="accord"):
        result = run_cli(capsys, "card", base)
    assert result.code == 0, result.err
    assert (
        f"interfaces:    JSONRPC    {base}{JSONRPC_PATH}  "
        "(A2A 1.0 assumed: no protocolVersion)"
    ) in result.out.splitlines()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("accord.")]
    assert ours == [WARNING.format(base=base)]


@pytest.mark.parametrize(
    ("binding", "path"),
    [(None, JSONRPC_PATH), ("JSONRPC", JSONRPC_PATH), ("HTTP+JSON", "/message:send")],
)
def test_send_uses_the_chosen_binding(
    capsys: pytest.CaptureFixture[str],
    sdk: tuple[str, PathRecorder],
    binding: str | None,
    path: str,
) -> None:
    base, recorder = sdk
    extra = ["--binding", binding] if binding else []
    result = run_cli(capsys, "send", base, "hi", *extra)
    assert result.code == 0, result.err
    assert result.out.startswith("message:  Hello World\n")
    assert recorder.seen[-1] == ("POST", path)


def test_the_warning_is_one_cli_line(sdk: tuple[str, PathRecorder]) -> None:
    base, _ = sdk
    done = subprocess.run(
        [sys.executable, "-m", "accord.cli", "send", base, "hi", "--binding", "REST"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Only the interfaces of the chosen binding are considered (and warned about).
    assert done.stderr == (
        "accord: warning: agent 'Hello World Agent' gives no protocolVersion "
        f"(required by A2A spec §8.3.1) for HTTP+JSON at {base}; assuming 1.0\n"
    )
