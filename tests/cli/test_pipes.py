"""``accord`` in a pipeline: a reader that goes away, and input from stdin or a file.

The pipeline tests run the real console entry point (``python -m accord.cli``) as a
subprocess, as a shell would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import run_cli

TIMEOUT = 30


def _run_into_closed_pipe(*argv: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``accord *argv`` with stdout a pipe whose reader has already gone.

    The read end is closed before the process starts, so its first write fails
    (EPIPE) however fast or slow it is: what ``accord … | head -1`` meets once
    ``head`` has exited.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "accord.cli", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        # argparse itself ignores a failed write of --help.
        (("--help",), 0),
        (("card", "{url}"), 141),
        (("task", "list", "{url}"), 141),
        (("send", "{url}", "Summary of call-1001", "--stream"), 141),
    ],
)
def test_closed_stdout_is_quiet(url: str, argv: tuple[str, ...], code: int) -> None:
    done = _run_into_closed_pipe(*(a.format(url=url) for a in argv))
    assert done.stderr == b""  # no traceback, no "Exception ignored"
    assert done.returncode == code


def _send_json(*argv: str, stdin: bytes | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "accord.cli", "send", *argv, "--json"],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    reply: dict[str, object] = json.loads(done.stdout)
    return reply


def _first_user_text(reply: dict[str, object]) -> str:
    task = reply["task"]
    assert isinstance(task, dict)
    text: str = task["history"][0]["parts"][0]["text"]
    return text


def test_text_from_stdin_multi_line_and_large(url: str) -> None:
    body = "Summary of call-1001\n" + "line with ünïcode and \"quotes\" 'too'\n" * 5000
    reply = _send_json(url, "-", stdin=body.encode())
    # One trailing newline is dropped, as `$(…)` would; everything else arrives.
    assert _first_user_text(reply) == body.removesuffix("\n")
    assert len(body) > 150_000


def test_text_from_a_file(url: str, tmp_path: Path) -> None:
    message = tmp_path / "message.txt"
    message.write_text("Summary of call-1002\nsecond line\n", encoding="utf-8")
    reply = _send_json(url, f"@{message}")
    assert _first_user_text(reply) == "Summary of call-1002\nsecond line"


def test_data_from_stdin_and_from_a_file(url: str, tmp_path: Path) -> None:
    data = {"callId": "call-1001", "notes": ["a", "b"], "nested": {"n": 1.5}}
    reply = _send_json(
        url, "Summary of call-1001", "--data", "-", stdin=json.dumps(data).encode()
    )
    task = reply["task"]
    assert isinstance(task, dict)
    assert task["history"][0]["parts"][1]["data"] == data
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    reply = _send_json(url, "Summary of call-1001", "--data", f"@{path}")
    task = reply["task"]
    assert isinstance(task, dict)
    assert task["history"][0]["parts"][1]["data"] == data


def test_missing_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_cli(capsys, "send", "http://127.0.0.1:1", f"@{tmp_path}/nope.txt")
    assert result.code == 2
    assert result.err.startswith(
        f"accord: cannot read the message from {tmp_path}/nope.txt"
    )
    assert "through stdin with -" in result.err


def test_bad_json_from_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"a": 1,\n  oops}', encoding="utf-8")
    result = run_cli(capsys, "send", "http://127.0.0.1:1", "hi", "--data", f"@{path}")
    assert result.code == 2
    assert result.err == (
        f"accord: --data is not valid JSON in {path} "
        "(Expecting property name enclosed in double quotes at line 2 column 3)\n"
    )


def test_stdin_only_once(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "send", "http://127.0.0.1:1", "-", "--data", "-")
    assert result.code == 2
    assert "only one of TEXT and --data can read stdin" in result.err


def test_help_documents_stdin_and_files(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "send", "--help").out
    assert "- reads it from stdin, @FILE from a file" in " ".join(out.split())
    assert "accord send http://127.0.0.1:8000 - < message.txt" in out
