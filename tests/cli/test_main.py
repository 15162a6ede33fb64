"""``accord`` itself: help, version, usage errors, exit codes, the entry points."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accord import __version__
from accord.cli._errors import exit_code_for, explain
from accord.cli.main import EPILOG, main
from accord.errors import (
    CardError,
    ConnectError,
    HTTPStatusError,
    InternalError,
    PermissionDeniedError,
    TaskNotFoundError,
    TimeoutError,
    UnauthenticatedError,
)
from tests.helpers.cli import run_cli


def test_help_lists_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "--help")
    assert result.code == 0
    for command in ("serve", "card", "send", "task", "db"):
        assert command in result.out
    assert "exit codes:" in result.out
    assert "5   not found" in result.out
    assert "141 stdout closed" in result.out


@pytest.mark.parametrize(
    "argv",
    [
        ["card", "--help"],
        ["send", "--help"],
        ["task", "list", "--help"],
        ["task", "subscribe", "--help"],
        ["serve", "--help"],
        ["card", "sign", "--help"],
    ],
)
def test_subcommand_help_shows_its_own_examples_once(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    out = run_cli(capsys, *argv).out
    assert out.count("examples:") == 1
    # The exit-code table and environment belong to `accord --help` only.
    assert "exit codes:" not in out
    assert "ACCORD_CLIENT_SECRET  " not in out
    assert "exit codes and environment variables: accord --help" in out
    command = " ".join(a for a in argv if a != "--help")
    assert f"  accord {command} " in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "--version")
    assert result.code == 0
    assert result.out.strip() == f"accord {__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["task"],
        ["send", "http://x", "hi", "--data", "{not json"],
        ["send", "http://x", "hi", "--binding", "SOAP"],
        ["task", "list", "http://x", "--status", "sleeping"],
        ["task", "list", "http://x", "--page-size", "0"],
        ["task", "get", "http://x", "t1", "--history", "-1"],
        ["send", "http://x", "hi", "-H", "no colon"],
        ["serve", "--port", "70000"],
        ["card", "localhost:8000"],
        ["card", "http://[::1"],
        ["task", "get", "ftp://host", "t1"],
        ["card", "http://x", "--timeout", "0"],
        ["card", "http://x", "--timeout", "soon"],
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    result = run_cli(capsys, *argv)
    assert result.code == 2
    assert "usage: accord" in result.err


def test_url_typo_gets_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "card", "localhost:8000")
    assert "did you mean http://localhost:8000?" in result.err


def test_send_needs_text_or_data(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "send", "http://127.0.0.1:1")
    assert result.code == 2
    assert (
        result.err
        == "accord: accord send: give the message TEXT, --data JSON, or both\n"
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConnectError("Cannot connect to x: connection refused"), 3),
        (TimeoutError("no answer"), 3),
        (UnauthenticatedError(), 4),
        (PermissionDeniedError(), 4),
        (HTTPStatusError("401", status_code=401), 4),
        (HTTPStatusError("403", status_code=403), 4),
        (HTTPStatusError("500", status_code=500), 1),
        (CardError("Agent card at x: HTTP 401 Unauthorized", status_code=401), 4),
        (CardError("Agent card at x: HTTP 404 Not Found", status_code=404), 5),
        (CardError("Agent card at x is invalid: y"), 1),
        (TaskNotFoundError(), 5),
        (InternalError(), 1),
        (ExceptionGroup("one", [TaskNotFoundError()]), 5),
        (ValueError("a bug"), None),
    ],
)
def test_exit_code_table(error: Exception, code: int | None) -> None:
    assert exit_code_for(error) == code


def test_explanations_are_one_line() -> None:
    class Args:
        url = "http://agent"
        task_id = "t-1"

    for error in (
        ConnectError("Cannot connect to x: connection refused — is the agent running?"),
        HTTPStatusError("x", status_code=401),
        PermissionDeniedError("nope"),
        TaskNotFoundError("Task t-1 not found"),
        InternalError("boom"),
    ):
        text = explain(error, Args())
        assert "\n" not in text
        assert text
    assert "--token" in explain(UnauthenticatedError(), Args())
    assert "task t-1 was not found at http://agent" in explain(
        TaskNotFoundError(), Args()
    )


def test_python_dash_m_and_epilog() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "accord.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0
    assert EPILOG.splitlines()[0] in done.stdout


def test_main_defaults_to_sys_argv(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["accord", "--version"])
    assert main() == 0
    assert __version__ in capsys.readouterr().out


def test_ctrl_c_exits_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from accord.cli.commands import db

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(db, "run", interrupted)
    result = run_cli(capsys, "db", "migrate")
    assert result.code == 130
    assert result.err == "accord: interrupted\n"


def _broken(args: object) -> int:
    raise ZeroDivisionError("a bug")


def test_a_bug_is_one_line_without_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from accord.cli.commands import db

    monkeypatch.delenv("ACCORD_DEBUG", raising=False)
    monkeypatch.setattr(db, "run", _broken)
    result = run_cli(capsys, "db", "migrate")
    assert result.code == 70
    assert result.err == (
        "accord: unexpected error (ZeroDivisionError: a bug) — this is a bug in "
        "accord; run again with ACCORD_DEBUG=1 for the traceback and report it\n"
    )


def test_a_bug_keeps_its_traceback_with_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    from accord.cli.commands import db

    monkeypatch.setenv("ACCORD_DEBUG", "1")
    monkeypatch.setattr(db, "run", _broken)
    with pytest.raises(ZeroDivisionError):
        main(["db", "migrate"])


def test_a_bug_in_a_subprocess_prints_no_traceback(tmp_path: Path) -> None:
    # A bug as a user meets it: the console script, output to a file.
    script = (
        "import sys\n"
        "from accord.cli.commands import db\n"
        "def broken(args):\n"
        "    raise RuntimeError('boom')\n"
        "db.run = broken\n"
        "from accord.cli.main import entry\n"
        "sys.argv = ['accord', 'db', 'migrate']\n"
        "entry()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ACCORD_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 70
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("accord: unexpected error (RuntimeError: boom)")


def test_missing_security_extra(tmp_path: Path) -> None:
    # Without cryptography (simulated: the module is made unimportable).
    script = (
        "import sys\n"
        "sys.modules['cryptography'] = None\n"
        "from accord.cli.main import main\n"
        f"sys.exit(main(['keys', 'generate', '--out', {str(tmp_path / 'k')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "accord: accord keys needs the security extra: pip install 'accord[security]'\n"
    )
    assert not list(tmp_path.iterdir())


def test_a_bug_outside_a_command_is_one_line_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_main = sys.modules["accord.cli.main"]

    def broken_parser() -> object:
        raise AttributeError("no such option")

    monkeypatch.delenv("ACCORD_DEBUG", raising=False)
    monkeypatch.setattr(cli_main, "build_parser", broken_parser)
    result = run_cli(capsys, "--version")
    assert result.code == 70
    assert result.err.startswith("accord: unexpected error (AttributeError: no such")
