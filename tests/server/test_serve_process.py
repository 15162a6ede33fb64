"""The spawned-server helper (tests/helpers/serve_process.py) reads a server's output
on: a server that has written more than a pipe holds (some 64 KiB of access lines)
still answers. Before, the helper stopped reading at the card line, and a test that
polled one instance ~640 times froze it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.serve_process import accord_serve, stop

from .conftest import V1

pytestmark = pytest.mark.slow

#: Requests enough for their access lines to fill a pipe twice over.
REQUESTS = 1_500


def test_a_spawned_server_answers_past_a_pipe_of_output(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(
        "from accord.server import Agent\n\n"
        "async def echo(ctx):\n    await ctx.reply('ok')\n\n"
        "agent = Agent(echo, name='Echo', description='echoes')\n"
    )
    process, base = accord_serve(tmp_path, "echo.py", "--db", str(tmp_path / "t.db"))
    try:
        with httpx.Client(timeout=10) as http:
            url = f"{base}/tasks/00000000-0000-4000-8000-000000000000"
            for _ in range(REQUESTS):
                assert http.get(url, headers=V1).status_code == 404
    finally:
        stop(process)
