"""``accord serve --public-url / --forwarded-allow-ips / --cors-*``: flags reach the app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from accord.cli.commands.serve import configure_app, public_options
from accord.cli.main import build_parser
from accord.server import A2AApp
from tests.helpers.cli import run_cli

from .agents import agent


def _options(*flags: str) -> A2AApp:
    args = build_parser().parse_args(["serve", *flags])
    app = A2AApp(agent)
    configure_app(app, public_options(args))
    return app


def test_flags_reach_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    app = _options(
        "--public-url",
        "https://Agents.example.com/echo/",
        "--forwarded-allow-ips",
        "10.0.0.0/8,192.0.2.7",
        "--cors-allow-origins",
        "https://app.example.com,http://localhost:5173",
        "--cors-allow-credentials",
    )
    assert app.public_url == "https://agents.example.com/echo"
    assert app.forwarded_allow_ips == ("10.0.0.0/8", "192.0.2.7")
    assert app.cors is not None
    assert app.cors.allow_origins == (
        "https://app.example.com",
        "http://localhost:5173",
    )
    assert app.cors.allow_credentials is True


def test_without_flags_the_app_keeps_its_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    app = _options()
    assert app.public_url is None
    assert app.forwarded_allow_ips == ("127.0.0.1", "::1")
    assert app.cors is None
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "172.16.0.0/12")  # as uvicorn reads it
    assert _options().forwarded_allow_ips == ("172.16.0.0/12",)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--public-url", "javascript://agents.example.com"), "https://"),
        (("--forwarded-allow-ips", "proxy.example"), "not an IP address"),
        (("--cors-allow-origins", "null"), "null"),
        (("--cors-allow-origins", "*", "--cors-allow-credentials"), "explicit origins"),
        (("--cors-allow-credentials",), "needs --cors-allow-origins"),
    ],
)
def test_bad_flags_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    flags: tuple[str, ...],
    message: str,
) -> None:
    result = run_cli(capsys, "serve", "--db", str(tmp_path / "x.db"), *flags)
    assert result.code == 2
    assert message in result.err
    assert not (tmp_path / "x.db").exists()  # refused before anything was loaded


def test_serve_trusts_the_configured_proxy_only(tmp_path: Path) -> None:
    """uvicorn's own proxy-header handling is off: the app's allow-list decides.

    With uvicorn's, a loopback proxy's ``X-Forwarded-For`` would replace the peer the
    app checks, and the proxy's ``X-Forwarded-Host`` would be ignored.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("FORWARDED_ALLOW_IPS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "serve", "tests.cli.agents:agent",
         "--port", "0", "--db", "p.db", "--forwarded-allow-ips", "127.0.0.1",
         "--cors-allow-origins", "https://app.example.com"],
        cwd=Path(__file__).resolve().parents[2], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        card_url = ""
        for line in process.stdout:
            if line.startswith("Agent card: "):
                card_url = line.removeprefix("Agent card: ").strip()
                break
        assert card_url, process.communicate(timeout=10)[1]
        base = card_url.removesuffix("/.well-known/agent-card.json")
        with httpx.Client(timeout=10) as http:
            card = http.get(
                card_url,
                headers={
                    "X-Forwarded-For": "203.0.113.9",
                    "X-Forwarded-Host": "agents.example.com",
                    "X-Forwarded-Proto": "https",
                },
            )
            preflight = http.options(
                base + "/",
                headers={
                    "Origin": "https://app.example.com",
                    "Access-Control-Request-Method": "POST",
                },
            )
    finally:
        process.terminate()
        process.communicate(timeout=15)
    urls = [i["url"] for i in card.json()["supportedInterfaces"]]
    assert urls[-1] == "https://agents.example.com"
    assert card.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
