"""``accord serve``'s connection-limit flags reach the uvicorn configuration."""

from __future__ import annotations

import re
import signal
import socket
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

from accord.cli.commands.serve import LIMIT_FLAGS, connection_limits, server_options
from accord.cli.main import build_parser
from accord.server import ConnectionLimits
from tests.helpers.cli import reap, run_cli

from . import agents
from .test_serve import _card_line, _spawn

FLAGS = [
    "--limit-connections", "7",
    "--max-header-bytes", "4096",
    "--max-headers", "20",
    "--max-request-line", "512",
    "--header-timeout", "2.5",
    "--body-timeout", "9",
    "--keep-alive-timeout", "1.5",
]  # fmt: skip


def _args(*argv: str) -> object:
    return build_parser().parse_args(["serve", *argv])


def test_flags_reach_the_protocol_uvicorn_runs() -> None:
    expected = ConnectionLimits(
        max_connections=7,
        max_header_bytes=4096,
        max_headers=20,
        max_request_line=512,
        header_timeout=2.5,
        body_timeout=9.0,
        keep_alive_timeout=1.5,
    )
    options = server_options(_args(*FLAGS))  # type: ignore[arg-type]
    assert options["http"].limits == expected
    assert options["timeout_keep_alive"] == 1.5
    config = uvicorn.Config(agents.app, **options)
    config.load()
    assert config.http_protocol_class.limits == expected  # type: ignore[attr-defined]


def test_without_flags_the_defaults_apply() -> None:
    assert connection_limits(_args()) == ConnectionLimits()  # type: ignore[arg-type]


def test_tls_keeps_the_limits(tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_text("not read here")
    args = _args("--ssl-certfile", str(pem), "--header-timeout", "3")
    options = server_options(args)  # type: ignore[arg-type]
    assert options["ssl_certfile"] == str(pem)
    assert options["http"].limits == ConnectionLimits(header_timeout=3.0)


def test_help_names_every_limit_with_its_real_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_cli(capsys, "serve", "--help")
    assert result.code == 0
    text = " ".join(result.out.split())
    defaults = ConnectionLimits()
    assert {f.name for f in fields(defaults)} - set(LIMIT_FLAGS) == {"retry_after"}
    for field, dest in LIMIT_FLAGS.items():
        flag = "--" + dest.replace("_", "-")
        match = re.search(re.escape(flag) + r" \w+ .*?\(default: ([\d.]+)", text)
        assert match, f"{flag} is not documented with its default"
        assert float(match.group(1)) == getattr(defaults, field), flag


@pytest.mark.parametrize(
    "argv",
    [["--header-timeout", "0"], ["--limit-connections", "0"], ["--max-headers", "x"]],
)
def test_bad_values_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    result = run_cli(capsys, "serve", *argv)
    assert result.code == 2
    assert argv[0] in result.err


@pytest.mark.slow
def test_accord_serve_enforces_the_flags(tmp_path: Path) -> None:
    process = _spawn(
        "--port", "0", "--db", "x.db", "--header-timeout", "0.5", "--max-headers", "5",
        cwd=tmp_path,
    )  # fmt: skip
    try:
        parts = urlsplit(_card_line(process))
        address = (parts.hostname, parts.port)
        with socket.create_connection(address, timeout=10) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # and nothing more
            assert slow.recv(100).startswith(b"HTTP/1.1 408 ")
        many = "".join(f"X-{i}: v\r\n" for i in range(6))
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n".encode())
            assert sock.recv(100).startswith(b"HTTP/1.1 431 ")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    finally:
        reap(process)
    assert process.returncode == 0, err
    assert "Traceback" not in err
