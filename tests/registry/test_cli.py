"""``accord registry serve|register|list|show|remove`` and ``accord discover``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from accord.security import card_json
from accord.types import encode
from tests.helpers.cli import closed_port_url, run_cli
from tests.helpers.uvicorn_thread import serve_in_thread

from ._cards import make_card, skill
from ._hosts import CardHost

KEY = "cli-publisher-key-0123456789abcdef"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``accord registry serve`` as a process, on a free port."""
    cwd = tmp_path_factory.mktemp("registry")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ACCORD_REGISTRY_KEYS": f"ci={KEY}"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "accord.cli",
            "registry",
            "serve",
            "--port",
            "0",
            "--allow",
            "127.0.0.1",
            "--no-health",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until it listens (or exits)
        assert line.startswith("registry listening on "), process.stderr.read()  # type: ignore[union-attr]
        yield line.split()[-1]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err  # Ctrl-C is a clean stop
    assert "Traceback" not in err
    assert (cwd / "registry.db").exists()


@pytest.fixture(scope="module")
def agents() -> Iterator[list[str]]:
    with ExitStack() as stack:
        urls = []
        for name, sid, text in (
            ("Callbacks", "callback", "Schedule a callback"),
            ("Weather", "forecast", "Weather forecast"),
        ):
            host = CardHost(b"{}")
            url = stack.enter_context(serve_in_thread(host))
            card = make_card(
                name, skills=(skill(sid, sid, text, "demo"),), url=f"{url}/a2a"
            )
            host.card = encode(card_json(card))
            urls.append(url)
        yield urls


def test_register_list_show_discover_remove(
    capsys: pytest.CaptureFixture[str], registry: str, agents: list[str]
) -> None:
    reg = ("--registry", registry, "--api-key", KEY)
    first = run_cli(capsys, "registry", "register", agents[0], *reg)
    assert first.code == 0, first.err
    assert first.out.startswith("registered: urn:air:127.0.0.1:port-")
    second = run_cli(capsys, "registry", "register", agents[1], *reg, "--json")
    identifier = second.json()["identifier"]
    listed = run_cli(capsys, "registry", "list", "--registry", registry)
    assert identifier in listed.out
    assert "Callbacks" in listed.out
    shown = run_cli(capsys, "registry", "show", identifier, "--registry", registry)
    assert "Weather" in shown.out
    assert "health: unknown" in shown.out
    assert "v1  sha256:" in shown.out
    found = run_cli(capsys, "discover", registry, "schedule a callback")
    assert found.code == 0
    assert found.out.splitlines()[0].endswith(f"Callbacks  [unknown]  {agents[0]}")
    filtered = run_cli(
        capsys, "discover", registry, "--skill", "forecast", "--tag", "demo", "--json"
    )
    assert [r["identifier"] for r in filtered.json()] == [identifier]
    nothing = run_cli(capsys, "discover", registry, "submarine")
    assert nothing.out.strip() == "no agent matches"
    removed = run_cli(capsys, "registry", "remove", identifier, *reg)
    assert removed.out.strip() == f"removed {identifier}"
    again = run_cli(capsys, "registry", "remove", identifier, *reg)
    assert again.code == 1
    assert "NOT_FOUND" in again.err
    assert "Traceback" not in again.err


def test_refusals(capsys: pytest.CaptureFixture[str], registry: str) -> None:
    no_key = run_cli(capsys, "registry", "register", "http://x", "--registry", registry)
    assert no_key.code == 4
    assert "UNAUTHENTICATED" in no_key.err
    guarded = run_cli(
        capsys,
        "registry",
        "register",
        "http://10.1.2.3/",
        "--registry",
        registry,
        "--api-key",
        KEY,
    )
    assert guarded.code == 1
    assert "refused" in guarded.err
    down = run_cli(capsys, "discover", closed_port_url(), "x")
    assert down.code == 3
    assert "is it running" in down.err


def test_serve_needs_publishers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCORD_REGISTRY_KEYS", raising=False)
    result = run_cli(capsys, "registry", "serve", "--port", "0")
    assert result.code == 2
    assert "ACCORD_REGISTRY_KEYS" in result.err
    assert "--open" in result.err
    monkeypatch.setenv("ACCORD_REGISTRY_KEYS", "bad entry")
    bad = run_cli(capsys, "registry", "serve", "--port", "0")
    assert bad.code == 2
    assert "NAME=KEY" in bad.err


def test_bad_keys_env_values() -> None:
    from accord.cli._errors import UsageError
    from accord.cli.commands.registry import publishers

    auth = publishers(f"a={KEY}, b@acme={KEY}x")
    assert set(auth.verifiers) == {"apiKey"}
    with pytest.raises(UsageError, match="a: "):
        publishers("a=short")


def test_discover_needs_no_server_for_help(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "discover", "--help")
    assert result.code == 0
    assert "--skill" in result.out
