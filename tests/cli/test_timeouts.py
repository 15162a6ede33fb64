"""A timeout is reported in the CLI's own terms: ``--timeout``, not library settings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.uvicorn_thread import serve_in_thread


async def _silent(scope: Any, receive: Any, send: Any) -> None:
    """Read the request, then answer nothing until the client goes away."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive())["type"] != "http.disconnect":
        pass


@pytest.mark.parametrize("command", [("card",), ("task", "list")])
def test_read_timeout_names_the_flag(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    with serve_in_thread(_silent) as base:
        result = run_cli(capsys, *command, base, "--timeout", "0.3")
    assert result.code == 3
    assert result.err == (
        f"accord: no answer from {base} within 0.3 s — pass a larger --timeout "
        "SECONDS for long-running tasks\n"
    )
    assert "ClientTimeouts" not in result.err
