"""The docs harness itself: it parses what the conventions say and fails when it must.

Fast (one or two subprocesses), so it runs in the default suite; the page runs are in
``test_code_blocks.py`` (slow).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from .blocks import Block, blocks_of
from .runner import BlockFailed, PageRunner, free_port


def _page(tmp_path: Path, text: str) -> list[Block]:
    path = tmp_path / "_harness_selftest.md"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return blocks_of(path)


def test_unknown_language_and_bare_fence_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown code block language 'pyhton'"):
        _page(tmp_path, "```pyhton\nprint(1)\n```\n")
    with pytest.raises(ValueError, match="a code block without a language"):
        _page(tmp_path, "```\nprint(1)\n```\n")
    with pytest.raises(ValueError, match="skip needs a reason"):
        _page(tmp_path, "<!-- docs-test: skip -->\n```sh\nfalse\n```\n")
    with pytest.raises(ValueError, match="unknown docs-test directive"):
        _page(tmp_path, "<!-- docs-test: ignore -->\n```sh\nfalse\n```\n")
    with pytest.raises(ValueError, match="unterminated"):
        _page(tmp_path, "```sh\ntrue\n")


def test_blocks_are_parsed_with_titles_skips_and_indentation(tmp_path: Path) -> None:
    blocks = _page(
        tmp_path,
        """
        * item

          ```python title="a.py"
          X = 1
          ```

        <!-- docs-test: skip needs the network -->
        ```sh
        pip install nothing
        ```

        ```console
        $ whatever
        ```
        """,
    )
    assert [(b.lang, b.title, b.skip, b.runs) for b in blocks] == [
        ("python", "a.py", None, True),
        ("sh", None, "needs the network", False),
        ("console", None, None, False),
    ]
    assert blocks[0].code == "X = 1\n"


def test_a_failing_block_fails_with_its_location(tmp_path: Path) -> None:
    (block,) = _page(tmp_path, "```python\nraise SystemExit('broken docs')\n```\n")
    with PageRunner(tmp_path, free_port()) as runner, pytest.raises(BlockFailed) as err:
        runner.run(block)
    assert "_harness_selftest.md:1: `python` block exited 1" in str(err.value)
    assert "broken docs" in str(err.value)


def test_shell_state_carries_and_a_failing_command_fails(tmp_path: Path) -> None:
    blocks = _page(
        tmp_path,
        """
        ```sh
        export GREETING=hello
        ```

        ```python
        import os
        assert os.environ["GREETING"] == "hello"
        ```

        ```sh
        false
        echo not reached
        ```
        """,
    )
    with PageRunner(tmp_path, free_port()) as runner:
        runner.run(blocks[0])
        runner.run(blocks[1])
        with pytest.raises(BlockFailed, match="`sh` block exited 1"):
            runner.run(blocks[2])


def test_installing_packages_is_refused(tmp_path: Path) -> None:
    blocks = _page(
        tmp_path,
        """
        ```sh
        pip install --no-index nothing-at-all
        ```

        ```sh
        python -m pip install --no-index nothing-at-all
        ```

        ```sh
        python -c "print('plain python runs')"
        ```
        """,
    )
    with PageRunner(tmp_path, free_port()) as runner:
        for block in blocks[:2]:
            with pytest.raises(BlockFailed, match="would change the test environment"):
                runner.run(block)
        runner.run(blocks[2])


def test_a_server_on_port_8001_runs_beside_the_first(tmp_path: Path) -> None:
    blocks = _page(
        tmp_path,
        """
        ```python title="hello.py"
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"hello"})
        ```

        ```sh
        uvicorn hello:app
        uvicorn hello:app --port 8001
        ```

        ```python
        import httpx

        for url in ("http://127.0.0.1:8000/", "http://127.0.0.1:8001/"):
            assert httpx.get(url).text == "hello", url
        ```
        """,
    )
    with PageRunner(tmp_path, free_port()) as runner:
        for block in blocks:
            runner.run(block)
        assert runner.second_port != runner.port
        assert (
            f"127.0.0.1:{runner.second_port}" in (tmp_path / "_block_15.py").read_text()
        )
