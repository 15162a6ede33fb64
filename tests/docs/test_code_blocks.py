"""Every code block of README.md and docs/**/*.md runs, as written, in a test.

Conventions (the full list is in docs/contributing.md, "Code blocks"):

* The fence's language says what a block is: ``python`` runs as a script, ``sh`` /
  ``bash`` run with bash (``set -euo pipefail``); ``text``, ``console``, ``mermaid``,
  ``json``, ``toml``, ``yaml`` and ``http`` are shown, never run. Any other language,
  or none, fails :func:`test_every_block_says_what_it_is`.
* ``python title="echo.py"`` also saves the block as ``echo.py`` for later blocks.
* A page's blocks run in order in one folder, sharing exported variables, against one
  free port: ``127.0.0.1:8000`` in a block means that port, and ``accord serve`` runs
  in the background until the next ``accord serve`` or the end of the page (it must
  then stop cleanly on Ctrl-C). A block that calls the URL while no server runs gets
  the demo Receptionist, with ``ACCORD_API_KEY`` set (see ``runner.py``).
* A block that cannot run here is marked, visibly, by the line
  ``<!-- docs-test: skip REASON -->`` right before its fence.

Nothing is skipped silently: besides the visible skip markers, :data:`PENDING` lists
the blocks that wait for another change; a pending block that starts to pass fails the
test until its entry goes.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from .blocks import REPO, Block, blocks_of, pages
from .runner import BlockFailed, PageRunner, free_port

#: Blocks expected to fail until another change lands: (page, text the block
#: contains) -> why. The page's other blocks must pass; when a pending block passes,
#: the test fails so that its entry is removed.
PENDING: dict[tuple[str, str], str] = {}


def _page_id(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _runnable_pages() -> list[Path]:
    return [page for page in pages() if any(block.runs for block in blocks_of(page))]


def _pending(block: Block) -> str | None:
    for (page, marker), reason in PENDING.items():
        if block.page == page and marker in block.code:
            return reason
    return None


def test_every_block_says_what_it_is() -> None:
    """Parsing every page raises on an unknown language or a bad directive."""
    found = [block for page in pages() for block in blocks_of(page)]
    assert any(block.runs for block in found)
    for block in found:
        assert block.skip is None or block.skip.strip(), block.where


def test_pending_entries_exist() -> None:
    for page, marker in PENDING:
        assert any(marker in b.code for b in blocks_of(REPO / page)), (page, marker)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", _runnable_pages(), ids=_page_id)
def test_page_blocks_run(page: Path, tmp_path: Path) -> None:
    """Run the page's blocks in order; any failure names the block's page:line."""
    expected_failures: list[str] = []
    with PageRunner(tmp_path, free_port()) as runner:
        for block in blocks_of(page):
            reason = _pending(block)
            if reason is None:
                runner.run(block)
                continue
            try:
                runner.run(block)
            except BlockFailed:
                expected_failures.append(f"{block.where}: {reason}")
            else:
                pytest.fail(
                    f"{block.where} passes now: remove its PENDING entry ({reason})"
                )
    if expected_failures:
        pytest.xfail("; ".join(expected_failures))


def test_a_served_agent_runs_until_the_page_ends(tmp_path: Path) -> None:
    """`accord serve` in a shell block starts the server; a failing start fails."""
    page = tmp_path / "served.md"
    page.write_text(
        textwrap.dedent(
            """
            ```python title="tiny.py"
            from accord.server import Agent, TaskContext

            agent = Agent(name="Tiny", description="replies")


            @agent.executor
            async def run(ctx: TaskContext) -> None:
                await ctx.reply("pong")
            ```

            ```sh
            accord serve tiny.py --db tiny.db
            accord send http://127.0.0.1:8000 ping > reply.txt
            ```

            ```sh
            grep -q pong reply.txt
            accord serve no_such_agent.py
            ```
            """
        ),
        encoding="utf-8",
    )
    tiny, served, broken = blocks_of(page)
    work = tmp_path / "work"
    work.mkdir()
    with PageRunner(work, free_port()) as runner:
        runner.run(tiny)
        runner.run(served)
        with pytest.raises(BlockFailed, match="did not start") as failed:
            runner.run(broken)
    assert "no such file" in str(failed.value)
